"""QDataStream against PySide6's, in the same process: the bytes each writes, the values
and statuses each reads (whole streams and cut ones), for every format version and
both byte orders; read transactions on a QBuffer and, fortune-client style, on a
qlsock socket fed in pieces; and the edges (null markers, Qt 6.7 extended sizes,
devices that cannot read or write, no device).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QBuffer as QtBuffer
from PySide6.QtCore import QByteArray as QtByteArray
from PySide6.QtCore import QDataStream as QtDataStream
from PySide6.QtCore import QIODevice as QtIODevice

from qlsock import QIODevice
from qlsock.qtcore import QByteArray, QDataStream
from qlsock.qtcore._buffer import ByteArrayBuffer
from tests.support import DEFAULT_WAIT_MS, Harness, feed, torn_down

#: Every distinct format version PySide6 has, Qt 1.0's to its own.
VERSIONS = sorted({member.value for member in QtDataStream.Version})
ORDERS = [0, 1]  # BigEndian, LittleEndian

INTS = {
    "Int8": (-(1 << 7), (1 << 7) - 1), "UInt8": (0, (1 << 8) - 1),
    "Int16": (-(1 << 15), (1 << 15) - 1), "UInt16": (0, (1 << 16) - 1),
    "Int32": (-(1 << 31), (1 << 31) - 1), "UInt32": (0, (1 << 32) - 1),
    "Int64": (-(1 << 63), (1 << 63) - 1), "UInt64": (0, (1 << 64) - 1),
}
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
BLOB = st.binary(max_size=24)

#: One value to stream: (kind, value). "QByteArray" goes through ``<<``/``>>`` (None is
#: a null array), "Bytes" through writeBytes/readBytes, "Raw" through the raw calls.
OPS = st.one_of(
    *[st.tuples(st.just(kind), st.integers(low, high)) for kind, (low, high) in INTS.items()],
    st.tuples(st.just("Bool"), st.booleans()),
    st.tuples(st.just("Float"), st.floats()),
    st.tuples(st.just("Double"), st.floats()),
    st.tuples(st.just("QString"), st.none() | TEXT),
    # PySide6 writes a QChar right only for ASCII (test_qchar_is_a_utf16_unit).
    st.tuples(st.just("QChar"), st.characters(max_codepoint=0x7F)),
    st.tuples(st.just("QByteArray"), st.none() | BLOB),
    st.tuples(st.just("Bytes"), BLOB),
    st.tuples(st.just("Raw"), BLOB),
    st.tuples(st.just("QStringList"), st.lists(TEXT, max_size=3)),
)
SETTINGS = settings(deadline=None, max_examples=8, derandomize=True, database=None)

Op = tuple[str, Any]


def configure(stream: Any, version: int, order: int, single: bool) -> Any:
    """Apply the settings with each library's own enum types."""
    kind = type(stream)
    stream.setVersion(version)
    stream.setByteOrder(kind.LittleEndian if order else kind.BigEndian)
    stream.setFloatingPointPrecision(kind.SinglePrecision if single else kind.DoublePrecision)
    return stream


def write(stream: Any, op: Op, array_class: type) -> None:
    kind, value = op
    if kind in INTS or kind in ("Bool", "Float", "Double", "QString", "QChar", "QStringList"):
        getattr(stream, "write" + kind)(value)
    elif kind == "QByteArray":
        stream << (array_class() if value is None else array_class(value))
    elif kind == "Bytes":
        stream.writeBytes(value)
    else:
        stream.writeRawData(value)


def read(stream: Any, op: Op, array_class: type) -> Any:
    kind, value = op
    if kind in INTS or kind in ("Bool", "Float", "Double", "QString", "QChar", "QStringList"):
        return getattr(stream, "read" + kind)()
    if kind == "QByteArray":
        target = array_class(b"junk")
        stream >> target
        # isNull() first: Qt's data() detaches, which makes a null array non-null.
        return target.isNull(), bytes(target.data())
    if kind == "Bytes":
        return stream.readBytes(0)
    return stream.readRawData(len(value))


def comparable(value: Any) -> Any:
    """Floats by their bits (NaNs and signed zeros compare), the rest as they are."""
    if isinstance(value, float):
        return struct.pack("<d", value)
    return value


