"""Load: 5,000 clients held at once, 10,000 cycles without a leak, two OS threads at once.

* One signal-style server in this process, 5,000 clients in a child process (a separate
  process, so the server's memory per connection is measured alone): all connected at the
  same time, then each exchanges a few KiB of its own pattern; the server checks every
  byte it receives and the clients check every byte echoed.
* 10,000 sequential connect / exchange / disconnect cycles in each style pairing (signal
  server with blocking clients, blocking server with signal clients); afterwards the
  descriptors, greenlets, qlsock objects, gc-tracked objects and traced memory must be
  back at their warmed-up baseline, within tolerances that one leaked descriptor,
  greenlet, socket object or 100 bytes per cycle would exceed many times over.
* Two real OS threads, each with its own hub, server and a few hundred clients, exchanging
  verified data at the same time.

This file is also the child's program: ``python tests/test_load.py clients NAME COUNT``.
"""

from __future__ import annotations

import gc
import json
import os
import random
import resource
import struct
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
from gevent.event import Event
from gevent.monkey import get_original
from greenlet import greenlet

from benchmarks.common import rss_kib
from qlsock import LocalSocketState, QLocalServer, QLocalSocket
from qlsock.hub.readiness import Watched
from tests.peers.process import spawner
from tests.support import qtry

#: Longest single wait, in ms.
WAIT_MS = 30000

_CONNECTED = LocalSocketState.ConnectedState
_UNCONNECTED = LocalSocketState.UnconnectedState

# -- payloads -------------------------------------------------------------------------
#
# Every conversation sends one message: an 8-byte header (index, body size), then
# ``size`` bytes of a random block starting at an offset chosen by the index. The
# server checks each received byte against the block (without copying) and echoes it;
# the client compares the echo with what it sent. A misrouted, reordered, dropped or
# repeated chunk fails one of the two checks.

_HEADER = struct.Struct("!II")
_BLOCK = random.Random(0x10AD).randbytes(1 << 16)


def _offset(index: int, size: int) -> int:
    return (index * 7919) % (len(_BLOCK) - size)


def message(index: int, size: int) -> bytes:
    off = _offset(index, size)
    return _HEADER.pack(index, size) + _BLOCK[off:off + size]


class Verifier:
    """The server's check of one connection's incoming stream."""

    __slots__ = ("failure", "head", "index", "off", "pos", "size")

    def __init__(self) -> None:
        self.head = b""
        self.index = -1
        self.size = -1
        self.off = 0
        self.pos = 0
        self.failure = ""

    def feed(self, data: bytes) -> int:
        """Check *data*; the number of body bytes verified (0 after a failure)."""
        if self.failure:
            return 0
        if self.size < 0:
            self.head += data
            if len(self.head) < _HEADER.size:
                return 0
            self.index, self.size = _HEADER.unpack_from(self.head)
            if not 0 < self.size < len(_BLOCK):
                self.failure = f"header {self.head[:_HEADER.size]!r}: bad size"
                return 0
            self.off = _offset(self.index, self.size)
            data = self.head[_HEADER.size:]
            self.head = b""
        n = len(data)
        if self.pos + n > self.size:
            self.failure = (f"connection {self.index}: {self.pos + n} body bytes, "
                            f"more than the {self.size} announced")
            return 0
        if not _BLOCK.startswith(data, self.off + self.pos):
            self.failure = f"connection {self.index}: wrong bytes at body offset {self.pos}"
            return 0
        self.pos += n
        return n

    @property
    def done(self) -> bool:
        return self.size >= 0 and self.pos == self.size


# -- servers ----------------------------------------------------------------------------


