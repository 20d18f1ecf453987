"""An echo round trip in both styles: the smallest end-to-end check."""

from __future__ import annotations

import gevent

from qlsock import QLocalServer, QLocalSocket


def test_blocking_style_echo_between_greenlets() -> None:
    server = QLocalServer()
    assert server.listen("echo")

    def serve() -> None:
        ok, timed_out = server.waitForNewConnection(5000)
        assert (ok, timed_out) == (True, False)
        conn = server.nextPendingConnection()
        assert conn is not None
        while not conn.canReadLine():
            assert conn.waitForReadyRead(5000)
        conn.write(conn.readLine().upper())
        assert conn.waitForBytesWritten(5000)

    worker = gevent.spawn(serve)
    client = QLocalSocket()
    client.connectToServer("echo")
    assert client.state() == QLocalSocket.ConnectedState
    client.write(b"ping\n")
    while not client.canReadLine():
        assert client.waitForReadyRead(5000)
    assert client.readLine() == b"PING\n"
    worker.get(timeout=5)
    server.close()


def test_signal_style_echo() -> None:
    server = QLocalServer()
    assert server.listen("echo2")
    conns = []

    def on_new() -> None:
        conn = server.nextPendingConnection()
        conns.append(conn)
        conn.readyRead.connect(lambda: conn.write(conn.readAll()))

    server.newConnection.connect(on_new)
    client = QLocalSocket()
    client.connectToServer("echo2")
    client.write(b"x" * 100_000)
    received = bytearray()
    while len(received) < 100_000:
        assert client.waitForReadyRead(5000)
        received += client.readAll()
    assert received == b"x" * 100_000
    server.close()
