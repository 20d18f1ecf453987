"""Hostile peers (issue 11): clients that send anything, at any pace, and vanish.

The threat: a local process that can connect to our servers (another user, where
the access options allow it, or a buggy or compromised program of our own) and
sends what it likes: garbage, frames built to exhaust the decoder, partial messages,
nothing at all; that never reads; that aborts or half-closes at any moment. And a
process that runs out of descriptors or memory. ``docs/security.md`` lists what
qlsock guarantees against it, each row with its tests.

Tests named ``test_finding<N>_...`` reproduce a defect of the code before issue 11
(they fail on it) and show the fix. APIs that only the new code has are imported
inside the tests that use them, so the others still run on the old code.

"Nothing escapes to the hub" is checked on the hub itself: its ``handle_error`` (what
gevent calls for a greenlet that died of an exception, and what prints the
traceback) is replaced for the test by a recorder.
"""

from __future__ import annotations

import errno
import functools
import gc
import hashlib
import logging
import os
import socket as stdsocket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qlsock import (
    LocalStreamServer,
    QLocalServer,
    QLocalSocket,
    SingleInstance,
)
from qlsock.buffers import WriteBuffer
from qlsock.singleinstance import MAX_MESSAGE_BYTES, encode_message

from .peers.process import PEERS_DIR, Peer, spawner
from .support import Spy, qtry, send_now

HOSTILE = str(PEERS_DIR / "hostile.py")
CONNECTED = QLocalSocket.ConnectedState
U = QLocalSocket.UnconnectedState
KiB = 1024
MiB = 1024 * KiB


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def hub_errors() -> Iterator[list[tuple[Any, str, str]]]:
    """What reached this thread's hub's ``handle_error``, as (type, text, context).

    The recorder replaces the hub's own for the test (so nothing is printed); a
    traceback is not kept, since it would keep the failed code's objects alive.
    """
    hub = gevent.get_hub()
    calls: list[tuple[Any, str, str]] = []

    def record(context: Any, type_: Any, value: Any, tb: Any) -> None:
        calls.append((type_, str(value), repr(context)[:200]))

    hub.handle_error = record
    try:
        yield calls
    finally:
        hub.__dict__.pop("handle_error", None)


@pytest.fixture
def spawn(tmpdir_env: str) -> Iterator[Callable[..., Peer]]:
    """Start ``tests/peers/hostile.py`` in a mode (with the qlsock under test)."""
    with spawner(cwd=tmpdir_env) as start:
        yield functools.partial(start, HOSTILE)


def qlsock_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "qlsock" and r.levelno == level]


def read_exactly(sock: QLocalSocket, count: int, ms: int = 5000) -> bytes:
    """Read until *count* bytes came (or the connection ended, or *ms* passed)."""
    data = bytearray(sock.readAll())
    deadline = time.monotonic() + ms / 1000
    while len(data) < count and time.monotonic() < deadline:
        if not sock.waitForReadyRead(max(int((deadline - time.monotonic()) * 1000), 1)):
            data += sock.readAll()
            break
        data += sock.readAll()
    return bytes(data)


def echoed(name: str, message: bytes) -> None:
    """A new client of the echo server *name* gets *message* back, exactly."""
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.state() == CONNECTED, client.errorString()
    send_now(client, message)
    assert read_exactly(client, len(message)) == message
    client.abort()


def echo_handler(sock: QLocalSocket) -> None:
    """A LocalStreamServer handler: echo until the peer goes quiet or away."""
    while sock.waitForReadyRead(2000):
        if sock.write(sock.readAll()) < 0:
            return


def echo_slots(server: QLocalServer, accepted: list[QLocalSocket]) -> None:
    """Echo on every connection *server* accepts, in readyRead slots."""

    def on_new_connection() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            accepted.append(conn)
            conn.readyRead.connect(lambda c=conn: c.write(c.readAll()))

    server.newConnection.connect(on_new_connection)


def frame(payload: bytes) -> bytes:
    """A SingleInstance frame around *payload*, whatever it holds."""
    return len(payload).to_bytes(4, "big") + payload


