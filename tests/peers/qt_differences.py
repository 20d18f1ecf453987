"""Scenarios run the same way on PySide6 and on qlsock, to compare what each does.

Each scenario takes the classes (``QLocalServer``, ``QLocalSocket``) of one
implementation and returns what it observed as plain data: the signals in order, with
the state and ``bytesAvailable()`` seen inside each slot, and the error afterwards. The
peers on the other side are plain blocking ``socket`` objects, used only in ways that
never block (a Unix connect completes into the backlog at once), so the same code runs
in a Qt program without an event loop and in a gevent program.

``python tests/peers/qt_differences.py`` runs every scenario on PySide6 in a fresh
process (offscreen) and prints one JSON object: scenario name -> observation. The test
(``tests/test_qt_differences.py``) runs them on qlsock in its own process and compares.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from typing import Any

SIGNALS = ("errorOccurred", "stateChanged", "readChannelFinished", "disconnected",
           "aboutToClose", "readyRead", "connected")


def _name(value: Any) -> Any:
    """An enum member as its name (PySide6 and qlsock spell members alike)."""
    name = getattr(value, "name", None)
    if isinstance(name, bytes):
        name = name.decode()
    return name if isinstance(name, str) else value


def record(sock: Any, log: list[list[Any]]) -> None:
    """Log every signal of *sock* as [name, args, state, bytesAvailable()]."""
    for signal in SIGNALS:
        def slot(*args: Any, signal: str = signal) -> None:
            log.append([signal, [_name(a) for a in args], _name(sock.state()),
                        sock.bytesAvailable()])
        getattr(sock, signal).connect(slot)


def outcome(sock: Any, log: list[list[Any]]) -> dict[str, Any]:
    """What *sock* shows now, with its signals so far; later signals (the socket's
    destruction) are no longer recorded."""
    for signal in SIGNALS:
        getattr(sock, signal).disconnect()
    return {"signals": list(log), "state": _name(sock.state()), "error": _name(sock.error()),
            "errorString": sock.errorString(), "bytesAvailable": sock.bytesAvailable()}


def _raw_listener(directory: str) -> tuple[socket.socket, str]:
    path = os.path.join(directory, "raw")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    return listener, path


def peer_closes_with_a_byte_queued(server_cls: Any, socket_cls: Any,
                                   directory: str) -> dict[str, Any]:
    """The peer closes; we putChar() and waitForBytesWritten(): sending fails."""
    listener, path = _raw_listener(directory)
    sock = socket_cls()
    sock.connectToServer(path)
    peer, _ = listener.accept()
    peer.close()
    listener.close()
    log: list[list[Any]] = []
    record(sock, log)
    sock.putChar(ord("x"))
    written = sock.waitForBytesWritten(2000)
    if sock.state() != socket_cls.LocalSocketState.UnconnectedState:
        sock.waitForDisconnected(2000)
    return {"written": written, **outcome(sock, log)}


def server_closes_with_a_pending_connection(server_cls: Any, socket_cls: Any,
                                            directory: str) -> dict[str, Any]:
    """A connection the server accepted but nobody took, then the server closes."""
    server = server_cls()
    assert server.listen(os.path.join(directory, "pending"))
    sock = socket_cls()
    sock.connectToServer(server.fullServerName())
    pending, timed_out = server.waitForNewConnection(2000)
    assert pending
    assert not timed_out
    log: list[list[Any]] = []
    record(sock, log)
    server.close()
    sock.waitForDisconnected(2000)
    return outcome(sock, log)


def server_closes_with_a_never_accepted_client(server_cls: Any, socket_cls: Any,
                                               directory: str) -> dict[str, Any]:
    """A client still in the listen backlog when the server closes."""
    server = server_cls()
    server.setMaxPendingConnections(0)
    assert server.listen(os.path.join(directory, "backlog"))
    sock = socket_cls()
    sock.connectToServer(server.fullServerName())
    log: list[list[Any]] = []
    record(sock, log)
    server.close()
    sock.waitForDisconnected(2000)
    return outcome(sock, log)


def abort_with_unread_data(server_cls: Any, socket_cls: Any,
                           directory: str) -> dict[str, Any]:
    """Bytes are buffered, unread, when abort() is called."""
    listener, path = _raw_listener(directory)
    sock = socket_cls()
    sock.connectToServer(path)
    peer, _ = listener.accept()
    peer.sendall(b"unread")
    while sock.bytesAvailable() < 6 and sock.waitForReadyRead(2000):
        pass
    log: list[list[Any]] = []
    record(sock, log)
    sock.abort()
    peer.close()
    listener.close()
    return outcome(sock, log)


def listen_with_access_option_over_a_stale_file(server_cls: Any, socket_cls: Any,
                                                directory: str) -> dict[str, Any]:
    """A dead server's socket file is at the name; listen() with UserAccessOption."""
    path = os.path.join(directory, "stale")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()
    server = server_cls()
    server.setSocketOptions(server_cls.SocketOption.UserAccessOption)
    listening = server.listen(path)
    result = {"listening": listening, "error": _name(server.serverError()),
              "mode": oct(os.stat(path).st_mode & 0o777) if os.path.exists(path) else None}
    if listening:
        client = socket_cls()
        client.connectToServer(path)
        result["client"] = _name(client.state())
        client.abort()
    server.close()
    return result


