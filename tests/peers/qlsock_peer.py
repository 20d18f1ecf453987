"""The qlsock side of the interop tests when it runs as its own process.

A Python port of Qt's ``socketprocess`` test helper
(``tests/auto/network/socket/qlocalsocket/socketprocess/main.cpp``) on qlsock:

``--server N``
    ``removeServer("qlocalsocket_autotest")``, listen, then N times
    ``waitForNewConnection(30000)``, ``write(b"test")``, ``waitForBytesWritten()``
    and check ``error() == UnknownSocketError``. Exit code 0 on success.
``--client``
    ``connectToServer(name, ReadWrite)`` until ``waitForConnected()``; on
    ``ServerNotFoundError`` or ``ConnectionRefusedError`` try again every 500 ms for
    up to 5 s. Then ``waitForReadyRead()`` and ``readLine() == b"test"``.

plus ``--exchange ROLE``, the same two-way transfer as ``qt_peer.py --exchange``
(send ``--size`` bytes made from ``--seed``, receive the ones made from
``--peer-seed``, compare by sha256, print ``RESULT <json>``), so that a standalone
qlsock program can be paired with a standalone PySide6 one. ROLE ``server`` prints
``READY <fullServerName>`` once listening.

When ``QLSOCK_TEST_MONKEY=1`` (the monkey-patched test run) the program patches
itself with ``gevent.monkey`` first, so it runs the way the test process does.
"""

from __future__ import annotations

import os

if os.environ.get("QLSOCK_TEST_MONKEY") == "1":
    from gevent import monkey

    monkey.patch_all()

import argparse
import hashlib
import json
import random
import sys
import time
from typing import Any

import gevent

from qlsock import QIODevice, QLocalServer, QLocalSocket

SERVER_NAME = "qlocalsocket_autotest"
TEST_DATA = b"test"
#: How long any single wait may take before the peer gives up.
WAIT_MS = 20000


class PeerFailure(Exception):
    """A check failed; the message goes to stderr and the exit code is 1."""


def payload(seed: int, size: int) -> bytes:
    """The deterministic test bytes for *seed* (the same function in every peer)."""
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def say(*words: object) -> None:
    print(*words, flush=True)


# -- socketprocess ----------------------------------------------------------------------


def run_server(number_of_connections: int) -> bool:
    """socketprocess ``--server N``: write "test" to each of N connections."""
    server = QLocalServer()
    if not server.removeServer(SERVER_NAME):
        print(f"server: cannot remove server: {server.errorString()}", file=sys.stderr)
        return False
    say(f'server: listen on "{SERVER_NAME}"')
    if not server.listen(SERVER_NAME):
        print(f"server: listen failed: {server.errorString()}", file=sys.stderr)
        return False
    # Qt's sockets are children of the server and live until the process ends.
    sockets = []
    for i in range(1, number_of_connections + 1):
        say(f"server: wait for connection {i}")
        ok, _timed_out = server.waitForNewConnection(30000)
        if not ok:
            print(f"server: waitForNewConnection failed: {server.errorString()}",
                  file=sys.stderr)
            return False
        socket = server.nextPendingConnection()
        sockets.append(socket)
        say(f'server: writing "{TEST_DATA.decode()}"')
        socket.write(TEST_DATA)
        if not socket.waitForBytesWritten():
            print(f"server: waitForBytesWritten failed: {socket.errorString()}",
                  file=sys.stderr)
            return False
        say("server: data written")
        if socket.error() != QLocalSocket.UnknownSocketError:
            print(f"server: socket error {socket.error()}", file=sys.stderr)
            return False
    return True


