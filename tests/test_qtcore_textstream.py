"""QTextStream against PySide6's, in the same process: the bytes each writes in every
encoding; what each reads (lines, counts, words, BOMs, bad bytes) from a byte array;
and, on a sequential device fed in pieces, a qlsock socket against a PySide6 device
that hands out the same pieces. Plus flushing: explicit, at 16 KiB, on the device's
close and when the stream goes away.
"""

from __future__ import annotations

import gc
import itertools
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QBuffer as QtBuffer
from PySide6.QtCore import QByteArray as QtByteArray
from PySide6.QtCore import QIODevice as QtIODevice
from PySide6.QtCore import QLocale
from PySide6.QtCore import QStringConverter as QtStringConverter
from PySide6.QtCore import QTextStream as QtTextStream

from qlsock import QIODevice, QLocalServer, QLocalSocket
from qlsock.qtcore import QByteArray, QStringConverter, QTextStream
from tests.support import DEFAULT_WAIT_MS, Harness, feed, listening, torn_down

SETTINGS = settings(deadline=None, max_examples=60, derandomize=True, database=None)
ENCODINGS = [member.value for member in QtStringConverter.Encoding]

#: Text that exercises lines, words and every UTF-8 length (no lone surrogates).
TEXT = st.text(st.sampled_from("ab \t\r\n\u00e9\u4e2d\U0001f600\ufeff\x85\xa0\u2028")
               | st.characters(blacklist_categories=("Cs",)), max_size=30)


def encodings(owner: Any, value: int) -> Any:
    return owner.Encoding(value) if owner is QStringConverter else \
        QtStringConverter.Encoding(value)


# -- writing ---------------------------------------------------------------------------------

ITEMS = st.one_of(TEXT, st.integers(0, (1 << 63) - 1), st.binary(max_size=8), st.none())


@SETTINGS
@given(items=st.lists(ITEMS, max_size=8), encoding=st.sampled_from(ENCODINGS),
       bom=st.booleans())
def test_writes_pyside6s_bytes(items: list[Any], encoding: int, bom: bool) -> None:
    """Text, unsigned integers (PySide6's only working ones), bytes as UTF-8 (bad bytes
    as U+FFFD each) and None, in every encoding, with and without a BOM."""
    qt_array, array = QtByteArray(), QByteArray()
    for stream, converter in ((QtTextStream(qt_array, QtIODevice.WriteOnly), QtStringConverter),
                              (QTextStream(array, QIODevice.WriteOnly), QStringConverter)):
        stream.setEncoding(encodings(converter, encoding))
        stream.setGenerateByteOrderMark(bom)
        for item in items:
            stream << item
        stream.flush()
    assert bytes(array) == bytes(qt_array.data())


@settings(deadline=None, max_examples=300, derandomize=True, database=None)
@given(value=st.floats() | st.integers(-(1 << 63), (1 << 63) - 1))
def test_numbers_are_written_as_qt_writes_them(value: float) -> None:
    """Qt's default notation (``QLocale::c()``, six significant digits), which PySide6's
    own ``<<`` cannot produce: it truncates floats and refuses negative numbers."""
    array = QByteArray()
    stream = QTextStream(array, QIODevice.WriteOnly)
    stream << value
    stream.flush()
    expected = QLocale.c().toString(value, "g", 6) if isinstance(value, float) else str(value)
    assert array.decode() == expected


def test_byte_array_modes_as_in_pyside6(qt_warnings: Any) -> None:
    """ReadWrite (the default) writes over the array from its start; after reading to
    the end, writes go after it; ReadOnly fails to write (WriteFailed)."""
    def run(stream: Any) -> list[Any]:
        stream << "ab"
        stream.flush()
        return [stream.status().value]

    results = []
    for array_class, stream_class in ((QtByteArray, QtTextStream), (QByteArray, QTextStream)):
        default = array_class(b"xyz")
        read_first = array_class(b"xyz\n")
        read_only = array_class(b"xyz")
        read_only_mode = QtIODevice.ReadOnly if array_class is QtByteArray else \
            QIODevice.ReadOnly
        stream = stream_class(read_first)
        line = stream.readLine()
        results.append([run(stream_class(default)), bytes(default.data()),
                        line, run(stream), bytes(read_first.data()),
                        run(stream_class(read_only, read_only_mode)),
                        bytes(read_only.data())])
    assert results[1] == results[0]
    assert qt_warnings.texts == ["QIODevice::write (QBuffer): ReadOnly device"]


