"""Property-based tests (hypothesis): bytes out equal bytes in, in order, always.

Over real connected qlsock sockets (a server-accepted socket and a client in one
process), a writer sends random chunks while a reader runs a random interleaving of
``read``/``readAll``/``readLine``/``peek``/``getChar``/``ungetChar``/``skip``,
transactions and ``setReadBufferSize``, waiting with ``waitForReadyRead`` whenever the
model says more bytes are needed and can come. Every result, and the buffer state
after every call (``bytesAvailable``, ``atEnd``, ``canReadLine``,
``isTransactionStarted``, the Qt warnings printed), is compared with
:class:`tests.iodevice_model.QIODeviceModel`, an in-memory model of Qt's
``QIODevice``. The model cannot know *when* bytes arrive, so after every wait it is
told what the socket received; what arrives must be the next bytes the writer sent.

The second property drives the signal style: a ``readyRead`` slot reads in random
piece sizes while another greenlet writes random chunk sizes and waits for them to
leave, under a random ``readBufferSize``.

Hypothesis runs derandomized (a fixed sequence of examples, no example database), with
no per-example deadline (examples do real I/O on a shared, noisy machine). One server
serves every example of a test; each example gets a fresh connection and aborts it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import gevent
from hypothesis import given, settings
from hypothesis import strategies as st

from qlsock import QLocalServer, QLocalSocket

from .iodevice_model import QIODeviceModel
from .support import DEFAULT_WAIT_MS, Spy, listening

U = QLocalSocket.UnconnectedState
CONNECTED = QLocalSocket.ConnectedState


def _settings(max_examples: int) -> settings:
    return settings(derandomize=True, database=None, deadline=None,
                    max_examples=max_examples, print_blob=False)


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _pattern(size: int) -> bytes:
    """*size* bytes that cycle through every byte value, ``\\n`` included."""
    return bytes((i * 7 + size) % 256 for i in range(size))


def _connect(server: QLocalServer, name: str) -> tuple[QLocalSocket, QLocalSocket]:
    """A fresh connected client and the server side of it."""
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.state() == CONNECTED, client.errorString()
    assert server.waitForNewConnection(DEFAULT_WAIT_MS) == (True, False)
    accepted = server.nextPendingConnection()
    assert accepted is not None
    assert not server.hasPendingConnections()
    return client, accepted


# -- the model property ------------------------------------------------------------------

SIZES = st.one_of(st.integers(0, 16), st.integers(17, 700), st.just(-1))
LIMITS = st.sampled_from([0, 0, 1, 2, 5, 16, 100, 1000])
CHUNKS = st.one_of(
    st.binary(max_size=40),
    st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\n\n", b"\r\n", b"\0", b"\xff", b"line\n"]),
             max_size=24).map(b"".join),
    st.integers(500, 3000).map(_pattern),
)
#: One step of a program: the writer sends a chunk (flushed now, or left to the hub),
#: or the reader calls something. ``fill`` asks to wait first until the call's
#: request can be met (or no more can come).
STEPS = st.one_of(
    st.tuples(st.just("write"), CHUNKS, st.booleans()),
    st.tuples(st.just("read"), SIZES, st.booleans()),
    st.tuples(st.just("readAll"), st.none(), st.booleans()),
    st.tuples(st.just("readLine"), st.one_of(st.just(0), st.integers(2, 90)), st.booleans()),
    st.tuples(st.just("peek"), SIZES, st.booleans()),
    st.tuples(st.just("getChar"), st.none(), st.booleans()),
    st.tuples(st.just("ungetChar"), st.integers(0, 255), st.just(False)),
    st.tuples(st.just("skip"), st.one_of(st.integers(1, 700), st.just(-1)), st.booleans()),
    st.tuples(st.sampled_from(["startTransaction", "commitTransaction",
                               "rollbackTransaction"]), st.none(), st.just(False)),
    st.tuples(st.just("setReadBufferSize"), LIMITS, st.just(False)),
    st.tuples(st.just("wait"), st.none(), st.just(True)),
)


class Link:
    """One connection under test: the writer's stream, the reader and its model."""

    def __init__(self, reader: QLocalSocket, writer: QLocalSocket, warnings: Any) -> None:
        self.reader = reader
        self.writer = writer
        self.warnings = warnings
        self.model = QIODeviceModel()
        self.limit = 0
        self.sent = bytearray()
        self.received = 0
        self.writer_done = False
        self.log: list[str] = []

    # -- arrival ---------------------------------------------------------------------

    def pending(self) -> int:
        """Bytes the writer was given that the reader has not received yet."""
        return len(self.sent) - self.received

    def can_receive(self) -> bool:
        room = not self.limit or self.model.bytesAvailable() < self.limit
        return self.pending() > 0 and room

    def sync(self, waited: bool = False) -> None:
        """Tell the model what the reader received; it must be the next bytes sent."""
        before = self.model.bytesAvailable()
        available = self.reader.bytesAvailable()
        new = available - before
        assert 0 <= new <= self.pending(), (before, available, self.pending(), self.log)
        if waited:
            assert new > 0, self.log
        if self.limit and new:
            assert available <= max(self.limit, before), (self.limit, before, available)
        self.model.arrive(bytes(self.sent[self.received:self.received + new]))
        self.received += new
        if self.reader.state() == U and not self.model.ended:
            assert self.writer_done, self.log
            assert not self.pending(), self.log
            self.model.end()

    def wait(self) -> None:
        self.log.append("waitForReadyRead")
        assert self.reader.waitForReadyRead(DEFAULT_WAIT_MS), self.reader.errorString()
        self.sync(waited=True)

    def fill(self, enough: Callable[[], bool]) -> None:
        """Wait until *enough()* holds or nothing more can arrive."""
        self.sync()
        while not enough() and self.can_receive():
            self.wait()

    # -- checking --------------------------------------------------------------------

    def check(self, what: str, actual: object, expected: object) -> None:
        assert actual == expected, f"{what}: qlsock {actual!r}, model {expected!r}; {self.log}"
        reader, model = self.reader, self.model
        state = (reader.bytesAvailable(), reader.atEnd(), reader.canReadLine(),
                 reader.isTransactionStarted())
        wanted = (model.bytesAvailable(), model.atEnd(), model.canReadLine(),
                  model.isTransactionStarted())
        assert state == wanted, f"after {what}: (bytesAvailable, atEnd, canReadLine, " \
            f"isTransactionStarted) {state} != {wanted}; {self.log}"
        assert self.warnings.texts == model.warnings, self.log

    # -- running a program -----------------------------------------------------------

    def step(self, op: str, arg: Any, fill: bool) -> None:
        shown = repr(arg) if len(repr(arg)) <= 40 else f"<{len(arg)} bytes>"
        self.log.append(f"{op}({shown}{', fill' if fill else ''})")
        reader, model = self.reader, self.model
        if op == "write":
            assert self.writer.write(arg) == len(arg)
            self.sent += arg
            if fill:
                self.writer.flush()
            return
        if op == "wait":
            self.fill(lambda: False)
            self.check(op, None, None)
            return
        if op == "setReadBufferSize":
            reader.setReadBufferSize(arg)
            self.limit = arg
            self.check(op, reader.readBufferSize(), arg)
            return
        if fill:
            self.fill(self._enough(op, arg))
        if arg is None:
            self.check(op, getattr(reader, op)(), getattr(model, op)())
        elif op == "ungetChar":
            self.check(op, reader.ungetChar(arg), model.ungetChar(arg))
        else:
            self.check(f"{op}({arg})", getattr(reader, op)(arg), getattr(model, op)(arg))

    def _enough(self, op: str, arg: Any) -> Callable[[], bool]:
        model = self.model
        if op == "readLine":
            return lambda: model.canReadLine() or 0 < arg - 1 <= model.bytesAvailable()
        if op == "readAll":
            return lambda: False
        want = 1 if arg is None else arg
        return lambda: model.bytesAvailable() >= want

    def finish(self, end: str) -> None:
        """End the writer as *end* says; read everything; check the end of stream."""
        if end == "disconnect":
            self.writer.disconnectFromServer()
            self.writer_done = True
        elif end == "close":
            self.writer.close()
            self.writer_done = True
        self.log.append(f"writer {end}")
        while True:
            self.sync()
            if self.model.bytesAvailable():
                self.check("readAll", self.reader.readAll(), self.model.readAll())
            elif self.can_receive():
                self.wait()
            elif self.writer_done and not self.model.ended:
                self.log.append("waitForReadyRead (end of stream)")
                assert not self.reader.waitForReadyRead(DEFAULT_WAIT_MS)
                self.sync()
                assert self.model.ended, self.log
            else:
                break
        assert self.received == len(self.sent)
        if self.writer_done:
            reader, model = self.reader, self.model
            assert reader.state() == U
            assert reader.error() == QLocalSocket.PeerClosedError
            self.check("skip(1) at end", reader.skip(1), model.skip(1))
            self.check("read(1) at end", reader.read(1), model.read(1))
            self.check("readLine() at end", reader.readLine(), model.readLine())
            self.check("getChar() at end", reader.getChar(), model.getChar())
            assert reader.isOpen()