# -- finding 4: decoding without bounds --------------------------------------------------------


NESTED = {
    "unclosed": b"[" * 100_000,
    "balanced": b"[" * 100_000 + b"]" * 100_000,
    "objects": b'{"a":' * 60_000,
}


@pytest.mark.parametrize("kind", list(NESTED))
def test_finding4_deeply_nested_json_drops_that_peer_only(
        tmpdir_env: str, closing: list[Any], hub_errors: list[Any],
        caplog: pytest.LogCaptureFixture, kind: str) -> None:
    """A frame whose JSON nests 100,000 deep (well under the size cap): one warning on
    the qlsock logger, that peer dropped without an acknowledgement, and the primary
    serves the next honest secondary. The old code's connection greenlet died of an
    uncaught RecursionError, which the hub printed."""
    caplog.set_level(logging.WARNING, logger="qlsock")
    primary = SingleInstance("app", timeout=5)
    closing.append(primary)
    assert primary.start([]) is True
    spy = Spy(primary.messageReceived)
    payload = NESTED[kind]
    assert len(payload) <= MAX_MESSAGE_BYTES

    hostile = QLocalSocket()
    hostile.connectToServer("app")
    assert hostile.state() == CONNECTED
    assert hostile.write(frame(payload)) == len(payload) + 4
    while hostile.bytesToWrite() and hostile.waitForBytesWritten(5000):
        pass
    assert hostile.state() == U or hostile.waitForDisconnected(5000)
    assert hostile.readAll() == b""  # no ACK

    secondary = SingleInstance("app", timeout=5)
    closing.append(secondary)
    assert secondary.start(["honest"]) is False
    assert qtry(lambda: len(spy) == 1)
    assert spy.calls == [(["honest"],)]
    assert hub_errors == []
    warnings = [r.getMessage() for r in qlsock_records(caplog, logging.WARNING)]
    assert len(warnings) == 1, warnings
    assert "dropped a connection" in warnings[0]
    assert "recursion" in warnings[0], warnings[0]
    assert qlsock_records(caplog, logging.ERROR) == []
    assert primary.is_primary


def test_a_primary_drops_peers_that_stall_and_serves_others_meanwhile(
        tmpdir_env: str, closing: list[Any], hub_errors: list[Any],
        caplog: pytest.LogCaptureFixture) -> None:
    """Peers that connect to a primary and then send nothing, or announce a message and
    send only part of it: each is dropped once the primary's timeout has passed (it
    reads the end of the stream, no ACK), one warning each; an honest secondary that
    comes meanwhile is served at once."""
    caplog.set_level(logging.WARNING, logger="qlsock")
    primary = SingleInstance("app", timeout=0.5)
    closing.append(primary)
    assert primary.start([]) is True
    spy = Spy(primary.messageReceived)
    silent = gsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    partial = gsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    try:
        silent.connect(primary.full_server_name)
        partial.connect(primary.full_server_name)
        partial.sendall((1000).to_bytes(4, "big") + b'["only the be')
        start = time.monotonic()
        assert SingleInstance("app", timeout=5).start(["honest"]) is False
        assert time.monotonic() - start < 0.3
        assert qtry(lambda: len(spy) == 1)
        for peer in (silent, partial):
            with gevent.Timeout(3):
                assert peer.recv(16) == b""  # dropped, without an acknowledgement
        assert 0.4 <= time.monotonic() - start <= 2.0
    finally:
        silent.close()
        partial.close()
    texts = [r.getMessage() for r in qlsock_records(caplog, logging.WARNING)]
    assert sorted(t.split(": dropped a connection: ")[1] for t in texts) == [
        "timed out with 0 of 4 bytes received", "timed out with 13 of 1000 bytes received"]
    assert spy.calls == [(["honest"],)]
    assert hub_errors == []


# -- finding 5: accept() out of descriptors or memory --------------------------------------------