def qt_write(ops: list[Op], version: int, order: int, single: bool) -> bytes:
    array = QtByteArray()
    stream = configure(QtDataStream(array, QtIODevice.WriteOnly), version, order, single)
    for op in ops:
        write(stream, op, QtByteArray)
    assert stream.status() == QtDataStream.Ok
    return bytes(array.data())


def qlsock_write(ops: list[Op], version: int, order: int, single: bool) -> bytes:
    array = QByteArray()
    stream = configure(QDataStream(array, QIODevice.WriteOnly), version, order, single)
    for op in ops:
        write(stream, op, QByteArray)
    assert stream.status() == QDataStream.Ok
    return bytes(array)


def read_all(stream: Any, ops: list[Op], array_class: type) -> list[Any]:
    """Each value read, then the status as an int and whether the stream is at its end."""
    values = [comparable(read(stream, op, array_class)) for op in ops]
    return [*values, stream.status().value, stream.atEnd()]


def qt_read(data: bytes, ops: list[Op], version: int, order: int, single: bool) -> list[Any]:
    array = QtByteArray(data)
    stream = configure(QtDataStream(array), version, order, single)
    return read_all(stream, ops, QtByteArray)


def qlsock_read(data: bytes, ops: list[Op], version: int, order: int, single: bool) -> list[Any]:
    stream = configure(QDataStream(data), version, order, single)
    return read_all(stream, ops, QByteArray)


# -- the property tests: both directions, every version, both byte orders -------------


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("version", VERSIONS)
@SETTINGS
@given(ops=st.lists(OPS, max_size=12), single=st.booleans())
def test_qlsock_writes_pyside6s_bytes_and_pyside6_reads_them(
        version: int, order: int, ops: list[Op], single: bool) -> None:
    """What qlsock writes is byte for byte what PySide6 writes, and PySide6 reads it
    back whole: status Ok, at its end."""
    data = qlsock_write(ops, version, order, single)
    assert data == qt_write(ops, version, order, single)
    assert qt_read(data, ops, version, order, single)[-2:] == [0, True]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("version", VERSIONS)
@SETTINGS
@given(ops=st.lists(OPS, max_size=12), single=st.booleans(), cut=st.integers(0, 400))
def test_qlsock_reads_what_pyside6_wrote_as_pyside6_does(
        version: int, order: int, ops: list[Op], single: bool, cut: int) -> None:
    """qlsock reads PySide6's bytes to the same values, status and end as PySide6 does:
    the whole stream, and the stream cut short at any point (zero values and
    ReadPastEnd from where the data runs out)."""
    data = qt_write(ops, version, order, single)
    assert qlsock_read(data, ops, version, order, single) == \
        qt_read(data, ops, version, order, single)
    short = data[:cut]
    assert qlsock_read(short, ops, version, order, single) == \
        qt_read(short, ops, version, order, single)


# -- crafted input: markers, odd sizes, extended sizes ------------------------------------

READERS: dict[str, Callable[[Any, type], Any]] = {
    "readQString": lambda s, _: s.readQString(),
    "readBytes": lambda s, _: s.readBytes(0),
    "readQStringList": lambda s, _: s.readQStringList(),
    ">> QByteArray": lambda s, cls: (lambda t: (s >> t, t.isNull(), bytes(t.data()))[1:])(
        cls(b"x")),
    "readInt64": lambda s, _: s.readInt64(),
    "readQChar": lambda s, _: s.readQChar(),
    "readRawData(3)": lambda s, _: s.readRawData(3),
}

CRAFTED = [
    b"\xff\xff\xff\xff",                                          # null marker
    b"\xff\xff\xff\xfe\x00\x00\x00\x00\x00\x00\x00\x04\x00a\x00b",  # extended size 4
    b"\xff\xff\xff\xfe\xff\xff\xff\xff\xff\xff\xff\xff",          # extended -1 (null)
    b"\xff\xff\xff\xfe\x80\x00\x00\x00\x00\x00\x00\x00",          # extended negative
    b"\xff\xff\xff\xfe\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00",
    b"\x00\x00\x00\x03abc\x00\x00\x00\x00",                       # odd QString size
    b"\x00\x00\x00\x00",                                          # empty
    b"\x00\x00\x00\x02\x00",                                      # cut short
    b"\x00\x00\x00\x04\xd8\x00\x00b",                             # unpaired surrogate
    b"\x00\x00\x00\x02\x00\x00\x00\x02\x00a\xff\xff\xff\xff",     # list with a null string
    b"",
]