class EchoServer:
    """An echo server that checks every byte it receives and keeps count.

    ``style="signal"``: ``newConnection``, ``readyRead`` and ``disconnected`` slots, as a
    Qt program is written. ``style="blocking"``: an accepting greenlet in
    ``waitForNewConnection()`` and one greenlet per connection in ``waitForReadyRead()``,
    as in Qt's threaded examples. Neither keeps a reference to a connection once it has
    ended, so anything left behind is the library's.
    """

    def __init__(self, name: str, style: str, backlog: int | None = None,
                 track_indices: bool = True) -> None:
        self.server = QLocalServer()
        if backlog is not None:
            self.server.setListenBacklogSize(backlog)
        QLocalServer.removeServer(name)
        assert self.server.listen(name), self.server.errorString()
        self.accepted = 0
        self.closed = 0
        self.completed = 0
        self.verified = 0
        self.live: set[QLocalSocket] = set()
        self.indices: set[int] | None = set() if track_indices else None
        self.failures: list[str] = []
        self._acceptor: gevent.Greenlet[..., Any] | None = None
        if style == "signal":
            self.server.newConnection.connect(self._on_new_connection)
        else:
            self._acceptor = gevent.spawn(self._accept_loop)

    def _take(self, conn: QLocalSocket) -> Verifier:
        self.accepted += 1
        self.live.add(conn)
        return Verifier()

    def _consume(self, verifier: Verifier, data: bytes) -> None:
        new_header = verifier.size < 0
        self.verified += verifier.feed(data)
        if new_header and verifier.size >= 0 and self.indices is not None:
            if verifier.index in self.indices:
                self.failures.append(f"index {verifier.index} seen twice")
            self.indices.add(verifier.index)
        if verifier.failure:
            self.failures.append(verifier.failure)
        elif verifier.done:
            self.completed += 1

    def _ended(self, conn: QLocalSocket, verifier: Verifier) -> None:
        if conn.state() != _UNCONNECTED:
            self.failures.append(f"connection {verifier.index} ended in state {conn.state()!r}")
        if not verifier.done and not verifier.failure:
            self.failures.append(f"connection {verifier.index} ended after "
                                 f"{verifier.pos} of {verifier.size} body bytes")
        self.live.discard(conn)
        self.closed += 1
        conn.close()

    # signal style

    def _on_new_connection(self) -> None:
        while (conn := self.server.nextPendingConnection()) is not None:
            self._serve_with_slots(conn)

    def _serve_with_slots(self, conn: QLocalSocket) -> None:
        verifier = self._take(conn)

        def on_ready_read() -> None:
            data = conn.readAll()
            self._consume(verifier, data)
            conn.write(data)

        conn.readyRead.connect(on_ready_read)
        conn.disconnected.connect(lambda: self._ended(conn, verifier))

    # blocking style

    def _accept_loop(self) -> None:
        while True:
            ok, _ = self.server.waitForNewConnection(-1)
            if not ok:
                return  # close()d
            while (conn := self.server.nextPendingConnection()) is not None:
                gevent.spawn(self._serve_blocking, conn)

    def _serve_blocking(self, conn: QLocalSocket) -> None:
        verifier = self._take(conn)
        while conn.waitForReadyRead(WAIT_MS):
            data = conn.readAll()
            self._consume(verifier, data)
            conn.write(data)
        if conn.state() == _CONNECTED:
            self.failures.append(f"connection {verifier.index}: no data for {WAIT_MS} ms")
            conn.abort()
        self._ended(conn, verifier)

    def close(self) -> None:
        """Stop listening; connections still open (only after a failure) are aborted."""
        for conn in list(self.live):
            conn.abort()
        self.server.close()
        if self._acceptor is not None:
            self._acceptor.join(WAIT_MS / 1000)
            assert self._acceptor.dead


# -- clients ----------------------------------------------------------------------------


def blocking_exchange(sock: QLocalSocket, index: int, size: int) -> int:
    """Send message *index* on *sock* and check its echo, in ``waitForReadyRead()``."""
    want = message(index, size)
    assert sock.write(want) == len(want)
    got = b""
    while len(got) < len(want):
        assert sock.waitForReadyRead(WAIT_MS), f"{index}: {sock.errorString()}"
        got += sock.readAll()
    assert got == want, f"connection {index}: the echo differs from the message"
    return len(want)


