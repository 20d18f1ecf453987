"""The real-Qt side of the interop tests: a PySide6 program run as a subprocess.

One mode per run. ``--server N`` and ``--client`` are Qt's own ``socketprocess``
helper (``tests/auto/network/socket/qlocalsocket/socketprocess/main.cpp``) written
with PySide6; the other modes serve ``tests/test_interop_pyside.py``:

``--exchange ROLE``
    Send ``--size`` bytes made from ``--seed`` while reading ``--size`` bytes that
    must be the ones made from ``--peer-seed`` (checked by sha256), drain, then
    ``disconnectFromServer()`` and wait until unconnected (``waitFor*`` style).
``--send-and-close ROLE``
    ``write()`` ``--size`` bytes, then at once ``--close-with``
    (``disconnectFromServer`` or ``close``); the event loop drains the rest.
``--read-until-close ROLE``
    Read in a ``readyRead`` slot (event loop) until ``disconnected``; report how
    many bytes had arrived when ``disconnected`` was emitted.

``--exchange`` and ``--send-and-close`` take ``--chunks A,B,...``: the data is then
written in pieces whose sizes cycle through the list, with ``flush()`` after each.

Two event-loop modes serve ``tests/test_interop_matrix.py``; both read commands,
one per line, from stdin while they run:

``--echo-server``
    Listen on every ``--listen OPTIONS:NAME`` (OPTIONS: ``+``-joined ``User``,
    ``Group``, ``Other``, ``World``, ``Abstract``, or empty), printing
    ``READY <fullServerName>`` for each in order; ``--backlog`` sets
    ``setListenBacklogSize``. Every connection gets back every byte it sends; each
    one is announced as ``CONNECTION <json>`` (the accepted socket's names and
    options). ``--hold`` sets ``setMaxPendingConnections(0)``, so nothing is
    accepted until the command ``accept``, which restores 30 and prints
    ``ACCEPTING``. ``ping`` prints ``PONG <json>`` (connections accepted so far);
    ``quit`` or the end of stdin prints ``RESULT <json>``, closes the servers and
    exits.
``--echo-clients``
    Open one QLocalSocket per ``--connect OPTIONS:NAME`` (``--count`` times each)
    and call ``connectToServer()`` on all of them in one go, printing
    ``STATES <json>`` (each socket's state right after its call). Each socket, once
    connected, sends its own message (``message(--seed, index, --size)``), reads
    the echo, checks it and disconnects. The command ``states`` prints the current
    ``STATES``. When every socket has finished (echoed, failed to connect, or
    closed early) ``RESULT <json>`` describes each; the test judges it.

ROLE ``client`` connects to ``--name``; ROLE ``server`` listens on ``--name``,
prints ``READY <fullServerName>`` and takes one connection. The outcome is printed
as one ``RESULT <json>`` line; the exit code is 0 when every check held, 1 when one
failed (reason on stderr), 3 when the watchdog of an event loop fired.

Relative names resolve against ``$TMPDIR`` (``QDir::tempPath()``), so the caller
passes the environment it wants the names to resolve in.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import operator
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QIODevice, QSocketNotifier, QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket

SERVER_NAME = "qlocalsocket_autotest"
TEST_DATA = b"test"
#: How long any single wait may take before the peer gives up.
WAIT_MS = 20000
WATCHDOG_EXIT = 3

Error = QLocalSocket.LocalSocketError
State = QLocalSocket.LocalSocketState


class PeerFailure(Exception):
    """A check failed; the message goes to stderr and the exit code is 1."""


def payload(seed: int, size: int) -> bytes:
    """The deterministic test bytes for *seed* (the same function in every peer)."""
    return random.Random(seed).randbytes(size)


def message(seed: int, index: int, size: int) -> bytes:
    """What echo client *index* sends: distinct content and length per client."""
    return payload(seed + index, size + index)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def say(*words: object) -> None:
    print(*words, flush=True)


def report(result: dict[str, Any]) -> None:
    say("RESULT " + json.dumps(result, sort_keys=True))


# -- socketprocess ----------------------------------------------------------------------


def run_server(app: QCoreApplication, number_of_connections: int) -> bool:
    """socketprocess ``--server N``: write "test" to each of N connections."""
    server = QLocalServer(app)
    if not QLocalServer.removeServer(SERVER_NAME):
        print(f"server: cannot remove server: {server.errorString()}", file=sys.stderr)
        return False
    say(f'server: listen on "{SERVER_NAME}"')
    if not server.listen(SERVER_NAME):
        print(f"server: listen failed: {server.errorString()}", file=sys.stderr)
        return False
    for i in range(1, number_of_connections + 1):
        say(f"server: wait for connection {i}")
        ok, _timed_out = server.waitForNewConnection(30000)
        if not ok:
            print(f"server: waitForNewConnection failed: {server.errorString()}",
                  file=sys.stderr)
            return False
        # The socket is a child of the server and lives until the process ends.
        socket = server.nextPendingConnection()
        say(f'server: writing "{TEST_DATA.decode()}"')
        socket.write(TEST_DATA)
        if not socket.waitForBytesWritten():
            print(f"server: waitForBytesWritten failed: {socket.errorString()}",
                  file=sys.stderr)
            return False
        say("server: data written")
        if socket.error() != Error.UnknownSocketError:
            print(f"server: socket error {socket.error()}", file=sys.stderr)
            return False
    return True


def run_client() -> bool:
    """socketprocess ``--client``: connect (retrying for 5 s), read "test"."""
    socket = QLocalSocket()
    say(f'client: connecting to "{SERVER_NAME}"')
    started = time.monotonic()
    while True:
        socket.connectToServer(SERVER_NAME, QIODevice.OpenModeFlag.ReadWrite)
        if socket.waitForConnected():
            break
        if socket.error() in (Error.ServerNotFoundError, Error.ConnectionRefusedError):
            if time.monotonic() - started > 5.0:
                print("client: server not found or connection refused. Giving up.",
                      file=sys.stderr)
                return False
            say("client: server not found. Trying again...")
            loop = QEventLoop()
            QTimer.singleShot(500, loop.quit)
            loop.exec()
            continue
        print(f"client: waitForConnected failed: {socket.errorString()}", file=sys.stderr)
        return False
    say("client: connected")
    if not socket.waitForReadyRead():
        print(f"client: waitForReadyRead failed: {socket.errorString()}", file=sys.stderr)
        return False
    say("client: data is available for reading")
    data = bytes(socket.readLine())
    say(f"client: received {data!r}")
    if data != TEST_DATA:
        print("client: received unexpected data", file=sys.stderr)
        return False
    return True


# -- the interop modes ------------------------------------------------------------------


def open_connection(app: QCoreApplication, role: str,
                    name: str) -> tuple[QLocalServer | None, QLocalSocket]:
    """Connect to *name* (client), or listen on it and accept one connection (server)."""
    if role == "client":
        socket = QLocalSocket(app)
        socket.connectToServer(name)
        if not socket.waitForConnected(WAIT_MS):
            raise PeerFailure(f"connectToServer({name!r}) failed: {socket.errorString()}")
        return None, socket
    server = QLocalServer(app)
    if not server.listen(name):
        raise PeerFailure(f"listen({name!r}) failed: {server.errorString()}")
    say(f"READY {server.fullServerName()}")
    ok, _timed_out = server.waitForNewConnection(WAIT_MS)
    if not ok:
        raise PeerFailure(f"no connection within {WAIT_MS} ms: {server.errorString()}")
    socket = server.nextPendingConnection()
    return server, socket


def names(socket: QLocalSocket) -> dict[str, str]:
    return {"server_name": socket.serverName(), "full_server_name": socket.fullServerName()}


def write_data(socket: QLocalSocket, data: bytes, chunks: list[int]) -> None:
    """``write()`` *data* at once, or in pieces cycling through *chunks* (each flushed)."""
    if not chunks:
        if socket.write(data) != len(data):
            raise PeerFailure(f"write() refused the data: {socket.errorString()}")
        return
    offset, index = 0, 0
    while offset < len(data):
        piece = data[offset:offset + chunks[index % len(chunks)]]
        if socket.write(piece) != len(piece):
            raise PeerFailure(f"write() refused a piece at {offset}: {socket.errorString()}")
        socket.flush()
        offset += len(piece)
        index += 1


def run_exchange(socket: QLocalSocket, size: int, seed: int, peer_seed: int,
                 chunks: list[int] | None = None) -> dict[str, Any]:
    data = payload(seed, size)
    result: dict[str, Any] = {"sent": size, "sent_sha256": sha256(data), **names(socket)}
    write_data(socket, data, chunks or [])
    received = bytearray()
    while len(received) < size:
        if not socket.bytesAvailable() and not socket.waitForReadyRead(WAIT_MS):
            raise PeerFailure(f"waitForReadyRead failed after {len(received)} of {size} "
                              f"bytes: {socket.errorString()}")
        received += bytes(socket.readAll())
    while socket.bytesToWrite():
        if not socket.waitForBytesWritten(WAIT_MS):
            raise PeerFailure(f"waitForBytesWritten failed with {socket.bytesToWrite()} "
                              f"bytes left: {socket.errorString()}")
    result.update(received=len(received), received_sha256=sha256(bytes(received)))
    socket.disconnectFromServer()
    if socket.state() != State.UnconnectedState and not socket.waitForDisconnected(WAIT_MS):
        raise PeerFailure(f"waitForDisconnected failed: {socket.errorString()}")
    report(result)
    if received != payload(peer_seed, size):
        raise PeerFailure("the bytes received are not the peer's payload")
    return result


def run_loop(loop: QEventLoop, watchdog_ms: int = WAIT_MS) -> None:
    """Run *loop* until a slot quits it; the watchdog makes a hang an exit code."""
    QTimer.singleShot(watchdog_ms, lambda: loop.exit(WATCHDOG_EXIT))
    if loop.exec() == WATCHDOG_EXIT:
        print(f"watchdog: nothing ended the event loop within {watchdog_ms} ms",
              file=sys.stderr)
        sys.exit(WATCHDOG_EXIT)


def run_send_and_close(socket: QLocalSocket, size: int, seed: int,
                       close_with: str, chunks: list[int] | None = None) -> dict[str, Any]:
    data = payload(seed, size)
    written: list[int] = []
    socket.bytesWritten.connect(written.append)
    loop = QEventLoop()
    socket.disconnected.connect(loop.quit)
    write_data(socket, data, chunks or [])
    getattr(socket, close_with)()
    state_after_call = socket.state().name
    if socket.state() != State.UnconnectedState:
        run_loop(loop)
    result = {"sent": size, "sent_sha256": sha256(data), "bytes_written": sum(written),
              "state_after_call": state_after_call, "state": socket.state().name}
    report(result)
    if sum(written) != size:
        raise PeerFailure(f"bytesWritten reported {sum(written)} of {size} bytes")
    return result


def run_read_until_close(socket: QLocalSocket, size: int, peer_seed: int) -> dict[str, Any]:
    received = bytearray()
    at_disconnected: dict[str, int] = {}
    errors: list[str] = []
    loop = QEventLoop()

    def on_ready_read() -> None:
        received.extend(bytes(socket.readAll()))

    def on_disconnected() -> None:
        at_disconnected["received"] = len(received)
        at_disconnected["available"] = socket.bytesAvailable()
        loop.quit()

    socket.readyRead.connect(on_ready_read)
    socket.disconnected.connect(on_disconnected)
    socket.errorOccurred.connect(lambda error: errors.append(error.name))
    received.extend(bytes(socket.readAll()))
    if socket.state() != State.UnconnectedState:
        run_loop(loop)
    leftover = len(bytes(socket.readAll()))
    result = {
        "received_before_disconnected": at_disconnected.get("received", -1),
        "available_at_disconnected": at_disconnected.get("available", -1),
        "leftover_after_disconnected": leftover,
        "received": len(received),
        "received_sha256": sha256(bytes(received)),
        "errors": errors,
        "state": socket.state().name,
    }
    report(result)
    if bytes(received) != payload(peer_seed, size):
        raise PeerFailure(f"received {len(received)} bytes, not the peer's {size}")
    if result["received_before_disconnected"] != size:
        raise PeerFailure("disconnected was emitted before every byte had arrived")
    return result


# -- the event-loop modes (test_interop_matrix.py) ---------------------------------------

#: How long an echo mode may run before its watchdog fires; the test kills it sooner.
ECHO_WATCHDOG_MS = 60000
SERVER_OPTIONS = {
    "User": QLocalServer.SocketOption.UserAccessOption,
    "Group": QLocalServer.SocketOption.GroupAccessOption,
    "Other": QLocalServer.SocketOption.OtherAccessOption,
    "World": QLocalServer.SocketOption.WorldAccessOption,
    "Abstract": QLocalServer.SocketOption.AbstractNamespaceOption,
}


def parse_spec(spec: str) -> tuple[list[str], str]:
    """``"User+Group:name"`` -> ``(["User", "Group"], "name")``."""
    options, colon, name = spec.partition(":")
    if not colon or not name:
        raise PeerFailure(f"{spec!r} is not OPTIONS:NAME")
    return [o for o in options.split("+") if o], name


def server_options(words: list[str]) -> QLocalServer.SocketOption:
    return functools.reduce(operator.or_, (SERVER_OPTIONS[w] for w in words),
                            QLocalServer.SocketOption(0))


def socket_options(words: list[str]) -> QLocalSocket.SocketOption:
    if any(w != "Abstract" for w in words):
        raise PeerFailure(f"a client takes only the Abstract option, not {words}")
    return (QLocalSocket.SocketOption.AbstractNamespaceOption if words
            else QLocalSocket.SocketOption(0))


def flag_value(flag: Any) -> int:
    return int(getattr(flag, "value", flag))


class StdinCommands:
    """Calls *handler* with each line read from stdin (event loop), ``"eof"`` at the end."""

    def __init__(self, app: QCoreApplication, handler: Callable[[str], None]) -> None:
        self.handler = handler
        self.buffer = b""
        self.notifier = QSocketNotifier(0, QSocketNotifier.Type.Read, app)
        self.notifier.activated.connect(lambda *_: self._readable())

    def _readable(self) -> None:
        chunk = os.read(0, 4096)
        if not chunk:
            self.notifier.setEnabled(False)
            self.handler("eof")
            return
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\n")
            self.handler(line.decode().strip())


class EchoServer:
    """``--echo-server``: echo servers on every ``--listen`` spec."""

    def __init__(self, app: QCoreApplication, specs: list[str], backlog: int | None,
                 hold: bool) -> None:
        self.loop = QEventLoop()
        self.servers: list[QLocalServer] = []
        self.sockets: list[QLocalSocket] = []
        self.connections: list[dict[str, Any]] = []
        self.received: list[bytearray] = []
        self.unreleased: set[int] = set()
        for index, spec in enumerate(specs):
            words, name = parse_spec(spec)
            server = QLocalServer(app)
            server.setSocketOptions(server_options(words))
            if backlog is not None:
                server.setListenBacklogSize(backlog)
            if hold:
                server.setMaxPendingConnections(0)
            if not server.listen(name):
                raise PeerFailure(f"listen({name!r}) with {words} failed: "
                                  f"{server.errorString()}")
            server.newConnection.connect(functools.partial(self._take, index))
            self.servers.append(server)
            say(f"READY {server.fullServerName()}")
        self.commands = StdinCommands(app, self._command)

    def _take(self, index: int) -> None:
        server = self.servers[index]
        while server.hasPendingConnections():
            socket = server.nextPendingConnection()
            number = len(self.connections)
            record = {"server": index, "server_name": socket.serverName(),
                      "full_server_name": socket.fullServerName(),
                      "options": flag_value(socket.socketOptions()),
                      "state": socket.state().name, "disconnected": False}
            self.sockets.append(socket)
            self.connections.append(record)
            self.received.append(bytearray())
            socket.readyRead.connect(functools.partial(self._echo, number))
            socket.disconnected.connect(
                functools.partial(record.__setitem__, "disconnected", True))
            say("CONNECTION " + json.dumps(record, sort_keys=True))
            self._echo(number)

    def _echo(self, number: int) -> None:
        socket = self.sockets[number]
        data = bytes(socket.readAll())
        if data:
            self.received[number] += data
            socket.write(data)

    def _release(self) -> None:
        for server in self.servers:
            server.setMaxPendingConnections(30)
        self.unreleased = set(range(len(self.servers)))
        self._poll_release()
        say("ACCEPTING")

    def _poll_release(self) -> None:
        # With 0 pending allowed Qt disabled its accept notifier, and raising the
        # limit does not enable it again: only nextPendingConnection() after an
        # accept does. waitForNewConnection(0) accepts one (_take then takes it).
        for index in sorted(self.unreleased):
            before = len(self.connections)
            self.servers[index].waitForNewConnection(0)
            if len(self.connections) > before:
                self.unreleased.discard(index)
        if self.unreleased:
            QTimer.singleShot(10, self._poll_release)

    def _command(self, command: str) -> None:
        if command == "accept":
            self._release()
        elif command == "ping":
            say("PONG " + json.dumps({"accepted": len(self.connections)}))
        elif command in ("quit", "eof"):
            self.finish()
        else:
            print(f"qt_peer: unknown command {command!r}", file=sys.stderr)

    def finish(self) -> None:
        for record, data in zip(self.connections, self.received, strict=True):
            record.update(received=len(data), received_sha256=sha256(bytes(data)))
        report({"servers": [{"server_name": s.serverName(),
                             "full_server_name": s.fullServerName()} for s in self.servers],
                "connections": self.connections})
        for server in self.servers:
            server.close()
        self.loop.quit()

    def run(self) -> None:
        run_loop(self.loop, ECHO_WATCHDOG_MS)


class EchoClients:
    """``--echo-clients``: many QLocalSockets connecting at once, each echoing a message."""

    def __init__(self, app: QCoreApplication, specs: list[str], count: int, size: int,
                 seed: int) -> None:
        self.loop = QEventLoop()
        self.running = False
        self.sockets: list[QLocalSocket] = []
        self.messages: list[bytes] = []
        self.received: list[bytearray] = []
        self.records: list[dict[str, Any]] = []
        targets = []
        for spec in specs:
            words, name = parse_spec(spec)
            for _ in range(count):
                index = len(self.sockets)
                socket = QLocalSocket(app)
                socket.setSocketOptions(socket_options(words))
                self.sockets.append(socket)
                self.messages.append(message(seed, index, size))
                self.received.append(bytearray())
                self.records.append({"spec": spec, "sent": len(self.messages[-1]),
                                     "connected": False, "errors": [], "done": False,
                                     "echoed": 0, "echo_ok": False})
                socket.connected.connect(functools.partial(self._connected, index))
                socket.readyRead.connect(functools.partial(self._read, index))
                socket.errorOccurred.connect(functools.partial(self._error, index))
                socket.disconnected.connect(functools.partial(self._disconnected, index))
                targets.append((socket, name))
        for index, (socket, name) in enumerate(targets):
            socket.connectToServer(name)
            self.records[index]["state_after_connect"] = socket.state().name
        self._say_states()
        self.commands = StdinCommands(app, self._command)

    def _say_states(self) -> None:
        say("STATES " + json.dumps([s.state().name for s in self.sockets]))

    def _connected(self, index: int) -> None:
        socket = self.sockets[index]
        self.records[index].update(connected=True, server_name=socket.serverName(),
                                   full_server_name=socket.fullServerName(),
                                   options=flag_value(socket.socketOptions()))
        if socket.write(self.messages[index]) != len(self.messages[index]):
            self.records[index]["errors"].append("write refused")
            self._done(index)

    def _read(self, index: int) -> None:
        received = self.received[index]
        received += bytes(self.sockets[index].readAll())
        record = self.records[index]
        if not record["done"] and len(received) >= len(self.messages[index]):
            record.update(echoed=len(received), echo_ok=received == self.messages[index])
            self._done(index)
            self.sockets[index].disconnectFromServer()

    def _error(self, index: int, error: Any) -> None:
        record = self.records[index]
        record["errors"].append(error.name)
        if not record["connected"]:
            record["state_in_error_slot"] = self.sockets[index].state().name
            self._done(index)

    def _disconnected(self, index: int) -> None:
        if not self.records[index]["done"]:
            self.records[index]["echoed"] = len(self.received[index])
            self._done(index)

    def _done(self, index: int) -> None:
        self.records[index]["done"] = True
        if self.running and all(r["done"] for r in self.records):
            self.loop.quit()

    def _command(self, command: str) -> None:
        if command == "states":
            self._say_states()
        elif command != "eof":
            print(f"qt_peer: unknown command {command!r}", file=sys.stderr)

    def run(self) -> None:
        if not all(r["done"] for r in self.records):
            self.running = True
            run_loop(self.loop, ECHO_WATCHDOG_MS)
        for record, socket in zip(self.records, self.sockets, strict=True):
            record["final_state"] = socket.state().name
        report({"clients": self.records})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--server", type=int, metavar="N", help="socketprocess producer")
    mode.add_argument("--client", action="store_true", help="socketprocess consumer")
    roles = ("client", "server")
    mode.add_argument("--exchange", choices=roles)
    mode.add_argument("--send-and-close", choices=roles)
    mode.add_argument("--read-until-close", choices=roles)
    mode.add_argument("--echo-server", action="store_true")
    mode.add_argument("--echo-clients", action="store_true")
    parser.add_argument("--name", default="qt_peer")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peer-seed", type=int, default=2)
    parser.add_argument("--close-with", choices=("disconnectFromServer", "close"),
                        default="disconnectFromServer")
    parser.add_argument("--chunks", default="",
                        help="comma-separated piece sizes for the writes")
    parser.add_argument("--listen", action="append", default=[], metavar="OPTIONS:NAME")
    parser.add_argument("--connect", action="append", default=[], metavar="OPTIONS:NAME")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--backlog", type=int)
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args(argv)
    chunks = [int(c) for c in args.chunks.split(",") if c]

    app = QCoreApplication([sys.argv[0]])
    try:
        if args.server is not None:
            return 0 if run_server(app, args.server) else 1
        if args.client:
            return 0 if run_client() else 1
        if args.echo_server:
            EchoServer(app, args.listen, args.backlog, args.hold).run()
            return 0
        if args.echo_clients:
            EchoClients(app, args.connect, args.count, args.size, args.seed).run()
            return 0
        role = args.exchange or args.send_and_close or args.read_until_close
        _server, socket = open_connection(app, role, args.name)
        if args.exchange:
            run_exchange(socket, args.size, args.seed, args.peer_seed, chunks)
        elif args.send_and_close:
            run_send_and_close(socket, args.size, args.seed, args.close_with, chunks)
        else:
            run_read_until_close(socket, args.size, args.peer_seed)
    except PeerFailure as exc:
        print(f"qt_peer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
