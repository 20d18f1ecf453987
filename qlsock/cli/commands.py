"""The commands that talk to a server or its socket file: ``listen``, ``connect``,
``send``, ``probe`` and ``remove``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group

from ..enums import (
    LocalServerSocketOption,
    LocalSocketError,
    LocalSocketOption,
    LocalSocketState,
    SocketError,
)
from ..localserver import QLocalServer
from ..localsocket import QLocalSocket
from ..socketfile import ServerStatus, probe, remove_stale
from .status import (
    EXIT_ABSENT,
    EXIT_FAILURE,
    EXIT_NOT_A_SOCKET,
    EXIT_OK,
    EXIT_STALE,
    _Failure,
    _note,
)
from .streams import _Input, _Output

#: How much unsent or unread data a stream copy lets pile up before it waits.
_HIGH_WATER = 1 << 20


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


#: How long a served connection's queued bytes may take to leave once it ends.
_DRAIN_MS = 30000


# -- commands ----------------------------------------------------------------------------------


def _cmd_listen(args: argparse.Namespace) -> int:
    options = args.mode
    if args.abstract:
        options |= LocalServerSocketOption.AbstractNamespaceOption
    server = QLocalServer()
    server.setSocketOptions(options)
    if not server.listen(args.name, reclaim_stale=args.reclaim):
        raise _Failure(_listen_failure(server, args.name, args.abstract))
    out = _Output(sys.stdout)
    clients = Group()
    over = Event()
    stop = Event()
    broken: list[OSError] = []
    accepted = 0

    def echo(conn: QLocalSocket) -> None:
        conn.write(conn.readAll())

    def serve(conn: QLocalSocket) -> None:
        try:
            while True:
                data = b"" if args.echo else conn.readAll()
                if data:
                    try:
                        out.write(data)
                    except OSError as exc:
                        broken.append(exc)
                        stop.set()
                        return
                elif conn.state() != LocalSocketState.ConnectedState:
                    break
                else:
                    conn.waitForReadyRead(-1)
            # The client may have only shut down its side (connect does, at the end
            # of its input) and still read the echo: let what is queued leave.
            conn.disconnectFromServer()
            if conn.state() != LocalSocketState.UnconnectedState:
                conn.waitForDisconnected(_DRAIN_MS)
        finally:
            conn.abort()

    def on_new_connection() -> None:
        while server.isListening():
            conn = server.nextPendingConnection()
            if conn is None:
                return
            if args.max_clients:
                conn.readyRead.connect(first_bytes_counter())
            if args.echo:
                # Echoed from readyRead, connected before anything is delivered:
                # bytes that arrive together with the client's end of stream (it
                # half-closes at the end of its input) are queued before that end
                # is processed, so they still leave.
                conn.readyRead.connect(functools.partial(echo, conn))
            clients.spawn(serve, conn)

    def first_bytes_counter() -> Callable[[], None]:
        # A client counts once it has sent something: `qlsock probe` (a connect and
        # nothing more) must not use up --max-clients.
        counted = False

        def on_ready_read() -> None:
            nonlocal counted
            if not counted:
                counted = True
                count_client()

        return on_ready_read

    def count_client() -> None:
        nonlocal accepted
        accepted += 1
        if args.max_clients and accepted == args.max_clients:
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


def _listen_failure(server: QLocalServer, name: str, abstract: bool) -> str:
    """The listen error, with remedies for a shell user rather than for Python code
    (the library's text names ``reclaim_stale`` and ``removeServer()``)."""
    if server.serverError() == SocketError.AddressInUseError:
        with contextlib.suppress(ValueError):
            found = probe(name, abstract=abstract)
            if found.status is ServerStatus.STALE:
                return (f"cannot listen: {found.detail}; run again with --reclaim, or "
                        f"remove it first with: qlsock remove {shlex.quote(name)}")
            if found.status in (ServerStatus.LIVE, ServerStatus.INACCESSIBLE):
                flag = " --abstract" if abstract else ""
                return (f"cannot listen: {found.detail}; choose another name, or stop "
                        f"that server first (check with: qlsock probe{flag} "
                        f"{shlex.quote(name)})")
    return server.errorString()


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

