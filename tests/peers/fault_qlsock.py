"""qlsock programs for ``tests/test_faults.py``: faults that need a process of their own.

One mode per run; the outcome is one ``RESULT <json>`` line (the test judges it) and
exit code 0, unless the process dies.

``server NAME [--abstract]``
    A qlsock echo server: listen, print ``READY <fullServerName>``, echo every byte
    of every connection, and run until stdin reaches end of file (then close and
    exit) or the process is killed, which leaves a stale socket file behind.
``sigpipe NAME``
    With SIGPIPE's default action restored (death, as in a program embedding Python
    or one that resets it), write to peers that have gone, by every path qlsock
    sends on: ``flush()``, ``waitForBytesWritten()``, ``waitForReadyRead()`` and the
    hub's background sending. Each case records the error and the signals seen.
    A process that dies of SIGPIPE prints no RESULT.
``emfile NAME``
    Descriptor exhaustion in a process of its own (nothing else there closes a
    descriptor behind the test's back): listen, echo like ``server``, lower
    ``RLIMIT_NOFILE`` to just above the descriptors in use and open ``/dev/null``
    until ``EMFILE``, then print ``READY <fullServerName>``. Every record of the
    ``qlsock`` logger is printed as ``LOG <level> <message>``; every accepted
    connection as ``ACCEPTED <total>``. Commands on stdin: ``wait`` prints
    ``WAITED <json>`` (``waitForNewConnection(100)``), ``status`` prints ``STATUS
    <json>`` (listening, accepted, whether the socket file exists), ``free`` closes
    the filler descriptors, restores the limit and prints ``FREED``. End of stdin:
    ``RESULT <json>``.
``fork-exit NAME``
    Listen, fork; the child drops every reference to the server, collects garbage
    and leaves through ``sys.exit()`` (a normal interpreter shutdown, finalizers
    and all); the parent then reports whether its socket file is still there (the
    same inode) and still accepts.

When ``QLSOCK_TEST_MONKEY=1`` (the monkey-patched test run) the program patches
itself with ``gevent.monkey`` first, so it runs the way the test process does.
"""

from __future__ import annotations

import os

if os.environ.get("QLSOCK_TEST_MONKEY") == "1":
    from gevent import monkey

    monkey.patch_all()

import argparse
import gc
import json
import logging
import signal
import sys
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.os
from descriptors import Exhaustion
from gevent.event import Event
from gevent.socket import wait_read

from qlsock import QLocalServer, QLocalSocket

WAIT_MS = 20000


def say(*words: object) -> None:
    print(*words, flush=True)


def report(result: dict[str, Any]) -> None:
    say("RESULT " + json.dumps(result, sort_keys=True))


def stdin_lines() -> Iterator[str]:
    """The lines of stdin, read cooperatively, until end of file."""
    fd = sys.stdin.fileno()
    os.set_blocking(fd, False)
    pending = b""
    while True:
        wait_read(fd)
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            continue
        if not data:
            return
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode().strip()


def wait_for_stdin_eof() -> None:
    """Yield to the hub until stdin is closed (the test's ``Peer.finish()``)."""
    for _ in stdin_lines():
        pass


def echo_server(server: QLocalServer, connections: list[QLocalSocket]) -> None:
    """Take every new connection of *server* into *connections* and echo on it."""

    def on_new_connection() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            connections.append(conn)
            conn.readyRead.connect(lambda c=conn: c.write(c.readAll()))

    server.newConnection.connect(on_new_connection)


# -- server -----------------------------------------------------------------------------


def run_server(name: str, abstract: bool) -> int:
    server = QLocalServer()
    if abstract:
        server.setSocketOptions(QLocalServer.AbstractNamespaceOption)
    if not server.listen(name):
        print(f"listen failed: {server.errorString()}", file=sys.stderr)
        return 1
    connections: list[QLocalSocket] = []
    echo_server(server, connections)
    say(f"READY {server.fullServerName()}")
    wait_for_stdin_eof()
    server.close()
    report({"connections": len(connections)})
    return 0


# -- emfile ------------------------------------------------------------------------------


class SayHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        say(f"LOG {record.levelname} {message}")


def run_emfile(name: str) -> int:
    handler = SayHandler()
    logging.getLogger("qlsock").addHandler(handler)
    server = QLocalServer()
    if not server.listen(name):
        print(f"listen failed: {server.errorString()}", file=sys.stderr)
        return 1
    connections: list[QLocalSocket] = []
    echo_server(server, connections)
    server.newConnection.connect(lambda: say(f"ACCEPTED {len(connections)}"))
    exhaustion = Exhaustion()
    say(f"READY {server.fullServerName()}")
    for command in stdin_lines():
        if command == "wait":
            say("WAITED " + json.dumps(server.waitForNewConnection(100)))
        elif command == "status":
            say("STATUS " + json.dumps({
                "listening": server.isListening(), "accepted": len(connections),
                "exists": os.path.exists(server.fullServerName())}))
        elif command == "free":
            exhaustion.free()
            say("FREED")
    report({"accepted": len(connections), "log": handler.messages,
            "listening": server.isListening()})
    server.close()
    return 0