def test_random_reads_match_the_qiodevice_model(qt_warnings: Any) -> None:
    """Random chunks, read by random operations: every result is the model's."""
    server = listening("model")
    try:

        @_settings(max_examples=400)
        @given(program=st.lists(STEPS, min_size=8, max_size=60), limit=LIMITS,
               reader_is_client=st.booleans(),
               end=st.sampled_from(["disconnect", "close", "keep"]))
        def run(program: list[tuple[str, Any, bool]], limit: int, reader_is_client: bool,
                end: str) -> None:
            qt_warnings.clear()
            client, accepted = _connect(server, "model")
            reader, writer = (client, accepted) if reader_is_client else (accepted, client)
            link = Link(reader, writer, qt_warnings)
            try:
                link.step("setReadBufferSize", limit, False)
                for op, arg, fill in program:
                    link.step(op, arg, fill)
                link.finish(end)
            finally:
                client.abort()
                accepted.abort()

        descriptors = _open_descriptors()
        run()
        assert _open_descriptors() <= descriptors  # every example closed its sockets
    finally:
        server.close()


def test_model_agrees_with_qts_documented_examples() -> None:
    """The model reproduces the examples Qt's own tests and docs state."""
    model = QIODeviceModel()
    model.arrive(b"s" * 20000)
    assert model.read(1) == b"s"
    assert model.skip(20000) == 19999  # tst_qlocalsocket skip
    assert model.skip(10) == 0
    model.end()
    assert model.skip(10) == -1
    model = QIODeviceModel()
    model.arrive(b"hello\nworld\npartial")
    assert model.readLine(4) == b"hel"  # at most maxSize - 1 bytes
    assert model.readLine() == b"lo\n"
    assert model.readLine(1) == b""
    assert model.warnings == ["QIODevice::readLineInto (QLocalSocket): Called with maxSize < 2"]
    assert model.peek(100) == b"world\npartial"
    model.startTransaction()
    assert model.readLine() == b"world\n"
    assert (model.bytesAvailable(), model.canReadLine()) == (7, False)
    model.ungetChar(ord("x"))
    model.rollbackTransaction()
    assert model.readAll() == b"world\npartial"
    assert model.warnings[-1] == ("QIODevice::ungetChar (QLocalSocket): Called while "
                                  "transaction is in progress")
    assert (model.atEnd(), model.getChar()) == (True, (False, b""))


