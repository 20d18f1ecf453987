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

ROLE ``client`` connects to ``--name``; ROLE ``server`` listens on ``--name``,
prints ``READY <fullServerName>`` and takes one connection. The outcome is printed
as one ``RESULT <json>`` line; the exit code is 0 when every check held, 1 when one
failed (reason on stderr), 3 when the watchdog of an event loop fired.

Relative names resolve against ``$TMPDIR`` (``QDir::tempPath()``), so the caller
passes the environment it wants the names to resolve in.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QIODevice, QTimer
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


def run_exchange(socket: QLocalSocket, size: int, seed: int, peer_seed: int) -> dict[str, Any]:
    data = payload(seed, size)
    result: dict[str, Any] = {"sent": size, "sent_sha256": sha256(data), **names(socket)}
    if socket.write(data) != size:
        raise PeerFailure(f"write() refused the data: {socket.errorString()}")
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


def run_loop(loop: QEventLoop) -> None:
    """Run *loop* until a slot quits it; the watchdog makes a hang an exit code."""
    QTimer.singleShot(WAIT_MS, lambda: loop.exit(WATCHDOG_EXIT))
    if loop.exec() == WATCHDOG_EXIT:
        print(f"watchdog: nothing ended the event loop within {WAIT_MS} ms", file=sys.stderr)
        sys.exit(WATCHDOG_EXIT)


def run_send_and_close(socket: QLocalSocket, size: int, seed: int,
                       close_with: str) -> dict[str, Any]:
    data = payload(seed, size)
    written: list[int] = []
    socket.bytesWritten.connect(written.append)
    loop = QEventLoop()
    socket.disconnected.connect(loop.quit)
    if socket.write(data) != size:
        raise PeerFailure(f"write() refused the data: {socket.errorString()}")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--server", type=int, metavar="N", help="socketprocess producer")
    mode.add_argument("--client", action="store_true", help="socketprocess consumer")
    roles = ("client", "server")
    mode.add_argument("--exchange", choices=roles)
    mode.add_argument("--send-and-close", choices=roles)
    mode.add_argument("--read-until-close", choices=roles)
    parser.add_argument("--name", default="qt_peer")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peer-seed", type=int, default=2)
    parser.add_argument("--close-with", choices=("disconnectFromServer", "close"),
                        default="disconnectFromServer")
    args = parser.parse_args(argv)

    app = QCoreApplication([sys.argv[0]])
    try:
        if args.server is not None:
            return 0 if run_server(app, args.server) else 1
        if args.client:
            return 0 if run_client() else 1
        role = args.exchange or args.send_and_close or args.read_until_close
        _server, socket = open_connection(app, role, args.name)
        if args.exchange:
            run_exchange(socket, args.size, args.seed, args.peer_seed)
        elif args.send_and_close:
            run_send_and_close(socket, args.size, args.seed, args.close_with)
        else:
            run_read_until_close(socket, args.size, args.peer_seed)
    except PeerFailure as exc:
        print(f"qt_peer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
