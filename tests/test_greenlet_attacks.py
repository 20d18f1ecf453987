"""Regression tests for what an attack on the greenlet model found (commit 6b7c290).

Each test is one attack script turned into a test; each fails against 6b7c290 and checks
the contract of docs/semantics.md, section "Greenlets":

* a slot that blocks never stalls other sockets ready in the same wake-up, nor a reply it
  wrote before it blocked (so a handshake does not deadlock);
* ``errorOccurred`` is emitted once when a slot blocks while the peer closes or a send
  fails;
* bytes that arrive while a ``readyRead`` slot blocks are announced after it returns, even
  if the connection ended or was replaced meanwhile;
* a ``BaseException`` escaping a slot inside the caller's own call reaches the caller and
  leaves no socket half-way through a transition; escaping the outermost slot of a
  greenlet qlsock runs for the hub, it is reported to the hub and swallowed;
* a dropped socket or server closes without the cyclic garbage collector, and a server
  whose thread has ended closes when dropped;
* a peer that half-closes still receives a big reply, also through the ``qlsock`` CLI.

Helpers live in this file (tests/support.py is edited elsewhere).
"""

from __future__ import annotations

import gc
import io
import os
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import gevent.monkey
import pytest
from gevent import socket as gsocket
from gevent import subprocess
from gevent.event import Event
from greenlet import getcurrent

import qlsock
from qlsock import QLocalServer, QLocalSocket, serve

from . import support

U = QLocalSocket.UnconnectedState
CLOSING = QLocalSocket.ClosingState
CONNECTED = QLocalSocket.ConnectedState
PEER_CLOSED = QLocalSocket.PeerClosedError

#: The real (unpatched) time.sleep: blocks the whole hub in both runs.
_block_hub = gevent.monkey.get_original("time", "sleep")
#: Real OS threads and locks in both runs (under monkey patching the `threading`
#: module makes greenlets).
_start_os_thread = gevent.monkey.get_original("_thread", "start_new_thread")
_os_thread_count = gevent.monkey.get_original("_thread", "_count")


# -- helpers ---------------------------------------------------------------------------------


def qtry(condition: Callable[[], Any], ms: int = 2000) -> bool:
    """support.qtry with this file's shorter default wait."""
    return support.qtry(condition, ms)


def path_of(name: str) -> str:
    return os.path.join(os.environ["TMPDIR"], name)


def raw_client(name: str) -> gsocket.socket:
    """A cooperative plain AF_UNIX client connected to *name*."""
    sock = gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path_of(name))
    return sock


def recv_exactly(sock: gsocket.socket, count: int, seconds: float = 2.0) -> bytes:
    data = b""
    with gevent.Timeout(seconds, False):
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                break
            data += chunk
    return data


def listening(name: str) -> QLocalServer:
    server = QLocalServer()
    assert server.listen(name), server.errorString()
    return server


def accept(server: QLocalServer) -> QLocalSocket:
    assert server.waitForNewConnection(2000) == (True, False)
    conn = server.nextPendingConnection()
    assert conn is not None
    return conn


def connected_client(name: str) -> QLocalSocket:
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.state() == CONNECTED, client.errorString()
    return client


class Counter:
    """Counts the emissions of some signals of one socket: ``counts["errorOccurred"]``."""

    def __init__(self, sock: QLocalSocket, *names: str) -> None:
        self.counts = dict.fromkeys(names, 0)
        self.log: list[tuple[Any, ...]] = []
        for name in names:
            getattr(sock, name).connect(self._recorder(name))

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.counts[name] += 1
            if len(self.log) < 50:
                self.log.append((name, *args))
        return record


class HubErrors:
    """Records this thread's hub's ``handle_error`` calls (the hub's own still runs,
    printing to a private stream)."""

    def __init__(self) -> None:
        self.hub = gevent.get_hub()
        self.types: list[type[BaseException]] = []
        original = type(self.hub).handle_error.__get__(self.hub)

        def handle_error(context: Any, type_: Any, value: Any, tb: Any) -> None:
            self.types.append(type_)
            original(context, type_, value, tb)

        self.hub.handle_error = handle_error
        self.hub.exception_stream = io.StringIO()

    def uninstall(self) -> None:
        for name in ("handle_error", "exception_stream"):
            self.hub.__dict__.pop(name, None)

    def count(self, kind: type[BaseException]) -> int:
        return sum(1 for t in self.types if isinstance(t, type) and issubclass(t, kind))


