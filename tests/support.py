"""Test helpers: Qt's QSignalSpy, QTRY_VERIFY and the invariant-checking LocalSocket."""

from __future__ import annotations

import gc
import io
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import gevent
import greenlet
from gevent.event import Event

from qlsock import QIODevice, QLocalServer, QLocalSocket

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


def check_helpers(*objs: object) -> None:
    """No invariant failures recorded by the support classes' slots."""
    for obj in objs:
        assert getattr(obj, "failures", []) == [], obj


def connect_to(name: str) -> LocalSocket:
    """A LocalSocket connected to *name* (asserted Connected right after the call)."""
    sock = LocalSocket()
    sock.connectToServer(name)
    assert sock.state() == QLocalSocket.ConnectedState, sock.errorString()
    return sock


class Reader:
    """Reads everything in a readyRead slot; notes what had arrived at ``disconnected``."""

    def __init__(self, sock: QLocalSocket) -> None:
        self.sock = sock
        self.log = EventLog(sock, "readyRead", "errorOccurred", "stateChanged",
                            "readChannelFinished", "disconnected")
        self.data = bytearray(sock.readAll())
        self.at_disconnected = -1
        self.available_at_disconnected = -1
        sock.readyRead.connect(self._read)
        sock.disconnected.connect(self._disconnected)

    def _read(self) -> None:
        self.data += self.sock.readAll()

    def _disconnected(self) -> None:
        self.at_disconnected = len(self.data)
        self.available_at_disconnected = self.sock.bytesAvailable()

    @property
    def finished(self) -> bool:
        return self.at_disconnected >= 0


def send_now(peer: QLocalSocket, data: bytes) -> None:
    """Write *data* on *peer* and hand all of it to the kernel before returning."""
    assert peer.write(data) == len(data)
    assert peer.flush()
    assert peer.bytesToWrite() == 0


def feed(client: QLocalSocket, peer: QLocalSocket, data: bytes) -> None:
    """Send *data* from *peer*; return once *client* has buffered all of it."""
    before = client.bytesAvailable()
    send_now(peer, data)
    while client.bytesAvailable() < before + len(data):
        assert client.waitForReadyRead(DEFAULT_WAIT_MS), client.errorString()


def listening(name: str, options: Any = None, backlog: int | None = None,
              max_pending: int | None = None,
              server_class: type[LocalServer] = LocalServer) -> LocalServer:
    """A new *server_class* listening on *name*; each setting not None is applied first."""
    server = server_class()
    if options is not None:
        server.setSocketOptions(options)
    if backlog is not None:
        server.setListenBacklogSize(backlog)
    if max_pending is not None:
        server.setMaxPendingConnections(max_pending)
    assert server.listen(name), server.errorString()
    return server


class Harness:
    """The servers and sockets of one test, aborted and closed at teardown.

    ``teardown()`` returns the invariant failures the LocalSockets recorded (and the
    LocalServers too, with ``check_servers``); :func:`torn_down` makes a fixture of it.
    """

    #: The class ``server()`` makes.
    server_class: type[LocalServer] = LocalServer
    #: Whether ``teardown()`` reports LocalServer failures as well as LocalSocket ones.
    check_servers = False

    def __init__(self) -> None:
        self.servers: list[QLocalServer] = []
        self.sockets: list[QLocalSocket] = []

    def server(self, name: str, options: Any = None, backlog: int | None = None,
               max_pending: int | None = None) -> LocalServer:
        server = listening(name, options, backlog, max_pending, self.server_class)
        self.servers.append(server)
        return server

    def client(self) -> LocalSocket:
        client = LocalSocket()
        self.sockets.append(client)
        return client

    def track(self, sock: QLocalSocket) -> QLocalSocket:
        self.sockets.append(sock)
        return sock

    def accept(self, server: QLocalServer) -> QLocalSocket:
        assert server.waitForNewConnection(DEFAULT_WAIT_MS) == (True, False)
        conn = server.nextPendingConnection()
        assert conn is not None
        return self.track(conn)

    def connection(self, name: str, mode: Any = QIODevice.ReadWrite
                   ) -> tuple[LocalServer, LocalSocket, QLocalSocket]:
        """A listening server, a client connected with *mode* and the server side of it."""
        server = self.server(name)
        client = self.client()
        client.connectToServer(name, mode)
        assert client.state() == QLocalSocket.ConnectedState, client.errorString()
        return server, client, self.accept(server)

    def teardown(self) -> list[str]:
        failures = [f for s in self.sockets if isinstance(s, LocalSocket) for f in s.failures]
        if self.check_servers:
            failures += [f for s in self.servers if isinstance(s, LocalServer)
                         for f in s.failures]
        for sock in self.sockets:
            sock.abort()
        for server in self.servers:
            server.close()
        return failures


H = TypeVar("H", bound=Harness)


def torn_down(harness: H) -> Iterator[H]:
    """A fixture's body: yield *harness*, then tear it down; LocalSocket invariants asserted."""
    yield harness
    failures = harness.teardown()
    assert failures == [], f"LocalSocket slot invariants violated: {failures}"