class FailingAccept:
    """A listening socket whose next ``_accept()`` calls fail with the given errnos."""

    def __init__(self, sock: Any, errnos: list[int]) -> None:
        self._real = sock
        self.errnos = errnos
        self.calls = 0

    def _accept(self) -> Any:
        self.calls += 1
        if self.errnos:
            err = self.errnos.pop(0)
            raise OSError(err, os.strerror(err))
        return self._real._accept()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def failing_accepts(server: Any, monkeypatch: pytest.MonkeyPatch) -> FailingAccept:
    """Put a :class:`FailingAccept` in front of *server*'s listening socket (private: the
    only way in)."""
    if isinstance(server, QLocalServer):
        endpoint = server._endpoint
        fake = FailingAccept(endpoint._sock, [])  # type: ignore[union-attr]
        monkeypatch.setattr(endpoint, "_sock", fake)
    else:
        fake = FailingAccept(server.socket, [])
        monkeypatch.setattr(server, "socket", fake)
    return fake


EXHAUSTION = [errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM]


def test_finding5_accept_errors_follow_one_policy_in_both_servers(
        tmpdir_env: str, closing: list[Any], hub_errors: list[Any],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """EMFILE, ENFILE, ENOBUFS, ENOMEM from accept(), in QLocalServer and
    LocalStreamServer alike: one WARNING per failure on the qlsock logger ("out of a
    resource", the reason, "keeps listening", the back-off: 10, 20, 40, 80 ms), no
    traceback (nothing reaches the hub's handle_error), the server keeps listening and
    serves the client that was waiting; the back-off starts again at 10 ms after a
    success. The benign errnos (EAGAIN, ECONNABORTED, EINTR, EPROTO) cost nothing.
    The old LocalStreamServer printed a traceback per retry and logged nothing."""
    caplog.set_level(logging.WARNING, logger="qlsock")
    local = QLocalServer()
    closing.append(local)
    assert local.listen("local"), local.errorString()
    echo_slots(local, [])
    stream = LocalStreamServer("stream", echo_handler)
    closing.append(stream)
    stream.start()
    for name, server in (("local", local), ("stream", stream)):
        caplog.clear()
        fake = failing_accepts(server, monkeypatch)

        fake.errnos[:] = EXHAUSTION
        start = time.monotonic()
        echoed(name, b"served after the back-off")
        assert time.monotonic() - start >= 0.14  # 10 + 20 + 40 + 80 ms of pauses
        assert fake.errnos == []
        records = qlsock_records(caplog, logging.WARNING)
        texts = [r.getMessage() for r in records]
        assert len(texts) == 4, texts
        delays = ["0.01", "0.02", "0.04", "0.08"]
        for text, err, delay in zip(texts, EXHAUSTION, delays, strict=True):
            assert f"accept() is out of a resource: {os.strerror(err)}" in text, text
            assert f"the server keeps listening and retries in {delay} s" in text, text
            assert server.fullServerName() in text, text
        assert all(r.exc_info is None for r in records)

        caplog.clear()
        fake.errnos[:] = [errno.EMFILE]
        echoed(name, b"again")
        texts = [r.getMessage() for r in qlsock_records(caplog, logging.WARNING)]
        assert len(texts) == 1, texts
        assert "retries in 0.01 s" in texts[0], texts

        caplog.clear()
        fake.errnos[:] = [errno.EAGAIN, errno.ECONNABORTED, errno.EINTR, errno.EPROTO]
        start = time.monotonic()
        echoed(name, b"benign")
        assert fake.errnos == []
        assert qlsock_records(caplog, logging.WARNING) == []
        assert hub_errors == []
    assert local.isListening()
    assert stream.started


def test_finding5_a_stream_server_out_of_descriptors_backs_off_and_recovers(
        spawn: Callable[..., Peer]) -> None:
    """A LocalStreamServer process runs out of descriptors for real (RLIMIT_NOFILE)
    with three clients waiting: warnings on the qlsock logger, without traceback and
    not one per loop iteration; nothing printed to stderr; once descriptors are free
    again, all three are served. The old one printed gevent's traceback per retry."""
    peer = spawn("stream-emfile", "emfile")
    [path] = peer.ready()
    clients = []
    for _ in range(3):
        client = QLocalSocket()
        client.connectToServer(path)
        assert client.state() == CONNECTED, client.errorString()
        clients.append(client)
    logged = []
    while len(logged) < 2:
        line = peer.readline(timeout=5)
        if line.startswith("LOG "):
            logged.append(line)
    peer.send("free")
    while not peer.readline(timeout=5).startswith("FREED"):
        pass
    for client in clients:
        send_now(client, b"late but served")
        assert read_exactly(client, 15) == b"late but served"
        client.abort()
    result = peer.result()
    assert result["handled"] == 3
    assert result["started"]
    texts = result["log"]
    assert len(texts) >= 2, texts
    assert len(texts) < 50, "no back-off: accept() was retried at once, again and again"
    assert all("accept() is out of a resource" in t and os.strerror(errno.EMFILE) in t
               and "keeps listening" in t for t in texts), texts
    assert all(line.startswith("LOG WARNING plain ") for line in logged), logged
    assert "Traceback" not in peer.stderr, peer.transcript()


def test_accept_backoff_doubles_from_10_ms_to_1_s_and_resets() -> None:
    """The shared policy itself: 10 ms, doubling, never above 1 s; a success resets it."""
    from qlsock.hub.listener import AcceptBackoff

    backoff = AcceptBackoff()
    error = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
    delays = [backoff.failed(error, "test") for _ in range(10)]
    assert delays == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0, 1.0]
    backoff.succeeded()
    assert backoff.failed(error, "test") == 0.01