#: Before, at and after Qt 6.7's extended sizes.
CRAFTED_VERSIONS = [QtDataStream.Qt_5_15.value, QtDataStream.Qt_6_6.value,
                    QtDataStream.Qt_6_7.value, QtDataStream.Qt_6_11.value]


@pytest.mark.parametrize("data", CRAFTED)
def test_crafted_input_reads_as_in_pyside6(data: bytes) -> None:
    """Null markers, Qt 6.7's extended sizes (and before 6.7, where they are not),
    odd and negative sizes, cut data: each reader gives the same value, status and
    rest as PySide6's."""
    for version in CRAFTED_VERSIONS:
        for reader in READERS.values():
            qt_array = QtByteArray(data)
            qt = QtDataStream(qt_array)
            ours = QDataStream(data)
            for stream in (qt, ours):
                stream.setVersion(version)
            assert reader(ours, QByteArray) == reader(qt, QtByteArray)
            assert (ours.status().value, ours.readRawData(64)) == \
                (qt.status().value, qt.readRawData(64))


# -- read transactions --------------------------------------------------------------------


def transaction_script(stream: Any, warn: Callable[[], None]) -> list[Any]:
    """Transactions on a stream over b"\\x00\\x00\\x00\\x08\\x00a\\x00b\\x00\\x00\\x00\\x07"
    (a QString cut short, then an int): what each step returns and leaves."""
    log: list[Any] = []
    stream.startTransaction()
    log += [stream.readQString(), stream.status().value, stream.readInt8()]
    log += [stream.commitTransaction(), stream.status().value]
    stream.startTransaction()
    log.append(stream.status().value)
    log.append(stream.readInt32())
    stream.rollbackTransaction()
    log.append(stream.status().value)
    stream.startTransaction()
    log.append(stream.readInt32())
    stream.abortTransaction()
    log.append(stream.status().value)
    stream.startTransaction()
    stream.startTransaction()
    log += [stream.readInt16(), stream.commitTransaction(), stream.readInt32()]
    log += [stream.commitTransaction(), stream.status().value, stream.readInt16()]
    warn()
    log.append(stream.commitTransaction())
    stream.resetStatus()
    stream.rollbackTransaction()
    log += [stream.status().value, stream.isDeviceTransactionStarted()]
    stream.resetStatus()
    log.append(stream.readRawData(16))
    return log


def test_transactions_as_in_pyside6(qt_warnings: Any) -> None:
    """Commit, rollback, abort and nested transactions: same results and positions."""
    data = b"\x00\x00\x00\x08\x00a\x00b\x00\x00\x00\x07"
    buffer = QtBuffer()
    buffer.setData(QtByteArray(data))
    buffer.open(QtIODevice.ReadOnly)
    expected = transaction_script(QtDataStream(buffer), lambda: None)
    assert transaction_script(QDataStream(data), qt_warnings.clear) == expected
    assert qt_warnings.texts == ["QDataStream: No transaction in progress"] * 2


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield from torn_down(Harness())


def test_fortune_client_reads_a_message_once_all_of_it_came(harness: Harness) -> None:
    """A Qt fortune server's message (a QString, from PySide6), fed to a qlsock socket
    a few bytes at a time: until the last byte, ``>>`` runs short and
    ``commitTransaction()`` returns False with every byte left unread; then the whole
    string is read and the next message follows."""
    fortunes = ["You've been leading a dog's life. Stay off the furniture.",
                "Computers are not intelligent. They only think they are. \u263a"]
    block = QtByteArray()
    out = QtDataStream(block, QtIODevice.WriteOnly)
    out.setVersion(QtDataStream.Qt_5_10)
    for fortune in fortunes:
        out.writeQString(fortune)
    message = bytes(block.data())

    _, client, peer = harness.connection("fortune")
    stream = QDataStream()
    stream.setDevice(client)
    stream.setVersion(QDataStream.Qt_5_10)
    first_size = 4 + 2 * len(fortunes[0])
    received: list[str] = []
    sent = 0
    for size in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233]:
        piece = message[sent:sent + size]
        if not piece:
            break
        feed(client, peer, piece)
        sent += len(piece)
        while True:
            stream.startTransaction()
            fortune = stream.readQString()
            if not stream.commitTransaction():
                assert fortune == ""
                assert stream.status() == QDataStream.ReadPastEnd
                assert client.bytesAvailable() == sent - sum(4 + 2 * len(f) for f in received)
                break
            received.append(fortune)
        assert received == fortunes[:len(received)]
        if sent < first_size:
            assert received == []
    assert received == fortunes
    assert client.bytesAvailable() == 0


