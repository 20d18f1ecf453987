"""Greenlets and the delivery engine: escaped exceptions, blocking slots, busy waiters,
full duplex, handler endings, visible errors and object lifetimes.

Each ``test_findingN_*`` test reproduces one finding against the engine before its
rewrite (it fails there) and checks the model the engine now implements:

1. A ``BaseException`` escaping a slot run by a hub-scheduled greenlet (a ``gevent.Timeout``,
   the greenlet being killed) is reported through the hub's ``handle_error`` and the
   ``qlsock`` logger; it never stops delivery.
2. A blocking slot is a Qt slot running a nested event loop: accepting, other sockets and
   other greenlets' writes keep flowing; ``readyRead``/``bytesWritten`` are not emitted
   recursively, and ``readyRead`` comes again for bytes that arrived meanwhile.
3. A greenlet busy between two waits sees what a Qt thread without an event loop sees:
   bytes, a peer close or a background flush that happened meanwhile and that nobody
   was told about satisfy its next wait at once.
4. One greenlet may wait to read, another to write and a third for the disconnect, on one
   socket; two waiting for the same thing is a ``ConcurrentWaitError``.
5. A ``LocalStreamServer`` handler ended by ``gevent.Timeout`` is closed gracefully.
6. Errors are printed by default (the hub's exception stream).
7. The hub holds qlsock objects weakly: a dropped server closes, a dropped socket closes
   after sending what it had written; accepted sockets live as long as their server.

The ``test_ruleN_*`` tests check the other rules of the same model.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
from gevent.event import Event
from greenlet import GreenletExit, getcurrent

import qlsock
from qlsock import ConcurrentWaitError, QLocalServer, QLocalSocket
from tests.support import (
    BUSY,
    Harness,
    HubErrors,
    LocalServer,
    connect_to,
    qtry,
    read_at_least,
    read_to_end,
    send_now,
    torn_down,
)

U = QLocalSocket.UnconnectedState
CONNECTED = QLocalSocket.ConnectedState


class Interrupt(BaseException):
    """A BaseException of the test's own, thrown into a greenlet."""


@pytest.fixture
def net() -> Iterator[Harness]:
    yield from torn_down(Harness())


@pytest.fixture
def hub_errors() -> Iterator[HubErrors]:
    recorder = HubErrors().install()
    try:
        yield recorder
    finally:
        recorder.uninstall()


def qlsock_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("qlsock") and r.levelno >= logging.ERROR]


def collect() -> None:
    """Collect garbage and let the hub run the callbacks that follow."""
    for _ in range(3):
        gc.collect()
        gevent.sleep(0)
        gevent.sleep(0.001)


# -- a signal-style echo server with extra slots before the echo ---------------------------


class EchoServer:
    """Echoes in a ``readyRead`` slot; *before_echo(conn)* makes slots connected first."""

    def __init__(self, net: Harness, name: str,
                 *before_echo: Callable[[QLocalSocket], Callable[[], Any]]) -> None:
        self.net = net
        self.server = net.server(name)
        self.conns: list[QLocalSocket] = []
        self.before_echo = before_echo
        self.new_connection_greenlets: list[Any] = []
        self.server.newConnection.connect(self._on_new_connection)

    def _on_new_connection(self) -> None:
        self.new_connection_greenlets.append(getcurrent())
        while (conn := self.server.nextPendingConnection()) is not None:
            self.net.track(conn)
            self.conns.append(conn)
            for make in self.before_echo:
                conn.readyRead.connect(make(conn))
            conn.readyRead.connect(lambda conn=conn: conn.write(conn.readAll()))


def echoes(sock: QLocalSocket, data: bytes, ms: int = 2000) -> bytes:
    """Send *data* on *sock*, return what came back within *ms*."""
    sock.write(data)
    return read_at_least(sock, len(data), ms)


# == 1. exceptions escaping slots =========================================================


def test_finding1_timeout_escaping_a_dispatched_slot_is_reported_and_delivery_goes_on(
        net: Harness, hub_errors: HubErrors, caplog: pytest.LogCaptureFixture) -> None:
    """A gevent.Timeout escaping a readyRead slot run by the hub's dispatcher: the other slots
    of that emission run, later events on that socket, on new sockets and on the server
    are delivered, and the Timeout is reported to handle_error and the qlsock logger."""
    fired: list[object] = []

    def timing_out(conn: QLocalSocket) -> Callable[[], None]:
        def slot() -> None:
            if not fired:
                fired.append(getcurrent())
                with gevent.Timeout(0.05):
                    gevent.sleep(1)
        return slot

    EchoServer(net, "f1t", timing_out)
    a = net.track(connect_to("f1t"))
    assert echoes(a, b"one") == b"one", \
        "the echo slot connected after the slot that let a gevent.Timeout escape did not run"
    assert len(fired) == 1
    assert echoes(a, b"two") == b"two", "nothing more was delivered on that socket"
    b = net.track(connect_to("f1t"))
    assert echoes(b, b"three") == b"three", \
        "a new client was not served after a slot let a gevent.Timeout escape"
    assert hub_errors.count(gevent.Timeout) == 1, hub_errors.calls
    assert any("Timeout" in text or "slot" in text for text in qlsock_errors(caplog)), \
        caplog.records


@pytest.mark.parametrize("how", ["gevent.kill", "throw"])
def test_finding1_killed_slot_greenlet_is_reported_and_delivery_goes_on(
        net: Harness, hub_errors: HubErrors, caplog: pytest.LogCaptureFixture,
        how: str) -> None:
    """The greenlet running a readyRead slot is killed (or has a BaseException thrown in)
    while the slot sleeps: reported, the other slots run, delivery goes on."""
    started = Event()
    victims: list[Any] = []

    def sleeper(conn: QLocalSocket) -> Callable[[], None]:
        def slot() -> None:
            if not victims:
                victims.append(getcurrent())
                started.set()
                gevent.sleep(5)
        return slot

    EchoServer(net, "f1k", sleeper)
    a = net.track(connect_to("f1k"))
    a.write(b"one")
    assert started.wait(2), "the readyRead slot never ran"
    victim = victims[0]
    if how == "gevent.kill":
        gevent.kill(victim)
        expected: type[BaseException] = GreenletExit
    else:
        gevent.get_hub().loop.run_callback(victim.throw, Interrupt("thrown into a slot"))
        expected = Interrupt
    assert read_at_least(a, 3, 2000) == b"one", \
        "the echo slot of the same emission did not run after the slot's greenlet was killed"
    assert echoes(a, b"two") == b"two", "nothing more was delivered on that socket"
    b = net.track(connect_to("f1k"))
    assert echoes(b, b"three") == b"three", \
        "a new client was not served after a slot's greenlet was killed"
    assert hub_errors.count(expected) == 1, hub_errors.calls
    if expected is GreenletExit:
        # gevent's NOT_ERROR: passed to handle_error, which prints nothing for it.
        assert "GreenletExit" not in hub_errors.stream.getvalue()
    else:
        assert qlsock_errors(caplog), "nothing was logged at ERROR to the qlsock logger"