class SignalClient:
    """A client in signal style: writes its message on ``connected``, checks the echo in
    ``readyRead``, then (with ``then_disconnect``) disconnects; ``done`` is set at the end."""

    __slots__ = ("done", "failure", "got", "index", "sock", "then_disconnect", "want")

    def __init__(self, index: int, size: int, done: Event, then_disconnect: bool) -> None:
        self.sock = QLocalSocket()
        self.index = index
        self.want = message(index, size)
        self.got = bytearray()
        self.done = done
        self.then_disconnect = then_disconnect
        self.failure = ""
        self.sock.connected.connect(self._on_connected)
        self.sock.readyRead.connect(self._on_ready_read)
        self.sock.errorOccurred.connect(self._on_error)
        self.sock.disconnected.connect(self._on_disconnected)

    def start(self, name: str) -> None:
        self.sock.connectToServer(name)

    def send(self) -> None:
        self.sock.write(self.want)

    def _on_connected(self) -> None:
        if self.then_disconnect:
            self.send()

    def _on_ready_read(self) -> None:
        self.got += self.sock.readAll()
        if len(self.got) < len(self.want):
            return
        if self.got != self.want:
            self.failure = f"connection {self.index}: the echo differs from the message"
        if self.then_disconnect:
            self.sock.disconnectFromServer()
        else:
            self.done.set()

    def _on_error(self, error: Any) -> None:
        self.failure = self.failure or f"connection {self.index}: {self.sock.errorString()}"
        self.done.set()

    def _on_disconnected(self) -> None:
        if len(self.got) != len(self.want):
            self.failure = self.failure or f"connection {self.index}: disconnected early"
        self.done.set()

    @property
    def complete(self) -> bool:
        return len(self.got) == len(self.want) and not self.failure


# -- process measurements ----------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def open_sockets() -> int:
    """Descriptors of this process that are sockets (not pipes, files or epoll)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # the directory's own descriptor, closed by now
            pass
    return count


_QLSOCK_TYPES = (QLocalSocket, QLocalServer, Watched)


def census() -> dict[str, int]:
    """What a leak would make grow, after a full collection."""
    gc.collect()
    gc.collect()
    objects = gc.get_objects()
    counts = {
        "descriptors": open_fds(),
        "greenlets": sum(1 for o in objects if issubclass(type(o), greenlet)),
        "qlsock objects": sum(1 for o in objects if issubclass(type(o), _QLSOCK_TYPES)),
        "gc objects": len(objects),
        "traced bytes": tracemalloc.get_traced_memory()[0],
    }
    del objects
    return counts


@pytest.fixture
def echo_server() -> Iterator[Callable[..., EchoServer]]:
    """Makes :class:`EchoServer` objects in this thread; closes them at teardown."""
    made: list[EchoServer] = []

    def make(*args: Any, **kwargs: Any) -> EchoServer:
        server = EchoServer(*args, **kwargs)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def nofile() -> Iterator[int]:
    """The soft RLIMIT_NOFILE raised to the hard limit for the test, then restored."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    raised = hard if hard != resource.RLIM_INFINITY else 1 << 16
    resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    yield raised
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# -- 5,000 clients at once ---------------------------------------------------------------

HELD = 5000
#: Bound on the server's RSS growth per held connection. The signal-style server costs
#: about 4 KiB per connection (a QLocalSocket, its transport and watchers, its slots;
#: ``make bench``'s idle figure); 24 KiB leaves room for allocator noise while one
#: leaked 64 KiB read buffer, a greenlet stack or a kept copy of the traffic per
#: connection would exceed it.
KIB_PER_CONN = 24


def _size(index: int) -> int:
    return 1024 + (index * 37) % 7169  # 1 KiB .. 8 KiB