def test_a_failed_read_in_a_transaction_stops_the_reads_after_it(harness: Harness) -> None:
    """After a short read inside a transaction nothing more is taken from the socket
    (reads give zero values), so the rollback finds every byte."""
    _, client, peer = harness.connection("suspended")
    feed(client, peer, b"\x00\x00\x00\x04\x00a")
    stream = QDataStream(client)
    stream.startTransaction()
    assert stream.readQString() == ""
    assert stream.readRawData(2) is None
    assert stream.readInt32() == 0
    assert stream.skipRawData(1) == -1
    assert stream.isDeviceTransactionStarted()
    assert stream.commitTransaction() is False
    assert client.bytesAvailable() == 6
    feed(client, peer, b"\x00b\x00\x00\x00\x2a")
    stream.startTransaction()
    assert (stream.readQString(), stream.readInt32()) == ("ab", 42)
    assert stream.commitTransaction() is True
    assert stream.atEnd()


def test_outside_a_transaction_a_short_read_consumes_what_there_was(harness: Harness) -> None:
    _, client, peer = harness.connection("short")
    feed(client, peer, b"\x00\x01")
    stream = QDataStream(client)
    assert stream.readInt32() == 0
    assert stream.status() == QDataStream.ReadPastEnd
    assert client.bytesAvailable() == 0
    assert stream.atEnd()


def test_writes_go_to_the_socket(harness: Harness) -> None:
    _, client, peer = harness.connection("writes")
    out = QDataStream(peer)
    out << "hi" << b"\x01"
    out.writeUInt16(7)
    expected = b"\x00\x00\x00\x04\x00h\x00i\x00\x00\x00\x01\x01\x00\x07"
    assert peer.flush()
    while client.bytesAvailable() < len(expected):
        assert client.waitForReadyRead(DEFAULT_WAIT_MS)
    assert client.readAll() == expected


# -- byte-array devices, no device, modes -------------------------------------------------


@pytest.mark.parametrize("mode", ["WriteOnly", "Append", "ReadWrite", "ReadOnly", "Truncate",
                                  "NotOpen", "WriteOnly|Append"])
def test_byte_array_modes_as_in_pyside6(mode: str, qt_warnings: Any) -> None:
    """WriteOnly overwrites from the start (no truncation), Append writes after the end,
    ReadOnly refuses to write (WriteFailed, with Qt's warning), NotOpen does neither."""
    def flags(owner: Any) -> Any:
        result = owner.NotOpen
        for name in mode.split("|"):
            result |= getattr(owner, name)
        return result

    qt_array = QtByteArray(b"abcdef")
    qt = QtDataStream(qt_array, flags(QtIODevice))
    ours_array = QByteArray(b"abcdef")
    ours = QDataStream(ours_array, flags(QIODevice))
    results = []
    for stream, array in ((qt, qt_array), (ours, ours_array)):
        stream.writeInt8(0x31)
        first = stream.readInt8()
        results.append((bytes(array), stream.status().value, first, stream.atEnd()))
    assert results[1] == results[0]
    if mode == "ReadOnly":
        assert "QIODevice::write (QBuffer): ReadOnly device" in qt_warnings.texts


def test_no_device_as_in_pyside6() -> None:
    qt, ours = QtDataStream(), QDataStream()
    for stream in (qt, ours):
        stream.writeInt32(5)
    assert ours.device() is None
    got = [ours.readInt32(), ours.readQString(), ours.skipRawData(3), ours.readRawData(3),
           ours.readBytes(0), ours.readQStringList(), ours.atEnd(), ours.status().value]
    expected = [qt.readInt32(), qt.readQString(), qt.skipRawData(3), qt.readRawData(3),
                qt.readBytes(0), qt.readQStringList(), qt.atEnd(), qt.status().value]
    assert got == expected
    ours.startTransaction()
    assert ours.commitTransaction() is False


