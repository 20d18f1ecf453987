"""The ``qlsock`` command: local servers from the shell (``python -m qlsock``).

``listen``, ``connect``, ``send``, ``probe``, ``remove`` and ``bench``; run
``qlsock --help`` or ``qlsock COMMAND --help`` for the details. Every command uses
the public API (``QLocalServer``, ``QLocalSocket``, :mod:`qlsock.socketfile`), so
names resolve exactly as in a Qt program. :func:`main` returns the exit status
(documented in ``--help``) instead of exiting, so it can be called in-process.

Standard input and output are read and written in gevent's thread pool, one chunk
at a time, so a slow terminal or pipe holds up only the greenlet that uses it, and
the descriptors' blocking mode (which a terminal shares with the shell) is left alone.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group

from ._log import logger
from ._version import __version__
from .enums import (
    LocalServerSocketOption,
    LocalSocketError,
    LocalSocketOption,
    LocalSocketState,
)
from .localserver import QLocalServer
from .localsocket import QLocalSocket
from .naming import ABSTRACT_SUPPORTED
from .socketfile import ServerStatus, probe, remove_stale

__all__ = [
    "EXIT_ABSENT",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_A_SOCKET",
    "EXIT_OK",
    "EXIT_STALE",
    "EXIT_USAGE",
    "main",
]

#: Success; ``probe``: a server is live.
EXIT_OK = 0
#: A failure: could not connect, listen, send or remove, or ``probe`` could not tell.
EXIT_FAILURE = 1
#: A usage error (bad options or arguments), as argparse reports it.
EXIT_USAGE = 2
#: ``probe``: a stale socket file (no server listening). ``remove`` removes it and exits 0.
EXIT_STALE = 3
#: ``probe``/``remove``: nothing at the name.
EXIT_ABSENT = 4
#: ``probe``/``remove``: something that is not a socket (never removed).
EXIT_NOT_A_SOCKET = 5
#: Interrupted by Ctrl-C (SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

_EPILOG = f"""\
Names resolve as in Qt: a relative NAME is $TMPDIR/NAME (/tmp/NAME when TMPDIR is
unset), an absolute path is used as given, and --abstract (Linux) uses the abstract
namespace (no file). A server and its clients must agree on --abstract.

exit status:
  {EXIT_OK}    success; probe: a server is live
  {EXIT_FAILURE}    failure (cannot connect, listen, send or remove; probe cannot tell)
  {EXIT_USAGE}    usage error
  {EXIT_STALE}    probe: a stale socket file (its server died without removing it)
  {EXIT_ABSENT}    probe, remove: nothing at that name
  {EXIT_NOT_A_SOCKET}    probe, remove: something that is not a socket is there
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
"""

_ACCESS = {
    "user": LocalServerSocketOption.UserAccessOption,
    "group": LocalServerSocketOption.GroupAccessOption,
    "other": LocalServerSocketOption.OtherAccessOption,
    "world": LocalServerSocketOption.WorldAccessOption,
}
_CHUNK = 65536
#: How much unsent or unread data a stream copy lets pile up before it waits.
_HIGH_WATER = 1 << 20
_PROGRESS_WIDTH = 30


class _Failure(Exception):
    """A command failed; the message goes to stderr, the exit status is the code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


# -- standard streams ------------------------------------------------------------------------


def _descriptor(stream: Any) -> int | None:
    """The stream's file descriptor, or None for an in-memory stream (or none at all)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return fd if isinstance(fd, int) else None


class _Input:
    """Standard input read in chunks as they arrive, cooperatively.

    A descriptor is read with ``os.read`` in the thread pool: no Python-level lock is
    held while it blocks, so a read still pending when the program ends is harmless.
    In-memory streams (tests, embedding) never block and are read directly.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = getattr(stream, "buffer", stream)
        self._fd = _descriptor(self._stream)

    def read(self) -> bytes:
        """The next chunk; ``b""`` at the end of input (or when there is no stdin)."""
        if self._fd is not None:
            data: bytes = gevent.get_hub().threadpool.apply(os.read, (self._fd, _CHUNK))
            return data
        if self._stream is None:
            return b""
        read = getattr(self._stream, "read1", self._stream.read)
        return bytes(read(_CHUNK))