@pytest.fixture
def hub_errors() -> Iterator[HubErrors]:
    recorder = HubErrors()
    try:
        yield recorder
    finally:
        recorder.uninstall()


def cleanup_add(cleanup: list[Any], obj: Any) -> Any:
    """Append *obj* to the test's cleanup list; return it."""
    cleanup.append(obj)
    return obj


@pytest.fixture
def cleanup() -> Iterator[list[Any]]:
    """Objects to close at teardown: sockets are aborted, servers closed, events set,
    greenlets killed, stream servers stopped."""
    objects: list[Any] = []
    yield objects
    for obj in reversed(objects):
        if isinstance(obj, Event):
            obj.set()
    for obj in reversed(objects):
        if isinstance(obj, QLocalSocket):
            obj.abort()
        elif isinstance(obj, QLocalServer):
            obj.close()
        elif isinstance(obj, gevent.Greenlet):
            obj.kill(block=True, timeout=1)
        elif isinstance(obj, qlsock.LocalStreamServer):
            obj.stop(0.5)
        elif isinstance(obj, (socket.socket, gsocket.socket)):
            obj.close()


# == a blocking slot stalls nothing else ======================================================


def test_blocking_slot_does_not_stall_other_sockets_ready_in_the_same_wake_up(
        cleanup: list[Any]) -> None:
    """Five connections become readable in one hub wake-up; the first readyRead slot to run
    blocks. The other four are served (and echo) at once, not after it returns."""
    server = cleanup_add(cleanup, listening("batch"))
    release = cleanup_add(cleanup, Event())
    served: dict[int, float] = {}
    slow: list[int] = []
    conns: list[QLocalSocket] = []

    def on_new() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            index = len(conns)
            conns.append(cleanup_add(cleanup, conn))

            def on_ready(conn: QLocalSocket = conn, index: int = index) -> None:
                first = not served
                served[index] = time.monotonic()
                conn.write(conn.readAll())
                if first:
                    slow.append(index)
                    release.wait(3)  # only the first slot to run blocks

            conn.readyRead.connect(on_ready)

    server.newConnection.connect(on_new)
    raws = [cleanup_add(cleanup, raw_client("batch")) for _ in range(5)]
    assert qtry(lambda: len(conns) == 5), "not all five were accepted"
    for raw in raws:
        raw.sendall(b"x")
    _block_hub(0.05)  # the hub is not polling: its next wake-up finds all five readable
    start = time.monotonic()
    assert qtry(lambda: len(served) == 5, 800), (
        f"only connections {sorted(served)} were served within 0.8 s: the others were held "
        f"back by connection {slow}'s blocked readyRead slot")
    others = [i for i in range(5) if i not in slow]
    latency = {i: round((served[i] - start) * 1000) for i in others}
    assert all(ms < 300 for ms in latency.values()), latency
    for i in others:
        assert recv_exactly(raws[i], 1, 1.0) == b"x", f"connection {i} got no echo"
    assert not release.is_set()


@pytest.mark.parametrize("slot", ["readyRead", "newConnection"])
def test_reply_written_before_a_slot_blocks_leaves_at_once(
        cleanup: list[Any], slot: str) -> None:
    """A slot run for the hub writes a reply (a greeting in newConnection, an answer in
    readyRead), then blocks: the reply reaches the peer while the slot is still blocked."""
    server = cleanup_add(cleanup, listening("wtb"))
    release = cleanup_add(cleanup, Event())

    def on_new() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        cleanup_add(cleanup, conn)
        if slot == "newConnection":
            conn.write(b"WELCOME")
            release.wait(3)
            return

        def on_ready() -> None:
            conn.write(conn.readAll().upper())
            release.wait(3)  # slow bookkeeping after replying

        conn.readyRead.connect(on_ready)

    server.newConnection.connect(on_new)
    client = cleanup_add(cleanup, connected_client("wtb"))
    expected = b"WELCOME" if slot == "newConnection" else b"PING"
    if slot == "readyRead":
        client.write(b"ping")
    start = time.monotonic()
    got = b""
    with gevent.Timeout(2, False):
        while len(got) < len(expected) and time.monotonic() - start < 1.0:
            if client.waitForReadyRead(100):
                got += client.readAll()
    elapsed = time.monotonic() - start
    assert got == expected, (f"{slot}: {got!r} after {elapsed:.2f} s; the reply written "
                             "before the slot blocked was held back")
    assert elapsed < 0.5, f"{slot}: the reply took {elapsed:.2f} s"
    assert not release.is_set()


