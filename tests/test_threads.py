"""OS threads: one hub per thread, thread affinity, and Qt's threadedConnection.

``threading.Thread`` is a real OS thread in the plain run and a greenlet under
monkey patching; both runs must pass. Where a real OS thread is the point (thread
affinity, threadedConnection), :class:`RealThread` is used in both runs. It starts
the thread with the original ``_thread.start_new_thread``: the original
``threading.Thread`` from ``gevent.monkey.get_original`` is no help, because its
methods look up the patched ``threading`` module globals and so start a greenlet.
Cross-thread hand-offs use original ``_thread`` locks, which stay real OS locks.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import gevent
import pytest
from gevent.monkey import get_original

from qlsock import QLocalServer, QLocalSocket, WrongThreadError
from tests.support import LocalServer, Spy

real_lock = get_original("_thread", "allocate_lock")
_start_new_thread = get_original("_thread", "start_new_thread")

JOIN_TIMEOUT = 20


class RealThread:
    """A real OS thread in both runs, with ``start()`` and ``join(timeout)``."""

    def __init__(self, target: Callable[[], None]) -> None:
        self._target = target
        self._done = real_lock()
        self._done.acquire()
        self.ident: int | None = None

    def start(self) -> None:
        _start_new_thread(self._run, ())

    def _run(self) -> None:
        try:
            self.ident = get_original("_thread", "get_ident")()
            self._target()
        finally:
            self._done.release()

    def join(self, timeout: float) -> bool:
        """True once the thread has finished (waits at most *timeout* seconds)."""
        if self._done.acquire(timeout=timeout):
            self._done.release()
            return True
        return False


def _run_real_thread(target: Callable[[], None]) -> list[BaseException]:
    """Run *target* in a real OS thread; the exceptions it raised."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            target()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = RealThread(guarded)
    thread.start()
    assert thread.join(JOIN_TIMEOUT), "the real thread hung"
    assert thread.ident != get_original("_thread", "get_ident")()
    return errors


def _echo_server(server: QLocalServer) -> None:
    """Signal style: echo every byte back on every accepted connection."""

    def on_new() -> None:
        while server.hasPendingConnections():
            conn = server.nextPendingConnection()
            conn.readyRead.connect(lambda c=conn: c.write(c.readAll()))
            conn.disconnected.connect(conn.close)

    server.newConnection.connect(on_new)


def _talk(name: str, payload: bytes) -> bytes:
    """Connect to *name*, send *payload*, return what came back."""
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.state() == QLocalSocket.ConnectedState, client.errorString()
    client.write(payload)
    received = b""
    while len(received) < len(payload):
        assert client.waitForReadyRead(5000), client.errorString()
        received += client.readAll()
    client.disconnectFromServer()
    client.close()
    return received


def test_two_threads_each_with_server_and_clients() -> None:
    """Two threads run a server and clients each, at the same time, without mixing data."""
    barrier = threading.Barrier(2, timeout=JOIN_TIMEOUT)
    results: dict[int, list[bytes]] = {}
    errors: list[BaseException] = []
    clients = 4

    def work(index: int) -> None:
        try:
            server = QLocalServer()
            name = f"thread-{index}"
            assert server.listen(name), server.errorString()
            _echo_server(server)
            barrier.wait()  # both servers listen at once
            sent = [b"thread %d client %d " % (index, j) * (j * 1000 + 1)
                    for j in range(clients)]
            workers = [gevent.spawn(_talk, name, data) for data in sent]
            received = [w.get(timeout=JOIN_TIMEOUT) for w in workers]
            assert received == sent
            results[index] = received
            barrier.wait()  # neither closes while the other still talks
            server.close()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sorted(results) == [0, 1]


def _assert_wrong_thread(call: Callable[[], Any], errors: list[str], what: str) -> None:
    started = time.monotonic()
    try:
        call()
    except WrongThreadError as exc:
        text = str(exc)
        if "thread" not in text or "create the object in the thread" not in text:
            errors.append(f"{what}: unclear message {text!r}")
    except BaseException as exc:
        errors.append(f"{what}: raised {type(exc).__name__}: {exc}")
    else:
        errors.append(f"{what}: no WrongThreadError")
    if time.monotonic() - started > 1.0:
        errors.append(f"{what}: took {time.monotonic() - started:.1f} s")