# -- finding 6: memory for queued writes --------------------------------------------------------


def sizes_16(index: int) -> int:
    return 16


#: name: (the size of write number i, how many writes). Small writes: what the old code
#: queued at several times their size.
SMALL_PATTERNS: dict[str, tuple[Callable[[int], int], int]] = {
    "16 bytes each": (sizes_16, 200_000),
    "pseudo-random 1..64": (lambda i: i * 2654435761 % 64 + 1, 60_000),
    "runs of tiny ones between 70 KB": (lambda i: 70_000 if i % 500 == 0 else 3, 20_000),
}
#: Mixes where large writes dominate (the old code was compact enough for these too).
MIXED_PATTERNS: dict[str, tuple[Callable[[int], int], int]] = {
    "pseudo-random 1..2048": (lambda i: i * 2654435761 % 2048 + 1, 3_000),
    "1024 then 1": (lambda i: (1024, 1)[i % 2], 6_000),
    "1023 then 1025": (lambda i: (1023, 1025)[i % 2], 6_000),
    "1 then 5000": (lambda i: (1, 5000)[i % 2], 1_200),
}
PATTERNS = {**SMALL_PATTERNS, **MIXED_PATTERNS}


def payload(index: int, size: int) -> bytes:
    """Write number *index*: *size* bytes, a new object each time, content that tells
    where it belongs."""
    if size == 16:
        return b"%015d\n" % index
    return (b"<%d>" % index * (size // 3 + 1))[:size]


@pytest.fixture
def sink(tmpdir_env: str) -> Iterator[tuple[QLocalSocket, Any]]:
    """A connected QLocalSocket and the raw (gevent) socket of a peer that does not read
    until told to."""
    path = os.path.join(tmpdir_env, "sink")
    listener = gsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    client = QLocalSocket()
    client.connectToServer(path)
    assert client.state() == CONNECTED, client.errorString()
    peer, _ = listener.accept()
    listener.close()
    yield client, peer
    client.abort()
    peer.close()


def fill_the_kernel(client: QLocalSocket) -> int:
    """Write 64 KiB blocks until the kernel takes no more; the bytes written."""
    block = bytes(64 * KiB)
    written = 0
    while True:
        assert client.write(block) == len(block)
        written += len(block)
        client.flush()
        if client.bytesToWrite():
            return written


@pytest.mark.parametrize("pattern", list(SMALL_PATTERNS))
def test_finding6_queued_small_writes_cost_at_most_a_quarter_more_than_they_hold(
        sink: tuple[QLocalSocket, Any], pattern: str) -> None:
    """Many small writes (each a new bytes object, as ``write(b"%d" % i)`` makes) to a peer
    that never reads, the kernel's buffer already full: the memory that qlsock holds for
    them (tracemalloc) is at most 1.25 times what they hold, plus 64 KiB. The old code
    kept each write as it came: 3.6 times the data for 16-byte writes. When the peer
    finally reads (in pieces that split the coalesced chunks), every byte arrives, in
    order."""
    queue_compactly_and_deliver(sink, pattern)


@pytest.mark.parametrize("pattern", list(MIXED_PATTERNS))
def test_queued_writes_of_mixed_sizes_stay_compact_and_intact(
        sink: tuple[QLocalSocket, Any], pattern: str) -> None:
    """The same bound and the same integrity for mixes where large writes dominate and
    small ones fall between them (each small write after a large one is a chunk of its
    own)."""
    queue_compactly_and_deliver(sink, pattern)


def queue_compactly_and_deliver(sink: tuple[QLocalSocket, Any], pattern: str) -> None:
    client, peer = sink
    size_of, count = PATTERNS[pattern]
    filled = fill_the_kernel(client)
    queued_before = client.bytesToWrite()

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for index in range(count):
            client.write(payload(index, size_of(index)))
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    queued = client.bytesToWrite() - queued_before
    assert queued == sum(size_of(i) for i in range(count))
    assert held <= 1.25 * queued + 64 * KiB, f"{held} bytes held for {queued} queued " \
        f"({held / queued:.2f} times)"

    digest = hashlib.sha256(bytes(filled))
    for index in range(count):
        digest.update(payload(index, size_of(index)))
    received = hashlib.sha256()
    total = [0]

    def read_everything() -> None:
        while chunk := peer.recv(4093):
            received.update(chunk)
            total[0] += len(chunk)

    reader = gevent.spawn(read_everything)
    client.disconnectFromServer()
    assert client.state() == U or client.waitForDisconnected(10000), client.errorString()
    reader.join(10)
    assert total[0] == filled + queued
    assert received.hexdigest() == digest.hexdigest()


def test_finding6_the_write_buffer_is_compact_for_any_mix_of_sizes() -> None:
    """The write queue alone, with sizes drawn at random (hypothesis): memory stays within
    1.25 times the queued bytes plus 64 KiB."""

    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              print_blob=False)
    @given(cycle=st.lists(st.one_of(st.integers(1, 64), st.integers(1, 4096),
                                    st.sampled_from([1, 16, 1023, 1024, 1025, 70_000])),
                          min_size=1, max_size=8),
           first=st.integers(0, 100_000))
    def run(cycle: list[int], first: int) -> None:
        buf = WriteBuffer()
        if first:
            buf.append(bytes(first))
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            before = buf.size
            index = 0
            while buf.size - before < 384 * KiB and index < 12_000:
                buf.append(payload(index, cycle[index % len(cycle)]))
                index += 1
            held = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
        queued = buf.size - before
        assert held <= 1.25 * queued + 64 * KiB, (held, queued)

    run()


def test_the_write_buffer_keeps_every_byte_in_order_through_partial_sends() -> None:
    """Random writes and partial sends (``consume``) against a plain bytes model: the
    chunks always spell exactly the unsent bytes, also when a send ends inside a
    coalesced chunk that later writes keep growing."""

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              print_blob=False)
    @given(ops=st.lists(st.one_of(
        st.tuples(st.just("write"), st.one_of(st.integers(1, 40), st.integers(1, 3000))),
        st.tuples(st.just("send"), st.floats(0, 1))), min_size=1, max_size=60))
    def run(ops: list[tuple[str, Any]]) -> None:
        buf = WriteBuffer()
        model = bytearray()
        for index, (op, arg) in enumerate(ops):
            if op == "write":
                data = payload(index, arg)
                buf.append(data)
                model += data
            else:
                n = int(buf.size * arg)
                if n:
                    buf.consume(n)
                    del model[:n]
            assert buf.size == len(model)
            assert b"".join(bytes(c) for c in buf.chunks) == model
            assert b"".join(bytes(c) for c in buf.head()) == \
                model[:sum(len(c) for c in list(buf.chunks)[:WriteBuffer.MAX_IOV])]

    run()