def test_handshake_from_a_blocking_new_connection_slot_does_not_deadlock(
        cleanup: list[Any]) -> None:
    """A newConnection slot greets the client, then blocks until the client answers (an
    Event set by the socket's readyRead slot). The greeting leaves while the slot blocks,
    the client answers, and the slot sees the answer."""
    server = cleanup_add(cleanup, listening("hs"))
    outcome: list[str] = []

    def on_new() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        cleanup_add(cleanup, conn)
        answered = Event()
        conn.readyRead.connect(answered.set)
        conn.write(b"HELLO?\n")
        outcome.append("answered" if answered.wait(1.5) else "no answer within 1.5 s")
        if answered.is_set():
            outcome.append(conn.readAll().decode())

    server.newConnection.connect(on_new)
    client = cleanup_add(cleanup, connected_client("hs"))
    got_greeting = client.waitForReadyRead(1000)
    assert got_greeting, "the greeting did not leave while the newConnection slot blocked"
    assert client.readAll() == b"HELLO?\n"
    client.write(b"hi\n")
    assert client.flush()
    assert qtry(lambda: outcome, 2500)
    assert outcome == ["answered", "hi\n"]


# == errorOccurred once while its slot blocks ==================================================


def test_blocking_error_slot_on_peer_close_emits_error_occurred_once(
        cleanup: list[Any]) -> None:
    """The peer closes; the accepted socket's errorOccurred slot blocks for 0.1 s. The end
    of stream is reported once: errorOccurred(PeerClosedError), then the end."""
    server = cleanup_add(cleanup, listening("pce"))
    counters: list[Counter] = []

    def on_new() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        cleanup_add(cleanup, conn)
        counters.append(Counter(conn, "errorOccurred", "stateChanged",
                                "readChannelFinished", "disconnected"))
        conn.errorOccurred.connect(lambda code: gevent.sleep(0.1))

    server.newConnection.connect(on_new)
    client = cleanup_add(cleanup, connected_client("pce"))
    assert qtry(lambda: counters)
    client.disconnectFromServer()
    counter = counters[0]
    assert qtry(lambda: counter.counts["disconnected"] >= 1, 2000), counter.counts
    gevent.sleep(0.3)  # room for any further emission
    assert counter.counts["errorOccurred"] == 1, (
        f"errorOccurred emitted {counter.counts['errorOccurred']} times: {counter.log[:6]}")
    assert counter.counts == {"errorOccurred": 1, "stateChanged": 2,
                              "readChannelFinished": 1, "disconnected": 1}


def test_blocking_state_slot_while_the_peer_goes_away_emits_error_occurred_once(
        cleanup: list[Any]) -> None:
    """The peer half-closes while a big reply is still queued; the accepted socket's
    stateChanged(Closing) slot blocks; meanwhile the peer closes altogether, so the
    queued reply's send fails. The peer's going away is reported once: one
    errorOccurred(PeerClosedError), one disconnected."""
    server = cleanup_add(cleanup, listening("pcs"))
    counters: list[Counter] = []

    def on_new() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        cleanup_add(cleanup, conn)
        conn.write(b"R" * 4_000_000)  # more than the kernel buffers
        counters.append(Counter(conn, "errorOccurred", "stateChanged", "disconnected"))

        def slow(state: Any) -> None:
            if state == CLOSING:
                gevent.sleep(0.2)

        conn.stateChanged.connect(slow)

    server.newConnection.connect(on_new)
    raw = cleanup_add(cleanup, raw_client("pcs"))
    assert qtry(lambda: counters)
    gevent.sleep(0.05)
    raw.shutdown(socket.SHUT_WR)
    counter = counters[0]
    assert qtry(lambda: counter.counts["stateChanged"] >= 1)  # Closing; the slot blocks
    raw.close()
    assert qtry(lambda: counter.counts["disconnected"] >= 1, 2000), counter.counts
    gevent.sleep(0.3)
    assert counter.counts["errorOccurred"] == 1, (
        f"errorOccurred emitted {counter.counts['errorOccurred']} times: {counter.log}")
    assert counter.counts == {"errorOccurred": 1, "stateChanged": 2, "disconnected": 1}