def test_rule1_every_kind_of_escape_in_dispatched_slots_of_every_socket_signal(
        net: Harness, hub_errors: HubErrors) -> None:
    """ValueError, gevent.Timeout, GreenletExit and a foreign BaseException escaping
    dispatched slots of readyRead, bytesWritten, newConnection and the peer-close signals:
    each reported once, every conversation completes."""
    def raise_value_error() -> None:
        raise ValueError("slot failed")

    def escape_timeout() -> None:
        with gevent.Timeout(0.001):
            gevent.sleep(1)

    def raise_greenlet_exit() -> None:
        raise GreenletExit

    def raise_interrupt() -> None:
        raise Interrupt("slot interrupted")

    kinds: list[Callable[[], None]] = [raise_value_error, escape_timeout,
                                       raise_greenlet_exit, raise_interrupt]
    expected = [ValueError, gevent.Timeout, GreenletExit, Interrupt]
    server = net.server("r1all")
    fails = {"n": 0}
    closed: list[QLocalSocket] = []

    def failing(*_: Any) -> None:
        kind = kinds[fails["n"] % len(kinds)]
        fails["n"] += 1
        kind()

    def on_new() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            net.track(conn)
            for signal in (conn.readyRead, conn.bytesWritten, conn.errorOccurred,
                           conn.stateChanged, conn.readChannelFinished, conn.disconnected):
                signal.connect(failing)
            conn.readyRead.connect(lambda conn=conn: conn.write(conn.readAll()))
            conn.disconnected.connect(lambda conn=conn: closed.append(conn))

    server.newConnection.connect(failing)
    server.newConnection.connect(on_new)
    for round_ in range(4):
        client = net.track(connect_to("r1all"))
        data = b"round %d " % round_ * 100
        assert echoes(client, data) == data, f"round {round_}: no echo"
        client.disconnectFromServer()
        assert qtry(lambda n=round_: len(closed) == n + 1, 2000), \
            f"round {round_}: the server side's disconnected slot did not run"
    # newConnection, readyRead, bytesWritten, errorOccurred, stateChanged x2,
    # readChannelFinished, disconnected: 8 escapes per round.
    assert fails["n"] >= 32
    total = sum(hub_errors.count(kind) for kind in expected)
    assert total == fails["n"], (fails, hub_errors.calls)
    for kind in expected:
        assert hub_errors.count(kind) >= 1, (kind, hub_errors.calls)


class OverridingServer(QLocalServer):
    """Overrides Qt's incomingConnection hook, as subclasses do (and calls the base)."""

    def incomingConnection(self, socketDescriptor: int) -> None:
        super().incomingConnection(socketDescriptor)


@pytest.mark.parametrize("escape", ["Timeout", "kill", "Interrupt"])
@pytest.mark.parametrize("server_class", [QLocalServer, OverridingServer],
                         ids=["QLocalServer", "incomingConnection-override"])
def test_rule1_escape_from_a_new_connection_slot_leaves_the_other_slots_running(
        hub_errors: HubErrors, server_class: type[QLocalServer], escape: str) -> None:
    """A BaseException escaping the first newConnection slot: the next slot still takes
    and serves the connection, also when the server overrides incomingConnection() (that
    override is qlsock's hook, not a caller waiting for the slot's exception)."""
    server = server_class()
    assert server.listen("r1hook")
    conns: list[QLocalSocket] = []

    def failing() -> None:
        if escape == "Timeout":
            with gevent.Timeout(0.001):
                gevent.sleep(1)
        elif escape == "kill":
            gevent.spawn_later(0.001, gevent.kill, getcurrent())
            gevent.sleep(1)
        else:
            gevent.get_hub().loop.run_callback(getcurrent().throw, Interrupt("slot"))
            gevent.sleep(1)

    def serve() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            conns.append(conn)
            conn.readyRead.connect(lambda conn=conn: conn.write(conn.readAll()))
            if conn.bytesAvailable():
                conn.write(conn.readAll())

    server.newConnection.connect(failing)
    server.newConnection.connect(serve)
    client = connect_to("r1hook")
    try:
        assert echoes(client, b"hello", 1000) == b"hello", \
            "the newConnection slot after the failing one never took the connection"
        kind = {"Timeout": gevent.Timeout, "kill": GreenletExit, "Interrupt": Interrupt}
        assert hub_errors.count(kind[escape]) == 1, hub_errors.calls
    finally:
        client.abort()
        for conn in conns:
            conn.abort()
        server.close()


def test_rule1_system_exit_in_a_dispatched_slot_reaches_the_main_greenlet(
        net: Harness, hub_errors: HubErrors) -> None:
    """SystemExit in a dispatched slot goes to handle_error, which raises it in the main
    greenlet (as gevent does for a failed greenlet); delivery then goes on."""
    assert gevent.get_hub().parent is getcurrent(), "the test must run in the main greenlet"
    exiting = [True]

    def exit_once(conn: QLocalSocket) -> Callable[[], None]:
        def slot() -> None:
            if exiting:
                exiting.clear()
                raise SystemExit(3)
        return slot

    EchoServer(net, "r1exit", exit_once)
    a = net.track(connect_to("r1exit"))
    a.write(b"x")
    deadline = time.monotonic() + 2
    with pytest.raises(SystemExit) as caught:
        while time.monotonic() < deadline:
            gevent.sleep(0.01)
    assert caught.value.code == 3
    assert hub_errors.count(SystemExit) == 1, hub_errors.calls
    assert read_at_least(a, 1, 2000) == b"x", "the echo slot of the same emission did not run"
    b = net.track(connect_to("r1exit"))
    assert echoes(b, b"after") == b"after", "delivery stopped after a SystemExit in a slot"