def run_client() -> bool:
    """socketprocess ``--client``: connect (retrying for 5 s), read "test"."""
    socket = QLocalSocket()
    say(f'client: connecting to "{SERVER_NAME}"')
    started = time.monotonic()
    while True:
        socket.connectToServer(SERVER_NAME, QIODevice.ReadWrite)
        if socket.waitForConnected():
            break
        if socket.error() in (QLocalSocket.ServerNotFoundError,
                              QLocalSocket.ConnectionRefusedError):
            if time.monotonic() - started > 5.0:
                print("client: server not found or connection refused. Giving up.",
                      file=sys.stderr)
                return False
            say("client: server not found. Trying again...")
            gevent.sleep(0.5)
            continue
        print(f"client: waitForConnected failed: {socket.errorString()}", file=sys.stderr)
        return False
    say("client: connected")
    if not socket.waitForReadyRead():
        print(f"client: waitForReadyRead failed: {socket.errorString()}", file=sys.stderr)
        return False
    say("client: data is available for reading")
    data = socket.readLine()
    say(f"client: received {data!r}")
    if data != TEST_DATA:
        print("client: received unexpected data", file=sys.stderr)
        return False
    return True


# -- the interop mode -------------------------------------------------------------------


def open_connection(role: str, name: str) -> tuple[QLocalServer | None, QLocalSocket]:
    """Connect to *name* (client), or listen on it and accept one connection (server)."""
    if role == "client":
        socket = QLocalSocket()
        socket.connectToServer(name)
        if not socket.waitForConnected(WAIT_MS):
            raise PeerFailure(f"connectToServer({name!r}) failed: {socket.errorString()}")
        return None, socket
    server = QLocalServer()
    if not server.listen(name):
        raise PeerFailure(f"listen({name!r}) failed: {server.errorString()}")
    say(f"READY {server.fullServerName()}")
    ok, _timed_out = server.waitForNewConnection(WAIT_MS)
    socket = server.nextPendingConnection()
    if not ok or socket is None:
        raise PeerFailure(f"no connection within {WAIT_MS} ms: {server.errorString()}")
    return server, socket


def run_exchange(socket: QLocalSocket, size: int, seed: int, peer_seed: int) -> dict[str, Any]:
    data = payload(seed, size)
    result: dict[str, Any] = {"sent": size, "sent_sha256": sha256(data),
                              "server_name": socket.serverName(),
                              "full_server_name": socket.fullServerName()}
    if socket.write(data) != size:
        raise PeerFailure(f"write() refused the data: {socket.errorString()}")
    received = bytearray()
    while len(received) < size:
        if not socket.bytesAvailable() and not socket.waitForReadyRead(WAIT_MS):
            raise PeerFailure(f"waitForReadyRead failed after {len(received)} of {size} "
                              f"bytes: {socket.errorString()}")
        received += socket.readAll()
    while socket.bytesToWrite():
        if not socket.waitForBytesWritten(WAIT_MS):
            raise PeerFailure(f"waitForBytesWritten failed with {socket.bytesToWrite()} "
                              f"bytes left: {socket.errorString()}")
    result.update(received=len(received), received_sha256=sha256(bytes(received)))
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.UnconnectedState and \
            not socket.waitForDisconnected(WAIT_MS):
        raise PeerFailure(f"waitForDisconnected failed: {socket.errorString()}")
    say("RESULT " + json.dumps(result, sort_keys=True))
    if received != payload(peer_seed, size):
        raise PeerFailure("the bytes received are not the peer's payload")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--server", type=int, metavar="N", help="socketprocess producer")
    mode.add_argument("--client", action="store_true", help="socketprocess consumer")
    mode.add_argument("--exchange", choices=("client", "server"))
    parser.add_argument("--name", default="qlsock_peer")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peer-seed", type=int, default=2)
    args = parser.parse_args(argv)

    if args.server is not None:
        return 0 if run_server(args.server) else 1
    if args.client:
        return 0 if run_client() else 1
    try:
        _server, socket = open_connection(args.exchange, args.name)
        run_exchange(socket, args.size, args.seed, args.peer_seed)
    except PeerFailure as exc:
        print(f"qlsock_peer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
