"""Attacks on the speed shortcuts of 8bbba7d..f593045 (sendall/recv straight to the
kernel, serve()'s accepted-descriptor wrapping and lazy Events, writes from a socket's
own delivery settled by ``deliver_writable``, the lazily made read buffer, the list
write buffer and the tuple of slots).

Each test checks the bytes exactly (content and order), counts signals, and that no
descriptor, greenlet or watcher is left behind. Waits are on conditions, with
timeouts; nothing sleeps to let things settle.
"""

from __future__ import annotations

import array
import os
import socket
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.event
import gevent.pool
import pytest

import qlsock
from qlsock import QIODevice, QLocalServer, QLocalSocket

from .support import Leaks, Spy, qtry

WAIT_MS = 5000


class Pair:
    """A listening server, a client connected to it, and the accepted server side."""

    def __init__(self, name: str, mode: Any = QIODevice.ReadWrite,
                 client_class: type[QLocalSocket] = QLocalSocket) -> None:
        self.server = QLocalServer()
        assert self.server.listen(name), self.server.errorString()
        self.client = client_class()
        self.client.connectToServer(name, mode)
        assert self.client.state() == QLocalSocket.ConnectedState
        assert self.server.waitForNewConnection(WAIT_MS) == (True, False)
        peer = self.server.nextPendingConnection()
        assert peer is not None
        self.peer = peer
        self.client.settimeout(5)
        self.peer.settimeout(5)

    def close(self) -> None:
        self.client.abort()
        self.peer.abort()
        self.server.close()


@pytest.fixture
def leaks() -> Iterator[Leaks]:
    # The hub's delivery worker is made on first use and then stays parked (by
    # design, one per hub): make it before counting.
    warm = Pair("warm")
    seen = gevent.event.Event()
    warm.client.readyRead.connect(seen.set)
    warm.peer.sendall(b"x")
    assert seen.wait(5)
    warm.close()
    leaks = Leaks()
    yield leaks
    assert leaks.left() == ""


def make_pair(name: str, **kw: Any) -> Pair:
    return Pair(name, **kw)


def recv_all(sock: QLocalSocket, count: int) -> bytes:
    """Exactly *count* bytes through recv() (several calls), then nothing more queued."""
    got = bytearray()
    while len(got) < count:
        chunk = sock.recv(count - len(got))
        assert chunk, f"end of stream after {len(got)} of {count} bytes"
        got += chunk
    return bytes(got)


# -- 2. recv / recv_exactly straight from the kernel -------------------------------------


def test_recv_inside_a_transaction_is_kept_for_rollback(leaks: Leaks) -> None:
    """Attack: startTransaction() on an empty buffer, then recv() (which now reads the
    kernel directly). Must hold: the bytes recv() returned are part of the transaction,
    so rollbackTransaction() puts them back in front, as a read() would."""
    pair = make_pair("txn")
    try:
        pair.peer.sendall(b"abcdef")
        client = pair.client
        client.startTransaction()
        assert client.recv(3) == b"abc"
        client.rollbackTransaction()
        assert recv_all(client, 6) == b"abcdef"
        client.startTransaction()
        pair.peer.sendall(b"0123456789")
        assert client.recv_exactly(4) == b"0123"
        client.rollbackTransaction()
        assert client.recv_exactly(10) == b"0123456789"
    finally:
        pair.close()


def test_recv_in_text_mode_drops_cr_whether_or_not_bytes_were_buffered(
        leaks: Leaks) -> None:
    """Attack: a socket opened ReadWrite | Text; recv() with nothing buffered (direct
    from the kernel) and with the bytes already buffered. Must hold: both give the same
    bytes, with "\\r" removed as read() removes it in text mode."""
    pair = make_pair("text", mode=QIODevice.ReadWrite | QIODevice.Text)
    try:
        pair.peer.sendall(b"a\r\nb\r\n")
        direct = recv_all(pair.client, 4)
        pair.peer.sendall(b"a\r\nb\r\n")
        assert pair.client.waitForReadyRead(WAIT_MS)
        buffered = pair.client.recv(100)
        assert direct == buffered == b"a\nb\n"
        pair.peer.sendall(b"x\r\nyz")
        assert pair.client.recv_exactly(4) == b"x\nyz"
    finally:
        pair.close()