def test_rule1_exception_in_a_slot_called_by_the_callers_greenlet_is_reported(
        net: Harness, hub_errors: HubErrors, caplog: pytest.LogCaptureFixture) -> None:
    """A slot emitted inside the caller's own waitForReadyRead / abort() raising ValueError:
    reported like a dispatched one, and the emitter carries on."""
    _, client, conn = net.connection("r1direct")

    def fail() -> None:
        raise ValueError("readyRead slot failed")

    client.readyRead.connect(fail)
    send_now(conn, b"data")
    assert client.waitForReadyRead(2000) is True
    assert client.readAll() == b"data"
    assert hub_errors.count(ValueError) == 1, hub_errors.calls

    def fail_state(state: Any) -> None:
        raise ValueError("stateChanged slot failed")

    conn.stateChanged.connect(fail_state)
    emitted: list[str] = []
    for name in ("readChannelFinished", "disconnected", "aboutToClose"):
        getattr(conn, name).connect(lambda name=name: emitted.append(name))
    conn.abort()
    assert emitted == ["readChannelFinished", "disconnected", "aboutToClose"]
    assert conn.state() == U
    assert not conn.isOpen()
    assert hub_errors.count(ValueError) == 2, hub_errors.calls
    assert len(qlsock_errors(caplog)) >= 2


def test_rule1_base_exception_in_a_slot_called_by_the_callers_greenlet_propagates(
        net: Harness, hub_errors: HubErrors) -> None:
    """In the caller's own greenlet, the caller's gevent.Timeout and a GreenletExit raised
    in a slot propagate to the caller as from any call; the socket stays usable."""
    _, client, conn = net.connection("r1prop")

    def slow() -> None:
        gevent.sleep(1)

    client.readyRead.connect(slow)
    send_now(conn, b"first")
    start = time.monotonic()
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.1):
        client.waitForReadyRead(2000)
    assert time.monotonic() - start < 0.5
    client.readyRead.disconnect(slow)
    assert client.readAll() == b"first"
    send_now(conn, b"second")
    assert client.waitForReadyRead(2000) is True
    assert client.readAll() == b"second"

    def exiting(state: Any) -> None:
        raise GreenletExit

    conn.stateChanged.connect(exiting)
    with pytest.raises(GreenletExit):
        conn.abort()
    assert hub_errors.count(gevent.Timeout) == 0
    assert hub_errors.count(GreenletExit) == 0


@pytest.mark.parametrize("wait", ["waitForDisconnected", "waitForReadyRead"])
def test_rule1_callers_timeout_firing_in_a_nested_slot_reaches_the_caller_in_a_hub_greenlet(
        net: Harness, hub_errors: HubErrors, wait: str) -> None:
    """A newConnection slot (run in a greenlet qlsock runs for the hub) arms its own
    gevent.Timeout around a wait on the new socket; the Timeout fires while a readyRead slot
    emitted inside that wait sleeps. The readyRead slot was called from the newConnection
    slot's own call, so the Timeout belongs to that caller and must reach its ``except``:
    swallowed and reported instead, it leaves the wait running with no deadline."""
    server = net.server("r1nested")
    outcome: dict[str, Any] = {}

    def on_new() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        net.track(conn)
        conn.readyRead.connect(lambda: gevent.sleep(0.5))
        start = time.monotonic()
        try:
            with gevent.Timeout(0.1):
                if wait == "waitForDisconnected":
                    conn.waitForDisconnected(-1)
                else:
                    while conn.waitForReadyRead(-1):
                        pass
            outcome["result"] = "the wait returned"
        except gevent.Timeout:
            outcome["result"] = "timed out"
        outcome["elapsed"] = time.monotonic() - start

    server.newConnection.connect(on_new)
    client = net.track(connect_to("r1nested"))
    send_now(client, b"x")
    arrived = qtry(lambda: "result" in outcome, 1500)
    client.abort()  # ends the wait if the Timeout was lost
    assert qtry(lambda: "result" in outcome, 2000)
    assert arrived, (f"the slot's own gevent.Timeout(0.1) never reached it: its {wait}(-1) "
                     f"went on until the peer closed ({outcome}); handle_error got "
                     f"{hub_errors.calls}")
    assert outcome["result"] == "timed out"
    assert outcome["elapsed"] < 1.0
    assert hub_errors.count(gevent.Timeout) == 0, hub_errors.calls


# == 2. blocking slots ====================================================================


def test_finding2_blocking_new_connection_slot_does_not_stop_accepting(net: Harness) -> None:
    """A newConnection slot blocked in waitForReadyRead on a silent client A: client B is
    accepted, newConnection comes again from another greenlet, B gets its echo."""
    server = net.server("f2")
    a_returned = Event()
    first = [True]
    greenlets: list[Any] = []

    def on_new() -> None:
        greenlets.append(getcurrent())
        conn = server.nextPendingConnection()
        if conn is None:
            return
        net.track(conn)
        if first:
            first.clear()
            conn.waitForReadyRead(3000)  # A never sends
            a_returned.set()
        else:
            conn.readyRead.connect(lambda: conn.write(conn.readAll()))

    server.newConnection.connect(on_new)
    a = net.track(connect_to("f2"))
    assert qtry(lambda: len(greenlets) == 1, 2000), "A was never accepted"
    start = time.monotonic()
    b = net.track(connect_to("f2"))
    got = echoes(b, b"hello from B", 1500)
    elapsed = time.monotonic() - start
    assert got == b"hello from B", \
        f"B got {got!r} within 1.5 s while A's newConnection slot was blocked"
    assert not a_returned.is_set()
    assert elapsed < 1.0
    assert len(greenlets) == 2
    assert greenlets[1] is not greenlets[0]
    a.abort()
    assert a_returned.wait(2)


def test_finding3_blocking_ready_read_slot_does_not_hold_back_other_writes(
        net: Harness) -> None:
    """A readyRead slot sleeping 1 s; another greenlet writes on the same socket at 0.1 s:
    the peer has it well before the slot returns."""
    _, client, conn = net.connection("f3")
    started, finished = Event(), Event()

    def slow() -> None:
        conn.readAll()
        started.set()
        gevent.sleep(1.0)
        finished.set()

    conn.readyRead.connect(slow)
    send_now(client, b"go")
    assert started.wait(2), "the readyRead slot never ran"
    start = time.monotonic()

    def notify() -> None:
        gevent.sleep(0.1)
        conn.write(b"notification")

    notifier = gevent.spawn(notify)
    got = read_at_least(client, 12, 2000)
    elapsed = time.monotonic() - start
    assert got == b"notification"
    assert elapsed < 0.5, f"the notification took {elapsed:.2f} s: held back by the slot"
    assert not finished.is_set()
    notifier.join(1)
    assert finished.wait(2)