# -- reading a byte array ------------------------------------------------------------------

READ_OPS = st.lists(st.one_of(
    st.tuples(st.just("readLine"), st.integers(-1, 6)),
    st.tuples(st.just("read"), st.integers(-1, 6)),
    st.tuples(st.just("readAll"), st.none()),
    st.tuples(st.just("atEnd"), st.none()),
    st.tuples(st.just("skipWhiteSpace"), st.none()),
    st.tuples(st.just(">>"), st.none()),
    st.tuples(st.just("status"), st.none()),
), max_size=10)


def run_ops(stream: Any, ops: list[tuple[str, Any]], array_class: type) -> list[Any]:
    results: list[Any] = []
    for op, arg in ops:
        if op == "readLine":
            results.append(stream.readLine(arg))
        elif op == "read":
            results.append(stream.read(arg))
        elif op == ">>":
            target = array_class(b"junk")
            stream >> target
            results.append((target.isNull(), bytes(target.data())))
        elif op == "status":
            results.append(stream.status().value)
        else:
            results.append(getattr(stream, op)())
    return results


def data_strategy() -> st.SearchStrategy[tuple[bytes, int | None]]:
    """Text in one of the encodings (maybe with its BOM), or arbitrary bytes."""
    def encode(text: str, encoding: int, bom: bool) -> tuple[bytes, int | None]:
        array = QtByteArray()
        stream = QtTextStream(array, QtIODevice.WriteOnly)
        stream.setEncoding(QtStringConverter.Encoding(encoding))
        stream.setGenerateByteOrderMark(bom)
        stream << text
        stream.flush()
        return bytes(array.data()), encoding

    return st.one_of(
        st.builds(encode, TEXT, st.sampled_from(ENCODINGS), st.booleans()),
        st.tuples(st.binary(max_size=24), st.none()),
    )


@SETTINGS
@given(data=data_strategy(), ops=READ_OPS, auto=st.booleans(), set_encoding=st.booleans())
def test_reads_as_in_pyside6(data: tuple[bytes, int | None], ops: list[tuple[str, Any]],
                             auto: bool, set_encoding: bool) -> None:
    """Random reads of text in each encoding (BOM or not, detected or not) and of
    arbitrary bytes as UTF-8: the same strings, words, ends and statuses."""
    raw, encoding = data
    buffer = QtBuffer()
    buffer.setData(QtByteArray(raw))
    buffer.open(QtIODevice.ReadOnly)
    qt = QtTextStream(buffer)
    ours = QTextStream(raw)
    for stream, converter in ((qt, QtStringConverter), (ours, QStringConverter)):
        stream.setAutoDetectUnicode(auto)
        if set_encoding and encoding is not None:
            stream.setEncoding(encodings(converter, encoding))
    expected = run_ops(qt, [*ops, ("readAll", None), ("atEnd", None)], QtByteArray)
    got = run_ops(ours, [*ops, ("readAll", None), ("atEnd", None)], QByteArray)
    assert got == expected
    assert ours.encoding().value == qt.encoding().value


# -- reading a sequential device fed in pieces: a socket against PySide6 ------------------------


class QtPipe(QtIODevice):
    """A sequential PySide6 device that has what was fed to it, as a socket has."""

    def __init__(self, mode: Any = QtIODevice.ReadOnly) -> None:
        super().__init__()
        self.pending = bytearray()
        self.open(mode)

    def isSequential(self) -> bool:
        return True

    def bytesAvailable(self) -> int:
        return len(self.pending) + super().bytesAvailable()

    def readData(self, maxlen: int) -> bytes:
        data = bytes(self.pending[:maxlen])
        del self.pending[:maxlen]
        return data

    def writeData(self, data: Any) -> int:
        return -1