def test_five_thousand_clients_at_once(nofile: int,
                                       echo_server: Callable[..., EchoServer]) -> None:
    """5,000 clients connected at the same time, each exchanging a few KiB, every byte
    checked by both ends; the server's memory per connection stays bounded, and its
    descriptors and sockets are all released afterwards."""
    assert nofile >= HELD + 200, f"RLIMIT_NOFILE hard limit {nofile} is too low"
    server = echo_server("load", "signal", backlog=4096)
    # Warm up the server's code paths before taking the baseline.
    for i in range(20):
        warm = QLocalSocket()
        warm.connectToServer("load")
        blocking_exchange(warm, HELD + i, 100)
        warm.disconnectFromServer()
    assert qtry(lambda: server.closed == 20, WAIT_MS)
    server.indices = set()
    server.verified = 0
    rss_before = rss_kib()  # collects first: nothing older is freed during the test
    fds_before = open_fds()
    sockets_before = open_sockets()
    started = time.monotonic()

    with spawner() as spawn:
        peer = spawn(__file__, "clients", "load", HELD)
        line = peer.readline(timeout=90)
        assert line.startswith("CONNECTED "), peer.transcript()
        counts = json.loads(line.split(" ", 1)[1])
        # Every client is connected and none has sent a byte: the server holds them all.
        assert qtry(lambda: server.accepted == 20 + HELD, 60000), (
            f"accepted {server.accepted - 20} of {HELD}{peer.transcript()}")
        assert len(server.live) == HELD
        assert open_sockets() - sockets_before == HELD
        connected_s = time.monotonic() - started
        rss_held = rss_kib()
        per_conn_held = (rss_held - rss_before) / HELD

        peer.send("GO")
        line = peer.readline(timeout=90)
        assert line.startswith("EXCHANGED "), peer.transcript()
        client_bytes = json.loads(line.split(" ", 1)[1])["bytes"]
        total_body = sum(_size(i) for i in range(HELD))
        assert client_bytes == total_body + HELD * _HEADER.size
        assert qtry(lambda: server.completed == 20 + HELD, 30000)
        # Still all connected after the exchange: nobody dropped out.
        assert len(server.live) == HELD
        rss_exchanged = rss_kib()
        per_conn_exchanged = (rss_exchanged - rss_before) / HELD
        exchanged_s = time.monotonic() - started

        peer.send("BYE")
        assert qtry(lambda: server.closed == 20 + HELD, 30000), peer.transcript()
        result = peer.result()
    assert result == {"disconnected": HELD}
    assert server.failures == []
    assert server.verified == total_body
    assert server.indices == set(range(HELD))
    assert server.live == set()
    server.close()
    gc.collect()
    assert open_fds() == fds_before - 1  # the listener is closed too
    print(f"\n{HELD} clients: connected in {connected_s:.1f} s, exchanged by "
          f"{exchanged_s:.1f} s; {2 * client_bytes / 1e6:.1f} MB moved; server RSS "
          f"+{(rss_held - rss_before) / 1024:.1f} MiB held ({per_conn_held:.2f} KiB/conn), "
          f"+{(rss_exchanged - rss_before) / 1024:.1f} MiB after the exchange "
          f"({per_conn_exchanged:.2f} KiB/conn); {counts['late']} connects met a full "
          "backlog")
    assert per_conn_held < KIB_PER_CONN
    assert per_conn_exchanged < KIB_PER_CONN