def test_blocking_error_slot_in_a_handler_that_reads_the_end_of_stream_emits_once(
        cleanup: list[Any]) -> None:
    """Blocking style: a serve() handler loops on waitForReadyRead; its own wait reads the
    end of stream, and its errorOccurred slot blocks for 0.1 s. errorOccurred comes once,
    then the end, and the handler's loop ends."""
    counters: list[Counter] = []
    ended: list[Any] = []
    error_greenlets: list[Any] = []

    def handle(conn: QLocalSocket) -> None:
        counters.append(Counter(conn, "errorOccurred", "stateChanged", "disconnected"))

        def slow(code: Any) -> None:
            error_greenlets.append(getcurrent())
            gevent.sleep(0.1)

        conn.errorOccurred.connect(slow)
        while conn.waitForReadyRead(2000):
            conn.readAll()
        ended.append(getcurrent())

    cleanup_add(cleanup, serve("hbe", handle))
    client = cleanup_add(cleanup, connected_client("hbe"))
    client.write(b"x")
    assert client.flush()
    assert qtry(lambda: counters)
    gevent.sleep(0.05)
    client.disconnectFromServer()
    assert qtry(lambda: ended, 2000), "the handler's loop did not end"
    gevent.sleep(0.2)
    counter = counters[0]
    assert counter.counts["errorOccurred"] == 1, (
        f"errorOccurred emitted {counter.counts['errorOccurred']} times: {counter.log[:6]}")
    assert counter.counts == {"errorOccurred": 1, "stateChanged": 2, "disconnected": 1}
    # The end of stream was read by the handler's own wait, not by the hub.
    assert error_greenlets == ended