def test_rule2_blocking_slot_does_not_hold_back_sockets_ready_in_the_same_wake_up(
        net: Harness) -> None:
    """Two sockets become readable in one hub wake-up; the first one's readyRead slot
    blocks for 1 s: the other is still served at once."""
    server = net.server("r2same")
    blocked: list[bytes] = []
    accepted: list[QLocalSocket] = []

    def on_new() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            accepted.append(net.track(conn))

            def echo(conn: QLocalSocket = conn) -> None:
                if not blocked:
                    blocked.append(conn.peek(5))
                    gevent.sleep(1.0)
                conn.write(conn.readAll())

            conn.readyRead.connect(echo)

    server.newConnection.connect(on_new)
    clients = [net.track(connect_to("r2same")) for _ in range(2)]
    assert qtry(lambda: len(accepted) == 2, 2000)
    # Both requests leave before this greenlet yields: one wake-up finds both.
    for number, client in enumerate(clients):
        send_now(client, b"ping%d" % number)
    start = time.monotonic()
    assert qtry(lambda: blocked, 1000), "no readyRead slot ran"
    other = 1 if blocked[0] == b"ping0" else 0
    got = read_at_least(clients[other], 5, 500)
    assert got == b"ping%d" % other, (
        f"the other socket's echo did not come within 0.5 s ({time.monotonic() - start:.2f}"
        " s): held back by the blocked slot of a socket ready in the same wake-up")


def test_rule2_ready_read_slot_blocking_buffer_fills_no_recursion_then_emitted_again(
        net: Harness) -> None:
    """While a readyRead slot sleeps the hub keeps reading (bytesAvailable grows), readyRead
    is not emitted recursively, and comes once more after the slot for what arrived."""
    _, client, conn = net.connection("r2read")
    started = Event()
    depth = [0, 0]
    reads: list[bytes] = []
    available_after_sleep: list[int] = []

    def slot() -> None:
        depth[0] += 1
        depth[1] = max(depth)
        try:
            reads.append(conn.readAll())
            if len(reads) == 1:
                started.set()
                gevent.sleep(0.4)
                available_after_sleep.append(conn.bytesAvailable())
        finally:
            depth[0] -= 1

    conn.readyRead.connect(slot)
    send_now(client, b"first")
    assert started.wait(2)
    send_now(client, b"second")
    gevent.sleep(0.05)
    send_now(client, b"third")
    assert qtry(lambda: len(reads) >= 2, 2000), "readyRead was not emitted again"
    gevent.sleep(0.1)
    assert depth[1] == 1, "readyRead was emitted recursively"
    assert reads == [b"first", b"secondthird"]
    assert available_after_sleep == [len(b"secondthird")], \
        "the hub did not read into the socket's buffer while the slot slept"


def test_rule2_reading_while_a_slot_blocks_stays_within_the_read_buffer_size(
        net: Harness) -> None:
    """While a readyRead slot sleeps, the hub reads up to readBufferSize() and no more;
    once the slot has read, the rest comes, announced again."""
    _, client, conn = net.connection("r2limit")
    conn.setReadBufferSize(1000)
    started = Event()
    got = bytearray()
    available: list[int] = []

    def slot() -> None:
        if not started.is_set():
            started.set()
            gevent.sleep(0.3)
            available.append(conn.bytesAvailable())
        got.extend(conn.readAll())

    conn.readyRead.connect(slot)
    send_now(client, b"a")
    assert started.wait(2)
    data = bytes(range(256)) * 40
    client.write(data)
    assert qtry(lambda: len(got) == 1 + len(data), 3000), len(got)
    assert bytes(got) == b"a" + data
    assert available, "the slot never got past its sleep"
    assert 1 < available[0] <= 1000, available


def test_rule2_bytes_reported_by_a_nested_wait_are_not_announced_again(net: Harness) -> None:
    """A readyRead slot that waits for more itself (the nested wait returns True): no second
    readyRead for those bytes once the slot returns."""
    _, client, conn = net.connection("r2nested")
    calls: list[bytes] = []
    waiting = Event()

    def slot() -> None:
        calls.append(conn.readAll())
        if len(calls) == 1:
            waiting.set()
            assert conn.waitForReadyRead(2000) is True
            calls.append(conn.readAll())

    conn.readyRead.connect(slot)
    send_now(client, b"first")
    assert waiting.wait(2)
    send_now(client, b"second")
    assert qtry(lambda: len(calls) >= 2, 2000)
    gevent.sleep(0.2)
    assert calls == [b"first", b"second"]


def test_rule2_bytes_written_is_not_emitted_recursively_and_writes_flow(
        net: Harness) -> None:
    """A bytesWritten slot sleeping: other greenlets' writes still leave at once,
    bytesWritten is not emitted recursively, and once the slot returns it is emitted
    again for what left meanwhile (every byte is announced once)."""
    _, client, conn = net.connection("r2written")
    started, finished = Event(), Event()
    depth = [0, 0]
    counts: list[int] = []

    def slot(count: int) -> None:
        counts.append(count)
        depth[0] += 1
        depth[1] = max(depth)
        try:
            if not started.is_set():
                started.set()
                gevent.sleep(0.5)
                finished.set()
        finally:
            depth[0] -= 1

    conn.bytesWritten.connect(slot)
    conn.write(b"a" * 1000)
    assert started.wait(2), "bytesWritten was never emitted for a background flush"

    def more() -> None:
        for _ in range(5):
            conn.write(b"b" * 1000)
            gevent.sleep(0.02)

    writer = gevent.spawn(more)
    got = read_at_least(client, 6000, 300)
    assert got == b"a" * 1000 + b"b" * 5000, \
        f"{len(got)} of 6000 bytes arrived while the bytesWritten slot slept"
    assert not finished.is_set()
    writer.join(1)
    assert finished.wait(2)
    assert qtry(lambda: sum(counts) >= 6000, 1000), counts
    gevent.sleep(0.05)
    assert depth[1] == 1, "bytesWritten was emitted recursively"
    assert sum(counts) == 6000, counts


def test_rule2_reply_written_before_the_slot_blocks_leaves_at_once(net: Harness) -> None:
    """A readyRead slot writes its reply, then blocks for 1 s: the reply does not wait for
    the slot to return."""
    _, client, conn = net.connection("r2reply")
    finished = Event()

    def slot() -> None:
        conn.write(conn.readAll().upper())
        gevent.sleep(1.0)
        finished.set()

    conn.readyRead.connect(slot)
    send_now(client, b"question")
    start = time.monotonic()
    got = read_at_least(client, 8, 2000)
    elapsed = time.monotonic() - start
    assert got == b"QUESTION"
    assert elapsed < 0.5, f"the reply took {elapsed:.2f} s: held back by the slot"
    assert not finished.is_set()


# == 3. busy between waits ================================================================