def _clients_main(name: str, count: int) -> None:
    """The child: *count* blocking-style clients, held at once; driven by stdin lines."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    for _ in range(count):
        sock = QLocalSocket()
        sock.connectToServer(name)
        if sock.state() == _UNCONNECTED:
            raise SystemExit(f"connect: {sock.errorString()}")
        socks.append(sock)
    # Connects that met a full backlog are retried by the socket until accepted.
    late = sum(1 for s in socks if s.state() != _CONNECTED)
    for sock in socks:
        if not sock.waitForConnected(WAIT_MS):
            raise SystemExit(f"connect: still {sock.state()!r}: {sock.errorString()}")
    print("CONNECTED " + json.dumps({"late": late}), flush=True)
    if sys.stdin.readline().strip() != "GO":
        raise SystemExit("no GO")
    jobs = [gevent.spawn(blocking_exchange, s, i, _size(i)) for i, s in enumerate(socks)]
    gevent.joinall(jobs, timeout=WAIT_MS / 1000)
    for job in jobs:
        if not job.successful():
            raise SystemExit(f"exchange failed: {job.exception!r}")
    print("EXCHANGED " + json.dumps({"bytes": sum(j.value for j in jobs)}), flush=True)
    if sys.stdin.readline().strip() != "BYE":
        raise SystemExit("no BYE")
    for sock in socks:
        sock.disconnectFromServer()
    if any(s.state() != _UNCONNECTED for s in socks):
        raise SystemExit("a client did not disconnect at once")
    print("RESULT " + json.dumps({"disconnected": count}), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip tearing down 5,000 sockets one by one


# -- 10,000 cycles, back at the baseline -------------------------------------------------

CYCLES = 10000
WARM_CYCLES = 300
#: What may drift over 10,000 cycles without a leak. A leak of one per cycle would be
#: 10,000 descriptors / greenlets / qlsock objects, at least 10,000 gc-tracked objects
#: and, at 100 bytes per cycle, about 1 MB of traced memory.
TOLERANCE = {"descriptors": 2, "greenlets": 3, "qlsock objects": 3, "gc objects": 2000,
             "traced bytes": 200 * 1024}


def _cycle_size(i: int) -> int:
    return 100 + i % 200


def _run_cycles(name: str, client_style: str, first: int, count: int) -> None:
    if client_style == "blocking":
        for i in range(first, first + count):
            sock = QLocalSocket()
            sock.connectToServer(name)
            assert sock.state() == _CONNECTED, sock.errorString()
            blocking_exchange(sock, i, _cycle_size(i))
            sock.disconnectFromServer()
            assert sock.state() == _UNCONNECTED
    else:
        done = Event()
        for i in range(first, first + count):
            done.clear()
            client = SignalClient(i, _cycle_size(i), done, then_disconnect=True)
            client.start(name)
            assert done.wait(WAIT_MS / 1000), f"cycle {i} hung"
            assert client.complete, client.failure
            assert client.sock.state() == _UNCONNECTED


@pytest.mark.parametrize(("server_style", "client_style"),
                         [("signal", "blocking"), ("blocking", "signal")])
def test_ten_thousand_cycles_leave_nothing_behind(
        server_style: str, client_style: str, nofile: int,
        echo_server: Callable[..., EchoServer]) -> None:
    """10,000 connect / exchange / disconnect cycles, one after another: afterwards the
    descriptors, greenlets, qlsock objects and memory are back at the baseline."""
    server = echo_server("cycles", server_style, track_indices=False)
    _run_cycles("cycles", client_style, 0, WARM_CYCLES)
    assert qtry(lambda: server.closed == WARM_CYCLES, WAIT_MS)
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start(1)
    try:
        before = census()
        started = time.monotonic()
        _run_cycles("cycles", client_style, WARM_CYCLES, CYCLES)
        assert qtry(lambda: server.closed == WARM_CYCLES + CYCLES, WAIT_MS)
        elapsed = time.monotonic() - started
        after = census()
    finally:
        if not tracing:
            tracemalloc.stop()
    assert server.failures == []
    assert server.completed == WARM_CYCLES + CYCLES
    assert server.verified == sum(_cycle_size(i) for i in range(WARM_CYCLES + CYCLES))
    assert server.live == set()
    growth = {key: after[key] - before[key] for key in before}
    print(f"\n{CYCLES} cycles ({server_style} server, {client_style} clients) in "
          f"{elapsed:.1f} s; growth {growth}")
    over = {key: value for key, value in growth.items() if value > TOLERANCE[key]}
    assert over == {}, f"grew over {CYCLES} cycles: {growth} (before {before})"
    server.close()


# -- two OS threads at once ---------------------------------------------------------------

_real_lock = get_original("_thread", "allocate_lock")
_start_new_thread = get_original("_thread", "start_new_thread")
THREAD_CLIENTS = 300
THREAD_SIZE = 48 * 1024
JOIN_S = 40
#: The main thread waits this long for both (under pytest-timeout's 120 s).
THREADS_DONE_S = 100


class _Rendezvous:
    """Two real OS threads meet here (real locks: the patched ones are greenlet locks)."""

    def __init__(self) -> None:
        self._arrived = [_real_lock(), _real_lock()]
        for lock in self._arrived:
            lock.acquire()

    def meet(self, me: int) -> None:
        self._arrived[me].release()
        other = self._arrived[1 - me]
        if not other.acquire(timeout=JOIN_S):
            raise AssertionError("the other thread did not arrive")
        other.release()


def _thread_load(index: int, rendezvous: list[_Rendezvous]) -> dict[str, Any]:
    """One thread's work: its own hub, server and clients; both threads at once."""
    server_style, client_style = [("signal", "blocking"), ("blocking", "signal")][index]
    name = f"load-thread-{index}"
    first = index * 1_000_000  # message indices never overlap between the threads
    server = EchoServer(name, server_style, backlog=1024)
    done = Event()
    socks: list[QLocalSocket] = []
    clients: list[SignalClient] = []
    for i in range(THREAD_CLIENTS):
        if client_style == "signal":
            client = SignalClient(first + i, THREAD_SIZE, done, then_disconnect=False)
            clients.append(client)
            sock = client.sock
        else:
            sock = QLocalSocket()
        sock.connectToServer(name)
        socks.append(sock)
    assert all(s.waitForConnected(WAIT_MS) for s in socks)
    assert qtry(lambda: server.accepted == THREAD_CLIENTS, WAIT_MS)
    rendezvous[0].meet(index)  # both threads hold all their clients: exchange at once
    started = time.monotonic()
    if client_style == "signal":
        for client in clients:
            client.send()
        deadline = time.monotonic() + WAIT_MS / 1000
        while not all(c.complete or c.failure for c in clients):
            done.clear()
            assert done.wait(max(deadline - time.monotonic(), 0)), "the exchange hung"
        assert [c.failure for c in clients if c.failure] == []
    else:
        jobs = [gevent.spawn(blocking_exchange, s, first + i, THREAD_SIZE)
                for i, s in enumerate(socks)]
        gevent.joinall(jobs, timeout=WAIT_MS / 1000, raise_error=True)
        assert all(j.successful() for j in jobs)
    elapsed = time.monotonic() - started
    assert qtry(lambda: server.completed == THREAD_CLIENTS, WAIT_MS)
    rendezvous[1].meet(index)  # neither disconnects while the other still exchanges
    for sock in socks:
        sock.disconnectFromServer()
    assert qtry(lambda: server.closed == THREAD_CLIENTS, WAIT_MS)
    server.close()
    assert server.failures == []
    assert server.indices == set(range(first, first + THREAD_CLIENTS))
    return {"verified": server.verified, "seconds": elapsed,
            "thread": get_original("_thread", "get_ident")()}