def test_blocking_error_slot_on_a_failed_send_emits_error_occurred_once(
        cleanup: list[Any]) -> None:
    """A client has more queued than the kernel buffers; the peer resets the connection
    without reading; the client's errorOccurred slot blocks for 0.1 s. errorOccurred comes
    once, disconnected once."""
    listener = cleanup_add(cleanup, gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
    listener.bind(path_of("epipe"))
    listener.listen(5)
    client = cleanup_add(cleanup, connected_client(path_of("epipe")))
    peer, _ = listener.accept()
    cleanup_add(cleanup, peer)
    counter = Counter(client, "errorOccurred", "disconnected")
    client.errorOccurred.connect(lambda code: gevent.sleep(0.1))
    client.write(b"z" * 4_000_000)
    gevent.sleep(0.05)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    peer.close()  # gone without reading
    assert qtry(lambda: counter.counts["disconnected"] >= 1, 2000), counter.counts
    gevent.sleep(0.3)
    assert counter.counts == {"errorOccurred": 1, "disconnected": 1}, counter.log[:6]
    assert client.state() == U


# == bytes that arrive while readyRead blocks are announced ======================================


def test_bytes_arriving_while_ready_read_blocks_are_announced_after_the_peer_closed(
        cleanup: list[Any]) -> None:
    """The accepted socket's readyRead slot reads, then blocks for 0.3 s; meanwhile the
    client sends its last bytes and closes. The slots still see every byte: readyRead comes
    again for the last ones although the connection has ended."""
    server = cleanup_add(cleanup, listening("lost"))
    got = bytearray()
    events: list[str] = []

    def on_new() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        cleanup_add(cleanup, conn)

        def on_ready() -> None:
            events.append("readyRead")
            got.extend(conn.readAll())
            gevent.sleep(0.3)  # a database call

        conn.readyRead.connect(on_ready)
        conn.disconnected.connect(lambda: events.append("disconnected"))

    server.newConnection.connect(on_new)
    client = cleanup_add(cleanup, connected_client("lost"))
    client.write(b"first")
    assert client.flush()
    assert qtry(lambda: got)
    client.write(b"-second")
    assert client.flush()
    client.disconnectFromServer()
    assert qtry(lambda: bytes(got) == b"first-second", 2000), (
        f"the readyRead slots saw {bytes(got)!r}; events {events}")
    assert "disconnected" in events


def test_bytes_of_a_new_connection_made_while_ready_read_blocks_are_announced(
        cleanup: list[Any]) -> None:
    """A client reconnects from its disconnected slot while its readyRead slot is still
    busy with the old connection's last message: the new connection's greeting is
    announced by readyRead once the slot returns."""
    server = cleanup_add(cleanup, listening("recon"))
    count = [0]

    def on_new() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        cleanup_add(cleanup, conn)
        count[0] += 1
        conn.write(b"greeting %d;" % count[0])
        if count[0] == 1:
            conn.disconnectFromServer()  # the first connection: greet and hang up

    server.newConnection.connect(on_new)
    client = cleanup_add(cleanup, QLocalSocket())
    seen: list[bytes] = []

    def on_ready() -> None:
        seen.append(client.readAll())
        gevent.sleep(0.3)  # process the message slowly

    def reconnect() -> None:
        if count[0] < 2:
            client.connectToServer("recon")

    client.readyRead.connect(on_ready)
    client.disconnected.connect(reconnect)
    client.connectToServer("recon")
    assert qtry(lambda: len(seen) >= 2, 2000), (
        f"readyRead saw {seen}; {client.bytesAvailable()} bytes buffered and never "
        f"announced (state {client.state()!r})")
    assert seen == [b"greeting 1;", b"greeting 2;"]


# == a BaseException inside the user's own call leaves nothing half-way ==========================


def test_timeout_escaping_a_bytes_written_slot_while_closing_still_completes_the_close(
        cleanup: list[Any]) -> None:
    """Closing with 1000 bytes queued; the caller's gevent.Timeout fires in a bytesWritten
    slot inside its waitForDisconnected. The Timeout reaches the caller, and the socket,
    with nothing left to send, still completes its close."""
    server = cleanup_add(cleanup, listening("closing"))
    client = cleanup_add(cleanup, connected_client("closing"))
    peer = cleanup_add(cleanup, accept(server))

    def slow(count: int) -> None:
        gevent.sleep(0.5)

    client.bytesWritten.connect(slow)
    client.write(b"x" * 1000)
    client.disconnectFromServer()
    assert client.state() == CLOSING
    start = time.monotonic()
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.1):
        client.waitForDisconnected(2000)
    assert time.monotonic() - start < 0.4
    client.bytesWritten.disconnect(slow)
    assert client.bytesToWrite() == 0
    finished = client.state() == U or client.waitForDisconnected(1000)
    assert finished, f"left {client.state()!r} with {client.bytesToWrite()} bytes to write"
    assert client.state() == U
    assert qtry(lambda: peer.state() == U, 1000), "the peer never saw the disconnect"
    assert peer.readAll() == b"x" * 1000


def test_timeout_escaping_a_state_slot_in_connect_to_server_leaves_the_socket_open(
        cleanup: list[Any]) -> None:
    """The caller's gevent.Timeout fires in a stateChanged(Connected) slot inside its own
    connectToServer(): the Timeout reaches the caller, and the socket is left connected,
    open and reading, not connected and closed."""
    server = cleanup_add(cleanup, listening("half"))
    client = cleanup_add(cleanup, QLocalSocket())

    def on_state(state: Any) -> None:
        if state == CONNECTED:
            gevent.sleep(0.5)  # registering the connection somewhere

    client.stateChanged.connect(on_state)
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.05):
        client.connectToServer("half")
    client.stateChanged.disconnect(on_state)
    peer = cleanup_add(cleanup, accept(server))
    assert client.state() == CONNECTED
    assert client.isOpen(), "connected but not open"
    assert client.isReadable()
    peer.write(b"hello")
    assert peer.flush()
    with gevent.Timeout(3):
        assert client.waitForReadyRead(1000), client.errorString()
    assert client.readAll() == b"hello"


