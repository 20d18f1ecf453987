"""The soak's server and client programs (``make soak``, driven by ``benchmarks/soak.py``).

``python -m benchmarks.soak_peers server --path P [--every S]``
    One qlsock echo server. Accepted connections alternate between signal style
    (``readyRead`` / ``disconnected`` slots) and blocking style (a greenlet in
    ``waitForReadyRead()``). Every received byte is checked against the stream its
    header announces, and echoed. Prints ``READY``, then a ``STAT <json>`` line every
    *S* seconds: its descriptor count, the connections open at that instant, RSS,
    greenlets, connections served, bytes checked. SIGTERM: a last ``STAT``, ``DONE``,
    exit 0.

``python -m benchmarks.soak_peers client KIND --path P [--conns N] [--seed X]``
    N conversations at once, each started again when it ends, of one kind:

    ``stream``  blocking style: stream 256 KiB .. 8 MiB in random-sized writes with at
                most 256 KiB unanswered, check every echoed byte, disconnect cleanly.
                A short echo, a stall or an early disconnect is a loss: ``FAIL``.
    ``crash``   the same; the driver SIGKILLs the process at random and starts another.
    ``abort``   signal style: stream up to 2 MiB, topping the buffer up from
                ``bytesWritten``, and end mid-stream with ``abort()``, ``close()`` or
                ``disconnectFromServer()`` while data is in flight both ways; what was
                echoed until then is checked.
    ``cycle``   short conversations (64 B .. 4 KiB, checked), alternately blocking and
                signal style: connect, exchange, disconnect.
    ``hostile`` a neighbour that means harm, one of at random: garbage (a header
                that marks it, then random bytes in random sizes, never reading
                the echo, ended by abort or close); a silent connection held 1-8 s;
                a burst of 600-1,500 connections held together for up to 2 s, which
                exhausts the server's descriptors (its limit is 1,024); junk for the
                server's SingleInstance primary (random bytes, a header announcing
                too much, 100,000 nested ``[``, a frame trickled byte by byte, a
                frame cut short); and, after each, an honest SingleInstance message
                that must be acknowledged.

    Prints ``STAT <json>`` every second (cumulative counts); a failed check prints
    ``FAIL <reason>`` and exits 1. SIGTERM: conversations finish (stream and cycle) or
    end at once (abort), then a last ``STAT``, ``DONE``, exit 0.

The byte stream of a conversation: an 8-byte header (a random seed), then an endless
pattern that starts at an offset in a fixed random block chosen by the seed (the
block's length is prime, so its period never lines up with write sizes). A dropped,
repeated, reordered or misrouted chunk fails the check at either end.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import logging
import os
import random
import resource
import signal
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import gevent
from gevent.event import Event
from greenlet import greenlet

from qlsock import LocalSocketError, LocalSocketState, QLocalServer, QLocalSocket
from qlsock.singleinstance import ACK, SingleInstance, SingleInstanceError

HEADER = struct.Struct("!Q")
#: The header of a hostile client's garbage: what follows is not a pattern stream.
GARBAGE = HEADER.pack(2**64 - 1)
#: The server's descriptor limit, low enough for a hostile burst to exhaust it.
SERVER_NOFILE = 1024
_BLOCK = random.Random(0x50A4).randbytes(65521)  # a prime length
_DOUBLE = _BLOCK + _BLOCK
_L = len(_BLOCK)
#: Largest single write; at most the block's length, so a chunk is one slice.
MAX_WRITE = 60000
#: How much a streaming client leaves unanswered at most.
WINDOW = 256 * 1024
#: Longest any single wait may take before it counts as a stall.
WAIT_MS = 30000

_CONNECTED = LocalSocketState.ConnectedState
_UNCONNECTED = LocalSocketState.UnconnectedState


class Pattern:
    """One conversation's body stream: produce it, or check it, from its seed."""

    __slots__ = ("pos", "start")

    def __init__(self, seed: int) -> None:
        self.start = seed % _L
        self.pos = 0

    def take(self, n: int) -> bytes:
        """The next *n* (at most :data:`MAX_WRITE`) bytes of the stream."""
        off = (self.start + self.pos) % _L
        self.pos += n
        return _DOUBLE[off:off + n]

    def check(self, data: bytes | bytearray | memoryview) -> bool:
        """Whether *data* is what comes next in the stream (then it is consumed)."""
        view = memoryview(data)
        done = 0
        while done < len(view):
            piece = view[done:done + _L]
            if not _DOUBLE.startswith(piece, (self.start + self.pos) % _L):
                return False
            self.pos += len(piece)
            done += len(piece)
        return True