class Overriding(QLocalSocket):
    """Qt's virtuals overridden, as a subclass may (to count, log or transform)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.read_: list[bytes] = []

    def writeData(self, data: bytes) -> int:
        self.written.append(data)
        return super().writeData(data)

    def readData(self, maxlen: int) -> bytes:
        data = super().readData(maxlen)
        self.read_.append(data)
        return data


def test_sendall_and_recv_go_through_overridden_writeData_and_readData(
        leaks: Leaks) -> None:
    """Attack: a QLocalSocket subclass overriding writeData/readData (Qt's virtuals);
    sendall() and recv() with empty buffers take the kernel shortcuts. Must hold: every
    byte sent went through writeData and every byte received through readData, as
    before the shortcuts."""
    pair = make_pair("virt", client_class=Overriding)
    client: Overriding = pair.client  # type: ignore[assignment]
    try:
        client.sendall(b"xyz")
        assert recv_all(pair.peer, 3) == b"xyz"
        pair.peer.sendall(b"123")
        assert client.recv(10) == b"123"
        pair.peer.sendall(b"4567")
        assert client.recv_exactly(4) == b"4567"
        assert b"".join(client.written) == b"xyz"
        assert b"".join(client.read_) == b"1234567"
    finally:
        pair.close()


# -- 1. sendall straight to the kernel ------------------------------------------------------


def test_sendall_of_views_arrays_and_mutated_buffers_sends_exact_bytes(leaks: Leaks) -> None:
    """Attack: sendall of an array('i'), a memoryview cast to 'I', a non-contiguous
    memoryview slice and a bytearray changed right after sendall returns, each taking
    the shortcut (empty write buffer). Must hold: the peer gets each one's raw bytes in
    order, and later changes to the caller's buffer do not leak into the stream."""
    pair = make_pair("views")
    try:
        ints = array.array("i", range(1000))
        cast = memoryview(bytes(range(256)) * 4).cast("I")
        strided = memoryview(bytes(range(200)))[::3]
        mutable = bytearray(b"before")
        expected = ints.tobytes() + cast.tobytes() + strided.tobytes() + b"before"
        pair.client.sendall(ints)
        pair.client.sendall(cast)
        pair.client.sendall(strided)
        pair.client.sendall(mutable)
        mutable[:] = b"AFTER!"
        assert recv_all(pair.peer, len(expected)) == expected
        assert pair.peer.bytesAvailable() == 0
    finally:
        pair.close()


def test_write_then_sendall_and_sendall_then_write_keep_their_order(leaks: Leaks) -> None:
    """Attack: bytes queued by write() (not yet sent) followed by sendall(), a huge
    sendall the kernel takes only in part (from one greenlet) while another greenlet
    write()s behind it, and a gevent.Timeout cutting a sendall short followed by more
    sendall. Must hold: the peer reads every byte once, in call order, and bytesWritten
    adds up to exactly what was sent."""
    pair = make_pair("order")
    client, peer = pair.client, pair.peer
    written = Spy(client.bytesWritten)
    peer.setReadBufferSize(1 << 16)  # so that the kernel buffers fill up
    try:
        total = 0
        expected = bytearray()
        assert client.write(b"w1") == 2
        client.sendall(b"s1")
        expected += b"w1s1"
        big = os.urandom(4 << 20)
        sender = gevent.spawn(client.sendall, big)
        assert qtry(lambda: client.bytesToWrite() > 0)  # the kernel took only part
        assert client.write(b"after-big") == 9
        expected += big + b"after-big"
        got = recv_all(peer, len(expected))
        sender.get(timeout=5)
        assert got == bytes(expected)
        total += len(expected)
        # A Timeout in the middle of a sendall: what is left stays queued, in order.
        big2 = os.urandom(4 << 20)
        with pytest.raises(gevent.Timeout), gevent.Timeout(0.001):
            client.sendall(big2)
        tail = gevent.spawn(client.sendall, b"tail")
        assert recv_all(peer, len(big2) + 4) == big2 + b"tail"
        tail.get(timeout=5)
        total += len(big2) + 4
        assert qtry(lambda: client.bytesToWrite() == 0)
        assert qtry(lambda: sum(c[0] for c in written.calls) == total)
        assert sum(c[0] for c in written.calls) == total
        assert peer.bytesAvailable() == 0
    finally:
        pair.close()


def test_sendall_timeout_zero_queues_the_rest_and_the_hub_drains_it(leaks: Leaks) -> None:
    """Attack: settimeout(0) and a sendall larger than the kernel buffer (the shortcut
    sends part). Must hold: BlockingIOError or TimeoutError as gevent raises, nothing
    lost: the hub sends the rest in order once the peer reads."""
    pair = make_pair("nowait")
    try:
        pair.client.settimeout(0)
        payload = os.urandom(4 << 20)
        with pytest.raises(OSError):
            pair.client.sendall(payload)
        assert 0 < pair.client.bytesToWrite() < len(payload)
        assert recv_all(pair.peer, len(payload)) == payload
        assert qtry(lambda: pair.client.bytesToWrite() == 0)
    finally:
        pair.close()


def test_sendall_on_a_read_only_socket_and_while_closing_raises_and_sends_nothing(
        leaks: Leaks) -> None:
    """Attack: sendall on a socket opened ReadOnly (shortcut condition on the mode) and
    on a socket in ClosingState (disconnectFromServer with bytes queued). Must hold:
    BrokenPipeError (an OSError) in both, and the peer gets only the bytes written
    before, then the end of the stream."""
    pair = make_pair("ro", mode=QIODevice.ReadOnly)
    try:
        with pytest.raises(OSError):
            pair.client.sendall(b"nope")
        assert pair.client.bytesToWrite() == 0
        peer = pair.peer
        peer.setReadBufferSize(0)
        big = os.urandom(4 << 20)
        assert peer.write(big) == len(big)
        peer.flush()
        assert peer.bytesToWrite() > 0
        peer.disconnectFromServer()
        assert peer.state() == QLocalSocket.ClosingState
        with pytest.raises(BrokenPipeError):
            peer.sendall(b"late")
        assert recv_all(pair.client, len(big)) == big
        assert pair.client.recv(10) == b""
    finally:
        pair.close()


def test_sendall_after_the_peer_went_away_raises_once_and_reports_once(
        leaks: Leaks) -> None:
    """Attack: the peer aborts; sendall takes the shortcut before the hub noticed (EPIPE
    from the very send). Must hold: an OSError subclass (ConnectionResetError or
    BrokenPipeError), errorOccurred and disconnected exactly once each, and the next
    sendall raises BrokenPipeError without new signals."""
    pair = make_pair("gone")
    client = pair.client
    errors, gone = Spy(client.errorOccurred), Spy(client.disconnected)
    try:
        pair.peer.abort()
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            client.sendall(b"x" * 100)
        assert client.state() == QLocalSocket.UnconnectedState
        with pytest.raises(BrokenPipeError):
            client.sendall(b"y")
        assert len(errors) == 1
        assert len(gone) == 1
        assert errors[0][0] == QLocalSocket.PeerClosedError
    finally:
        pair.close()


def test_sendall_while_another_greenlet_waits_for_bytes_written(leaks: Leaks) -> None:
    """Attack: greenlet A waits in waitForBytesWritten on a full kernel buffer; greenlet
    B sendall()s (queued behind, so B waits too: one write waiter at a time). Must
    hold: B either completes or raises ConcurrentWaitError, A is woken, and the peer
    gets A's bytes then B's, once."""
    pair = make_pair("waiter")
    client = pair.client
    try:
        big = os.urandom(2 << 20)
        assert client.write(big) == len(big)
        client.flush()
        assert client.bytesToWrite() > 0
        a = gevent.spawn(client.waitForBytesWritten, WAIT_MS)
        gevent.sleep(0)  # let A start waiting (it is a wait, not a settling pause)
        assert client._writer is a
        b = gevent.spawn(client.sendall, b"B" * 10)
        got = recv_all(pair.peer, len(big) + 10)
        assert a.get(timeout=5) is True
        try:
            b.get(timeout=5)
        except qlsock.ConcurrentWaitError:
            pass
        assert got == big + b"B" * 10
    finally:
        pair.close()


def test_sendall_from_a_bytes_written_slot_arrives_in_order(leaks: Leaks) -> None:
    """Attack: a bytesWritten slot that calls sendall() (the shortcut inside the
    socket's own emission, buffer empty). Must hold: no recursion, bytes in order,
    and bytesWritten never reports more than was sent."""
    pair = make_pair("bwslot")
    client = pair.client
    counts: list[int] = []

    def more(count: int) -> None:
        counts.append(count)
        client.sendall(b"S%d" % len(counts))

    client.bytesWritten.connect(more)
    try:
        assert client.write(b"W") == 1
        assert client.waitForBytesWritten(WAIT_MS)
        # As before the shortcut (and Qt's guard): the slot's own sendall is not
        # announced inside the slot, so the slot ran once.
        assert recv_all(pair.peer, 3) == b"WS1"
        assert counts == [1]
        client.sendall(b"end")
        assert recv_all(pair.peer, 5) == b"endS2"  # the slot ran after "end" left
        assert counts == [1, 3]
    finally:
        pair.close()


def test_recv_never_takes_bytes_a_channel_ready_read_slot_or_another_reader_should_see(
        leaks: Leaks) -> None:
    """Attack: (a) bytes the hub already buffered, then more in the kernel: recv must
    return the buffered ones first; (b) a slot on channelReadyRead only: recv must not
    read behind its back (every byte is announced); (c) another greenlet waiting in
    waitForReadyRead: recv raises ConcurrentWaitError or returns, never loses or
    duplicates a byte."""
    pair = make_pair("order-in")
    client, peer = pair.client, pair.peer
    try:
        peer.sendall(b"one")
        assert client.waitForReadyRead(WAIT_MS)  # buffered by the socket now
        peer.sendall(b"two")
        got = bytearray(client.recv(100))
        while len(got) < 6:
            got += client.recv(100)
        assert bytes(got) == b"onetwo"
        # (b)
        announced: list[int] = []
        client.channelReadyRead.connect(lambda ch: announced.append(client.bytesAvailable()))
        peer.sendall(b"three")
        assert client.recv(100) == b"three"
        assert announced == [5]
        client.channelReadyRead.disconnect()
        # (c)
        waiter = gevent.spawn(client.waitForReadyRead, WAIT_MS)
        gevent.sleep(0)  # let it start waiting
        assert client._reader is waiter
        peer.sendall(b"four")
        try:
            got = bytearray(client.recv(100))
        except qlsock.ConcurrentWaitError:
            got = bytearray()
        assert waiter.get(timeout=5) is True
        got += client.readAll()
        assert bytes(got) == b"four"
    finally:
        pair.close()


def test_recv_after_the_peer_half_closed_reads_everything_then_b_empty_once(
        leaks: Leaks) -> None:
    """Attack: the peer sends, shuts down its write side (half-close) and keeps the
    connection; recv/recv_exactly read straight from the kernel and meet the end of
    stream. Must hold: every byte in order, then b"" (and b"" again); errorOccurred
    (PeerClosedError), readChannelFinished and disconnected exactly once each; a reply
    sendall()ed before the end was seen still reaches the peer."""
    pair = make_pair("half")
    client = pair.client
    errors, finished, gone = (Spy(client.errorOccurred), Spy(client.readChannelFinished),
                              Spy(client.disconnected))
    raw = socket.socket(fileno=os.dup(pair.peer.socketDescriptor()))
    try:
        payload = os.urandom(300_000)
        sender = gevent.spawn(pair.peer.sendall, payload)
        assert client.recv_exactly(10) == payload[:10]
        client.sendall(b"reply")
        sender.get(timeout=5)
        raw.shutdown(socket.SHUT_WR)
        assert recv_all(client, len(payload) - 10) == payload[10:]
        assert client.recv(100) == b""
        assert client.recv(100) == b""
        assert (len(errors), len(finished), len(gone)) == (1, 1, 1)
        assert errors[0][0] == QLocalSocket.PeerClosedError
        assert recv_all(pair.peer, 5) == b"reply"
    finally:
        raw.close()
        pair.close()


def test_recv_exactly_with_part_now_part_later_and_a_small_read_buffer(leaks: Leaks) -> None:
    """Attack: recv_exactly takes part from the kernel now (appended to the buffer) and
    waits for the rest, on a socket with setReadBufferSize(16), with the rest arriving
    as the hub reads it and in many pieces; then a stream that ends in the middle. Must
    hold: exact bytes; IncompleteReadError with the partial bytes."""
    pair = make_pair("exactly")
    client, peer = pair.client, pair.peer
    client.setReadBufferSize(16)
    try:
        peer.sendall(b"abc")
        later = gevent.spawn_later(0.01, peer.sendall, b"defgh")
        assert client.recv_exactly(8) == b"abcdefgh"
        later.get(timeout=5)
        message = os.urandom(1 << 16)
        sender = gevent.spawn(peer.sendall, message)
        got = bytearray()
        while len(got) < len(message):
            got += client.recv_exactly(16)
        assert bytes(got) == message
        sender.get(timeout=5)
        peer.sendall(b"xyz")
        peer.disconnectFromServer()
        with pytest.raises(qlsock.IncompleteReadError) as info:
            client.recv_exactly(10)
        assert info.value.partial == b"xyz"
    finally:
        pair.close()


def test_wait_for_ready_read_after_a_direct_recv_waits_for_new_bytes(leaks: Leaks) -> None:
    """Attack: bytes taken by recv() straight from the kernel must count as reported:
    bytesAvailable() is 0 after, waitForReadyRead() does not return True for them and
    times out (SocketTimeoutError, still connected) when nothing new comes, and
    readyRead connected afterwards fires only for new bytes."""
    pair = make_pair("consistent")
    client, peer = pair.client, pair.peer
    try:
        peer.sendall(b"data")
        assert client.recv(100) == b"data"
        assert client.bytesAvailable() == 0
        assert client.waitForReadyRead(50) is False
        assert client.state() == QLocalSocket.ConnectedState
        ready = Spy(client.readyRead)
        peer.sendall(b"more")
        assert ready.wait()
        assert len(ready) == 1
        assert client.readAll() == b"more"
    finally:
        pair.close()


def test_recv_exactly_larger_than_the_read_buffer_limit(leaks: Leaks) -> None:
    """Attack: recv_exactly(100) on a socket with setReadBufferSize(16) whose buffer
    holds 16 of the 100 bytes the peer sent (so the direct kernel read does not
    apply). Must hold: the 100 bytes, as recv_exactly promises
    (the limit bounds what is buffered, not what one call may return)."""
    pair = make_pair("exactly-big")
    pair.client.setReadBufferSize(16)
    pair.client.settimeout(1)
    try:
        message = os.urandom(100)
        pair.peer.sendall(message)
        assert pair.client.waitForReadyRead(WAIT_MS)  # 16 buffered, reading paused
        assert pair.client.recv_exactly(100) == message
    finally:
        pair.close()


def test_a_read_past_the_limit_that_times_out_leaves_its_bytes_buffered(
        leaks: Leaks) -> None:
    """recv_exactly() and recv_message() of more than setReadBufferSize() allows take
    the bytes out as they come; a timeout puts what they took back in front, so the
    next read finds every byte in order, and a message past the limit arrives whole."""
    pair = make_pair("exactly-back")
    pair.client.setReadBufferSize(16)
    pair.client.settimeout(0.2)
    try:
        first = os.urandom(60)
        pair.peer.sendall(first)
        with pytest.raises(TimeoutError):
            pair.client.recv_exactly(100)
        assert pair.client.bytesAvailable() == 60
        rest = os.urandom(40)
        pair.peer.sendall(rest)
        assert pair.client.recv_exactly(100) == first + rest
        message = os.urandom(1000)
        pair.peer.sendall(len(message).to_bytes(4, "big") + message)
        assert pair.client.recv_message() == message
    finally:
        pair.close()


# -- 3. serve(): accepted descriptors wrapped directly, Events made when stop() waits ----


def test_stop_while_handlers_drain_twice_at_once_and_from_a_handler(leaks: Leaks) -> None:
    """Attack: handlers that wrote 4 MiB and returned (their connections Closing,
    draining), one handler blocked for ever, stop() called from a handler and twice
    from outside at the same time. Must hold: the draining peers get every byte then
    the end of the stream; the blocked handler is killed; both outside stop() calls
    return; no greenlet, descriptor or watcher is left."""
    payload = os.urandom(4 << 20)
    blocked = gevent.event.Event()
    stopper: list[Any] = []

    def handle(sock: QLocalSocket) -> None:
        kind = sock.recv(1)
        if kind == b"d":
            sock.write(payload)
        elif kind == b"b":
            blocked.set()
            gevent.sleep(60)
        elif kind == b"s":
            stopper.append(gevent.spawn(server2.stop, 0.05))
            server2.stop(0.05)  # from the handler: neither waits for nor kills it

    server = qlsock.serve("drain", handle)
    server.drain_timeout = 5.0
    server2: Any = None
    clients = [qlsock.connect("drain", timeout=5) for _ in range(3)]
    try:
        clients[0].sendall(b"d")
        clients[1].sendall(b"d")
        clients[2].sendall(b"b")
        assert blocked.wait(5)
        assert qtry(lambda: sum(1 for c in server._connections
                                if c.sock is not None
                                and c.sock.state() == QLocalSocket.ClosingState) == 2)
        stops = [gevent.spawn(server.stop, 0.05) for _ in range(2)]
        readers = [gevent.spawn(recv_all, c, len(payload)) for c in clients[:2]]
        for reader in readers:
            assert reader.get(timeout=10) == payload
        for stop in stops:
            stop.get(timeout=10)
        for client in clients[:2]:
            assert client.recv(1) == b""
        assert clients[2].recv(1) == b""
        assert not server._connections
        # stop() from inside a handler, on a server of its own.
        server2 = qlsock.serve("drain2", handle)
        with qlsock.connect("drain2", timeout=5) as inner:
            inner.sendall(b"s")
            assert inner.recv(1) == b""
        assert qtry(lambda: not server2._connections)
        for stop in stopper:
            stop.get(timeout=5)
    finally:
        for client in clients:
            client.abort()
        server.stop(0)


def test_serve_edge_connections_pool_refusal_and_stored_sockets(leaks: Leaks) -> None:
    """Attack: spawn=Pool(2) with 6 clients (the pool stays full), 20 peers that
    connect and close at once, a handler that stores its socket and returns, and
    allowed_uids refusing everyone on a second server. Must hold: each served client
    gets its exact echo; stored sockets end Unconnected after the graceful close; the
    refused client reads the end of the stream and its handler never runs."""
    stored: list[QLocalSocket] = []
    calls: list[str] = []

    def handle(sock: QLocalSocket) -> None:
        calls.append(sock.fullServerName())
        data = sock.recv(100)
        if data:
            sock.sendall(data[::-1])
            stored.append(sock)

    server = qlsock.serve("pool", handle, spawn=gevent.pool.Pool(2))
    refusing = qlsock.serve("refuse", handle, allowed_uids={os.getuid() + 1})
    try:
        for _ in range(20):
            raw = socket.socket(socket.AF_UNIX)
            raw.setblocking(False)
            try:
                raw.connect(server.fullServerName())
            finally:
                raw.close()
        clients = [qlsock.connect("pool", timeout=5) for _ in range(6)]
        for index, client in enumerate(clients):
            client.sendall(b"client-%d" % index)
        for index, client in enumerate(clients):
            expected = (b"client-%d" % index)[::-1]
            assert recv_all(client, len(expected)) == expected
            assert client.recv(1) == b""
            client.close()
        assert qtry(lambda: len(calls) == 26)
        assert set(calls) == {server.fullServerName()}
        assert qtry(lambda: not server._connections)
        assert len(stored) == 6
        assert all(s.state() == QLocalSocket.UnconnectedState for s in stored)
        with qlsock.connect("refuse", timeout=5) as refused:
            assert refused.recv(10) == b""
        assert len(calls) == 26
    finally:
        stored.clear()
        server.stop(1)
        refusing.stop(1)


def test_idle_timeout_sees_the_traffic_of_direct_recv_and_sendall(leaks: Leaks) -> None:
    """Attack: a handler that only uses recv/sendall (both straight to the kernel, so
    the byte counters are all idle_timeout can see) on a connection that talks every
    fifth of the timeout for three timeouts, then goes silent. Must hold: every echo
    exact while it talks; closed (b"") once silent, with the handler woken."""
    idle = 0.2
    ended = gevent.event.Event()

    def handle(sock: QLocalSocket) -> None:
        while data := sock.recv(100):
            sock.sendall(data)
        ended.set()

    server = qlsock.serve("idle", handle, idle_timeout=idle)
    try:
        with qlsock.connect("idle", timeout=5) as client:
            for index in range(15):
                message = b"ping-%d" % index
                client.sendall(message)
                assert recv_all(client, len(message)) == message
                gevent.sleep(idle / 5)  # the traffic pattern under test, not a wait
            assert client.recv(1) == b""
            assert ended.wait(5)
    finally:
        server.stop(1)


# -- 4. writes from a socket's own delivery, settled by deliver_writable -------------------


@pytest.mark.parametrize("block", ["sleep", "wait_bytes_written", "wait_ready_read"])
def test_a_ready_read_slot_that_writes_then_blocks_gets_its_reply_out(
        leaks: Leaks, block: str) -> None:
    """Attack: a readyRead slot writes a reply (deferred to the engine's reconcile,
    since it runs in the socket's own delivery) and then blocks before returning: on an
    Event the peer sets only once it has read the reply, in waitForBytesWritten, or in
    a nested waitForReadyRead for the peer's next bytes. Must hold: the reply leaves
    while the slot is blocked, exact; bytesWritten adds up to the bytes written."""
    pair = make_pair("slotblock")
    server_side, client = pair.peer, pair.client
    received = gevent.event.Event()
    written = Spy(server_side.bytesWritten)
    results: list[Any] = []

    def on_ready() -> None:
        data = server_side.readAll()
        if not data.startswith(b"req"):
            return
        assert server_side.write(b"reply:" + data) == 6 + len(data)
        if block == "sleep":
            results.append(received.wait(5))
        elif block == "wait_bytes_written":
            results.append(server_side.waitForBytesWritten(WAIT_MS))
        else:
            results.append(server_side.waitForReadyRead(WAIT_MS))
            results.append(server_side.readAll())

    server_side.readyRead.connect(on_ready)
    try:
        client.sendall(b"req1")
        assert recv_all(client, 10) == b"reply:req1"
        received.set()
        if block == "wait_ready_read":
            client.sendall(b"next")
            assert qtry(lambda: len(results) == 2)
            assert results == [True, b"next"]
        else:
            assert qtry(lambda: len(results) == 1)
            assert results == [True]
        assert sum(c[0] for c in written.calls) == 10
    finally:
        pair.close()


def test_slots_writing_more_than_the_kernel_takes_to_this_and_another_socket(
        leaks: Leaks) -> None:
    """Attack: a readyRead slot of socket A writes 3 MiB to A and 3 MiB to another
    socket B (a plain write: B is not in delivery), then returns; a plain greenlet with
    no waiter writes to B too; the peers read slowly (small read buffers). Must hold:
    every byte arrives exactly and in order on both; bytesWritten on each adds up."""
    one, two = make_pair("slotbig1"), make_pair("slotbig2")
    a, b = one.peer, two.peer
    one.client.setReadBufferSize(1 << 15)
    two.client.setReadBufferSize(1 << 15)
    big_a, big_b = os.urandom(3 << 20), os.urandom(3 << 20)
    sent_a, sent_b = Spy(a.bytesWritten), Spy(b.bytesWritten)

    ran = gevent.event.Event()

    def on_ready() -> None:
        a.readAll()
        a.write(big_a)
        b.write(big_b)
        ran.set()

    a.readyRead.connect(on_ready)
    try:
        one.client.sendall(b"go")
        assert ran.wait(5)
        gevent.spawn(b.write, b"plain-greenlet").join(5)
        got_a = gevent.spawn(recv_all, one.client, len(big_a))
        got_b = gevent.spawn(recv_all, two.client, len(big_b) + 14)
        assert got_a.get(timeout=10) == big_a
        assert got_b.get(timeout=10) == big_b + b"plain-greenlet"
        assert qtry(lambda: a.bytesToWrite() == 0 and b.bytesToWrite() == 0)
        assert sum(c[0] for c in sent_a.calls) == len(big_a)
        assert sum(c[0] for c in sent_b.calls) == len(big_b) + 14
    finally:
        one.close()
        two.close()


def test_disconnect_or_abort_right_after_write_and_many_sockets_in_one_pass(
        leaks: Leaks) -> None:
    """Attack: write() then disconnectFromServer() at once (in a readyRead slot and from
    a greenlet), write() then abort() before the hub's reconcile runs, write() then the
    socket dropped, and 50 sockets written in one loop iteration. Must hold: bytes
    written before disconnectFromServer arrive before the end of the stream, an aborted
    socket's bytes are dropped without error, each of the 50 peers gets its bytes."""
    pair = make_pair("wclose")
    server_side = pair.peer

    def on_ready() -> None:
        server_side.readAll()
        server_side.write(b"bye from slot")
        server_side.disconnectFromServer()

    server_side.readyRead.connect(on_ready)
    try:
        pair.client.sendall(b"x")
        assert recv_all(pair.client, 13) == b"bye from slot"
        assert pair.client.recv(1) == b""
    finally:
        pair.close()
    pair = make_pair("wclose2")
    try:
        pair.peer.write(b"from greenlet")
        pair.peer.disconnectFromServer()
        assert recv_all(pair.client, 13) == b"from greenlet"
        assert pair.client.recv(1) == b""
    finally:
        pair.close()
    pair = make_pair("wabort")
    try:
        gone = Spy(pair.peer.disconnected)
        pair.peer.write(b"dropped")
        pair.peer.abort()
        assert pair.client.recv(100) == b""
        assert len(gone) == 1
    finally:
        pair.close()
    server = QLocalServer()
    assert server.listen("many")
    clients, peers = [], []
    try:
        for _ in range(50):
            client = QLocalSocket()
            client.connectToServer("many")
            clients.append(client)
            assert server.waitForNewConnection(WAIT_MS)[0]
            peers.append(server.nextPendingConnection())
        for index, peer in enumerate(peers):
            assert peer.write(b"sock-%d;" % index) > 0
        for index, client in enumerate(clients):
            client.settimeout(5)
            expected = b"sock-%d;" % index
            assert recv_all(client, len(expected)) == expected
    finally:
        for sock in clients + peers:
            sock.abort()
        server.close()


# -- 5. ReadBuffer without a deque, WriteBuffer as a list, slots as a tuple --------------


def test_connect_and_disconnect_inside_an_emission_as_in_qt(leaks: Leaks) -> None:
    """Attack: during an emission a slot disconnects a later slot and connects a new
    one; a slot connected twice is disconnected once. Must hold, as in Qt: the
    disconnected slot is not called any more, not even later in this emission; the
    new one waits for the next emission; a slot connected twice runs twice, and once
    after one disconnect."""
    pair = make_pair("signals")
    sock = pair.client
    calls: list[str] = []

    def late() -> None:
        calls.append("late")

    def added() -> None:
        calls.append("added")

    def first() -> None:
        calls.append("first")
        if sock.aboutToClose.disconnect(late):
            sock.aboutToClose.connect(added)

    def twice() -> None:
        calls.append("twice")

    try:
        sock.aboutToClose.connect(first)
        sock.aboutToClose.connect(late)
        sock.aboutToClose.connect(twice)
        sock.aboutToClose.connect(twice)
        sock.aboutToClose.emit()
        assert calls == ["first", "twice", "twice"]
        calls.clear()
        assert sock.aboutToClose.disconnect(twice)
        sock.aboutToClose.emit()
        assert calls == ["first", "twice", "added"]
        calls.clear()
        assert sock.aboutToClose.disconnect(twice)
        assert not sock.aboutToClose.disconnect(twice)
        assert sock.aboutToClose.disconnect()
        sock.aboutToClose.emit()
        assert calls == []
    finally:
        pair.close()


def test_read_buffer_calls_on_a_fresh_and_an_emptied_socket(leaks: Leaks) -> None:
    """Attack: every ReadBuffer path on a socket whose buffer has never held a byte (an
    empty tuple, not a deque) and again after it was emptied and cleared: peek,
    readLine, canReadLine, getChar, skip, ungetChar (prepend), transactions, a
    QDataStream read. Must hold: no exception, nothing invented, and bytes put back or
    arriving later come out in order."""
    from qlsock.qtcore import QDataStream

    pair = make_pair("rbuf")
    client, peer = pair.client, pair.peer
    try:
        for round_ in range(2):
            assert client.peek(10) == b""
            assert client.readLine() == b""
            assert not client.canReadLine()
            assert client.getChar() == (False, b"")
            assert client.skip(5) == 0
            client.startTransaction()
            assert client.read(4) == b""
            client.rollbackTransaction()
            assert client.bytesAvailable() == 0
            stream = QDataStream(client)
            stream.startTransaction()
            assert stream.readInt32() == 0
            assert not stream.commitTransaction()
            client.ungetChar(b"Z")
            assert client.bytesAvailable() == 1
            peer.sendall(b"line one\nrest")
            assert qtry(lambda: client.bytesAvailable() == 14
                        or (bool(client.waitForReadyRead(10)) and False))
            assert client.canReadLine()
            assert client.readLine() == b"Zline one\n"
            client.startTransaction()
            assert client.read(2) == b"re"
            client.rollbackTransaction()
            assert client.readAll() == b"rest"
            # Emptied, then cleared by abort-free means: the next round starts empty.
            assert client.bytesAvailable() == 0, round_
    finally:
        pair.close()


def test_write_buffer_thousands_of_small_writes_with_partial_sends(leaks: Leaks) -> None:
    """Attack: 20000 writes of 1..300 bytes (shared bytearray chunks, plain chunks,
    more than the 64-chunk iovec limit) while the kernel takes only part per send (the
    peer reads through a 4 KiB read buffer), with waitForBytesWritten and flush mixed
    in. Must hold: the peer reads the exact concatenation, and bytesWritten plus the
    flush/waitFor counts add up to the total."""
    pair = make_pair("wbuf")
    client, peer = pair.client, pair.peer
    peer.setReadBufferSize(1 << 12)
    try:
        pieces = [bytes([index % 251]) * (1 + (index * 7919) % 300) + b"|"
                  for index in range(20000)]
        pieces[100:100] = [os.urandom(5000)]  # a large one among them
        expected = b"".join(pieces)
        reader = gevent.spawn(recv_all, peer, len(expected))
        for index, piece in enumerate(pieces):
            assert client.write(piece) == len(piece)
            if index % 997 == 0:
                client.flush()
            if index % 4999 == 0:
                client.waitForBytesWritten(WAIT_MS)
        client.sendall(b"")
        assert reader.get(timeout=15) == expected
        assert qtry(lambda: client.bytesToWrite() == 0)
        assert client._wbuf.chunks == []
    finally:
        pair.close()


def test_overlapping_deliveries_that_end_out_of_order_leave_no_delivery_marked(
        leaks: Leaks) -> None:
    """Attack: a readyRead slot blocks (delivery 1); a write from a greenlet makes a
    second delivery whose bytesWritten slot blocks too; the first is released before
    the second. Must hold: the socket is marked as inside a delivery (``_in_events``,
    which decides how writes are flushed) exactly while one runs: still after the
    first returned, no longer once both did; the written byte arrives once."""
    pair = make_pair("overlap")
    sock = pair.peer
    first, second = gevent.event.Event(), gevent.event.Event()
    entered: list[str] = []

    def on_ready() -> None:
        sock.readAll()
        entered.append("readyRead")
        first.wait(5)

    def on_written(count: int) -> None:
        entered.append("bytesWritten")
        second.wait(5)

    sock.readyRead.connect(on_ready)
    sock.bytesWritten.connect(on_written)
    try:
        pair.client.sendall(b"x")
        assert qtry(lambda: "readyRead" in entered)
        writer = gevent.spawn(sock.write, b"y")
        assert qtry(lambda: "bytesWritten" in entered)
        first.set()
        assert qtry(lambda: bool(sock._in_events))  # delivery 2 still runs
        second.set()
        assert qtry(lambda: not sock._in_events)
        writer.get(timeout=5)
        assert pair.client.recv(10) == b"y"
    finally:
        pair.close()