def listen_with_access_option_over_a_live_server(server_cls: Any, socket_cls: Any,
                                                 directory: str) -> dict[str, Any]:
    """A live server's socket is at the name (the case qlsock refuses, unlike Qt)."""
    listener, path = _raw_listener(directory)
    server = server_cls()
    server.setSocketOptions(server_cls.SocketOption.UserAccessOption)
    listening = server.listen(path)
    server.close()
    listener.close()
    return {"listening": listening}


def none_as_a_name(server_cls: Any, socket_cls: Any, directory: str) -> dict[str, Any]:
    """listen(None) and removeServer(None)."""
    server = server_cls()
    listening = server.listen(None)
    return {"listen": listening, "error": _name(server.serverError()),
            "errorString": server.errorString(), "listening": server.isListening(),
            "removeServer": server_cls.removeServer(None)}


def autospec_mocks(server_cls: Any, socket_cls: Any, directory: str) -> dict[str, Any]:
    """Every public method of either class called on an autospec'd mock, with Qt's
    arguments: which calls the mock refuses."""
    from unittest import mock

    calls: dict[str, tuple[Any, ...]] = {
        "error": (), "errorString": (), "state": (), "serverName": (), "readAll": (),
        "bytesAvailable": (), "write": (b"x",), "connectToServer": ("name",),
        "abort": (), "waitForReadyRead": (100,), "setServerName": ("n",), "flush": (),
        "isValid": (), "socketDescriptor": (), "disconnectFromServer": (),
        "readyRead": (), "errorOccurred": (socket_cls.LocalSocketError.PeerClosedError,),
    }
    refused = []
    sock = mock.create_autospec(socket_cls)()
    for name, args in calls.items():
        try:
            getattr(sock, name)(*args)
        except Exception as exc:
            refused.append(f"QLocalSocket.{name}: {type(exc).__name__}")
    server = mock.create_autospec(server_cls)()
    for name, args in {"listen": ("n",), "close": (), "nextPendingConnection": (),
                       "serverError": (), "errorString": (), "newConnection": (),
                       "waitForNewConnection": (100,), "removeServer": ("n",)}.items():
        try:
            getattr(server, name)(*args)
        except Exception as exc:
            refused.append(f"QLocalServer.{name}: {type(exc).__name__}")
    return {"refused": refused}


SCENARIOS: dict[str, Callable[[Any, Any, str], dict[str, Any]]] = {
    f.__name__: f for f in (
        peer_closes_with_a_byte_queued, server_closes_with_a_pending_connection,
        server_closes_with_a_never_accepted_client, abort_with_unread_data,
        listen_with_access_option_over_a_stale_file,
        listen_with_access_option_over_a_live_server, none_as_a_name, autospec_mocks)
}


def run(server_cls: Any, socket_cls: Any, name: str) -> dict[str, Any]:
    directory = tempfile.mkdtemp(prefix="qd", dir="/tmp")
    try:
        return SCENARIOS[name](server_cls, socket_cls, directory)
    finally:
        for entry in os.listdir(directory):
            os.unlink(os.path.join(directory, entry))
        os.rmdir(directory)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtNetwork import QLocalServer, QLocalSocket

    app = QCoreApplication([])
    results = {name: run(QLocalServer, QLocalSocket, name) for name in SCENARIOS}
    print(json.dumps(results))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