README_LOOP = """\
def handle(sock):                        # runs in its own greenlet; may block
    while sock.waitForReadyRead(30000):  # yields this greenlet only
        sock.write(sock.readAll().upper())
"""


def test_readme_still_prints_the_handler_loop() -> None:
    """The loop the next test runs is the one README.md shows."""
    readme = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
    with open(readme) as f:
        text = f.read()
    assert README_LOOP in text
    assert README_SERVE in text


README_SERVE = 'server = serve("shout", handle, spawn=100, idle_timeout=60)'


@pytest.mark.parametrize("idle_timeout", [60, None])
@pytest.mark.parametrize("busy", list(BUSY))
def test_finding4_readme_handler_loop_with_work_between_waits_answers_every_request(
        busy: str, idle_timeout: int | None) -> None:
    """README's ``while sock.waitForReadyRead(30000): sock.write(sock.readAll().upper())``,
    served as README serves it (``spawn=100, idle_timeout=60``) and without an idle
    timeout, with other work between iterations: every request is answered."""
    pause = BUSY[busy]

    def handle(sock: QLocalSocket) -> None:
        while sock.waitForReadyRead(30000):
            sock.write(sock.readAll().upper())
            pause(0.05)  # other work between the waits

    server = qlsock.serve("f4readme", handle, spawn=100, idle_timeout=idle_timeout)
    client = connect_to("f4readme")
    try:
        for i in range(8):
            request = b"request %d" % i
            reply = echoes(client, request, 1000)
            assert reply == request.upper(), \
                f"request {i}: got {reply!r} (sent while the handler was busy)"
    finally:
        client.disconnectFromServer()
        client.abort()
        server.stop(timeout=2)


@pytest.mark.parametrize("busy", list(BUSY))
def test_finding4_echo_server_example_style_with_work_between_waits(
        net: Harness, busy: str) -> None:
    """examples/echo_server.py's blocking style (waitForNewConnection loop, a greenlet per
    client looping on waitForReadyRead(-1)) with other work between waits."""
    pause = BUSY[busy]
    server = net.server("f4example")
    done = Event()

    def echo_blocking(conn: QLocalSocket) -> None:
        while conn.waitForReadyRead(-1):
            data = conn.readAll()
            conn.write(data)
            pause(0.05)
        conn.close()
        done.set()

    def serve_blocking() -> None:
        while server.isListening():
            pending, _ = server.waitForNewConnection(-1)
            conn = server.nextPendingConnection() if pending else None
            if conn is not None:
                net.track(conn)
                gevent.spawn(echo_blocking, conn)

    acceptor = gevent.spawn(serve_blocking)
    client = net.track(connect_to("f4example"))
    try:
        for i in range(8):
            request = b"message %d" % i
            reply = echoes(client, request, 1000)
            assert reply == request, f"message {i}: got {reply!r}"
    finally:
        client.abort()
        assert done.wait(2)
        server.close()
        acceptor.join(2)


@pytest.mark.parametrize("busy", list(BUSY))
@pytest.mark.parametrize("where", ["serve-handler", "serve-handler-idle-timeout",
                                   "nextPendingConnection", "connectToServer"])
def test_finding4_bytes_that_came_while_busy_satisfy_the_next_wait_at_once(
        net: Harness, busy: str, where: str) -> None:
    """Busy for 0.2 s (the client sends meanwhile), then waitForReadyRead(1000): True at
    once, and readAll() has the bytes."""
    pause = BUSY[busy]
    busy_now = Event()
    result: dict[str, Any] = {}

    def handle(sock: QLocalSocket) -> None:
        busy_now.set()
        pause(0.2)
        start = time.monotonic()
        result["ok"] = sock.waitForReadyRead(1000)
        result["elapsed"] = time.monotonic() - start
        result["data"] = sock.readAll()

    runner = None
    if where.startswith("serve-handler"):
        server: Any = qlsock.serve("f4busy", handle,
                                   idle_timeout=60 if where.endswith("timeout") else None)
    else:
        server = net.server("f4busy")
    if where == "connectToServer":
        # A plain QLocalSocket: a readyRead slot (as LocalSocket's invariant checks)
        # would have been told about the bytes.
        client = net.track(QLocalSocket())
        client.connectToServer("f4busy")
    else:
        client = net.track(connect_to("f4busy"))
    sender = client
    try:
        if where in ("nextPendingConnection", "connectToServer"):
            assert server.waitForNewConnection(2000) == (True, False)
            conn = net.track(server.nextPendingConnection())
            if where == "connectToServer":  # the client is the busy one
                conn, sender = client, conn
            runner = gevent.spawn(handle, conn)
        assert busy_now.wait(2)
        send_now(sender, b"sent while busy")
        assert qtry(lambda: "data" in result, 3000)
        assert result["ok"] is True, "waitForReadyRead missed the bytes that came while busy"
        assert result["elapsed"] < 0.1
        assert result["data"] == b"sent while busy"
    finally:
        client.abort()
        if runner is not None:
            runner.join(2)
        if where.startswith("serve-handler"):
            server.stop(timeout=2)


@pytest.mark.parametrize("busy", list(BUSY))
def test_rule3_last_request_and_close_while_busy_are_still_read(busy: str) -> None:
    """The client sends its last request and closes while the README loop's handler is
    busy: the next waitForReadyRead() still returns True for it (the connection has
    ended, the bytes are buffered and unreported), then False."""
    seen: list[Any] = []
    busy_now = Event()

    def handle(sock: QLocalSocket) -> None:
        busy_now.set()
        BUSY[busy](0.2)
        seen.append(sock.state())
        while sock.waitForReadyRead(1000):
            seen.append(sock.readAll())
        seen.append("end")

    server = qlsock.serve("r3last", handle)
    client = connect_to("r3last")
    try:
        assert busy_now.wait(2)
        client.write(b"last request")
        client.disconnectFromServer()
        assert qtry(lambda: seen[-1:] == ["end"], 3000), seen
        assert seen == [U, b"last request", "end"]
    finally:
        client.abort()
        server.stop(timeout=2)


def test_rule3_bytes_reported_by_ready_read_do_not_satisfy_the_next_wait(
        net: Harness) -> None:
    """Bytes announced by a dispatched readyRead are not new to a later waitForReadyRead."""
    _, client, conn = net.connection("r3reported")
    seen: list[bytes] = []
    conn.readyRead.connect(lambda: seen.append(conn.peek(100)))
    send_now(client, b"announced")
    assert qtry(lambda: seen, 2000)
    start = time.monotonic()
    assert conn.waitForReadyRead(200) is False
    assert time.monotonic() - start >= 0.15
    assert conn.readAll() == b"announced"