def test_kill_in_a_bytes_written_slot_while_closing_still_completes_the_close(
        cleanup: list[Any]) -> None:
    """A greenlet writes, disconnects and waits; its bytesWritten slot blocks and the
    greenlet is killed there. The socket, with nothing left to send, still closes."""
    server = cleanup_add(cleanup, listening("killed"))
    client = cleanup_add(cleanup, connected_client("killed"))
    peer = cleanup_add(cleanup, accept(server))
    in_slot = Event()

    def slow(count: int) -> None:
        in_slot.set()
        gevent.sleep(1)

    client.bytesWritten.connect(slow)

    def closer() -> None:
        client.write(b"bye")
        client.disconnectFromServer()
        client.waitForDisconnected(3000)

    job = cleanup_add(cleanup, gevent.spawn(closer))
    assert in_slot.wait(1), "the bytesWritten slot never ran"
    job.kill(block=True, timeout=1)
    assert job.dead
    client.bytesWritten.disconnect(slow)
    with gevent.Timeout(3):
        finished = client.state() == U or client.waitForDisconnected(1000)
    assert finished, f"left {client.state()!r}"
    assert client.state() == U
    assert qtry(lambda: peer.state() == U, 1000)
    assert peer.readAll() == b"bye"


def test_callers_timeout_reaches_it_from_a_nested_slot_and_escaping_the_outermost_is_reported(
        cleanup: list[Any], hub_errors: HubErrors) -> None:
    """1. A newConnection slot (run for the hub) does ``with gevent.Timeout(0.1):
    conn.waitForReadyRead(-1)``; a readyRead slot emitted inside that wait sleeps 0.5 s.
    The Timeout is the newConnection slot's own: it reaches that slot's ``except``, and
    the hub is not told.
    2. A Timeout escaping the outermost slot (the newConnection slot of the next
    connection) is reported to the hub's handle_error and swallowed: delivery goes on."""
    server = cleanup_add(cleanup, listening("nested"))
    outcome: dict[str, Any] = {}
    accepted: list[QLocalSocket] = []

    def on_new() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        accepted.append(cleanup_add(cleanup, conn))
        number = len(accepted)
        if number == 1:
            conn.readyRead.connect(lambda: gevent.sleep(0.5))
            start = time.monotonic()
            try:
                with gevent.Timeout(0.1):
                    conn.waitForReadyRead(-1)
                outcome["result"] = "the wait returned"
            except gevent.Timeout:
                outcome["result"] = "timed out"
            outcome["elapsed"] = time.monotonic() - start
        elif number == 2:
            with gevent.Timeout(0.05):  # not caught: escapes the slot
                gevent.sleep(0.5)
            outcome["second"] = "the Timeout did not fire"
        else:
            conn.readyRead.connect(lambda: conn.write(conn.readAll()))

    server.newConnection.connect(on_new)
    first = cleanup_add(cleanup, connected_client("nested"))
    first.write(b"x")
    assert first.flush()
    arrived = qtry(lambda: "result" in outcome, 1500)
    first.abort()  # ends the wait if the Timeout was lost
    assert arrived, ("the newConnection slot's own gevent.Timeout(0.1) never reached it "
                     f"({outcome}); the hub was told of {hub_errors.types}")
    assert outcome["result"] == "timed out"
    assert outcome["elapsed"] < 0.45
    assert hub_errors.count(gevent.Timeout) == 0, hub_errors.types

    cleanup_add(cleanup, connected_client("nested"))
    assert qtry(lambda: hub_errors.count(gevent.Timeout) == 1, 2000), (
        f"the Timeout escaping the outermost slot was not reported: {hub_errors.types}")
    assert "second" not in outcome
    third = cleanup_add(cleanup, connected_client("nested"))  # delivery goes on
    third.write(b"echo")
    got = b""
    with gevent.Timeout(2, False):
        while len(got) < 4 and third.waitForReadyRead(1000):
            got += third.readAll()
    assert got == b"echo"
    assert hub_errors.count(gevent.Timeout) == 1, hub_errors.types


