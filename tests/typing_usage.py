"""Code written as against PySide6 must type-check: ``make lint`` runs mypy on this file.

Nothing here runs; it fails ``mypy --strict`` if the public API's names or types
stop matching how Qt code uses them.
"""

from __future__ import annotations

from qlsock import (
    QAbstractSocket,
    QIODevice,
    QLocalServer,
    QLocalSocket,
    SingleInstance,
    serve,
)


def qt_style(server: QLocalServer, sock: QLocalSocket) -> None:
    error: QLocalSocket.LocalSocketError = QLocalSocket.PeerClosedError
    state: QLocalSocket.LocalSocketState = QLocalSocket.ConnectedState
    mode: QIODevice.OpenModeFlag = QLocalSocket.ReadWrite
    option: QLocalServer.SocketOption = QLocalServer.UserAccessOption
    code: QAbstractSocket.SocketError = QAbstractSocket.AddressInUseError
    server.setSocketOptions(option)
    listening: bool = server.listen("name", reclaim_stale=True)
    pending: QLocalSocket | None = server.nextPendingConnection()
    sock.connectToServer("name", mode)
    connected: bool = sock.waitForConnected(1000)
    written: int = sock.write(b"data")
    data: bytes = sock.readAll()
    line: bytes = sock.readLine()
    sock.errorOccurred.connect(lambda err: None)
    del error, state, code, listening, pending, connected, written, data, line


def extensions(sock: QLocalSocket) -> None:
    creds = sock.peerCredentials()
    if creds is not None:
        uid: int = creds.uid
        del uid
    server = serve("name", lambda conn: None, spawn=10)
    server.stop(timeout=1)
    app = SingleInstance("app")
    primary: bool = app.start([])
    del primary