class _Output:
    """Standard output written cooperatively (see :class:`_Input`)."""

    def __init__(self, stream: Any) -> None:
        # Bytes go under the text layer: anything already printed goes first.
        stream.flush()
        self._stream = getattr(stream, "buffer", stream)
        self._fd = _descriptor(self._stream)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            self._stream.write(data)
            self._stream.flush()
            return
        gevent.get_hub().threadpool.apply(self._write_fd, (self._fd, data))

    @staticmethod
    def _write_fd(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def _note(text: str) -> None:
    print(f"qlsock: {text}", file=sys.stderr, flush=True)


# -- options ------------------------------------------------------------------------------------


def _server_name(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("the name is empty")
    if "\0" in text:
        raise argparse.ArgumentTypeError("the name contains a NUL character")
    return text


def _access_modes(text: str) -> LocalServerSocketOption:
    flags = LocalServerSocketOption.NoOptions
    for part in text.split(","):
        key = part.strip().lower()
        if key not in _ACCESS:
            raise argparse.ArgumentTypeError(
                f"unknown access class {part.strip()!r}: use user, group, other or world, "
                "separated by commas"
            )
        flags |= _ACCESS[key]
    return flags


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _add_name(parser: argparse.ArgumentParser, *, abstract: bool = True) -> None:
    parser.add_argument("name", metavar="NAME", type=_server_name,
                        help="the server name (relative: in $TMPDIR) or an absolute path")
    if abstract:
        parser.add_argument("--abstract", action="store_true",
                            help="use Linux's abstract namespace (no socket file)")


def _add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=_positive(float), default=5.0, metavar="SECONDS",
                        help="give up when connecting, or a write, makes no progress for "
                             "this long (default: %(default)s)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qlsock",
        description="Qt local sockets (QLocalServer / QLocalSocket) from the shell, "
                    "on qlsock.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"qlsock {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=summary, description=description, epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter)

    listen = command(
        "listen", "serve NAME: print what clients send, or echo it back",
        "Listen on NAME and serve any number of clients at once. What they send is "
        "written to stdout as it arrives (or, with --echo, sent back to the client). "
        "The socket path goes to stderr once listening. Ends after --max-clients "
        "clients, on SIGTERM (removing the socket file) or on Ctrl-C.")
    _add_name(listen)
    listen.add_argument("--echo", action="store_true",
                        help="send what each client sends back to it, instead of printing it")
    listen.add_argument("--max-clients", type=_positive(int), metavar="N",
                        help="accept N clients, serve them until they close, then exit")
    listen.add_argument("--mode", type=_access_modes, metavar="CLASSES",
                        default=LocalServerSocketOption.NoOptions,
                        help="who may connect: a comma-separated list of user, group, "
                             "other, world (QLocalServer.SocketOption access flags; "
                             "default: the umask decides)")
    listen.add_argument("--reclaim", action="store_true",
                        help="remove a stale socket file at NAME first (never a live "
                             "server's)")

    connect = command(
        "connect", "copy stdin to NAME and what it sends to stdout",
        "Connect to NAME, then copy stdin to the server and the server's data to "
        "stdout, like 'socat - UNIX-CONNECT:PATH'. At the end of stdin the sending "
        "direction is shut down (the server sees the end of the stream; a Qt server "
        "takes that as the client closing), and output continues until the server "
        "closes.")
    _add_name(connect)
    _add_timeout(connect)

    send = command(
        "send", "send DATA to NAME and disconnect",
        "Connect to NAME, send DATA (UTF-8; '-' sends stdin), wait until all of it is "
        "handed to the kernel, and disconnect.")
    _add_name(send)
    send.add_argument("data", metavar="DATA", help="what to send; '-' reads it from stdin")
    send.add_argument("-n", "--newline", action="store_true", help="append a newline")
    _add_timeout(send)

    probe_cmd = command(
        "probe", "tell whether a server is live at NAME (or stale, or absent)",
        "Print what is at NAME: live, stale, absent, not a socket or inaccessible, and "
        "the path it resolves to; the exit status says the same. Connects once if "
        "there is a socket (a live server sees a connection open and close) and "
        "changes nothing.")
    _add_name(probe_cmd)

    remove = command(
        "remove", "remove NAME's socket file if no server is listening",
        "Remove NAME's socket file if it is stale. A live server's file is kept unless "
        "--force is given (the server would keep running, unreachable); something that "
        "is not a socket is never removed.")
    _add_name(remove, abstract=False)
    remove.add_argument("--force", action="store_true",
                        help="remove it even if a server is listening")

    bench = command(
        "bench", "measure local round trips and throughput",
        "Run a qlsock echo server and a client in this process, over a socket in a "
        "private directory: first round trips of --size bytes (latency), then a "
        "stream of --megabytes (throughput). Every echoed byte is checked. A progress "
        "bar goes to stderr, the results to stdout.")
    bench.add_argument("--count", type=_positive(int), default=10000, metavar="N",
                       help="round trips to time (default: %(default)s)")
    bench.add_argument("--size", type=_positive(int), default=64, metavar="BYTES",
                       help="bytes per round trip (default: %(default)s)")
    bench.add_argument("--megabytes", type=_positive(float), default=100.0, metavar="MB",
                       help="megabytes (10^6) to stream and echo back (default: %(default)s)")
    bench.add_argument("--seconds", type=_positive(float), metavar="S",
                       help="end each phase after S seconds, even if not complete")
    return parser


# -- connecting --------------------------------------------------------------------------------


def _socket_options(abstract: bool) -> LocalSocketOption:
    return LocalSocketOption.AbstractNamespaceOption if abstract \
        else LocalSocketOption.NoOptions


def _connected(name: str, abstract: bool, timeout: float) -> QLocalSocket:
    sock = QLocalSocket()
    sock.setSocketOptions(_socket_options(abstract))
    sock.connectToServer(name)
    if not sock.waitForConnected(int(timeout * 1000)):
        text = sock.errorString() or (
            f"QLocalSocket::connectToServer: the server's backlog stayed full for "
            f"{timeout:g} s")
        sock.abort()
        with contextlib.suppress(ValueError):
            text += f" ({probe(name, abstract=abstract).detail})"
        raise _Failure(f"cannot connect: {text}")
    return sock


def _drain(sock: QLocalSocket, timeout: float) -> None:
    """Wait until everything written was handed to the kernel; _Failure if it stalls."""
    while sock.bytesToWrite():
        if not sock.waitForBytesWritten(int(timeout * 1000)):
            raise _Failure("cannot send: " + (
                sock.errorString() or "the connection closed before all was sent"))


def _shutdown_write(sock: QLocalSocket) -> None:
    """Half-close: the server reads the end of the stream; reading goes on.

    QLocalSocket has no half-close (Qt closes both directions), so it is done on a
    duplicate of the descriptor.
    """
    fd = sock.socketDescriptor()
    if fd < 0:
        return
    with socket.socket(fileno=os.dup(fd)) as dup, contextlib.suppress(OSError):
        dup.shutdown(socket.SHUT_WR)


# -- commands ----------------------------------------------------------------------------------


def _cmd_listen(args: argparse.Namespace) -> int:
    options = args.mode
    if args.abstract:
        options |= LocalServerSocketOption.AbstractNamespaceOption
    server = QLocalServer()
    server.setSocketOptions(options)
    if not server.listen(args.name, reclaim_stale=args.reclaim):
        raise _Failure(server.errorString())
    out = _Output(sys.stdout)
    clients = Group()
    over = Event()
    stop = Event()
    broken: list[OSError] = []
    accepted = 0

    def serve(conn: QLocalSocket) -> None:
        try:
            while True:
                data = conn.readAll()
                if data:
                    if args.echo:
                        conn.write(data)
                        continue
                    try:
                        out.write(data)
                    except OSError as exc:
                        broken.append(exc)
                        stop.set()
                        return
                elif conn.state() != LocalSocketState.ConnectedState:
                    return
                else:
                    conn.waitForReadyRead(-1)
        finally:
            conn.abort()

    def on_new_connection() -> None:
        nonlocal accepted
        while server.isListening():
            conn = server.nextPendingConnection()
            if conn is None:
                return
            accepted += 1
            clients.spawn(serve, conn)
            if args.max_clients and accepted >= args.max_clients:
                # Later clients are refused: closing aborts any still queued.
                server.close()
                gevent.spawn(finish_when_served)

    def finish_when_served() -> None:
        clients.join()
        over.set()

    server.newConnection.connect(on_new_connection)
    where = f"@{args.name} (abstract)" if args.abstract else server.fullServerName()
    _note(f"listening on {where}")
    try:
        with _on_signal(signal.SIGTERM, stop.set):
            gevent.wait([over, stop], count=1)
    finally:
        server.close()
        clients.kill()
    if broken:
        raise _Failure(f"cannot write to stdout: {broken[0].strerror}")
    return EXIT_OK


@contextlib.contextmanager
def _on_signal(signum: int, callback: Callable[[], Any]) -> Iterator[None]:
    """Call *callback* in a greenlet on *signum* while the block runs; then the
    signal's previous disposition is back."""
    handler = gevent.signal_handler(signum, callback)
    try:
        yield
    finally:
        handler.cancel()


def _cmd_connect(args: argparse.Namespace) -> int:
    sock = _connected(args.name, args.abstract, args.timeout)
    # Reading from the server pauses while this much is waiting for stdout.
    sock.setReadBufferSize(_HIGH_WATER)
    readable = Event()
    written = Event()
    sock.readyRead.connect(readable.set)
    sock.disconnected.connect(readable.set)
    sock.bytesWritten.connect(written.set)
    sock.disconnected.connect(written.set)
    errors: list[LocalSocketError] = []
    sock.errorOccurred.connect(errors.append)
    connected = LocalSocketState.ConnectedState

    def upload() -> None:
        source = _Input(sys.stdin)
        while True:
            data = source.read()
            if not data or sock.state() != connected:
                break
            sock.write(data)
            while sock.bytesToWrite() > _HIGH_WATER and sock.state() == connected:
                written.clear()
                written.wait()
        while sock.bytesToWrite() and sock.state() == connected:
            written.clear()
            written.wait()
        _shutdown_write(sock)

    uploader = gevent.spawn(upload)
    out = _Output(sys.stdout)
    try:
        while True:
            readable.clear()
            data = sock.readAll()
            if data:
                out.write(data)
            elif sock.state() != connected:
                break
            else:
                readable.wait()
    finally:
        uploader.kill()
        sock.abort()
    failures = [e for e in errors if e != LocalSocketError.PeerClosedError]
    if failures:
        raise _Failure(sock.errorString())
    return EXIT_OK


def _cmd_send(args: argparse.Namespace) -> int:
    sock = _connected(args.name, args.abstract, args.timeout)
    try:
        if args.data == "-":
            source = _Input(sys.stdin)
            while data := source.read():
                sock.write(data)
                if sock.bytesToWrite() > _HIGH_WATER:
                    _drain(sock, args.timeout)
        else:
            sock.write(os.fsencode(args.data))
        if args.newline:
            sock.write(b"\n")
        _drain(sock, args.timeout)
        sock.disconnectFromServer()
    finally:
        sock.abort()
    return EXIT_OK


_PROBE_EXIT = {
    ServerStatus.LIVE: EXIT_OK,
    ServerStatus.STALE: EXIT_STALE,
    ServerStatus.ABSENT: EXIT_ABSENT,
    ServerStatus.NOT_A_SOCKET: EXIT_NOT_A_SOCKET,
    ServerStatus.INACCESSIBLE: EXIT_FAILURE,
}


def _cmd_probe(args: argparse.Namespace) -> int:
    try:
        found = probe(args.name, abstract=args.abstract)
    except ValueError as exc:
        raise _Failure(f"probe: {exc}") from None
    where = f"@{found.full_server_name}" if args.abstract else found.full_server_name
    print(f"{found.status.value}: {where}", flush=True)
    _note(found.detail)
    return _PROBE_EXIT[found.status]


def _cmd_remove(args: argparse.Namespace) -> int:
    try:
        found = remove_stale(args.name, force=args.force)
    except ValueError as exc:
        raise _Failure(f"remove: {exc}") from None
    except OSError as exc:
        raise _Failure(f"remove: cannot remove {exc.filename or args.name}: "
                       f"{exc.strerror}") from None
    status, path = found.status, found.full_server_name
    if status is ServerStatus.STALE or (args.force and status in (
            ServerStatus.LIVE, ServerStatus.INACCESSIBLE)):
        _note(f"removed {path} ({found.detail})")
        return EXIT_OK
    if status is ServerStatus.LIVE:
        raise _Failure(f"not removed: {found.detail}; --force removes it anyway (the "
                       "server keeps running, unreachable)")
    _note(f"not removed: {found.detail}")
    return _PROBE_EXIT[status]


# -- bench -----------------------------------------------------------------------------------------


class _Progress:
    """A one-line text progress bar on stderr, redrawn when the percentage changes."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._shown = -1
        # Redrawing every percent suits a terminal; a log file gets every tenth.
        self._step = 1 if sys.stderr.isatty() else 10

    def update(self, fraction: float) -> None:
        percent = min(int(fraction * 100), 100)
        percent -= percent % self._step
        if percent == self._shown:
            return
        self._shown = percent
        filled = percent * _PROGRESS_WIDTH // 100
        bar = "#" * filled + "." * (_PROGRESS_WIDTH - filled)
        sys.stderr.write(f"\r{self._label:<12} [{bar}] {percent:3d}%")
        sys.stderr.flush()

    def finish(self) -> None:
        self.update(1.0)
        sys.stderr.write("\n")
        sys.stderr.flush()


class _Pattern:
    """Random bytes to send, addressable by stream offset, to check echoes against."""

    BLOCK = 1 << 20

    def __init__(self) -> None:
        block = os.urandom(self.BLOCK)
        self._ring = block + block

    def at(self, offset: int, size: int) -> bytes:
        """*size* (at most BLOCK) bytes of the stream from *offset*."""
        start = offset % self.BLOCK
        return self._ring[start:start + size]

    def check(self, data: bytes, offset: int) -> None:
        for start in range(0, len(data), self.BLOCK):
            piece = data[start:start + self.BLOCK]
            expected = self.at(offset + start, len(piece))
            if piece != expected:
                pairs = zip(piece, expected, strict=True)
                bad = next(i for i, (a, b) in enumerate(pairs) if a != b)
                raise _Failure(f"bench: the echo differs at byte {offset + start + bad}")


def _echo_server(name: str) -> tuple[QLocalServer, list[QLocalSocket]]:
    server = QLocalServer()
    if not server.listen(name):
        raise _Failure(server.errorString())
    conns: list[QLocalSocket] = []

    def on_new_connection() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            conns.append(conn)
            conn.readyRead.connect(lambda c=conn: c.write(c.readAll()))

    server.newConnection.connect(on_new_connection)
    return server, conns


def _await_echo(sock: QLocalSocket) -> bytes:
    if not sock.waitForReadyRead(10000):
        raise _Failure(f"bench: no echo: {sock.errorString()}")
    return sock.readAll()


def _bench_round_trips(sock: QLocalSocket, pattern: _Pattern, count: int, size: int,
                       seconds: float | None) -> tuple[int, float]:
    progress = _Progress("round trips")
    start = time.perf_counter()
    done = 0
    while done < count:
        elapsed = time.perf_counter() - start
        if done and seconds is not None and elapsed >= seconds:
            break
        message = pattern.at(done, size)
        sock.write(message)
        echo = b""
        while len(echo) < size:
            echo += _await_echo(sock)
        if echo != message:
            raise _Failure(f"bench: the echo of round trip {done} differs")
        done += 1
        progress.update(max(done / count, elapsed / seconds if seconds else 0.0))
    elapsed = time.perf_counter() - start
    progress.finish()
    return done, elapsed


def _bench_stream(sock: QLocalSocket, pattern: _Pattern, total: int,
                  seconds: float | None) -> tuple[int, float]:
    progress = _Progress("throughput")
    start = time.perf_counter()
    sent = received = 0
    while received < total:
        elapsed = time.perf_counter() - start
        if sent and seconds is not None and elapsed >= seconds:
            total = sent
        while sent < total and sock.bytesToWrite() < 4 * _CHUNK:
            size = min(_CHUNK, total - sent)
            sock.write(pattern.at(sent, size))
            sent += size
        if received >= total:
            break
        data = _await_echo(sock)
        pattern.check(data, received)
        received += len(data)
        progress.update(max(received / total, elapsed / seconds if seconds else 0.0))
    elapsed = time.perf_counter() - start
    progress.finish()
    return received, elapsed


def _cmd_bench(args: argparse.Namespace) -> int:
    directory = tempfile.mkdtemp(prefix="qlsock-bench-")
    server, conns = _echo_server(os.path.join(directory, "s"))
    sock: QLocalSocket | None = None
    try:
        sock = _connected(server.fullServerName(), False, 10.0)
        pattern = _Pattern()
        size = min(args.size, _Pattern.BLOCK)
        trips, trip_time = _bench_round_trips(sock, pattern, args.count, size, args.seconds)
        streamed, stream_time = _bench_stream(
            sock, pattern, max(int(args.megabytes * 1e6), 1), args.seconds)
    finally:
        if sock is not None:
            sock.abort()
        for conn in conns:
            conn.abort()
        server.close()
        os.rmdir(directory)
    print(f"round trips: {trips} of {size} bytes in {trip_time:.2f} s: "
          f"{trips / trip_time:,.0f}/s, {trip_time / trips * 1e6:.1f} us each")
    print(f"throughput:  {streamed / 1e6:.1f} MB in {stream_time:.2f} s: "
          f"{streamed / 1e6 / stream_time:,.1f} MB/s ({_CHUNK // 1024} KiB writes, "
          "echoed back)")
    print("every byte echoed intact", flush=True)
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "listen": _cmd_listen,
    "connect": _cmd_connect,
    "send": _cmd_send,
    "probe": _cmd_probe,
    "remove": _cmd_remove,
    "bench": _cmd_bench,
}


# -- main ----------------------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status argparse chose (--help, --version, errors)."""
    try:
        return _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """qlsock's warnings (accept trouble, dropped messages) printed like our own notes."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("qlsock: %(message)s"))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qlsock`` command with *argv* (default ``sys.argv[1:]``); the exit status.

    Never calls ``sys.exit``: ``--help``, ``--version`` and usage errors return
    their status too, so the commands can be driven in-process.
    """
    args = _parse(argv)
    if isinstance(args, int):
        return args
    if getattr(args, "abstract", False) and not ABSTRACT_SUPPORTED:
        _note("--abstract needs Linux's abstract socket namespace")
        return EXIT_USAGE
    try:
        with _warnings_to_stderr():
            return _COMMANDS[args.command](args)
    except _Failure as exc:
        _note(str(exc))
        return exc.code
    except BrokenPipeError:
        _note("stdout was closed")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