def test_two_os_threads_each_with_a_loaded_server(nofile: int) -> None:
    """Two real OS threads, each with its own hub, server (one signal style, one
    blocking) and 300 clients held at once, exchange 48 KiB per client at the same time."""
    rendezvous = [_Rendezvous(), _Rendezvous()]
    results: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []
    finished = [_real_lock() for _ in range(2)]

    def run(index: int) -> None:
        try:
            results[index] = _thread_load(index, rendezvous)
        except BaseException as exc:
            errors.append(exc)
        finally:
            gevent.get_hub().destroy(destroy_loop=True)
            finished[index].release()

    for index, lock in enumerate(finished):
        lock.acquire()
        _start_new_thread(run, (index,))
    for lock in finished:
        assert lock.acquire(timeout=THREADS_DONE_S), "a thread hung"
    assert errors == []
    assert sorted(results) == [0, 1]
    threads = {r["thread"] for r in results.values()}
    assert len(threads) == 2
    assert get_original("_thread", "get_ident")() not in threads
    for result in results.values():
        assert result["verified"] == THREAD_CLIENTS * THREAD_SIZE
    print(f"\ntwo threads: {2 * THREAD_CLIENTS} clients, "
          f"{4 * THREAD_CLIENTS * THREAD_SIZE / 1e6:.1f} MB moved, exchanges took "
          + ", ".join(f"{results[i]['seconds']:.2f} s" for i in (0, 1)))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "clients":
        _clients_main(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"usage: {sys.argv[0]} clients NAME COUNT")