@pytest.mark.parametrize("busy", list(BUSY))
def test_rule3_peer_close_while_busy_satisfies_wait_for_disconnected(
        net: Harness, qt_warnings: Any, busy: str) -> None:
    """The peer closed while the greenlet was busy: waitForDisconnected() is True, without
    Qt's warning, although the state is already Unconnected."""
    _, client, conn = net.connection("r3closed")
    result: dict[str, Any] = {}
    busy_now = Event()

    def run() -> None:
        busy_now.set()
        BUSY[busy](0.2)
        result["state"] = conn.state()
        result["ok"] = conn.waitForDisconnected(1000)

    runner = gevent.spawn(run)
    assert busy_now.wait(2)
    client.disconnectFromServer()
    runner.join(3)
    assert result.get("state") == U
    assert result.get("ok") is True, "waitForDisconnected() missed the peer's close"
    assert qt_warnings.texts == []


@pytest.mark.parametrize("where", ["nextPendingConnection", "serve-handler-idle-timeout"])
@pytest.mark.parametrize("busy", list(BUSY))
def test_rule3_background_flush_while_busy_satisfies_wait_for_bytes_written(
        net: Harness, busy: str, where: str) -> None:
    """Bytes written, then busy while the hub sends them: waitForBytesWritten() is True
    at once."""
    result: dict[str, Any] = {}

    def run(conn: QLocalSocket) -> None:
        conn.write(b"x" * 1000)
        BUSY[busy](0.2)
        result["left"] = conn.bytesToWrite()
        start = time.monotonic()
        result["ok"] = conn.waitForBytesWritten(1000)
        result["elapsed"] = time.monotonic() - start

    if where == "nextPendingConnection":
        _, client, conn = net.connection("r3flushed")
        gevent.spawn(run, conn).join(3)
    else:
        stream = qlsock.serve("r3flushed", run, idle_timeout=60)
        client = net.track(connect_to("r3flushed"))
        assert qtry(lambda: "ok" in result, 3000)
    try:
        assert result.get("left") == 0, "the hub did not send the bytes in the background"
        assert result.get("ok") is True, "waitForBytesWritten() missed the background flush"
        assert result["elapsed"] < 0.1
        assert read_at_least(client, 1000, 2000) == b"x" * 1000
    finally:
        if where != "nextPendingConnection":
            client.abort()
            stream.stop(timeout=2)


# == 4. full duplex =======================================================================


def test_finding5_reader_writer_and_disconnect_waiter_on_one_socket(net: Harness) -> None:
    """waitForReadyRead(-1), waitForBytesWritten and waitForDisconnected(-1) in three
    greenlets on one socket at once: no ConcurrentWaitError, byte-exact both ways."""
    _, client, conn = net.connection("f5")
    rng = random.Random(5)
    outgoing = rng.randbytes(3 * 1024 * 1024 + 17)
    incoming = rng.randbytes(300 * 1024 + 5)
    errors: list[str] = []
    waits = {"writer": 0}

    def reader() -> bytes:
        got = bytearray()
        try:
            while conn.waitForReadyRead(-1):
                got += conn.readAll()
        except BaseException as exc:
            errors.append(f"reader: {exc!r}")
        got += conn.readAll()
        return bytes(got)

    def writer() -> None:
        try:
            conn.write(outgoing)
            while conn.bytesToWrite():
                waits["writer"] += 1
                if not conn.waitForBytesWritten(5000):
                    errors.append("writer: waitForBytesWritten() returned False")
                    return
        except BaseException as exc:
            errors.append(f"writer: {exc!r}")

    def disconnect_waiter() -> bool:
        try:
            return conn.waitForDisconnected(-1)
        except BaseException as exc:
            errors.append(f"disconnect waiter: {exc!r}")
            return False

    greenlets = [gevent.spawn(reader), gevent.spawn(disconnect_waiter)]
    gevent.sleep(0.01)
    greenlets.append(gevent.spawn(writer))
    gevent.sleep(0.05)
    try:
        client.setReadBufferSize(64 * 1024)
        received = bytearray()
        for start in range(0, len(incoming), 50 * 1024):
            client.write(incoming[start:start + 50 * 1024])
            client.flush()
            gevent.sleep(0.002)
        deadline = time.monotonic() + 5
        while len(received) < len(outgoing) and time.monotonic() < deadline and not errors:
            if client.bytesAvailable() or client.waitForReadyRead(1000):
                received += client.read(64 * 1024)
                gevent.sleep(0.001)  # a slow reader
        while client.bytesToWrite() and client.waitForBytesWritten(1000):
            pass
        assert errors == []
        assert len(received) == len(outgoing)
        assert bytes(received) == outgoing
        gevent.sleep(0.05)
        client.disconnectFromServer()
        gevent.joinall(greenlets, timeout=3)
        assert errors == []
        assert greenlets[0].value == incoming
        assert greenlets[1].value is True
        assert waits["writer"] > 1, "the writer never had to wait"
    finally:
        client.abort()
        gevent.killall(greenlets, timeout=1)


@pytest.mark.parametrize("wait", ["waitForReadyRead", "waitForBytesWritten",
                                  "waitForDisconnected"])
def test_rule4_two_greenlets_waiting_for_the_same_thing_is_an_error(
        net: Harness, wait: str) -> None:
    """A second greenlet waiting for what another already waits for on the same socket
    gets ConcurrentWaitError at once; the first wait is unaffected."""
    _, client, conn = net.connection("r4same")
    if wait == "waitForBytesWritten":
        client.setReadBufferSize(16 * 1024)  # the client stops reading: the kernel fills up
        conn.write(bytes(4 * 1024 * 1024))
        while conn.flush():
            pass
    first = gevent.spawn(getattr(conn, wait), 3000)
    gevent.sleep(0.05)
    assert not first.ready(), f"the first {wait} did not wait"
    start = time.monotonic()
    with pytest.raises(ConcurrentWaitError):
        getattr(conn, wait)(3000)
    assert time.monotonic() - start < 0.1
    if wait == "waitForReadyRead":
        send_now(client, b"x")
    elif wait == "waitForBytesWritten":
        client.setReadBufferSize(0)
        assert len(read_at_least(client, 64 * 1024, 2000)) >= 64 * 1024
    else:
        client.disconnectFromServer()
    assert first.get(timeout=2) is True


