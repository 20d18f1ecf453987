"""The data path's shortcuts, observed through behaviour (no timing).

Each test pins one optimisation of the hot path: it fails if the shortcut is
reverted, while the public behaviour stays what the other suites check.
"""

from __future__ import annotations

import _socket
import os
import socket
import types
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import gevent.socket
import greenlet
import pytest
from gevent.event import Event

from qlsock import QLocalServer, QLocalSocket
from qlsock import iodevice as iodevice_module
from qlsock.buffers import ReadBuffer
from qlsock.hub import current_engine
from qlsock.hub import engine as engine_module
from qlsock.hub.readiness import Watched
from qlsock.hub.transport import StreamTransport
from qlsock.interfaces import READ
from qlsock.signals import BoundSignal

WAIT_MS = 5000


@pytest.fixture
def pair() -> Iterator[tuple[QLocalSocket, socket.socket]]:
    """A QLocalSocket adopting one end of a socketpair, and the other, raw end."""
    mine, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sock = QLocalSocket()
    assert sock.setSocketDescriptor(mine.detach())
    yield sock, other
    sock.abort()
    other.close()


@pytest.fixture
def appended(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every chunk that goes into a read buffer (``ReadBuffer.append``), in order."""
    chunks: list[bytes] = []
    original = ReadBuffer.append

    def spy(self: ReadBuffer, data: bytes) -> None:
        chunks.append(data)
        original(self, data)

    monkeypatch.setattr(ReadBuffer, "append", spy)
    return chunks


def raw_send(other: socket.socket, data: bytes) -> None:
    """Hand all of *data* to the kernel now (it fits in the socket buffer)."""
    view = memoryview(data)
    while view:
        view = view[other.send(view):]


def recv_exact(other: socket.socket, n: int) -> bytes:
    """*n* bytes from the raw end, letting the hub run while they are on the way."""
    out = b""
    while len(out) < n:
        gevent.socket.wait_read(other.fileno(), WAIT_MS / 1000)
        chunk = other.recv(n - len(out))
        assert chunk
        out += chunk
    return out


class SwitchCounter:
    """Counts greenlet switches while active (``greenlet.settrace``)."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._previous: Any = None

    def _trace(self, event: str, args: Any) -> None:
        if event in ("switch", "throw"):
            self.events.append(event)
        if self._previous is not None:
            self._previous(event, args)

    def __enter__(self) -> SwitchCounter:
        self._previous = greenlet.settrace(self._trace)
        return self

    def __exit__(self, *exc: object) -> None:
        greenlet.settrace(self._previous)


def test_bulk_read_after_a_full_read_is_one_chunk_handed_out_whole(
        pair: tuple[QLocalSocket, socket.socket], appended: list[bytes]) -> None:
    """After a read that filled 64 KiB, the next read is sized by FIONREAD: all that
    is queued arrives as one chunk, and readAll() hands out that very object."""
    sock, other = pair
    raw_send(other, b"a" * 65536)
    assert sock.waitForReadyRead(WAIT_MS)
    assert sock.readAll() == b"a" * 65536
    appended.clear()
    payload = os.urandom(100_000)
    raw_send(other, payload)
    assert sock.waitForReadyRead(WAIT_MS)
    assert [len(c) for c in appended] == [len(payload)]
    data = sock.readAll()
    assert data is appended[0]
    assert data == payload


def test_write_then_wait_sends_without_starting_a_write_watcher(
        pair: tuple[QLocalSocket, socket.socket]) -> None:
    """write() followed by waitForBytesWritten()/waitForReadyRead() sends inside the
    wait: no write watcher is ever made, let alone started."""
    sock, other = pair
    transport: Any = sock._transport
    assert sock.write(b"ping") == 4
    assert sock.waitForBytesWritten(WAIT_MS)
    assert recv_exact(other, 4) == b"ping"
    assert sock.write(b"pong") == 4
    raw_send(other, b"reply")
    assert sock.waitForReadyRead(WAIT_MS)
    assert recv_exact(other, 4) == b"pong"
    gevent.sleep(0.001)  # the hub runs: nothing was left for it to watch
    assert transport._ww is None
    assert transport._active == READ
    assert sock.readAll() == b"reply"


def test_calls_that_can_complete_at_once_do_not_switch(
        pair: tuple[QLocalSocket, socket.socket]) -> None:
    """Data already queued in the kernel, and a write the kernel takes at once, are
    served without yielding the calling greenlet."""
    sock, other = pair
    raw_send(other, b"ready")
    sock.write(b"out")
    with SwitchCounter() as counter:
        assert sock.waitForReadyRead(WAIT_MS)
        assert sock.read(5) == b"ready"
        sock.write(b"more")
        assert sock.waitForBytesWritten(WAIT_MS)
        assert sock.bytesToWrite() == 0
    assert counter.events == []
    assert recv_exact(other, 7) == b"outmore"


def test_a_busy_slot_stops_the_watcher_instead_of_spinning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """While a readyRead slot blocks, further readiness stops the watcher: the hub
    does not report the still-readable socket on every loop iteration."""
    fires: list[int] = []
    original = Watched._fire

    def counting(self: Watched, events: int) -> None:
        fires.append(events)
        original(self, events)

    monkeypatch.setattr(Watched, "_fire", counting)
    mine, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sock = QLocalSocket()
    assert sock.setSocketDescriptor(mine.detach())
    entered = Event()
    release = Event()
    got: list[bytes] = []

    def slot() -> None:
        got.append(sock.readAll())
        if len(got) == 1:
            entered.set()
            release.wait()

    sock.readyRead.connect(slot)
    try:
        raw_send(other, b"1")
        assert entered.wait(WAIT_MS / 1000)
        raw_send(other, b"2")
        for _ in range(20):
            gevent.sleep(0.001)  # twenty loop iterations with the socket readable
        assert len(fires) <= 2
        release.set()
        for _ in range(200):
            if b"".join(got) == b"12":
                break
            gevent.sleep(0.001)
        assert b"".join(got) == b"12"
    finally:
        sock.abort()
        other.close()


def test_signals_without_slots_are_not_emitted(
        pair: tuple[QLocalSocket, socket.socket], monkeypatch: pytest.MonkeyPatch) -> None:
    """readyRead/bytesWritten (and the channel variants) cost nothing when nobody
    listens: emit() is not even called."""
    sock, other = pair
    emitted: list[str] = []
    original = BoundSignal.emit

    def spy(self: BoundSignal, *args: Any) -> None:
        emitted.append(self._name)
        original(self, *args)

    monkeypatch.setattr(BoundSignal, "emit", spy)
    raw_send(other, b"data")
    assert sock.waitForReadyRead(WAIT_MS)
    sock.write(b"back")
    assert sock.waitForBytesWritten(WAIT_MS)
    assert sock.readAll() == b"data"
    assert recv_exact(other, 4) == b"back"
    assert emitted == []


def _counting_socket_module(calls: list[str]) -> types.SimpleNamespace:
    """The ``_socket`` module, except that its sockets count address look-ups."""

    class CountingSocket(_socket.socket):
        def getsockname(self) -> Any:
            calls.append("getsockname")
            return super().getsockname()

        def getpeername(self) -> Any:
            calls.append("getpeername")
            return super().getpeername()

    module = types.SimpleNamespace(**vars(_socket))
    module.socket = CountingSocket
    return module


def _accept(server: QLocalServer) -> QLocalSocket:
    assert server.waitForNewConnection(WAIT_MS) == (True, False)
    conn = server.nextPendingConnection()
    assert conn is not None
    return conn


def test_accepted_socket_takes_the_names_without_asking_the_kernel(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection the server accepts is named after the server, as
    setSocketDescriptor() would name it, without getsockname/getpeername."""
    calls: list[str] = []
    monkeypatch.setattr(engine_module, "_socket", _counting_socket_module(calls))
    server = QLocalServer()
    assert server.listen("hotpath-names")
    calls.clear()  # the listener's own address is read once, at listen()
    client = QLocalSocket()
    try:
        client.connectToServer("hotpath-names")
        conn = _accept(server)
        assert type(conn._transport._sock).__name__ == "CountingSocket"  # type: ignore[union-attr]
        assert calls == []
        assert conn.serverName() == "hotpath-names"
        assert conn.fullServerName() == server.fullServerName()
        assert conn.state() == QLocalSocket.ConnectedState
        assert conn.openMode() == QLocalSocket.ReadWrite
        assert conn.write(b"hi") == 2
        assert conn.waitForBytesWritten(WAIT_MS)
        assert client.waitForReadyRead(WAIT_MS)
        assert client.readAll() == b"hi"
    finally:
        client.abort()
        server.close()


def test_accepted_socket_of_a_bound_client_is_named_after_the_peer(tmp_path: Any) -> None:
    """As with setSocketDescriptor() (and Qt), a peer with an address names the
    accepted socket; the shortcut takes that address from accept()."""
    server = QLocalServer()
    assert server.listen("hotpath-peer")
    path = os.path.join(os.environ["TMPDIR"], "bound-client")
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        raw.bind(path)
        raw.connect(server.fullServerName())
        conn = _accept(server)
        assert conn.fullServerName() == path
        assert conn.serverName() == "bound-client"
        conn.abort()
    finally:
        raw.close()
        server.close()


def test_incoming_connection_override_keeps_validating(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the default incomingConnection() takes the shortcut, and only for the
    descriptor being handed over: setSocketDescriptor() itself still checks."""
    adopted: list[int] = []
    original = engine_module.HubEngine.adopt_stream

    def spy(self: Any, fd: int) -> Any:
        adopted.append(fd)
        return original(self, fd)

    monkeypatch.setattr(engine_module.HubEngine, "adopt_stream", spy)

    class Server(QLocalServer):
        def incomingConnection(self, socketDescriptor: int) -> None:
            sock = QLocalSocket(self)
            assert sock.setSocketDescriptor(socketDescriptor)
            self.addPendingConnection(sock)

    server = Server()
    assert server.listen("hotpath-override")
    client = QLocalSocket()
    try:
        client.connectToServer("hotpath-override")
        conn = _accept(server)
        assert len(adopted) == 1
        assert conn.fullServerName() == server.fullServerName()
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            stray = QLocalSocket()
            assert not stray.setSocketDescriptor(a.fileno())
        finally:
            a.close()
            b.close()
    finally:
        client.abort()
        server.close()


def test_reply_from_a_new_connection_slot_leaves_in_the_same_pass() -> None:
    """A write made in a slot the dispatcher runs (here newConnection) is flushed
    before the dispatcher gives the hub back: bytesWritten follows with no switch."""
    server = QLocalServer()
    assert server.listen("hotpath-reply")
    order: list[str] = []
    conns: list[QLocalSocket] = []
    counter = SwitchCounter()
    done = Event()

    def on_written(count: int) -> None:
        order.extend(counter.events)
        order.append(f"written {count}")
        done.set()

    def on_new() -> None:
        conn = server.nextPendingConnection()
        assert conn is not None
        conns.append(conn)
        conn.bytesWritten.connect(on_written)
        conn.write(b"hello")
        counter.events.clear()
        order.append("wrote")

    server.newConnection.connect(on_new)
    client = QLocalSocket()
    try:
        with counter:
            client.connectToServer("hotpath-reply")
            assert done.wait(WAIT_MS / 1000)
        assert order == ["wrote", "written 5"]
        assert client.waitForReadyRead(WAIT_MS)
        assert client.readAll() == b"hello"
    finally:
        client.abort()
        for conn in conns:
            conn.abort()
        server.close()


def test_engine_reconciles_once_per_loop_iteration() -> None:
    """Interest raised outside any wait is applied by one engine callback per hub
    iteration, however many sockets raised it; the bytes then leave through the
    hub as before (bytesWritten in a greenlet, never inside write())."""
    engine = current_engine()
    socks: list[tuple[QLocalSocket, socket.socket]] = []
    calls: list[int] = []
    original: Callable[[], None] = engine.reconcile

    def spy() -> None:
        calls.append(len(engine.deferred))
        original()

    engine.reconcile = spy  # type: ignore[method-assign]
    try:
        for _ in range(3):
            mine, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            sock = QLocalSocket()
            assert sock.setSocketDescriptor(mine.detach())
            socks.append((sock, other))
        gevent.sleep(0.001)
        calls.clear()
        written: list[int] = []
        socks[0][0].bytesWritten.connect(written.append)
        for sock, _ in socks:
            sock.write(b"x")
            assert sock.bytesToWrite() == 1  # write() never sends inline
        gevent.sleep(0.001)
        assert calls == [3]
        for _, other in socks:
            assert recv_exact(other, 1) == b"x"
        for _ in range(200):
            if written:
                break
            gevent.sleep(0.001)
        assert written == [1]
    finally:
        del engine.reconcile
        for sock, other in socks:
            sock.abort()
            other.close()


def test_fast_sender_is_read_again_in_the_same_delivery(
        pair: tuple[QLocalSocket, socket.socket]) -> None:
    """In read-ahead mode (a sender that fills 64 KiB reads), data that arrives
    while the readyRead slots run is read before the delivery ends: the next
    readyRead follows with no round through the hub."""
    sock, other = pair
    raw_send(other, b"a" * 65536)
    assert sock.waitForReadyRead(WAIT_MS)  # a full read: read-ahead from now on
    assert sock.readAll() == b"a" * 65536
    order: list[str] = []
    counter = SwitchCounter()
    done = Event()

    def slot() -> None:
        data = sock.readAll()
        if order:  # the switches since the first call (not those leading to it)
            order.extend(counter.events)
        counter.events.clear()
        order.append(f"read {len(data)}")
        if len(order) == 1:
            raw_send(other, b"c" * 8192)  # arrives while this slot runs
        else:
            done.set()

    sock.readyRead.connect(slot)
    with counter:
        raw_send(other, b"b" * 8192)
        assert done.wait(WAIT_MS / 1000)
    assert order == ["read 8192", "read 8192"]


def test_write_sent_by_a_wait_never_touches_the_interest(
        pair: tuple[QLocalSocket, socket.socket], monkeypatch: pytest.MonkeyPatch) -> None:
    """write() only notes that the hub must look at the socket before it polls;
    bytes that waitForReadyRead()/waitForBytesWritten() send first cost no change
    of interest at all (neither raised nor withdrawn)."""
    sock, other = pair
    calls: list[tuple[bool, bool]] = []
    original = StreamTransport.set_interest

    def spy(self: StreamTransport, read: bool, write: bool) -> None:
        calls.append((read, write))
        original(self, read, write)

    monkeypatch.setattr(StreamTransport, "set_interest", spy)
    for i in range(20):
        assert sock.write(b"q%d" % i) == len(b"q%d" % i)
        raw_send(other, b"a")
        assert sock.waitForReadyRead(WAIT_MS)
        assert sock.readAll() == b"a"
        sock.write(b"w")
        assert sock.waitForBytesWritten(WAIT_MS)
        assert recv_exact(other, len(b"q%dw" % i)) == b"q%dw" % i
    gevent.sleep(0.001)  # the engine's reconcile runs: nothing was left to send
    assert calls == []


class _CountingLoop:
    """The hub's loop, counting the timers made through it."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self.timers = 0

    def timer(self, *args: Any, **kwargs: Any) -> Any:
        self.timers += 1
        return self._loop.timer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)


def test_timed_waits_share_one_timer(
        pair: tuple[QLocalSocket, socket.socket], monkeypatch: pytest.MonkeyPatch) -> None:
    """Waits with a timeout reuse the socket's timer while its expiry is no later
    than their deadline; a shorter timeout still times out on time, and a timer
    left running holds no hub alive and ends no later wait without a timeout."""
    sock, other = pair
    engine = current_engine()
    loop = _CountingLoop(engine.loop)
    monkeypatch.setattr(engine, "loop", loop)
    for _ in range(30):
        gevent.spawn(raw_send, other, b"x")  # sent while the wait below is parked
        assert sock.waitForReadyRead(WAIT_MS)
        assert sock.readAll() == b"x"
    assert loop.timers == 1
    transport: Any = sock._transport
    assert transport._timer.active
    assert not transport._timer.ref
    errors: list[Any] = []
    sock.errorOccurred.connect(errors.append)
    assert not sock.waitForReadyRead(30)  # earlier than the running timer: a new one
    assert errors == [QLocalSocket.SocketTimeoutError]
    assert loop.timers == 2
    gevent.spawn_later(0.1, raw_send, other, b"y")
    assert sock.waitForReadyRead(-1)  # the expired timer wakes nothing
    assert sock.readAll() == b"y"


def test_signals_nobody_connected_to_are_never_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection's whole life (connect, accept, write, disconnect, close) makes
    no BoundSignal on sockets or server when no slot is connected, except those
    the data path checks for slots (read as attributes there: reading the
    instance dict on every read and write measured slower); a connected slot is
    still called."""
    made: list[str] = []
    original = BoundSignal.__init__

    def spy(self: BoundSignal, owner: object, name: str, *args: Any) -> None:
        made.append(name)
        original(self, owner, name, *args)

    monkeypatch.setattr(BoundSignal, "__init__", spy)
    server = QLocalServer()
    assert server.listen("hotpath-silent")
    client = QLocalSocket()
    try:
        client.connectToServer("hotpath-silent")
        conn = _accept(server)
        assert conn.write(b"z") == 1
        assert conn.waitForBytesWritten(WAIT_MS)
        conn.disconnectFromServer()
        conn.close()
        assert client.waitForDisconnected(WAIT_MS)
        assert client.readAll() == b"z"
        client.close()
        data_path = {"readyRead", "channelReadyRead", "bytesWritten", "channelBytesWritten"}
        assert set(made) <= data_path
        made.clear()
        states: list[Any] = []
        client.stateChanged.connect(states.append)
        client.connectToServer("hotpath-silent")
        assert states == [QLocalSocket.ConnectingState, QLocalSocket.ConnectedState]
        assert made == ["stateChanged"]
    finally:
        client.abort()
        server.close()


def test_open_mode_flags_are_taken_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid OpenModeFlag (the default argument) is used as it is, not converted
    again; ints and out-of-range flags are still checked."""
    checked: list[object] = []
    original = iodevice_module.coerce_size

    def spy(value: object, what: str) -> int:
        checked.append(value)
        return original(value, what)

    monkeypatch.setattr(iodevice_module, "coerce_size", spy)
    mode = QLocalSocket.ReadWrite
    assert iodevice_module.coerce_mode(mode, "open()") is mode
    assert checked == []
    assert iodevice_module.coerce_mode(3, "open()") is mode
    with pytest.raises(ValueError):
        iodevice_module.coerce_mode(QLocalSocket.OpenModeFlag(0x100), "open()")
    assert checked == [3, QLocalSocket.OpenModeFlag(0x100)]


def test_writer_refilled_by_bytes_written_is_served_many_times_per_delivery(
        pair: tuple[QLocalSocket, socket.socket]) -> None:
    """A bytesWritten slot that writes more (a bulk sender topping up its buffer)
    is served again and again within one delivery while the kernel takes all:
    dozens of writes leave with no round through the hub between them."""
    sock, other = pair
    # Few and small enough that the kernel keeps reporting the socket writable
    # while nobody reads it, so the old bound of 8 would not stall, only split.
    rounds = 20
    gaps: list[list[str]] = []
    counter = SwitchCounter()
    done = Event()

    def slot(_count: int) -> None:
        gaps.append(list(counter.events))
        counter.events.clear()
        if len(gaps) < rounds:
            sock.write(b"w" * 256)
        else:
            done.set()

    sock.bytesWritten.connect(slot)
    with counter:
        sock.write(b"w" * 256)
        assert done.wait(WAIT_MS / 1000)
    assert gaps[1:] == [[]] * (rounds - 1)  # no switch between the slot's calls
    assert recv_exact(other, rounds * 256) == b"w" * (rounds * 256)


def test_stream_server_connection_costs_no_lookups_events_or_slots(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """serve() wraps an accepted descriptor as QLocalServer does: no getsockname or
    getpeername, no setSocketDescriptor checks, no Event and no slot per connection
    (stop() makes what it waits on when it stops); the names are the server's."""
    import qlsock
    from qlsock import streamserver as streamserver_module

    calls: list[str] = []
    made: list[str] = []
    original = BoundSignal.__init__

    def spy(self: BoundSignal, owner: object, name: str, *args: Any) -> None:
        made.append(name)
        original(self, owner, name, *args)

    events: list[Event] = []

    class CountingEvent(Event):
        def __init__(self) -> None:
            super().__init__()
            events.append(self)

    monkeypatch.setattr(BoundSignal, "__init__", spy)
    monkeypatch.setattr(streamserver_module, "Event", CountingEvent)
    monkeypatch.setattr(QLocalSocket, "setSocketDescriptor",
                        lambda *a: pytest.fail("setSocketDescriptor() was called"))
    seen: list[tuple[str, str, Any]] = []

    def handle(sock: QLocalSocket) -> None:
        seen.append((sock.serverName(), sock.fullServerName(), sock.state()))
        sock.sendall(b"hi")

    server = qlsock.serve("hotpath-stream", handle)
    monkeypatch.setattr(engine_module, "_socket", _counting_socket_module(calls))
    try:
        for _ in range(3):
            with qlsock.connect("hotpath-stream") as client:
                assert client.recv_exactly(2) == b"hi"
                assert client.recv(1) == b""
        assert seen == [("hotpath-stream", server.fullServerName(),
                         QLocalSocket.ConnectedState)] * 3
        assert calls == []
        assert events == []
        assert set(made) <= {"readyRead", "channelReadyRead", "bytesWritten",
                             "channelBytesWritten"}
    finally:
        server.stop()


def test_sendall_sends_at_once_without_switching_or_deferring(
        pair: tuple[QLocalSocket, socket.socket]) -> None:
    """sendall() hands the bytes to the kernel itself, as socket.sendall does: no
    switch to the hub, and nothing queued for the hub to look at later."""
    sock, other = pair
    engine = sock._engine
    gevent.sleep(0)  # the adoption's own settling
    with SwitchCounter() as counter:
        sock.sendall(b"first")
        sock.sendall(bytearray(b"second"))
        assert engine.deferred == []
    assert counter.events == []
    assert sock.bytesToWrite() == 0
    assert recv_exact(other, 11) == b"firstsecond"
    # A bytesWritten slot still hears of what was sent.
    written: list[int] = []
    sock.bytesWritten.connect(written.append)
    sock.sendall(b"third")
    assert written == [5]
    assert recv_exact(other, 5) == b"third"


def test_a_reply_from_the_sockets_own_slot_costs_no_second_delivery(
        pair: tuple[QLocalSocket, socket.socket], monkeypatch: pytest.MonkeyPatch) -> None:
    """A readyRead slot's reply is flushed by the delivery that ran the slot: one
    delivery per message, none queued for writability. A slot that writes and then
    blocks still has its reply sent while it blocks."""
    sock, other = pair
    delivered: list[int] = []
    original = Watched.deliver

    def spy(self: Watched) -> None:
        delivered.append(self._pending)
        original(self)

    monkeypatch.setattr(Watched, "deliver", spy)

    def echo() -> None:
        data = sock.readAll()
        sock.write(data.upper())
        if data == b"block":
            gevent.sleep(0.2)

    sock.readyRead.connect(echo)
    for word in (b"one", b"two", b"three"):
        raw_send(other, word)
        assert recv_exact(other, len(word)) == word.upper()
    assert delivered == [READ, READ, READ]
    raw_send(other, b"block")
    with gevent.Timeout(0.1):  # well before the slot returns
        assert recv_exact(other, 5) == b"BLOCK"


def test_recv_reads_straight_from_the_kernel_when_nothing_is_buffered(
        pair: tuple[QLocalSocket, socket.socket], appended: list[bytes]) -> None:
    """recv()/recv_exactly() with an empty buffer read before waiting, as gevent's
    recv does: no switch, the read buffer untouched. With a readyRead slot
    connected, the bytes go the general way and the slot hears of them."""
    sock, other = pair
    raw_send(other, b"hello")
    with SwitchCounter() as counter:
        assert sock.recv(100) == b"hello"
    assert counter.events == []
    raw_send(other, b"exact")
    with SwitchCounter() as counter:
        assert sock.recv_exactly(5) == b"exact"
    assert counter.events == []
    assert appended == []
    assert not sock.waitForReadyRead(0)  # nothing new: those bytes were reported
    heard: list[int] = []
    sock.readyRead.connect(lambda: heard.append(sock.bytesAvailable()))
    raw_send(other, b"slot")
    assert sock.recv(100) == b"slot"
    assert heard == [4]
    assert appended == [b"slot"]


def test_an_idle_stream_connection_carries_no_deque_and_no_data_signals() -> None:
    """Memory per idle connection: a handler blocked in recv() on a connection that
    has received nothing holds a read buffer with no deque (624 bytes even empty),
    a write buffer that is a list, and none of the readyRead signals recv() checks
    for slots."""
    import qlsock
    from qlsock.buffers import WriteBuffer

    socks: list[QLocalSocket] = []

    def handle(sock: QLocalSocket) -> None:
        socks.append(sock)
        sock.sendall(b"go")
        assert sock.recv(10) == b""

    server = qlsock.serve("hotpath-idle", handle)
    try:
        with qlsock.connect("hotpath-idle") as client:
            assert client.recv_exactly(2) == b"go"
            (sock,) = socks
            assert sock._reader is not None  # blocked in recv()
            assert sock._rbuf._chunks == ()
            assert type(sock._wbuf.chunks) is list
            assert not {"readyRead", "channelReadyRead"} & set(vars(sock))
        assert type(WriteBuffer().chunks) is list
    finally:
        server.stop()


def test_a_write_nobody_waits_for_leaves_without_a_write_watcher(
        pair: tuple[QLocalSocket, socket.socket]) -> None:
    """Bytes written outside any delivery and not waited for (a connected slot's
    greeting, a greenlet that writes and goes on) are sent by the delivery the hub
    schedules before it polls: no write watcher is made for the usual case, where
    the kernel takes them all. When it does not, the watcher takes over."""
    sock, other = pair
    transport: Any = sock._transport
    written: list[int] = []
    sock.bytesWritten.connect(written.append)
    assert sock.write(b"hello") == 5
    assert recv_exact(other, 5) == b"hello"
    assert written == [5]
    assert transport._ww is None
    other.setblocking(False)
    big = os.urandom(4 << 20)  # more than the kernel's buffers hold
    assert sock.write(big) == len(big)
    got = bytearray()
    while len(got) < len(big):
        gevent.socket.wait_read(other.fileno(), WAIT_MS / 1000)
        got += other.recv(1 << 20)
    assert got == big
    assert transport._ww is not None  # a short send started the watcher
    assert sum(written) == 5 + len(big)


def test_a_recv_that_waits_asks_the_kernel_twice_not_three_times(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """recv()/recv_exactly() that find the kernel's queue empty wait, then read once:
    the wait does not look again first (gevent's recv costs the same two calls)."""
    reads: list[int] = []

    class CountingSocket(_socket.socket):
        def recv(self, *args: Any) -> bytes:
            reads.append(args[0])
            return super().recv(*args)

    module = types.SimpleNamespace(**vars(_socket))
    module.socket = CountingSocket
    monkeypatch.setattr(engine_module, "_socket", module)
    mine, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sock = QLocalSocket()
    assert sock.setSocketDescriptor(mine.detach())
    try:
        gevent.spawn_later(0.01, other.sendall, b"late")
        assert sock.recv(100) == b"late"
        assert len(reads) == 2
        reads.clear()
        gevent.spawn_later(0.01, other.sendall, b"exact")
        assert sock.recv_exactly(5) == b"exact"
        assert len(reads) == 2
    finally:
        sock.abort()
        other.close()


def test_connections_from_unbound_clients_share_their_name_strings() -> None:
    """Each connection a server accepts is named from the server's address: the
    names are decoded once, not per connection (memory per idle connection)."""
    server = QLocalServer()
    assert server.listen("hotpath-shared-names")
    clients = [QLocalSocket() for _ in range(3)]
    try:
        for client in clients:
            client.connectToServer("hotpath-shared-names")
        conns = [_accept(server) for _ in clients]
        assert conns[0].fullServerName() == server.fullServerName()
        assert all(c.fullServerName() is conns[0].fullServerName() for c in conns)
        assert all(c.serverName() is conns[0].serverName() for c in conns)
    finally:
        for client in clients:
            client.abort()
        server.close()


@pytest.mark.skipif(not hasattr(_socket, "SOCK_NONBLOCK"), reason="Linux's socket flag")
def test_a_connecting_socket_is_born_non_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    """connectToServer() makes its socket with SOCK_NONBLOCK and does not repeat it
    with setblocking() (an ioctl per connection); Python knows it is non-blocking."""
    calls: list[Any] = []

    class CountingSocket(_socket.socket):
        def setblocking(self, flag: bool) -> None:
            calls.append(self)
            super().setblocking(flag)

    module = types.SimpleNamespace(**vars(_socket))
    module.socket = CountingSocket
    monkeypatch.setattr(engine_module, "_socket", module)
    server = QLocalServer()
    assert server.listen("hotpath-nonblocking")
    client = QLocalSocket()
    try:
        client.connectToServer("hotpath-nonblocking")
        assert client.state() == QLocalSocket.ConnectedState
        raw: Any = client._transport._sock  # type: ignore[union-attr]
        assert type(raw) is CountingSocket
        assert raw not in calls
        assert raw.gettimeout() == 0.0
        conn = _accept(server)
        assert conn.write(b"ok") == 2
        assert conn.waitForBytesWritten(WAIT_MS)
        assert client.waitForReadyRead(WAIT_MS)
        assert client.readAll() == b"ok"
    finally:
        client.abort()
        server.close()


def test_bytes_a_recv_waited_for_skip_the_read_buffer(
        pair: tuple[QLocalSocket, socket.socket], appended: list[bytes]) -> None:
    """recv() that had to wait reads what woke it itself: the bytes never pass
    through the read buffer, as those found at once do not."""
    sock, other = pair
    for word in (b"one", b"two"):
        gevent.spawn_later(0.01, other.sendall, word)
        assert sock.recv(100) == word
    assert appended == []
    other.shutdown(socket.SHUT_WR)
    assert sock.recv(100) == b""
    assert sock.state() == QLocalSocket.UnconnectedState


def test_recv_exactly_gathers_pieces_from_the_kernel_without_the_buffer(
        pair: tuple[QLocalSocket, socket.socket], appended: list[bytes]) -> None:
    """recv_exactly() that must wait for the rest reads each piece itself when it
    comes: nothing passes through the read buffer; at a timeout the pieces taken go
    back to the buffer, in order, for the next read."""
    sock, other = pair
    other.sendall(b"ab")
    gevent.spawn_later(0.01, other.sendall, b"cd")
    gevent.spawn_later(0.02, other.sendall, b"ef")
    assert sock.recv_exactly(6) == b"abcdef"
    assert appended == []
    sock.settimeout(0.05)
    other.sendall(b"gh")
    with pytest.raises(TimeoutError):
        sock.recv_exactly(4)
    assert sock.bytesAvailable() == 2
    other.sendall(b"ij")
    assert sock.recv_exactly(4) == b"ghij"