# == lifetimes without the cyclic garbage collector ==============================================


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("touch", ["write", "read", "signals"])
def test_dropped_socket_closes_without_the_cyclic_collector(
        cleanup: list[Any], no_gc: None, touch: str) -> None:
    """A connected QLocalSocket nobody references any more is freed by reference counting
    alone, and its peer reads end of stream: after a write, after a read, and after both
    with slots connected to its signals (slots that do not refer to it)."""
    server = cleanup_add(cleanup, listening("drop"))
    client = QLocalSocket()
    client.connectToServer("drop")
    assert client.waitForConnected(1000)
    peer = cleanup_add(cleanup, accept(server))
    events: list[str] = []
    if touch in ("read", "signals"):
        peer.write(b"hi")
        assert peer.flush()
        assert client.waitForReadyRead(1000)
        assert client.readAll() == b"hi"
    if touch in ("write", "signals"):
        client.write(b"x")
        assert client.flush()
    if touch == "signals":
        for name in ("readyRead", "bytesWritten", "errorOccurred", "stateChanged",
                     "disconnected", "aboutToClose"):
            getattr(client, name).connect(lambda *args, name=name: events.append(name))
        client.write(b"y")  # bytesWritten is emitted in the hub's flush
        assert qtry(lambda: "bytesWritten" in events, 1000)
    ref = weakref.ref(client)
    del client
    freed = qtry(lambda: ref() is None, 1000)
    closed = qtry(lambda: peer.state() == U, 1000)
    assert freed, "the dropped socket is only freed by the cyclic garbage collector"
    assert closed, "the peer never read end of stream"
    expected = {"write": b"x", "read": b"", "signals": b"xy"}[touch]
    assert peer.readAll() == expected


def test_dropped_sockets_free_a_stream_server_pool_without_the_cyclic_collector(
        cleanup: list[Any], no_gc: None) -> None:
    """serve(..., spawn=10): ten long sessions end by dropping their sockets (no
    disconnectFromServer). Their handlers see end of stream and free the pool, so an
    eleventh client is served."""

    def handle(sock: QLocalSocket) -> None:
        while sock.waitForReadyRead(30000):
            sock.write(sock.readAll())

    cleanup_add(cleanup, serve("pool", handle, spawn=10))

    def session(rounds: int, ms: int) -> bool:
        sock = QLocalSocket()
        sock.connectToServer("pool")
        if not sock.waitForConnected(1000):
            return False
        for _ in range(rounds):
            sock.write(b"req")
            while sock.bytesAvailable() < 3:
                if not sock.waitForReadyRead(ms):
                    return False
            sock.readAll()
        return True  # the socket is dropped here

    with gevent.Timeout(4):
        jobs = [gevent.spawn(session, 20, 2000) for _ in range(10)]
        gevent.joinall(jobs)
    assert all(job.value for job in jobs), [job.value for job in jobs]
    assert session(1, 1000), "an eleventh client is not served: the pool is still full"


@pytest.mark.parametrize("kind", ["threading", "_thread"])
def test_server_of_an_ended_thread_dropped_in_the_main_thread_closes(
        cleanup: list[Any], kind: str) -> None:
    """A QLocalServer created and listening in a thread that has since ended, dropped
    (collected) in the main thread, closes: its socket file is gone, and a client gets
    ServerNotFoundError instead of a connection nobody will ever accept.

    ``threading``: a ``threading.Thread`` (an OS thread in the plain run, a greenlet under
    monkey patching). ``_thread``: an OS thread in both runs, started through the
    unpatched ``_thread`` module, as threads that ``threading`` did not start (C
    libraries', and every OS thread under monkey patching) are.
    """
    box: dict[str, Any] = {}
    threads_before = _os_thread_count()

    def worker() -> None:
        try:
            box["server"] = QLocalServer()
            box["listening"] = box["server"].listen("orphan")
            box["path"] = box["server"].fullServerName()
        except BaseException as exc:  # reported below, in the test
            box["error"] = repr(exc)

    if kind == "threading":
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(5)
        assert not thread.is_alive(), "the thread did not end"
    else:
        _start_os_thread(worker, ())
        # _count() counts an OS thread from before worker runs to its very end.
        assert qtry(lambda: "path" in box or "error" in box, 5000), "the thread never ran"
        assert qtry(lambda: _os_thread_count() == threads_before, 5000), \
            "the thread did not end"
    assert "error" not in box, box["error"]
    assert box["listening"]
    path = box["path"]
    assert os.path.exists(path)
    del box["server"]
    gc.collect()
    assert qtry(lambda: not os.path.exists(path), 1000), \
        "the socket file is still there once the server was collected"
    client = cleanup_add(cleanup, QLocalSocket())
    client.connectToServer("orphan")
    assert client.state() == U, "a client connected to the dropped server"
    assert client.error() == QLocalSocket.ServerNotFoundError, client.errorString()