@pytest.fixture
def pair() -> Any:
    """A listening server with one accepted connection, all made in this thread."""
    server = LocalServer()
    assert server.listen("affinity")
    client = QLocalSocket()
    client.connectToServer("affinity")
    assert server.waitForNewConnection(5000) == (True, False)
    accepted = server.nextPendingConnection()
    yield server, client, accepted
    client.abort()
    accepted.abort()
    server.close()


def test_socket_used_from_another_thread_raises(pair: Any) -> None:
    """Blocking and I/O calls on a socket from another OS thread raise WrongThreadError."""
    _, client, accepted = pair
    fresh = QLocalSocket()
    problems: list[str] = []

    def other_thread() -> None:
        for sock, label in ((client, "client"), (accepted, "accepted")):
            _assert_wrong_thread(lambda s=sock: s.write(b"x"), problems, f"{label}.write")
            _assert_wrong_thread(lambda s=sock: s.waitForReadyRead(100), problems,
                                 f"{label}.waitForReadyRead")
            _assert_wrong_thread(lambda s=sock: s.waitForBytesWritten(100), problems,
                                 f"{label}.waitForBytesWritten")
            _assert_wrong_thread(lambda s=sock: s.waitForDisconnected(100), problems,
                                 f"{label}.waitForDisconnected")
            _assert_wrong_thread(lambda s=sock: s.waitForConnected(100), problems,
                                 f"{label}.waitForConnected")
            _assert_wrong_thread(sock.disconnectFromServer, problems,
                                 f"{label}.disconnectFromServer")
            _assert_wrong_thread(sock.close, problems, f"{label}.close")
            _assert_wrong_thread(sock.abort, problems, f"{label}.abort")
        _assert_wrong_thread(lambda: fresh.connectToServer("affinity"), problems,
                             "connectToServer")

    assert _run_real_thread(other_thread) == []
    assert problems == []
    # Nothing was changed by the refused calls: the connection still works here.
    assert client.state() == accepted.state() == QLocalSocket.ConnectedState
    assert client.bytesToWrite() == 0
    assert accepted.bytesToWrite() == 0
    assert fresh.state() == QLocalSocket.UnconnectedState
    client.write(b"still fine\n")
    while not accepted.canReadLine():
        assert accepted.waitForReadyRead(5000)
    assert accepted.readLine() == b"still fine\n"


def test_server_used_from_another_thread_raises(pair: Any) -> None:
    """listen, waitForNewConnection and close from another OS thread raise WrongThreadError."""
    server, _, _ = pair
    idle = QLocalServer()
    problems: list[str] = []

    def other_thread() -> None:
        _assert_wrong_thread(lambda: idle.listen("elsewhere"), problems, "listen")
        _assert_wrong_thread(lambda: server.waitForNewConnection(100), problems,
                             "waitForNewConnection")
        _assert_wrong_thread(server.close, problems, "close")

    assert _run_real_thread(other_thread) == []
    assert problems == []
    assert server.isListening()
    assert not idle.isListening()
    late = QLocalSocket()
    late.connectToServer("affinity")
    assert server.waitForNewConnection(5000) == (True, False)
    assert late.state() == QLocalSocket.ConnectedState