def run_forked(child: Callable[[], bytes], ms: int = DEFAULT_WAIT_MS) -> bytes:
    """Run *child()* in a forked process; return the bytes it returned.

    The result comes back through a pipe, read cooperatively until the child's end
    closes, so the hub keeps serving meanwhile. Exit statuses are not used: gevent's
    hub reaps children through SIGCHLD, and a wait on its child watcher can miss a
    child that exits before the watcher is armed. *child* must not return into the
    test; an exception in it is reported as ``b"error: ..."``.
    """
    import gevent.os

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            try:
                result = child()
            except BaseException as exc:
                result = f"error: {exc!r}".encode()
            os.write(write_end, result)
        finally:
            os._exit(0)
    os.close(write_end)
    os.set_blocking(read_end, False)
    chunks = []
    try:
        with gevent.Timeout(ms / 1000):
            while chunk := gevent.os.nb_read(read_end, 65536):
                chunks.append(chunk)
    finally:
        os.close(read_end)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass  # the hub reaped it
    return b"".join(chunks)


# -- greenlet tests: what the hub reports, what is left behind ----------------------------


class HubErrors:
    """Records every ``hub.handle_error(context, type, value, tb)`` call of this thread's hub.

    The hub's own ``handle_error`` still runs after the record is made (so system errors
    still reach the main greenlet), but it prints to :attr:`stream`, not stderr. Only the
    type, the text and the context's repr are kept: a traceback would keep the failed
    code's frames, and the sockets they refer to, alive.
    """

    def __init__(self) -> None:
        self.hub = gevent.get_hub()
        self.calls: list[tuple[type[BaseException], str, str]] = []
        self.stream = io.StringIO()

    def install(self) -> HubErrors:
        hub = self.hub
        original = type(hub).handle_error.__get__(hub)

        def handle_error(context: Any, type_: Any, value: Any, tb: Any) -> None:
            self.calls.append((type_, str(value), repr(context)))
            original(context, type_, value, tb)

        hub.handle_error = handle_error
        hub.exception_stream = self.stream
        return self

    def uninstall(self) -> None:
        for name in ("handle_error", "exception_stream"):
            self.hub.__dict__.pop(name, None)

    def types(self) -> list[type[BaseException]]:
        return [call[0] for call in self.calls]

    def count(self, kind: type[BaseException]) -> int:
        return sum(1 for t in self.types() if isinstance(t, type) and issubclass(t, kind))


def open_fds() -> int:
    """How many descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def live_greenlets() -> int:
    """How many greenlets exist that have not finished (the main one and hubs included)."""
    gc.collect()
    return sum(1 for obj in gc.get_objects()
               if isinstance(obj, greenlet.greenlet) and not obj.dead)


def active_watchers() -> int:
    """The hub loop's count of active, referenced watchers."""
    return int(gevent.get_hub().loop.activecnt)


class Leaks:
    """Descriptors, unfinished greenlets and active watchers, before and after."""

    def __init__(self) -> None:
        self.before = self.now()

    @staticmethod
    def now() -> tuple[int, int, int]:
        for _ in range(3):
            gevent.sleep(0)
        return open_fds(), live_greenlets(), active_watchers()

    def left(self, ms: int = 2000) -> str:
        """An empty string once nothing is left over (waiting up to *ms*), else what is."""
        deadline = time.monotonic() + ms / 1000
        while True:
            now = self.now()
            fds, greenlets, watchers = now
            if fds <= self.before[0] and greenlets <= self.before[1] \
                    and watchers <= self.before[2]:
                return ""
            if time.monotonic() >= deadline:
                return (f"left over: descriptors {self.before[0]} -> {fds}, unfinished "
                        f"greenlets {self.before[1]} -> {greenlets}, active watchers "
                        f"{self.before[2]} -> {watchers}")
            gevent.sleep(0.01)


def read_at_least(sock: QLocalSocket, count: int, ms: int = DEFAULT_WAIT_MS) -> bytes:
    """Read until *count* bytes came or *ms* passed (checking the buffer before waiting)."""
    data = bytearray(sock.readAll())
    deadline = time.monotonic() + ms / 1000
    while len(data) < count:
        remaining = int((deadline - time.monotonic()) * 1000)
        if remaining <= 0:
            break
        if not sock.bytesAvailable() and not sock.waitForReadyRead(remaining):
            if sock.state() == QLocalSocket.UnconnectedState:
                data += sock.readAll()
                break
            continue
        data += sock.readAll()
    return bytes(data)


def read_to_end(sock: QLocalSocket, ms: int = DEFAULT_WAIT_MS) -> bytes:
    """Read until the peer closed the connection or *ms* passed."""
    data = bytearray(sock.readAll())
    deadline = time.monotonic() + ms / 1000
    while sock.state() == QLocalSocket.ConnectedState:
        remaining = int((deadline - time.monotonic()) * 1000)
        if remaining <= 0:
            break
        sock.waitForReadyRead(remaining)
        data += sock.readAll()
    data += sock.readAll()
    return bytes(data)


def _busy_gevent_sleep(seconds: float) -> None:
    gevent.sleep(seconds)


def _busy_event_wait(seconds: float) -> None:
    Event().wait(seconds)


def _busy_time_sleep(seconds: float) -> None:
    time.sleep(seconds)  # cooperative under monkey patching only


def _busy_thread_join(seconds: float) -> None:
    import threading

    thread = threading.Thread(target=time.sleep, args=(seconds,))
    thread.start()
    thread.join()


#: Ways for a greenlet to be busy for a while between two waits on a socket. In the
#: plain run time.sleep() and threads block the whole hub (nothing can happen
#: meanwhile), so they are only offered under monkey patching.
BUSY: dict[str, Callable[[float], None]] = {
    "gevent.sleep": _busy_gevent_sleep,
    "Event.wait": _busy_event_wait,
}
if os.environ.get("QLSOCK_TEST_MONKEY") == "1":
    BUSY["time.sleep"] = _busy_time_sleep
    BUSY["threading.Thread"] = _busy_thread_join