# == half-closed peers get the whole reply ======================================================


BIG = 4_000_000


@pytest.mark.parametrize("style", ["signals", "serve"])
def test_half_closed_peer_receives_a_big_reply(cleanup: list[Any], style: str) -> None:
    """A raw client sends a request and shuts down its writing side; the server replies
    4 MB (more than the kernel buffers) from readyRead or a serve() handler. The whole
    reply reaches the client, read slowly, before end of stream."""
    if style == "signals":
        server = cleanup_add(cleanup, listening("hc"))

        def on_new() -> None:
            conn = server.nextPendingConnection()
            if conn is None:
                return
            cleanup_add(cleanup, conn)
            conn.readyRead.connect(lambda: conn.readAll() and conn.write(b"R" * BIG))

        server.newConnection.connect(on_new)
    else:

        def handle(sock: QLocalSocket) -> None:
            while sock.waitForReadyRead(2000):
                sock.readAll()
                sock.write(b"R" * BIG)

        cleanup_add(cleanup, serve("hc", handle))
    raw = cleanup_add(cleanup, raw_client("hc"))
    raw.sendall(b"give")
    raw.shutdown(socket.SHUT_WR)
    got = 0
    ended = False
    with gevent.Timeout(4, False):
        while True:
            gevent.sleep(0.001)  # a slowish reader
            chunk = raw.recv(65536)
            if not chunk:
                ended = True
                break
            got += len(chunk)
    assert got == BIG, f"{style}: {got} of the {BIG}-byte reply reached the half-closed peer"
    assert ended


def test_cli_listen_echo_and_connect_echo_5_mb_intact(tmpdir_env: str) -> None:
    """``python -m qlsock listen NAME --echo`` and ``python -m qlsock connect NAME``
    (which half-closes at the end of its input), its output read only after a second,
    as by ``| (sleep 1; cat)``: the 5 MB come back intact."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(qlsock.__file__)))
    env = dict(os.environ)
    env["TMPDIR"] = tmpdir_env
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "qlsock"]
    data = os.urandom(5_000_000)
    started: list[Any] = []
    try:
        listener = subprocess.Popen([*command, "listen", "e", "--echo"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    cwd=root, env=env)
        started.append(listener)
        assert listener.stderr is not None
        with gevent.Timeout(10):
            line = listener.stderr.readline()
        assert line == f"qlsock: listening on {path_of('e')}\n".encode(), line
        client = subprocess.Popen([*command, "connect", "e"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  cwd=root, env=env)
        started.append(client)
        assert client.stdin is not None
        assert client.stdout is not None

        def upload() -> None:
            assert client.stdin is not None
            client.stdin.write(data)
            client.stdin.close()

        uploader = gevent.spawn(upload)
        gevent.sleep(1.0)  # a slow consumer: nothing is read from connect for a second
        with gevent.Timeout(10):
            echoed = client.stdout.read()
            uploader.get()
            _, err = client.communicate()
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.communicate(timeout=5)
            except (subprocess.TimeoutExpired, ValueError):
                proc.kill()
    assert client.returncode == 0, err
    assert len(echoed) == len(data), f"{len(echoed)} of {len(data)} bytes echoed"
    assert echoed == data