class StreamCheck:
    """Checks a whole conversation stream: the header (*seed*), then the pattern."""

    __slots__ = ("body", "head", "seed")

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.head = b""
        self.body: Pattern | None = None if seed is None else Pattern(seed)

    def feed(self, data: bytes) -> int:
        """Body bytes checked in *data*; -1 if anything is wrong."""
        if self.body is None or len(self.head) < HEADER.size:
            need = HEADER.size - len(self.head)
            self.head += data[:need]
            data = data[need:]
            if len(self.head) < HEADER.size:
                return 0
            seed = HEADER.unpack(self.head)[0]
            if self.seed is None:
                self.seed = seed
                self.body = Pattern(seed)
            elif seed != self.seed:
                return -1
        assert self.body is not None
        return len(data) if self.body.check(data) else -1


def stat_line(stats: dict[str, Any]) -> None:
    print("STAT " + json.dumps(stats, sort_keys=True), flush=True)


def fail(reason: str) -> NoReturn:
    print(f"FAIL {reason}", flush=True)
    sys.stdout.flush()
    os._exit(1)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """*fn* as a slot or greenlet body: given only the arguments it takes, and failing
    the program if it raises (qlsock would only log a slot's exception)."""
    code = fn.__code__
    takes = code.co_argcount - len(fn.__defaults__ or ()) - inspect.ismethod(fn)

    def run(*args: Any) -> Any:
        try:
            return fn(*args[:takes])
        except Exception as exc:
            fail(f"{fn.__name__}: {type(exc).__name__}: {exc}")

    run.__name__ = fn.__name__
    return run


def raise_nofile(soft: int | None = None) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 16
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft or hard, hard), hard))


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


# -- the server ---------------------------------------------------------------------------


class SoakServer:
    def __init__(self, path: str) -> None:
        self.server = QLocalServer()
        self.server.setListenBacklogSize(1024)
        if not self.server.listen(path):
            fail(f"listen: {self.server.errorString()}")
        self.live: set[QLocalSocket] = set()
        self.blocking_live = 0
        self.reserve = os.open(os.devnull, os.O_RDONLY)
        self.stats = {"served": 0, "closed": 0, "checked": 0, "echoed": 0, "garbage": 0,
                      "si_messages": 0}
        self.server.newConnection.connect(guarded(self.on_new_connection))
        # A SingleInstance primary beside the echo server: the hostile clients'
        # target for malformed frames, with honest messages in between.
        self.single = SingleInstance(path + ".si", timeout=5.0)
        if not self.single.start([]):
            fail("the soak server could not become the SingleInstance primary")
        self.single.messageReceived.connect(guarded(self.on_message))

    def on_message(self, args: list[str]) -> None:
        if args[:1] != ["honest"]:
            fail(f"SingleInstance delivered a message no honest client sent: {args[:3]!r}")
        self.stats["si_messages"] += 1

    def on_new_connection(self) -> None:
        while (conn := self.server.nextPendingConnection()) is not None:
            self.stats["served"] += 1
            self.live.add(conn)
            if self.stats["served"] % 2:
                self.serve_with_slots(conn)
            else:
                self.blocking_live += 1
                gevent.spawn(guarded(self.serve_blocking), conn)

    def consume(self, conn: QLocalSocket, check: StreamCheck, data: bytes) -> bool:
        """Check *data*; False for a hostile client's garbage (drop it, echo nothing)."""
        if check.seed is None and not check.head and data[:1] == GARBAGE[:1]:
            # A pattern stream's seed has 63 bits: its first byte is never 0xff.
            check.seed = -1
        if check.seed == -1:
            self.stats["garbage"] += len(data)
            return False
        n = check.feed(data)
        if n < 0:
            fail(f"wrong bytes on connection {check.seed}")
        self.stats["checked"] += n
        return True

    def ended(self, conn: QLocalSocket) -> None:
        if conn.state() != _UNCONNECTED:
            fail(f"a connection ended in state {conn.state()!r}")
        self.live.discard(conn)
        self.stats["closed"] += 1
        conn.close()

    def serve_with_slots(self, conn: QLocalSocket) -> None:
        check = StreamCheck()

        def on_ready_read() -> None:
            data = conn.readAll()
            if self.consume(conn, check, data) and conn.state() == _CONNECTED:
                conn.write(data)
                self.stats["echoed"] += len(data)

        conn.readyRead.connect(guarded(on_ready_read))
        conn.disconnected.connect(guarded(lambda: self.ended(conn)))

    def serve_blocking(self, conn: QLocalSocket) -> None:
        check = StreamCheck()
        while conn.state() == _CONNECTED:
            if not conn.waitForReadyRead(60000) and conn.state() == _CONNECTED:
                continue  # idle for a minute: a server waits on
            data = conn.readAll()
            if self.consume(conn, check, data) and conn.state() == _CONNECTED:
                conn.write(data)
                self.stats["echoed"] += len(data)
        if conn.state() != _UNCONNECTED:
            # The client ended first while echoes were still queued: they drain in
            # Closing (a peer may only have shut down its writing side).
            conn.waitForDisconnected(WAIT_MS)
        self.blocking_live -= 1
        self.ended(conn)

    def sample(self) -> dict[str, Any]:
        # A hostile burst may leave the process with no descriptor to spare, and
        # reading /proc takes one: a reserved one is lent for the reading (nothing
        # else runs in between, so no accept can take it).
        os.close(self.reserve)
        try:
            return self._sample()
        finally:
            self.reserve = os.open(os.devnull, os.O_RDONLY)

    def _sample(self) -> dict[str, Any]:
        # Counted at one instant (no greenlet switch in between): descriptors and
        # open connections agree.
        objects = gc.get_objects()
        greenlets = sum(1 for o in objects if issubclass(type(o), greenlet))
        del objects
        # A SingleInstance message being received holds a connection and a greenlet.
        receiving = len(self.single._handlers)
        return {**self.stats, "t": round(time.monotonic(), 3),
                "fds": len(os.listdir("/proc/self/fd")),
                "open": len(self.live) + receiving,
                "blocking_open": self.blocking_live + receiving, "greenlets": greenlets,
                "rss_kib": rss_kib()}