# -- the signal-style property -------------------------------------------------------------


def test_chunked_writes_arrive_whole_through_ready_read() -> None:
    """Random write sizes, piece sizes and read-buffer limits: every byte, in order."""
    server = listening("bulk")
    try:

        @_settings(max_examples=40)
        @given(chunks=st.lists(st.integers(1, 70000), min_size=1, max_size=6),
               pieces=st.lists(st.integers(1, 100000), min_size=1, max_size=4),
               limit=st.sampled_from([0, 512, 4096, 65536, 200000]),
               wait_each=st.booleans(), reader_is_client=st.booleans())
        def run(chunks: list[int], pieces: list[int], limit: int, wait_each: bool,
                reader_is_client: bool) -> None:
            client, accepted = _connect(server, "bulk")
            reader, writer = (client, accepted) if reader_is_client else (accepted, client)
            try:
                reader.setReadBufferSize(limit)
                payload = b"".join(_pattern(size) + bytes([index])
                                   for index, size in enumerate(chunks))
                received = bytearray()
                most = [0]
                turn = [0]

                def on_ready_read() -> None:
                    most[0] = max(most[0], reader.bytesAvailable())
                    while reader.bytesAvailable():
                        received.extend(reader.read(pieces[turn[0] % len(pieces)]))
                        turn[0] += 1

                def write_all() -> None:
                    start = 0
                    for index, size in enumerate(chunks):
                        end = start + size + 1
                        assert writer.write(payload[start:end]) == end - start
                        start = end
                        while wait_each and writer.bytesToWrite():
                            assert writer.waitForBytesWritten(DEFAULT_WAIT_MS), index
                    writer.disconnectFromServer()

                reader.readyRead.connect(on_ready_read)
                finished = Spy(reader.disconnected)
                sender = gevent.spawn(write_all)
                assert finished.wait(4 * DEFAULT_WAIT_MS), (len(received), len(payload))
                sender.get(timeout=DEFAULT_WAIT_MS / 1000)
                received.extend(reader.readAll())
                assert bytes(received) == payload
                if limit:
                    assert most[0] <= limit
                assert reader.error() == QLocalSocket.PeerClosedError
            finally:
                client.abort()
                accepted.abort()

        descriptors = _open_descriptors()
        run()
        assert _open_descriptors() <= descriptors  # every example closed its sockets
    finally:
        server.close()