def test_a_bad_status_stops_writes_and_setstatus_keeps_the_first() -> None:
    array = QByteArray()
    stream = QDataStream(array, QIODevice.WriteOnly)
    stream.setStatus(QDataStream.ReadCorruptData)
    stream.setStatus(QDataStream.ReadPastEnd)
    assert stream.status() == QDataStream.ReadCorruptData
    stream.writeInt32(1)
    assert stream.writeRawData(b"x") == -1
    stream << "x"
    assert array == b""
    assert array.isNull()
    stream.resetStatus()
    stream.writeInt8(1)
    assert array == b"\x01"


def test_reads_on_a_write_only_array_fail_as_in_pyside6(qt_warnings: Any) -> None:
    qt = QtDataStream(QtByteArray(), QtIODevice.WriteOnly)
    ours = QDataStream(QByteArray(), QIODevice.WriteOnly)
    expected = [qt.readInt8(), qt.status().value, qt.readRawData(0), qt.atEnd()]
    assert [ours.readInt8(), ours.status().value, ours.readRawData(0), ours.atEnd()] == expected
    assert qt_warnings.texts == ["QIODevice::read (QBuffer): WriteOnly device"] * 2


def test_skip_and_raw_reads_as_in_pyside6(qt_warnings: Any) -> None:
    def script(stream: Any) -> list[Any]:
        return [stream.skipRawData(2), stream.readRawData(-1), stream.status().value,
                stream.skipRawData(-1), stream.status().value, stream.skipRawData(-5),
                stream.status().value, stream.skipRawData(10), stream.readRawData(0),
                stream.skipRawData(0)]

    qt_array = QtByteArray(b"abcdef")
    assert script(QDataStream(b"abcdef")) == script(QtDataStream(qt_array))
    assert qt_warnings.texts == ["QIODevice::skip (QBuffer): Called with maxSize < 0"] * 2


def test_qchar_is_a_utf16_unit() -> None:
    """A QChar is written as its UTF-16 unit, which PySide6 reads back; PySide6 itself
    writes the first UTF-8 byte of a non-ASCII character, sign-extended."""
    array = QByteArray()
    QDataStream(array, QIODevice.WriteOnly).writeQChar("\u00e9")
    assert array == b"\x00\xe9"
    assert QtDataStream(QtByteArray(bytes(array))).readQChar() == "\u00e9"
    assert QDataStream(b"\xd8\x3d").readQChar() == QtDataStream(
        QtByteArray(b"\xd8\x3d")).readQChar() == "\ud83d"
    qt_array = QtByteArray()
    QtDataStream(qt_array, QtIODevice.WriteOnly).writeQChar("\u00e9")
    assert qt_array.data() == b"\xff\xc3"


def test_unpaired_surrogates_as_in_pyside6() -> None:
    """Written as they are; read back, PySide6's conversion to str drops them."""
    text = "a\ud800b\udc00\U0001f600"
    qt_array = QtByteArray()
    QtDataStream(qt_array, QtIODevice.WriteOnly).writeQString(text)
    array = QByteArray()
    QDataStream(array, QIODevice.WriteOnly).writeQString(text)
    assert bytes(array) == bytes(qt_array.data())
    assert QDataStream(bytes(array)).readQString() == QtDataStream(qt_array).readQString() \
        == "ab\U0001f600"


# -- the API: constants, operators, arguments ----------------------------------------------


def test_constants_are_pyside6s() -> None:
    for name, member in QtDataStream.Version.__members__.items():
        assert getattr(QDataStream, name) == member.value, name
        assert QDataStream.Version[name] == member.value
    for enum_name in ("Status", "ByteOrder", "FloatingPointPrecision"):
        for name, member in getattr(QtDataStream, enum_name).__members__.items():
            assert getattr(QDataStream, name) == member.value, name
    stream = QDataStream()
    assert stream.version() == QtDataStream().version() == QDataStream.Qt_DefaultCompiledVersion
    assert (stream.byteOrder(), stream.floatingPointPrecision(), stream.status()) == (
        QDataStream.BigEndian, QDataStream.DoublePrecision, QDataStream.Ok)
    assert repr(QDataStream.ReadPastEnd) == "QDataStream.ReadPastEnd"
    assert QDataStream.ReadOnly == QIODevice.ReadOnly