def test_a_socket_fed_in_pieces_reads_as_pyside6_does() -> None:
    """Text in each encoding, or arbitrary bytes as UTF-8, split anywhere (in a
    character, in a bad sequence, between ``\\r`` and ``\\n``), each piece followed by
    random reads: a qlsock socket's stream returns what a PySide6 stream on a
    sequential device given the same pieces returns, partial lines included."""
    server = listening("pieces")
    try:
        @SETTINGS
        @given(data=data_strategy(), auto=st.booleans(),
               cuts=st.lists(st.integers(0, 120), max_size=4),
               steps=st.lists(READ_OPS, min_size=5, max_size=5))
        def run(data: tuple[bytes, int | None], auto: bool, cuts: list[int],
                steps: list[list[tuple[str, Any]]]) -> None:
            raw, encoding = data
            bounds = sorted({0, len(raw), *(cut for cut in cuts if cut < len(raw))})
            pieces = [raw[a:b] for a, b in itertools.pairwise(bounds)]
            client, peer = connect(server, "pieces")
            try:
                pipe = QtPipe()
                qt, ours = QtTextStream(pipe), QTextStream(client)
                for stream, converter in ((qt, QtStringConverter), (ours, QStringConverter)):
                    stream.setAutoDetectUnicode(auto)
                    if encoding is not None:
                        stream.setEncoding(encodings(converter, encoding))
                for piece, ops in zip([*pieces, b""], steps, strict=False):
                    if piece:
                        pipe.pending += piece
                        feed(client, peer, piece)
                    assert run_ops(ours, ops, QByteArray) == run_ops(qt, ops, QtByteArray)
                assert ours.readAll() == qt.readAll()
            finally:
                client.abort()
                peer.abort()

        run()
    finally:
        server.close()


def test_text_mode_drops_carriage_returns_as_in_pyside6(harness: Harness) -> None:
    """On a device opened with Text, the stream reads past the device's translation
    and drops every ``\\r`` itself, the device's mode untouched."""
    _, client, peer = harness.connection("text", QIODevice.ReadOnly | QIODevice.Text)
    pipe = QtPipe(QtIODevice.ReadOnly | QtIODevice.Text)
    qt, ours = QtTextStream(pipe), QTextStream(client)
    for piece in (b"a\r\nb\rc\r", b"\nd\r\r\ne"):
        pipe.pending += piece
        feed(client, peer, piece)
        ops = [("readLine", 0), ("read", 2), ("readAll", None)]
        assert run_ops(ours, ops, QByteArray) == run_ops(qt, ops, QtByteArray)
    assert client.isTextModeEnabled()


def connect(server: QLocalServer, name: str) -> tuple[QLocalSocket, QLocalSocket]:
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.state() == QLocalSocket.ConnectedState
    assert server.waitForNewConnection(DEFAULT_WAIT_MS) == (True, False)
    peer = server.nextPendingConnection()
    assert peer is not None
    return client, peer


# -- flushing and devices ------------------------------------------------------------------


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield from torn_down(Harness())


def arrived(client: QLocalSocket, size: int) -> bytes:
    while client.bytesAvailable() < size:
        assert client.waitForReadyRead(DEFAULT_WAIT_MS)
    return client.readAll()


def test_writes_reach_the_socket_when_flushed(harness: Harness) -> None:
    """Text waits in the stream until flush(); more than 16 KiB goes at once."""
    _, client, peer = harness.connection("flush")
    out = QTextStream(peer)
    out << "h\u00e9llo " << 42 << " " << -0.5 << b"!\n"
    assert peer.bytesToWrite() == 0
    out.flush()
    assert arrived(client, 16) == "h\u00e9llo 42 -0.5!\n".encode()
    out << "x" * 16384
    assert peer.bytesToWrite() == 0
    out << "y"
    assert arrived(client, 16385) == b"x" * 16384 + b"y"


def test_a_stream_flushes_when_deleted_and_when_its_device_closes(harness: Harness) -> None:
    """As Qt's destructor and its watch on aboutToClose do: a temporary stream's text
    is sent, and so is what is left when the socket is closed."""
    _, client, peer = harness.connection("gone")
    QTextStream(peer) << "temporary\n"
    assert arrived(client, 10) == b"temporary\n"
    out = QTextStream(peer)
    out << "before close\n"
    peer.close()
    assert arrived(client, 13) == b"before close\n"
    assert out.status() == QTextStream.Ok
    del out
    gc.collect()
    assert peer.aboutToClose.receivers() == 0