def test_rule4_two_greenlets_in_wait_for_new_connection_is_an_error(net: Harness) -> None:
    """One greenlet at a time may wait for connections on a server."""
    server = net.server("r4accept")
    first = gevent.spawn(server.waitForNewConnection, 3000)
    gevent.sleep(0.05)
    assert not first.ready()
    start = time.monotonic()
    with pytest.raises(ConcurrentWaitError):
        server.waitForNewConnection(3000)
    assert time.monotonic() - start < 0.1
    net.track(connect_to("r4accept"))
    assert first.get(timeout=2) == (True, False)
    net.track(server.nextPendingConnection())


def test_rule4_any_number_of_greenlets_may_wait_for_the_connection(net: Harness) -> None:
    """waitForConnected() may be called by several greenlets at once (a full backlog keeps
    the socket Connecting until the server accepts)."""
    server = net.server("r4connect", backlog=0, max_pending=0)
    plugs = [net.client() for _ in range(2)]
    for plug in plugs:
        plug.connectToServer("r4connect")
    client = net.client()
    client.connectToServer("r4connect")
    assert client.state() == QLocalSocket.ConnectingState
    waiters = [gevent.spawn(client.waitForConnected, 3000) for _ in range(3)]
    gevent.sleep(0.05)
    assert not any(w.ready() for w in waiters)
    server.setMaxPendingConnections(30)
    gevent.joinall(waiters, timeout=3)
    assert [w.value for w in waiters] == [True, True, True]
    assert client.state() == CONNECTED


def test_rule4_nested_wait_in_the_same_greenlet_is_allowed(net: Harness) -> None:
    """waitForReadyRead inside a readyRead slot emitted by the same greenlet's own
    waitForReadyRead works."""
    _, client, conn = net.connection("r4nested")
    nested: list[object] = []
    in_slot = Event()

    def slot() -> None:
        if nested:
            return
        nested.append(conn.readAll())
        in_slot.set()
        nested.append(conn.waitForReadyRead(2000))
        nested.append(conn.readAll())

    conn.readyRead.connect(slot)

    def second() -> None:
        in_slot.wait(2)
        send_now(client, b"second")

    sender = gevent.spawn(second)
    send_now(client, b"first")
    assert conn.waitForReadyRead(2000) is True
    sender.join(2)
    assert nested == [b"first", True, b"second"]


# == 5. handlers ended by gevent.Timeout ===================================================


THREE_MIB = bytes(random.Random(6).randbytes(3 * 1024 * 1024))


def _handler_that_ends(ending: str, ended: Event) -> Callable[[QLocalSocket], None]:
    def handle(sock: QLocalSocket) -> None:
        sock.write(THREE_MIB)
        try:
            if ending == "raise-Timeout":
                raise gevent.Timeout()
            if ending == "with-Timeout-escapes":
                with gevent.Timeout(0.01):
                    gevent.sleep(1)
            if ending == "ValueError":
                raise ValueError("handler failed")
        finally:
            ended.set()
    return handle


def _read_after_the_handler_ended(client: QLocalSocket, ended: Event) -> bytes:
    """All the client gets, read only once the handler has ended (until then it reads at
    most 64 KiB, so most of the 3 MiB is still queued in the handler's socket)."""
    client.setReadBufferSize(64 * 1024)
    assert ended.wait(2), "the handler never ended"
    gevent.sleep(0.1)  # the server deals with the handler's end
    client.setReadBufferSize(0)
    return read_to_end(client, 4000)


@pytest.mark.parametrize("ending", ["raise-Timeout", "with-Timeout-escapes"])
def test_finding6_handler_ended_by_timeout_still_closes_gracefully(
        hub_errors: HubErrors, caplog: pytest.LogCaptureFixture, ending: str) -> None:
    """A handler writes 3 MiB and is ended by gevent.Timeout: the client receives all of it,
    then the end of the stream; the failure is reported."""
    ended = Event()
    server = qlsock.serve("f6", _handler_that_ends(ending, ended))
    client = connect_to("f6")
    try:
        got = _read_after_the_handler_ended(client, ended)
        assert len(got) == len(THREE_MIB), \
            f"the client got {len(got)} of {len(THREE_MIB)} bytes"
        assert got == THREE_MIB
        assert client.state() == U, "no end of stream"
        assert qtry(lambda: hub_errors.count(gevent.Timeout) == 1, 2000), hub_errors.calls
        assert qlsock_errors(caplog), "nothing was logged at ERROR to the qlsock logger"
    finally:
        client.abort()
        server.stop(timeout=2)


def test_rule5_handler_raising_value_error_closes_gracefully(
        hub_errors: HubErrors, caplog: pytest.LogCaptureFixture) -> None:
    """The reference case: a handler that raises ValueError after writing 3 MiB."""
    ended = Event()
    server = qlsock.serve("r5", _handler_that_ends("ValueError", ended))
    client = connect_to("r5")
    try:
        got = _read_after_the_handler_ended(client, ended)
        assert got == THREE_MIB
        assert client.state() == U
        assert qtry(lambda: hub_errors.count(ValueError) == 1, 2000), hub_errors.calls
        assert qlsock_errors(caplog)
    finally:
        client.abort()
        server.stop(timeout=2)


def test_rule5_only_stop_killing_a_handler_aborts(hub_errors: HubErrors) -> None:
    """The exception to the graceful close: stop() gives up on a handler (timeout, then
    drain_timeout) and kills it; then the connection is aborted and the queued bytes are
    dropped. Nothing is reported for that kill."""
    ended = Event()

    def handle(sock: QLocalSocket) -> None:
        sock.write(THREE_MIB)
        try:
            gevent.sleep(10)
        finally:
            ended.set()

    server = qlsock.serve("r5stop", handle)
    server.drain_timeout = 0.1
    client = connect_to("r5stop")
    try:
        client.setReadBufferSize(16 * 1024)  # the client reads nothing meanwhile
        gevent.sleep(0.05)
        server.stop(timeout=0.1)
        assert ended.is_set(), "stop() did not kill the handler"
        client.setReadBufferSize(0)
        got = read_to_end(client, 2000)
        assert client.state() == U
        assert len(got) < len(THREE_MIB)
        assert got == THREE_MIB[:len(got)]
        assert hub_errors.count(GreenletExit) == 0, hub_errors.calls
    finally:
        client.abort()
        server.stop(timeout=1)


# == 6. errors are visible by default =====================================================


@pytest.fixture
def hub_stream() -> Iterator[Any]:
    """The hub's exception stream, redirected to a StringIO (handle_error is untouched)."""
    import io

    hub = gevent.get_hub()
    stream = io.StringIO()
    hub.exception_stream = stream
    try:
        yield stream
    finally:
        hub.__dict__.pop("exception_stream", None)