def test_float_precision_and_old_versions() -> None:
    """writeFloat is 8 bytes by default (Qt); SinglePrecision makes doubles 4 bytes;
    before Qt_4_6 the call decides."""
    array = QByteArray()
    stream = QDataStream(array, QIODevice.WriteOnly)
    stream.writeFloat(1.5)
    stream.setFloatingPointPrecision(QDataStream.SinglePrecision)
    stream.writeDouble(1.1)
    stream.setVersion(QDataStream.Qt_4_5)
    stream.writeDouble(1.5)
    stream.writeFloat(1e300)
    assert bytes(array) == (struct.pack(">d", 1.5) + struct.pack(">f", 1.1)
                            + struct.pack(">d", 1.5) + b"\x7f\x80\x00\x00")
    reader = QDataStream(bytes(array))
    assert reader.readFloat() == 1.5
    reader.setFloatingPointPrecision(QDataStream.SinglePrecision)
    assert reader.readDouble() == struct.unpack("f", struct.pack("f", 1.1))[0]
    reader.setVersion(QDataStream.Qt_4_5)
    assert reader.readDouble() == 1.5
    assert math.isinf(reader.readFloat())


def test_shift_operators() -> None:
    """``<<`` str/None/bytes/QByteArray and chains; ``>>`` fills a QByteArray or a
    bytearray in place. Numbers are refused (PySide6 writes a QBitArray for them)."""
    array = QByteArray()
    stream = QDataStream(array, QIODevice.WriteOnly)
    assert (stream << "a" << None << b"b" << bytearray(b"c") << QByteArray()) is stream
    qt_array = QtByteArray()
    QtDataStream(qt_array, QtIODevice.WriteOnly) << "a" << None << b"b" << bytearray(b"c") \
        << QtByteArray()
    assert bytes(array) == bytes(qt_array.data())
    for value in (5, 1.5, True, ["a"], object()):
        with pytest.raises(TypeError):
            stream << value
    reader = QDataStream(bytes(array))
    reader.skipRawData(10)
    target, plain = QByteArray(b"old"), bytearray(b"old")
    assert (reader >> target >> plain) is reader
    assert (target.isNull(), target, plain) == (False, b"b", bytearray(b"c"))
    reader >> target
    assert target.isNull()
    for wrong in ("", 0, b"immutable"):
        with pytest.raises(TypeError):
            reader >> wrong


def test_argument_checks() -> None:
    """Out-of-range integers raise OverflowError, as in PySide6; a float where an int is
    wanted is a TypeError (PySide6 truncates it)."""
    stream = QDataStream(QByteArray(), QIODevice.WriteOnly)
    for name, (low, high) in INTS.items():
        with pytest.raises(OverflowError):
            getattr(stream, "write" + name)(high + 1)
        with pytest.raises(OverflowError):
            getattr(stream, "write" + name)(low - 1)
        with pytest.raises(TypeError):
            getattr(stream, "write" + name)(1.5)
    with pytest.raises(TypeError):
        stream.writeBool("yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        stream.writeDouble("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="UTF-16"):
        stream.writeQChar("\U0001f600")
    with pytest.raises(TypeError):
        stream.writeQStringList(["a", 1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        QDataStream(b"immutable", QIODevice.WriteOnly)
    with pytest.raises(TypeError):
        QDataStream(3)
    with pytest.raises(TypeError):
        stream.setDevice(b"x")  # type: ignore[arg-type]


def test_pyqt_names_and_raw_str() -> None:
    array = QByteArray()
    stream = QDataStream(array, QIODevice.WriteOnly)
    stream.writeInt(-2)
    stream.writeUInt(2)
    assert stream.writeRawData("é") == 2  # all of its UTF-8 (PySide6 writes 1 byte)
    reader = QDataStream(array, QIODevice.ReadOnly)
    assert (reader.readInt(), reader.readUInt(), reader.readRawData(2)) == (-2, 2, "é".encode())


def test_devices_and_reading_a_copy() -> None:
    """``QDataStream(data)`` reads a copy; ``(array, mode)`` works on the array itself;
    setDevice() switches, to None too."""
    array = QByteArray(b"\x00\x01")
    copy_reader = QDataStream(array)
    live = QDataStream(array, QIODevice.ReadOnly)
    array[1] = 2
    assert (copy_reader.readInt16(), live.readInt16()) == (1, 2)
    device = live.device()
    assert isinstance(device, ByteArrayBuffer)
    assert device.data() is array
    stream = QDataStream()
    stream.setDevice(device)
    assert (stream.device(), stream.atEnd()) == (device, True)
    stream.setDevice(None)
    assert (stream.device(), stream.atEnd()) == (None, True)
    assert QDataStream(memoryview(b"\x05")).readUInt8() == 5