# -- the property: whatever hostile peers do ----------------------------------------------------


ENDINGS = ["close", "abort", "half-close", "keep", "qt-abort", "qt-close"]

RAW_BYTES = st.binary(max_size=700)
JSON_ISH = st.one_of(
    st.integers(1, 3000).map(lambda n: b"[" * n),
    st.integers(1, 2000).map(lambda n: b'{"a":' * n),
    st.lists(st.text(max_size=20), max_size=5).map(lambda a: encode_message(a)[4:]),
    st.sampled_from([b"[1]", b"{}", b'"x"', b"null", b"[\"\xff\"]", b"", b"[" + b"\"a\"," * 50]),
)
FRAMES = st.one_of(
    JSON_ISH.map(frame),
    st.integers(0, 2**32 - 1).map(lambda n: n.to_bytes(4, "big")),  # a header alone
    st.tuples(st.integers(0, MAX_MESSAGE_BYTES), RAW_BYTES).map(
        lambda t: t[0].to_bytes(4, "big") + t[1]),
)
#: Much more than a kernel buffer holds, for a peer that may never read the echo.
BLAST = st.integers(100_000, 400_000).map(lambda n: bytes(range(256)) * (n // 256))
CONNECTION = st.fixed_dictionaries({
    "chunks": st.lists(st.one_of(RAW_BYTES, FRAMES, BLAST), max_size=4),
    "pauses": st.lists(st.sampled_from([0.0, 0.0, 0.0005, 0.002, 0.005]), min_size=4,
                       max_size=4),
    "ending": st.sampled_from(ENDINGS),
    "reads": st.booleans(),
})


def hostile(path: str, chunks: list[bytes], pauses: list[float], ending: str, reads: bool,
            kept: list[Any]) -> None:
    """One hostile client of the server at *path*; never raises for a dropped connection."""
    if ending.startswith("qt-"):
        sock = QLocalSocket()
        sock.connectToServer(path)
        for index, chunk in enumerate(chunks):
            sock.write(chunk)
            gevent.sleep(pauses[index % len(pauses)])
            if reads:
                sock.readAll()
        if ending == "qt-abort":
            sock.abort()
        else:
            sock.close()
        return
    raw = gsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    try:
        raw.connect(path)
        for index, chunk in enumerate(chunks):
            if chunk:
                raw.sendall(chunk)
            gevent.sleep(pauses[index % len(pauses)])
            if reads:
                raw.setblocking(False)
                try:
                    raw.recv(65536)
                except BlockingIOError:
                    pass
                raw.setblocking(True)
        if ending == "half-close":
            raw.shutdown(stdsocket.SHUT_WR)
            with gevent.Timeout(0.3, False):
                while raw.recv(65536):
                    pass
        elif ending == "keep":
            kept.append(raw)
            raw = None
    except OSError:
        pass  # the server dropped us: fine
    finally:
        if raw is not None:
            raw.close()


class Target:
    """A server under attack: start it, check that an honest client is served, stop it."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        self.accepted: list[QLocalSocket] = []
        self.honest = 0
        if kind == "QLocalServer":
            self.server: Any = QLocalServer()
            assert self.server.listen(name), self.server.errorString()
            echo_slots(self.server, self.accepted)
        elif kind == "LocalStreamServer":
            self.server = LocalStreamServer(name, echo_handler)
            self.server.start()
        else:
            self.server = SingleInstance(name, timeout=1)
            assert self.server.start([]) is True
            self.spy = Spy(self.server.messageReceived)
        self.path = self.full_server_name()

    def full_server_name(self) -> str:
        if self.kind == "SingleInstance":
            return str(self.server.full_server_name)
        return str(self.server.fullServerName())

    def serves_an_honest_client(self) -> None:
        self.honest += 1
        if self.kind == "SingleInstance":
            args = ["honest", str(self.honest), "ünï ✓"]
            assert SingleInstance(self.name, timeout=5).start(args) is False
            assert qtry(lambda: args in [call[0] for call in self.spy.calls], 2000)
        else:
            echoed(self.name, b"honest %d " % self.honest * 50)

    def stop(self) -> None:
        if self.kind == "QLocalServer":
            assert self.server.isListening()
            self.server.close()
            for conn in self.accepted:
                conn.abort()
            self.accepted.clear()
        elif self.kind == "LocalStreamServer":
            assert self.server.started
            self.server.stop(timeout=1)
        else:
            assert self.server.is_primary
            self.server.close()


class Tally(logging.Filter):
    """A filter on the qlsock logger that notes the level and text of each record and
    stops it there. Nothing keeps the record: a kept record keeps its arguments, an
    exception among them its traceback's frames, and so the connection it was about
    (pytest's log capture would keep them all until the test ends)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, str]] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.seen.append((record.levelno, record.getMessage()))
        return False

    def at(self, level: int) -> list[str]:
        return [text for levelno, text in self.seen if levelno == level]


@pytest.fixture
def tally() -> Iterator[Tally]:
    """The qlsock logger's records (WARNING and above), kept as text only."""
    logger = logging.getLogger("qlsock")
    counter = Tally()
    level = logger.level
    logger.setLevel(logging.WARNING)
    logger.addFilter(counter)
    try:
        yield counter
    finally:
        logger.removeFilter(counter)
        logger.setLevel(level)


def live_sockets() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, QLocalSocket))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("kind", ["QLocalServer", "LocalStreamServer", "SingleInstance"])
def test_hostile_peers_never_reach_the_hub_and_honest_ones_are_served(
        tmpdir_env: str, hub_errors: list[Any], tally: Tally, kind: str) -> None:
    """Hypothesis drives a few concurrent hostile clients per example: random bytes,
    well-formed frames around bad JSON, frames nested thousands deep, bare headers
    announcing anything up to 4 GiB, sent in pieces with random pauses, ending with
    close, abort, half-close, or left open, reading replies or not. Whatever they do:
    nothing reaches the hub's handle_error, nothing is logged at ERROR, the server keeps
    listening, the next honest client is served correctly, and descriptors, live
    sockets and memory come back to where they were."""
    examples = [0]
    marks: dict[str, Any] = {}

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              print_blob=False, suppress_health_check=list(HealthCheck))
    @given(connections=st.lists(CONNECTION, min_size=1, max_size=4))
    def run(connections: list[dict[str, Any]]) -> None:
        examples[0] += 1
        target = Target(kind, "victim")
        kept: list[Any] = []
        try:
            jobs = [gevent.spawn(hostile, target.path, c["chunks"], c["pauses"],
                                 c["ending"], c["reads"], kept) for c in connections]
            gevent.joinall(jobs, timeout=10, raise_error=True)
            assert all(job.dead for job in jobs)
            target.serves_an_honest_client()
            for raw in kept:
                raw.close()
            kept.clear()
            gevent.sleep(0.002)
            target.serves_an_honest_client()
        finally:
            for raw in kept:
                raw.close()
            target.stop()
        assert hub_errors == []
        assert tally.at(logging.ERROR) == []
        if examples[0] == 2:  # after a warm-up: where things should come back to
            marks.update(fds=open_fds(), sockets=live_sockets())
            tracemalloc.start()
            marks["memory"] = tracemalloc.get_traced_memory()[0]

    try:
        run()
        gevent.sleep(0.01)
        assert examples[0] >= 35
        assert hub_errors == []
        assert open_fds() <= marks["fds"]
        assert live_sockets() <= marks["sockets"]
        grown = tracemalloc.get_traced_memory()[0] - marks["memory"]
        assert grown < 2 * MiB, grown
    finally:
        tracemalloc.stop()
