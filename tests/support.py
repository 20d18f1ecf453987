"""Test helpers: Qt's QSignalSpy, QTRY_VERIFY and the invariant-checking LocalSocket."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event

from qlsock import QLocalServer, QLocalSocket

#: QTestLib's default for QTRY_* and QSignalSpy::wait.
DEFAULT_WAIT_MS = 5000


class Spy:
    """Records each emission's arguments (``QSignalSpy``)."""

    def __init__(self, signal: Any) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._event = Event()
        signal.connect(self._record)

    def _record(self, *args: Any) -> None:
        self.calls.append(args)
        self._event.set()

    def __len__(self) -> int:
        return len(self.calls)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return self.calls[index]

    def clear(self) -> None:
        self.calls.clear()

    def wait(self, ms: int = DEFAULT_WAIT_MS) -> bool:
        """Yield until the next emission; True if one came within *ms*."""
        before = len(self.calls)
        deadline = time.monotonic() + ms / 1000
        while len(self.calls) == before:
            self._event.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._event.wait(remaining):
                return len(self.calls) > before
        return True


class EventLog:
    """One ordered log of several signals of one object: ``[("name", *args), ...]``."""

    def __init__(self, obj: Any, *names: str) -> None:
        self.events: list[tuple[Any, ...]] = []
        for name in names:
            getattr(obj, name).connect(self._recorder(name))

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.events.append((name, *args))
        return record

    def names(self) -> list[str]:
        return [e[0] for e in self.events]

    def clear(self) -> None:
        self.events.clear()


SOCKET_SIGNALS = ("connected", "disconnected", "errorOccurred", "stateChanged",
                  "readyRead", "aboutToClose", "readChannelFinished", "bytesWritten")


def qtry(condition: Callable[[], Any], ms: int = DEFAULT_WAIT_MS) -> bool:
    """QTRY_VERIFY: yield to the hub until *condition()* holds or *ms* pass."""
    deadline = time.monotonic() + ms / 1000
    while not condition():
        if time.monotonic() >= deadline:
            return bool(condition())
        gevent.sleep(0.005)
    return True


class CrashSafeLocalServer(QLocalServer):
    """Qt's test scaffolding: ``listen()`` removes a leftover socket file first."""

    def listen(self, name: Any) -> bool:
        if isinstance(name, str):
            QLocalServer.removeServer(name)
        return super().listen(name)


class LocalServer(CrashSafeLocalServer):
    """Records ``incomingConnection`` hits and checks ``newConnection`` invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[int] = []
        self.failures: list[str] = []
        self.newConnection.connect(self._on_new_connection)

    def incomingConnection(self, socketDescriptor: int) -> None:
        self.hits.append(socketDescriptor)
        super().incomingConnection(socketDescriptor)

    def _on_new_connection(self) -> None:
        if not self.hits:
            self.failures.append("newConnection before incomingConnection")
        if not self.hasPendingConnections():
            self.failures.append("newConnection with nothing pending")


class LocalSocket(QLocalSocket):
    """Qt's test LocalSocket: slots assert invariants at emission time."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[str] = []
        self.connected.connect(self._on_connected)
        self.disconnected.connect(self._on_disconnected)
        self.errorOccurred.connect(self._on_error)
        self.stateChanged.connect(self._on_state)
        self.readyRead.connect(self._on_ready_read)

    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)

    def _on_connected(self) -> None:
        self._check(self.state() == QLocalSocket.ConnectedState, "connected: not Connected")
        self._check(self.isOpen(), "connected: not open")

    def _on_disconnected(self) -> None:
        self._check(self.state() == QLocalSocket.UnconnectedState,
                    "disconnected: not Unconnected")

    def _on_error(self, error: Any) -> None:
        self._check(self.errorString() != "Unknown error", "errorOccurred: no text")
        if error != QLocalSocket.OperationError:
            self._check(self.error() == error, f"errorOccurred({error}) but error() "
                        f"is {self.error()}")

    def _on_state(self, state: Any) -> None:
        self._check(self.state() == state, f"stateChanged({state}) but state() is "
                    f"{self.state()}")

    def _on_ready_read(self) -> None:
        self._check(self.bytesAvailable() > 0, "readyRead with nothing available")
