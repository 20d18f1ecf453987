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
import re
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

import gevent
from greenlet import getcurrent

from .._log import logger
from .._version import __version__
from ..enums import LocalServerSocketOption
from ..naming import ABSTRACT_SUPPORTED
from .bench import _cmd_bench
from .commands import _cmd_connect, _cmd_listen, _cmd_probe, _cmd_remove, _cmd_send
from .status import (
    EXIT_ABSENT,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_NOT_A_SOCKET,
    EXIT_OK,
    EXIT_STALE,
    EXIT_USAGE,
    _Failure,
    _note,
)

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

_NAMES = """\
Names resolve as in Qt: a relative NAME is $TMPDIR/NAME (/tmp/NAME when TMPDIR is
unset), and an absolute path is used as given."""
_ABSTRACT = """ --abstract (Linux) uses the abstract namespace
instead: no file, and @NAME in what is printed. A server and its clients must agree
on --abstract."""

#: Every command's own statuses come first; these two apply to all.
_COMMON_STATUSES = ((EXIT_USAGE, "usage error"), (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"))


def _epilog(statuses: Sequence[tuple[int, str]], *, names: bool = True,
            abstract: bool = True) -> str:
    """The help's footer: how names resolve (for commands that take one) and the exit
    statuses this command can end with."""
    text = (_NAMES + (_ABSTRACT if abstract else "") + "\n\n") if names else ""
    rows = sorted([*statuses, *_COMMON_STATUSES])
    return text + "exit status:\n" + "".join(f"  {code:<4} {what}\n" for code, what in rows)


class _HelpFormatter(argparse.HelpFormatter):
    """Prose filled to the terminal's width, as argparse fills it, and indented rows
    (``  0    success``) wrapped under their text, as argparse wraps options: the
    exit statuses stay a table at any width."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        prose: list[str] = []
        for line in [*text.splitlines(), ""]:
            if line and not line[0].isspace():
                prose.append(line.strip())
                continue
            if prose:
                lines.append(textwrap.fill(" ".join(prose), width, initial_indent=indent,
                                           subsequent_indent=indent))
                prose.clear()
            row = _ROW.match(line)
            if row:
                lines.append(textwrap.fill(row[2], width, initial_indent=indent + row[1],
                                           subsequent_indent=indent + " " * len(row[1])))
            else:
                lines.append(indent + line if line else "")
        return "\n".join(lines).rstrip("\n") + "\n"


#: A row of the exit-status table: the indented term and its spacing, then the text.
_ROW = re.compile(r"(\s+\S+\s+)(.*)")


_ACCESS = {
    "user": LocalServerSocketOption.UserAccessOption,
    "group": LocalServerSocketOption.GroupAccessOption,
    "other": LocalServerSocketOption.OtherAccessOption,
    "world": LocalServerSocketOption.WorldAccessOption,
}


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
        epilog=_epilog([
            (EXIT_OK, "success; probe: a server is live"),
            (EXIT_FAILURE, "failure (cannot connect, listen, send or remove; probe "
                           "cannot tell)"),
            (EXIT_STALE, "probe: a stale socket file (its server died without removing "
                         "it)"),
            (EXIT_ABSENT, "probe, remove: nothing at that name"),
            (EXIT_NOT_A_SOCKET, "probe, remove: something that is not a socket is there"),
        ]), formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"qlsock {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str, description: str,
                statuses: Sequence[tuple[int, str]], *, names: bool = True,
                abstract: bool = True) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=summary, description=description,
            epilog=_epilog(statuses, names=names, abstract=abstract),
            formatter_class=_HelpFormatter)

    listen = command(
        "listen", "serve NAME: print what clients send, or echo it back",
        "Listen on NAME and serve any number of clients at once. What they send is "
        "written to stdout as it arrives (or, with --echo, sent back to the client). "
        "The socket path goes to stderr once listening. Ends after --max-clients "
        "clients, on SIGTERM (removing the socket file) or on Ctrl-C.",
        [(EXIT_OK, "success: --max-clients clients served, or SIGTERM"),
         (EXIT_FAILURE, "cannot listen, or stdout was closed")])
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
        "closes.",
        [(EXIT_OK, "success: the server closed the connection"),
         (EXIT_FAILURE, "cannot connect, or the connection or stdout failed")])
    _add_name(connect)
    _add_timeout(connect)

    send = command(
        "send", "send DATA to NAME and disconnect",
        "Connect to NAME, send DATA (UTF-8; '-' sends stdin), wait until all of it is "
        "handed to the kernel, and disconnect.",
        [(EXIT_OK, "success: all of DATA was handed to the kernel"),
         (EXIT_FAILURE, "cannot connect, or cannot send all of it")])
    _add_name(send)
    send.add_argument("data", metavar="DATA", help="what to send; '-' reads it from stdin")
    send.add_argument("-n", "--newline", action="store_true", help="append a newline")
    _add_timeout(send)

    probe_cmd = command(
        "probe", "tell whether a server is live at NAME (or stale, or absent)",
        "Print what is at NAME: live, stale, absent, not a socket or inaccessible, and "
        "the path it resolves to (@NAME for an abstract name); the exit status says the "
        "same. Connects once if there is a socket (a live server sees a connection open "
        "and close) and changes nothing.",
        [(EXIT_OK, "live: a server is listening"),
         (EXIT_FAILURE, "inaccessible: cannot tell"),
         (EXIT_STALE, "stale: a socket file nobody listens on (its server died without "
                      "removing it)"),
         (EXIT_ABSENT, "absent: nothing at that name"),
         (EXIT_NOT_A_SOCKET, "not a socket: something else is there")])
    _add_name(probe_cmd)

    remove = command(
        "remove", "remove NAME's socket file if no server is listening",
        "Remove NAME's socket file if it is stale. A live server's file is kept unless "
        "--force is given (the server would keep running, unreachable); something that "
        "is not a socket is never removed. Abstract names have no file to remove.",
        [(EXIT_OK, "removed (or, with --force, a live server's file removed)"),
         (EXIT_FAILURE, "not removed: a server may be listening (--force removes the "
                        "file anyway), or the removal failed"),
         (EXIT_ABSENT, "nothing at that name"),
         (EXIT_NOT_A_SOCKET, "something that is not a socket is there (kept)")],
        abstract=False)
    _add_name(remove, abstract=False)
    remove.add_argument("--force", action="store_true",
                        help="remove it even if a server is listening")

    bench = command(
        "bench", "measure local round trips and throughput",
        "Run a qlsock echo server and a client in this process, over a socket in a "
        "private directory: first round trips of --size bytes (latency), then a "
        "stream of --megabytes (throughput). Every echoed byte is checked. A progress "
        "bar goes to stderr, the results to stdout.",
        [(EXIT_OK, "success: every echoed byte matched"),
         (EXIT_FAILURE, "an echo was missing or differed, or the server could not "
                        "listen")],
        names=False)
    bench.add_argument("--count", type=_positive(int), default=10000, metavar="N",
                       help="round trips to time (default: %(default)s)")
    bench.add_argument("--size", type=_positive(int), default=64, metavar="BYTES",
                       help="bytes per round trip (default: %(default)s)")
    bench.add_argument("--megabytes", type=_positive(float), default=100.0, metavar="MB",
                       help="megabytes (10^6) to stream and echo back (default: %(default)s)")
    bench.add_argument("--seconds", type=_positive(float), metavar="S",
                       help="end each phase after S seconds, even if not complete")
    return parser



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


@contextlib.contextmanager
def _interrupt_here() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in the greenlet running the command.

    Python raises it wherever the main thread is when the signal is checked, which,
    while a command waits, is gevent's hub: the hub then prints "KeyboardInterrupt"
    and a timestamp before passing it on. The hub throws it instead, as a kill, into
    this greenlet's next wait. A Python-level handler, not ``gevent.signal_handler``:
    cancelling a libev watcher resets SIGINT to SIG_DFL, and a caller of :func:`main`
    (the tests) would then die on its own Ctrl-C.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    caller = getcurrent()
    loop = gevent.get_hub().loop
    pending: list[Any] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        pending.append(loop.run_callback_threadsafe(caller.throw, KeyboardInterrupt))

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        for callback in pending:  # a signal that came as the command ended
            callback.stop()


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
        with _warnings_to_stderr(), _interrupt_here():
            return _COMMANDS[args.command](args)
    except _Failure as exc:
        _note(str(exc))
        return exc.code
    except BrokenPipeError:
        _note("stdout was closed")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