def test_finding7_exception_in_a_slot_is_printed_by_default(
        net: Harness, hub_stream: Any) -> None:
    """A ValueError in a dispatched slot is printed with its traceback to the hub's
    exception stream (stderr by default), with no logging configured."""
    def failing(conn: QLocalSocket) -> Callable[[], None]:
        def slot() -> None:
            raise ValueError("boom in a readyRead slot")
        return slot

    EchoServer(net, "f7slot", failing)
    a = net.track(connect_to("f7slot"))
    assert echoes(a, b"ping") == b"ping"
    text = hub_stream.getvalue()
    assert "ValueError: boom in a readyRead slot" in text, \
        f"nothing about the slot's exception was printed: {text!r}"
    assert "Traceback" in text


def test_finding7_exception_in_a_handler_is_printed_by_default(hub_stream: Any) -> None:
    """A ValueError in a serve() handler is printed with its traceback likewise."""
    def handle(sock: QLocalSocket) -> None:
        raise ValueError("boom in a handler")

    server = qlsock.serve("f7handler", handle)
    client = connect_to("f7handler")
    try:
        assert read_to_end(client, 2000) == b""
        assert qtry(lambda: "boom in a handler" in hub_stream.getvalue(), 2000), \
            f"nothing about the handler's exception was printed: {hub_stream.getvalue()!r}"
        assert "Traceback" in hub_stream.getvalue()
    finally:
        client.abort()
        server.stop(timeout=2)


# == 7. lifetimes =========================================================================


@pytest.mark.parametrize("kind", ["listening", "slot-cycle", "queued-connection"])
def test_finding8_dropped_server_is_closed(tmpdir_env: str, kind: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """``def f(): QLocalServer().listen("x")``: once f() returned and garbage is collected,
    the socket file is gone and a client finds no server (and a connection it had queued
    but nobody took is closed, as close() does). A warning says so, and what to do: a
    server held only by its own slots (slot-cycle) goes at some cyclic collection."""
    caplog.set_level(logging.WARNING, logger="qlsock")
    queued = QLocalSocket()

    def f() -> None:
        server = QLocalServer()
        assert server.listen("x")
        if kind == "slot-cycle":
            server.newConnection.connect(lambda: server.nextPendingConnection())
        if kind == "queued-connection":
            queued.connectToServer("x")
            assert server.waitForNewConnection(1000) == (True, False)

    f()
    path = os.path.join(tmpdir_env, "x")
    deadline = time.monotonic() + 1
    while os.path.exists(path) and time.monotonic() < deadline:
        collect()
    assert not os.path.exists(path), "the dropped server's socket file is still there"
    assert [r.getMessage() for r in caplog.records if r.name == "qlsock"
            and r.levelno == logging.WARNING] == [
        f"QLocalServer at {path} was garbage-collected while listening: it is closed now "
        "and its socket file removed. Keep a reference to it (in a variable, an "
        "attribute, or by giving it a parent) for as long as it should serve, and "
        "close() it when done"]
    client = QLocalSocket()
    client.connectToServer("x")
    try:
        assert client.state() == U
        assert client.error() == QLocalSocket.ServerNotFoundError
        if kind == "queued-connection":
            assert queued.state() == U or queued.waitForDisconnected(1000), \
                "the connection the dropped server had queued was not closed"
    finally:
        client.abort()
        queued.abort()


@pytest.mark.parametrize("abstract", [False, True])
def test_finding8_a_closed_server_dropped_says_nothing(
        tmpdir_env: str, abstract: bool, caplog: pytest.LogCaptureFixture) -> None:
    """The warning is for a server that goes while listening: one that was close()d
    first, or never listened, is collected quietly. (An abstract name is called one.)"""
    caplog.set_level(logging.WARNING, logger="qlsock")
    name = f"qlsock-test-{os.getpid()}-{os.path.basename(tmpdir_env)}" if abstract else "c"

    def f(close: bool) -> None:
        server = QLocalServer()
        if abstract:
            server.setSocketOptions(QLocalServer.AbstractNamespaceOption)
        assert server.listen(name)
        server.newConnection.connect(lambda: server.nextPendingConnection())
        if close:
            server.close()
        QLocalServer().newConnection.connect(lambda: None)

    f(close=True)
    collect()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    f(close=False)
    collect()
    where = f"on the abstract name {name!r}" if abstract else f"at {tmpdir_env}/c"
    assert [r.getMessage().partition(" was ")[0] for r in caplog.records] == [
        f"QLocalServer {where}"]


@pytest.mark.parametrize("cycle", [False, True])
@pytest.mark.parametrize("size", [100, 2 * 1024 * 1024])
def test_rule7_dropped_socket_sends_what_it_had_written_then_closes(
        net: Harness, size: int, cycle: bool) -> None:
    """An unreferenced, unparented, connected QLocalSocket is closed; what it had written
    still reaches the peer, then the end of the stream."""
    server = net.server("r7drop")
    payload = random.Random(size).randbytes(size)

    def f() -> None:
        sock = QLocalSocket()
        sock.connectToServer("r7drop")
        assert sock.state() == CONNECTED
        if cycle:
            sock.readyRead.connect(lambda: sock.readAll())  # as slots often do
        assert sock.write(payload) == size

    f()
    collect()
    assert server.waitForNewConnection(2000) == (True, False)
    conn = net.track(server.nextPendingConnection())
    got = read_to_end(conn, 3000)
    assert len(got) == size
    assert got == payload
    assert conn.state() == U, "the dropped socket was never closed"


def test_rule7_accepted_sockets_live_as_long_as_their_server(net: Harness) -> None:
    """Sockets from nextPendingConnection() stay alive while connected, with their server,
    even when only a slot's closure (or nothing at all) refers to them."""
    server = LocalServer()
    assert server.listen("r7kids")
    net.servers.append(server)
    taken = [0]
    discard = [False]

    def on_new() -> None:
        conn = server.nextPendingConnection()
        if conn is None:
            return
        taken[0] += 1
        if not discard[0]:
            conn.readyRead.connect(lambda: conn.write(conn.readAll()))

    server.newConnection.connect(on_new)
    echoing = net.track(connect_to("r7kids"))
    assert qtry(lambda: taken[0] == 1, 2000)
    discard[0] = True
    silent = net.track(connect_to("r7kids"))
    assert qtry(lambda: taken[0] == 2, 2000)
    collect()
    gevent.sleep(0.05)
    collect()
    assert echoes(echoing, b"still here") == b"still here"
    assert silent.waitForReadyRead(100) is False
    assert silent.state() == CONNECTED, "an accepted socket nobody referred to was closed"