def test_queue_and_buffer_calls_from_another_thread_raise(pair: Any) -> None:
    """Calls that re-arm the hub's watchers raise WrongThreadError from another thread too."""
    server, client, accepted = pair
    queued = QLocalSocket()
    queued.connectToServer("affinity")
    assert server.waitForNewConnection(5000) == (True, False)
    # Fill a 4-byte read buffer so that reading from the kernel pauses; a read
    # would resume it (re-arm the watcher of this thread's hub).
    accepted.setReadBufferSize(4)
    client.write(b"0123456789")
    assert accepted.waitForReadyRead(5000)
    assert accepted.bytesAvailable() == 4
    problems: list[str] = []

    def other_thread() -> None:
        _assert_wrong_thread(server.nextPendingConnection, problems, "nextPendingConnection")
        _assert_wrong_thread(lambda: server.setMaxPendingConnections(5), problems,
                             "setMaxPendingConnections")
        _assert_wrong_thread(lambda: accepted.setReadBufferSize(0), problems,
                             "setReadBufferSize")
        _assert_wrong_thread(accepted.readAll, problems, "readAll")

    assert _run_real_thread(other_thread) == []
    assert problems == []
    # The refused calls changed nothing.
    assert server.hasPendingConnections()
    assert server.maxPendingConnections() == 30
    assert accepted.readBufferSize() == 4
    assert accepted.bytesAvailable() == 4
    assert accepted.readAll() == b"0123"
    received = b""
    while len(received) < 6:
        assert accepted.waitForReadyRead(5000)
        received += accepted.readAll()
    assert received == b"456789"
    assert server.nextPendingConnection() is not None
    assert queued.state() == QLocalSocket.ConnectedState


def test_object_made_in_another_thread_refuses_this_thread() -> None:
    """A socket created in another OS thread raises WrongThreadError here, naming that thread."""
    made: list[QLocalSocket] = []
    names: list[str] = []

    def make() -> None:
        names.append(threading.current_thread().name)
        made.append(QLocalSocket())

    errors = _run_real_thread(make)
    assert errors == []
    sock = made[0]
    with pytest.raises(WrongThreadError, match=re.escape(names[0])):
        sock.connectToServer("anything")
    with pytest.raises(WrongThreadError):
        sock.waitForConnected(100)
    assert sock.state() == QLocalSocket.UnconnectedState


@pytest.mark.parametrize("clients", [1, 2, 10])
def test_threaded_connection(clients: int) -> None:
    """Qt's threadedConnection: a server thread and N client threads exchange "test\\n"."""
    listening = real_lock()
    listening.acquire()
    errors: list[BaseException] = []
    hits: list[int] = []

    def server_thread() -> None:
        try:
            server = LocalServer()
            server.setMaxPendingConnections(10)
            assert server.listen("threadtest"), server.errorString()
            listening.release()
            for _ in range(clients):
                ok, timed_out = server.waitForNewConnection(7000)
                assert ok
                assert not timed_out
                conn = server.nextPendingConnection()
                assert conn is not None
                assert conn.write(b"test\n") == 5
                assert conn.state() == QLocalSocket.ConnectedState
                assert conn.waitForBytesWritten(), conn.errorString()
                assert conn.errorString() == "Unknown error"
                while not conn.canReadLine():
                    assert conn.waitForReadyRead(7000), conn.errorString()
                assert conn.readLine() == b"test\n"
                conn.abort()
            hits.append(len(server.hits))
            assert server.failures == []
            server.close()
        except BaseException as exc:
            errors.append(exc)
            if listening.locked():
                listening.release()

    def client_thread() -> None:
        try:
            sock = QLocalSocket()
            spy = Spy(sock.readyRead)
            sock.connectToServer("threadtest")
            assert sock.state() == QLocalSocket.ConnectedState, sock.errorString()
            # No readyRead before this thread waits for it.
            assert len(spy) == 0
            assert sock.waitForReadyRead(7000), sock.errorString()
            assert len(spy) == 1
            while not sock.canReadLine():
                assert sock.waitForReadyRead(7000), sock.errorString()
            assert sock.readLine() == b"test\n"
            sock.write(b"test\n")
            assert sock.waitForBytesWritten(7000), sock.errorString()
            assert sock.waitForDisconnected(7000), sock.errorString()
            sock.close()
        except BaseException as exc:
            errors.append(exc)

    server = RealThread(server_thread)
    server.start()
    assert listening.acquire(timeout=JOIN_TIMEOUT)
    assert errors == []
    threads = [RealThread(client_thread) for _ in range(clients)]
    for thread in threads:
        thread.start()
    assert all(thread.join(JOIN_TIMEOUT) for thread in [*threads, server])
    assert errors == []
    assert hits == [clients]