# -- sigpipe ------------------------------------------------------------------------------


class Case:
    """A connected client and the server side of it, with the client's signals logged."""

    def __init__(self, server: QLocalServer, name: str) -> None:
        self.client = QLocalSocket()
        self.events: list[str] = []
        self.done = Event()
        self.client.errorOccurred.connect(lambda e: self.events.append(f"error:{e.name}"))
        self.client.disconnected.connect(self._disconnected)
        self.client.connectToServer(name)
        ok, _ = server.waitForNewConnection(WAIT_MS)
        conn = server.nextPendingConnection()
        if not ok or conn is None:
            raise SystemExit(f"no connection: {server.errorString()}")
        self.conn = conn

    def _disconnected(self) -> None:
        self.events.append("disconnected")
        self.done.set()

    def outcome(self, returned: object) -> dict[str, Any]:
        return {"returned": returned, "events": self.events,
                "error": self.client.error().name,
                "state": self.client.state().name,
                "bytes_to_write": self.client.bytesToWrite()}


def run_sigpipe(name: str) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    server = QLocalServer()
    if not server.listen(name):
        print(f"listen failed: {server.errorString()}", file=sys.stderr)
        return 1
    big = b"x" * (4 << 20)
    result: dict[str, Any] = {}

    # flush() after the peer closed (the client has not noticed yet).
    case = Case(server, name)
    case.conn.close()
    case.client.write(b"ping")
    result["flush"] = case.outcome(case.client.flush())

    # waitForBytesWritten() with the kernel's buffer full when the peer aborts
    # without having read anything.
    case = Case(server, name)
    case.client.write(big)
    case.client.flush()
    case.conn.abort()
    result["waitForBytesWritten"] = case.outcome(case.client.waitForBytesWritten(WAIT_MS))

    # waitForReadyRead() sends pending data first.
    case = Case(server, name)
    case.conn.abort()
    case.client.write(b"ping")
    result["waitForReadyRead"] = case.outcome(case.client.waitForReadyRead(WAIT_MS))

    # The hub's background sending: the peer reads a little in another greenlet,
    # then aborts while the client still has megabytes to send.
    case = Case(server, name)
    conn = case.conn

    def read_some_then_abort() -> None:
        got = 0
        while got < 256 * 1024 and conn.waitForReadyRead(WAIT_MS):
            got += len(conn.readAll())
        conn.abort()

    reader = gevent.spawn(read_some_then_abort)
    case.client.write(big)
    case.done.wait(WAIT_MS / 1000)
    reader.join(WAIT_MS / 1000)
    result["background"] = case.outcome(None)

    server.close()
    report(result)
    return 0


# -- fork-exit ----------------------------------------------------------------------------


def _child_exits(holder: list[QLocalServer]) -> None:
    holder.clear()
    gc.collect()
    sys.exit(0)


def run_fork_exit(name: str) -> int:
    server = QLocalServer()
    if not server.listen(name):
        print(f"listen failed: {server.errorString()}", file=sys.stderr)
        return 1
    path = server.fullServerName()
    before = os.stat(path)
    holder = [server]
    del server
    status: int | None = None
    pid = gevent.os.fork_and_watch()
    if pid == 0:
        _child_exits(holder)
    with gevent.Timeout(WAIT_MS / 1000, False):
        _, status = gevent.os.waitpid(pid, 0)
    server = holder[0]
    try:
        after = os.stat(path)
        same_file = (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    except FileNotFoundError:
        same_file = False
    client = QLocalSocket()
    client.connectToServer(name)
    ok, _ = server.waitForNewConnection(WAIT_MS)
    report({"child_exit": os.waitstatus_to_exitcode(status) if status is not None else None,
            "same_file": same_file,
            "client_state": client.state().name,
            "accepted": bool(ok and server.nextPendingConnection() is not None),
            "listening": server.isListening()})
    server.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("server", "emfile", "sigpipe", "fork-exit"))
    parser.add_argument("name")
    parser.add_argument("--abstract", action="store_true")
    args = parser.parse_args()
    if args.mode == "server":
        return run_server(args.name, args.abstract)
    if args.mode == "emfile":
        return run_emfile(args.name)
    if args.mode == "sigpipe":
        return run_sigpipe(args.name)
    return run_fork_exit(args.name)


if __name__ == "__main__":
    sys.exit(main())