def server_main(args: argparse.Namespace) -> None:
    raise_nofile(SERVER_NOFILE)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = SoakServer(args.path)
    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    print("READY", flush=True)
    while not stop.wait(args.every):
        stat_line(server.sample())
    stat_line(server.sample())
    server.server.close()
    server.single.close()
    print("DONE", flush=True)
    os._exit(0)


# -- the clients ----------------------------------------------------------------------------


class Client:
    def __init__(self, args: argparse.Namespace) -> None:
        self.path = args.path
        self.rng = random.Random(args.seed)
        self.stop = Event()
        self.stats = {"conns": 0, "conversations": 0, "sent": 0, "verified": 0,
                      "aborted": 0}

    def seed(self) -> int:
        return self.rng.getrandbits(63)

    def connect(self) -> QLocalSocket:
        sock = QLocalSocket()
        sock.connectToServer(self.path)
        if not sock.waitForConnected(WAIT_MS):
            fail(f"connect: {sock.errorString()}")
        self.stats["conns"] += 1
        return sock

    def verify(self, check: StreamCheck, data: bytes, what: str) -> None:
        n = check.feed(data)
        if n < 0:
            fail(f"{what}: the echo differs from what was sent")
        self.stats["verified"] += n

    # stream / crash: blocking style

    def stream_once(self) -> None:
        sock = self.connect()
        seed = self.seed()
        total = self.rng.randint(256 * 1024, 8 << 20)
        out = Pattern(seed)
        check = StreamCheck(seed)
        sock.write(HEADER.pack(seed))
        sent = 0
        while check.body is None or check.body.pos < total:
            echoed = 0 if check.body is None else check.body.pos
            while sent < total and sent - echoed < WINDOW:
                n = min(self.rng.randint(1, MAX_WRITE), total - sent)
                sock.write(out.take(n))
                sent += n
                self.stats["sent"] += n
            if not sock.waitForReadyRead(WAIT_MS):
                fail(f"stream {seed}: {echoed} of {total} bytes echoed, then "
                     f"{sock.errorString()} (state {sock.state()!r}): lost or stalled")
            self.verify(check, sock.readAll(), f"stream {seed}")
        if check.body is None or check.body.pos != total or sock.bytesToWrite():
            fail(f"stream {seed}: more bytes echoed than were sent")
        sock.disconnectFromServer()
        if sock.state() != _UNCONNECTED and not sock.waitForDisconnected(WAIT_MS):
            fail(f"stream {seed}: did not disconnect")
        sock.close()
        self.stats["conversations"] += 1

    # abort: signal style

    def abort_once(self) -> None:
        seed = self.seed()
        limit = self.rng.randint(16 * 1024, 2 << 20)
        how = self.rng.choice(("abort", "abort", "close", "disconnect"))
        out = Pattern(seed)
        check = StreamCheck(seed)
        done = Event()
        sent = [0]
        sock = QLocalSocket()

        def top_up() -> None:
            while sent[0] < limit and sock.bytesToWrite() < 128 * 1024 \
                    and sock.state() == _CONNECTED:
                n = min(self.rng.randint(1, MAX_WRITE), limit - sent[0])
                sock.write(out.take(n))
                sent[0] += n
                self.stats["sent"] += n

        def on_connected() -> None:
            self.stats["conns"] += 1
            sock.write(HEADER.pack(seed))
            top_up()

        def on_ready_read() -> None:
            self.verify(check, sock.readAll(), f"abort {seed}")
            if sent[0] >= limit and sock.state() == _CONNECTED:
                # Mid-stream: the server still echoes, our buffer may still hold data.
                self.stats["aborted"] += 1
                if how == "abort":
                    sock.abort()
                elif how == "close":
                    sock.close()
                else:
                    sock.disconnectFromServer()

        def on_error(error: Any) -> None:
            fail(f"abort {seed}: error {error!r}: {sock.errorString()}")

        sock.connected.connect(guarded(on_connected))
        sock.bytesWritten.connect(guarded(top_up))
        sock.readyRead.connect(guarded(on_ready_read))
        sock.errorOccurred.connect(guarded(on_error))
        sock.disconnected.connect(done.set)
        sock.connectToServer(self.path)
        if not done.wait(WAIT_MS / 1000):
            fail(f"abort {seed}: hung in state {sock.state()!r} after {sent[0]} bytes sent")
        sock.abort()
        self.stats["conversations"] += 1

    # hostile: garbage, silence, descriptor bursts, malformed SingleInstance frames

    def hostile_once(self) -> None:
        what = self.rng.choice(("garbage", "garbage", "silent", "burst", "frames", "frames"))
        getattr(self, f"hostile_{what}")()
        self.honest_message()
        self.stats["conversations"] += 1

    def hostile_garbage(self) -> None:
        sock = self.connect()
        sock.write(GARBAGE)
        for _ in range(self.rng.randint(1, 40)):
            sock.write(self.rng.randbytes(self.rng.randint(1, 64 * 1024)))
            sock.flush()
            if self.rng.random() < 0.3:
                gevent.sleep(self.rng.uniform(0, 0.02))
            if sock.state() != _CONNECTED:
                fail("garbage: the server dropped a connection it should just read")
        self.stats["sent"] += sock.bytesToWrite()
        self.stats["aborted"] += 1
        if self.rng.random() < 0.5:
            sock.abort()
        else:
            sock.close()

    def hostile_silent(self) -> None:
        sock = self.connect()
        if self.stop.wait(self.rng.uniform(1.0, 8.0)):
            sock.abort()
            return
        if sock.state() != _CONNECTED:
            fail("silent: the server closed a connection that only stayed silent")
        sock.abort()

    def hostile_burst(self) -> None:
        socks = []
        for _ in range(self.rng.randint(600, 1500)):
            sock = QLocalSocket()
            sock.connectToServer(self.path)
            if sock.state() == LocalSocketState.UnconnectedState:
                break  # the backlog is full and the retry gave up: enough pressure
            socks.append(sock)
        self.stop.wait(self.rng.uniform(0.2, 2.0))
        for sock in socks:
            sock.abort()
        self.stats["conns"] += len(socks)

    def hostile_frames(self) -> None:
        path = self.path + ".si"
        kind = self.rng.choice(("random", "huge", "nested", "trickle", "cut", "nonascii"))
        sock = QLocalSocket()
        sock.connectToServer(path)
        if not sock.waitForConnected(WAIT_MS):
            fail(f"frames: cannot connect to the primary: {sock.errorString()}")
        if kind == "random":
            sock.write(self.rng.randbytes(self.rng.randint(1, 4096)))
        elif kind == "huge":
            sock.write((1 << 31).to_bytes(4, "big") + b"[")
        elif kind == "nested":
            body = b"[" * 100_000
            sock.write(len(body).to_bytes(4, "big") + body)
        elif kind == "nonascii":
            body = self.rng.randbytes(self.rng.randint(1, 512))
            sock.write(len(body).to_bytes(4, "big") + body)
        else:
            body = b'["honest","' + b"x" * self.rng.randint(1, 200) + b'"]'
            frame = len(body).to_bytes(4, "big") + body
            if kind == "cut":
                frame = frame[:self.rng.randint(1, len(frame) - 1)]
            for i in range(len(frame)):
                sock.write(frame[i:i + 1])
                sock.flush()
                gevent.sleep(0.001)
        sock.flush()
        sock.waitForReadyRead(200)  # an answer, or the primary dropping it, or nothing
        answer = sock.readAll()
        if answer and kind != "trickle":
            fail(f"frames: the primary acknowledged a {kind} frame: {answer!r}")
        if kind == "trickle" and answer != ACK and sock.waitForReadyRead(6000):
            answer = sock.readAll()
        sock.abort()
        if kind == "trickle" and answer != ACK:
            fail(f"frames: a valid frame trickled byte by byte got {answer!r}, not ACK")

    def honest_message(self) -> None:
        secondary = SingleInstance(self.path + ".si", timeout=WAIT_MS / 1000)
        try:
            if secondary.start(["honest", str(self.seed())]):
                fail("an honest secondary became the primary: the primary was gone")
        except SingleInstanceError as exc:
            fail(f"an honest secondary was not served: {exc}")

    # cycle: short conversations, both styles

    def cycle_once(self) -> None:
        seed = self.seed()
        size = self.rng.randint(64, 4096)
        data = HEADER.pack(seed) + Pattern(seed).take(size)
        check = StreamCheck(seed)
        if self.stats["conversations"] % 2:
            sock = self.connect()
            sock.write(data)
            self.stats["sent"] += size
            got = 0
            while got < len(data):
                if not sock.waitForReadyRead(WAIT_MS):
                    fail(f"cycle {seed}: {got} of {len(data)} bytes echoed, then "
                         f"{sock.errorString()}: lost or stalled")
                chunk = sock.readAll()
                got += len(chunk)
                self.verify(check, chunk, f"cycle {seed}")
            sock.disconnectFromServer()
            if sock.state() != _UNCONNECTED:
                fail(f"cycle {seed}: not disconnected at once")
        else:
            done = Event()
            sock = QLocalSocket()
            received = [0]

            def on_connected() -> None:
                self.stats["conns"] += 1
                sock.write(data)
                self.stats["sent"] += size

            def on_ready_read() -> None:
                chunk = sock.readAll()
                received[0] += len(chunk)
                self.verify(check, chunk, f"cycle {seed}")
                if received[0] == len(data):
                    sock.disconnectFromServer()

            def on_disconnected() -> None:
                if received[0] != len(data):
                    fail(f"cycle {seed}: disconnected after {received[0]} of {len(data)} bytes")
                done.set()

            def on_error(error: Any) -> None:
                if error != LocalSocketError.PeerClosedError or received[0] != len(data):
                    fail(f"cycle {seed}: error {error!r}: {sock.errorString()}")

            sock.connected.connect(guarded(on_connected))
            sock.readyRead.connect(guarded(on_ready_read))
            sock.disconnected.connect(guarded(on_disconnected))
            sock.errorOccurred.connect(guarded(on_error))
            sock.connectToServer(self.path)
            if not done.wait(WAIT_MS / 1000):
                fail(f"cycle {seed}: hung in state {sock.state()!r}")
        sock.close()
        self.stats["conversations"] += 1

    def run(self, kind: str, conns: int) -> None:
        once = {"stream": self.stream_once, "crash": self.stream_once,
                "abort": self.abort_once, "cycle": self.cycle_once,
                "hostile": self.hostile_once}[kind]

        def loop() -> None:
            while not self.stop.is_set():
                once()

        workers = [gevent.spawn(guarded(loop)) for _ in range(conns)]
        gevent.signal_handler(signal.SIGTERM, self.stop.set)
        while not self.stop.wait(1.0):
            stat_line(self.stats)
        gevent.joinall(workers, timeout=2 * WAIT_MS / 1000)
        if not all(w.dead for w in workers):
            fail("conversations did not finish after SIGTERM")
        stat_line(self.stats)
        print("DONE", flush=True)
        os._exit(0)


def client_main(args: argparse.Namespace) -> None:
    raise_nofile()
    Client(args).run(args.kind, args.conns)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.soak_peers",
                                description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("--path", required=True)
    s.add_argument("--every", type=float, default=1.0, help="seconds between STAT lines")
    c = sub.add_parser("client")
    c.add_argument("kind", choices=("stream", "crash", "abort", "cycle", "hostile"))
    c.add_argument("--path", required=True)
    c.add_argument("--conns", type=int, default=3, help="conversations at once")
    c.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    if args.role == "server":
        server_main(args)
    else:
        client_main(args)


if __name__ == "__main__":
    main()