def test_setdevice_flushes_and_resets(harness: Harness) -> None:
    _, client, peer = harness.connection("switch")
    array = QByteArray()
    out = QTextStream(array, QIODevice.WriteOnly)
    out.setEncoding(QStringConverter.Latin1)
    out << "\u00e9"
    out.setDevice(peer)
    assert bytes(array) == b"\xe9"
    assert out.encoding() == QStringConverter.Utf8
    assert peer.aboutToClose.receivers() == 1
    out << "\u00e9"
    out.setDevice(None)
    assert out.device() is None
    assert peer.aboutToClose.receivers() == 0
    assert arrived(client, 2) == "\u00e9".encode()


def test_no_device_as_in_pyside6(qt_warnings: Any) -> None:
    qt, ours = QtTextStream(), QTextStream()
    script = [("readLine", 0), ("atEnd", None), ("readAll", None), ("read", 3), (">>", None),
              ("status", None)]
    assert run_ops(ours, script, QByteArray) == run_ops(qt, script, QtByteArray)
    ours << "x"
    ours.flush()
    assert ours.readLineInto() == (False, "")
    assert qt_warnings.texts == ["QTextStream: No device"] * 7


def test_the_api() -> None:
    for name, member in QtStringConverter.Encoding.__members__.items():
        assert getattr(QStringConverter, name) == member.value
    for name, member in QtTextStream.Status.__members__.items():
        assert getattr(QTextStream, name) == member.value
    stream = QTextStream(b"one\ntwo")
    assert (stream.encoding(), stream.autoDetectUnicode(), stream.generateByteOrderMark(),
            stream.status()) == (QStringConverter.Utf8, True, False, QTextStream.Ok)
    assert stream.readLineInto() == (True, "one")
    assert stream.readLineInto(2) == (True, "tw")
    assert stream.readLineInto() == (True, "o")
    assert stream.readLineInto() == (False, "")
    stream.setStatus(QTextStream.ReadCorruptData)
    stream.setStatus(QTextStream.WriteFailed)
    assert stream.status() == QTextStream.ReadCorruptData
    stream.resetStatus()
    assert stream.status() == QTextStream.Ok
    assert (stream << "x") is stream
    with pytest.raises(TypeError):
        stream << object()
    with pytest.raises(TypeError):
        stream >> ""  # type: ignore[operator]
    with pytest.raises(TypeError):
        QTextStream(b"x", QIODevice.WriteOnly)
    with pytest.raises(TypeError):
        QTextStream(b"x").setDevice("device")  # type: ignore[arg-type]
    plain = bytearray(b"old")
    QTextStream(b"  word rest") >> plain
    assert plain == b"word"


@pytest.mark.parametrize("name", ["Utf16", "Utf16LE", "Utf16BE", "Utf32", "Utf32LE", "Utf32BE"])
@pytest.mark.parametrize("bom", ["", "be", "le"])
def test_utf16_and_utf32_decoding_holds_partial_units(name: str, bom: str) -> None:
    """The UTF-16/32 decoders hold a partial unit until the rest comes, so input fed
    byte by byte decodes as the whole does; the automatic ones take the byte order
    from a leading BOM, the host's without one."""
    from qlsock.qtcore.stringconverter import Decoder, QStringConverter, to_units

    width = 4 if "32" in name else 2
    fixed = "le" if name.endswith("LE") else "be" if name.endswith("BE") else ""
    order = bom or fixed or sys.byteorder[0] + "e"
    text = "héllo, wörld \U0001f600"
    codec = f"utf-{width * 8}-{order}"
    data = ("\ufeff" if bom else "").encode(codec) + text.encode(codec)
    encoding = getattr(QStringConverter.Encoding, name)
    whole = Decoder(encoding).decode(data)
    piecewise = Decoder(encoding)
    assert "".join(piecewise.decode(data[i:i + 1]) for i in range(len(data))) == whole
    if not fixed or fixed == order:
        assert whole.endswith(to_units(text))  # QString's UTF-16 units
