"""``QDataStream``: Qt's binary serialization, byte for byte, over a device or a byte array.

The format is Qt's (``qdatastream.cpp``, and ``qstring.cpp``/``qbytearray.cpp`` for
strings and arrays) for every ``version()``, Qt 1.0's to Qt 6.11's: integers of each
width in the stream's byte order (big-endian unless set), ``bool`` as one byte,
``float``/``double`` as IEEE 754 at the stream's floating-point precision (from
``Qt_4_6``; before it, as the call says), strings as UTF-16 with a byte-count prefix,
byte arrays with a length prefix; null strings and arrays as ``0xFFFFFFFF``, and from
``Qt_6_7`` sizes of 2³²-2 or more as ``0xFFFFFFFE`` and a 64-bit size. Old versions
keep their quirks (``Qt_1_0`` strings as Latin-1, ``qint64`` as two words before
``Qt_3_3``, read back in the other order, as Qt does).

Reading past the available data gives zero values (``""``, ``0``, ``None`` for
``readBytes``/``readRawData``, as PySide6) and sets ``ReadPastEnd``. Read transactions
use the device's: ``startTransaction()``, reads, and ``commitTransaction()`` returns
False and rolls the device back if a read ran short, so a message that has not fully
arrived on a socket is read again whole later (Qt's fortune client).

The method names are PySide6's (``writeInt32``, ``readQString``...; PyQt's
``readInt``/``writeInt`` and ``readUInt``/``writeUInt`` too), and so are the results
(``readBytes()`` gives None for an empty array, ``readRawData()`` None where Qt's
returns -1). Where PySide6 differs, the method says so. In short: ``<<`` takes ``str``
(QString), ``None`` (a null QString) and bytes-like or ``QByteArray`` (QByteArray),
and refuses numbers, which PySide6 turns into a ``QBitArray`` (``stream << 5`` writes
five zero *bits*); ``>>`` fills a ``QByteArray``/``bytearray`` in place and refuses
what it cannot fill (PySide6 reads into a temporary and drops it); a ``float`` passed
as an integer is a TypeError (PySide6 truncates it); ``writeQChar()`` writes the
character's UTF-16 unit (PySide6, for a non-ASCII one, its first UTF-8 byte
sign-extended); ``writeRawData(str)`` writes all of the UTF-8 (PySide6 cuts it to the
number of characters); ``QDataStream(bytes)`` reads (PySide6 6.11 raises ValueError);
``QVariant`` is not supported.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any, TypeAlias

from .._log import qt_warning
from ..enums import OpenModeFlag, QIODeviceBase, _QtEnum
from ..iodevice import QIODevice, coerce_size
from ._buffer import ByteArrayBuffer, open_target
from .bytearray import QByteArray

__all__ = ["QDataStream"]


class Version(_QtEnum):
    """``QDataStream::Version``: the format's version numbers (aliases share one)."""

    Qt_1_0 = 1
    Qt_2_0 = 2
    Qt_2_1 = 3
    Qt_3_0 = 4
    Qt_3_1 = 5
    Qt_3_3 = 6
    Qt_4_0 = 7
    Qt_4_1 = 7
    Qt_4_2 = 8
    Qt_4_3 = 9
    Qt_4_4 = 10
    Qt_4_5 = 11
    Qt_4_6 = 12
    Qt_4_7 = 12
    Qt_4_8 = 12
    Qt_4_9 = 12
    Qt_5_0 = 13
    Qt_5_1 = 14
    Qt_5_2 = 15
    Qt_5_3 = 15
    Qt_5_4 = 16
    Qt_5_5 = 16
    Qt_5_6 = 17
    Qt_5_7 = 17
    Qt_5_8 = 17
    Qt_5_9 = 17
    Qt_5_10 = 17
    Qt_5_11 = 17
    Qt_5_12 = 18
    Qt_5_13 = 19
    Qt_5_14 = 19
    Qt_5_15 = 19
    Qt_6_0 = 20
    Qt_6_1 = 20
    Qt_6_2 = 20
    Qt_6_3 = 20
    Qt_6_4 = 20
    Qt_6_5 = 20
    Qt_6_6 = 21
    Qt_6_7 = 22
    Qt_6_8 = 22
    Qt_6_9 = 22
    Qt_6_10 = 23
    Qt_6_11 = 24
    # PySide6 6.11's: the format its Qt writes unless told otherwise.
    Qt_DefaultCompiledVersion = 24


class ByteOrder(_QtEnum):
    """``QDataStream::ByteOrder``."""

    BigEndian = 0
    LittleEndian = 1


class Status(_QtEnum):
    """``QDataStream::Status``."""

    Ok = 0
    ReadPastEnd = 1
    ReadCorruptData = 2
    WriteFailed = 3
    SizeLimitExceeded = 4


class FloatingPointPrecision(_QtEnum):
    """``QDataStream::FloatingPointPrecision``."""

    SinglePrecision = 0
    DoublePrecision = 1


for _enum in (Version, ByteOrder, Status, FloatingPointPrecision):
    _enum._qt_owner = "QDataStream"

_Device: TypeAlias = "QIODevice | ByteArrayBuffer"

_NULL_CODE = 0xFFFFFFFF
_EXTENDED_SIZE = 0xFFFFFFFE
# Versions where the format changed (the Qt 1.0..4.6 ones matter only to old data).
_V_QSTRING_NULL = 3      # Qt_2_1: null strings get their own marker
_V_QINT64 = 6            # Qt_3_3: qint64 as one 8-byte word
_V_QBYTEARRAY_NULL = 6   # Qt_3_3: null byte arrays get their own marker
_V_PRECISION = 12        # Qt_4_6: floatingPointPrecision() decides float sizes
_V_EXTENDED = 22         # Qt_6_7: sizes >= 0xFFFFFFFE as a marker and a qint64

_STRUCTS = {
    order: {code: struct.Struct(order + code) for code in "bBhHiIqQfd"}
    for order in "<>"
}
_FLOAT32 = struct.Struct("f")
_RANGES = {
    "b": (-(1 << 7), (1 << 7) - 1), "B": (0, (1 << 8) - 1),
    "h": (-(1 << 15), (1 << 15) - 1), "H": (0, (1 << 16) - 1),
    "i": (-(1 << 31), (1 << 31) - 1), "I": (0, (1 << 32) - 1),
    "q": (-(1 << 63), (1 << 63) - 1), "Q": (0, (1 << 64) - 1),
}


def _to_float32(value: float) -> float:
    """C's ``float(value)``: rounded to single precision, infinite if too large."""
    try:
        result: float = _FLOAT32.unpack(_FLOAT32.pack(value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)
    return result


def _real(value: object, what: str) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"{what} takes a float, not {type(value).__name__}")


def _latin1(text: str) -> bytes:
    """``QString::toLatin1()``: every UTF-16 unit above U+00FF becomes ``?``."""
    return "".join(c if ord(c) < 0x100 else "??" if ord(c) > 0xFFFF else "?"
                   for c in text).encode("latin-1")


class QDataStream(QIODeviceBase):
    """Qt's ``QDataStream`` over a :class:`qlsock.QIODevice` or a byte array.

    ``QDataStream(device)``, ``QDataStream(array, mode)`` (a ``QBuffer`` over the
    caller's ``QByteArray``/``bytearray``: ``WriteOnly`` writes from its start,
    ``Append`` after its end), ``QDataStream(data)`` (reads a copy of bytes or a
    QByteArray), or ``QDataStream()`` (no device: reads give zero values, writes
    nothing).
    """

    Version: TypeAlias = Version
    ByteOrder: TypeAlias = ByteOrder
    Status: TypeAlias = Status
    FloatingPointPrecision: TypeAlias = FloatingPointPrecision
    OpenModeFlag: TypeAlias = OpenModeFlag

    Qt_1_0 = Version.Qt_1_0
    Qt_2_0 = Version.Qt_2_0
    Qt_2_1 = Version.Qt_2_1
    Qt_3_0 = Version.Qt_3_0
    Qt_3_1 = Version.Qt_3_1
    Qt_3_3 = Version.Qt_3_3
    Qt_4_0 = Version.Qt_4_0
    Qt_4_1 = Version.Qt_4_1
    Qt_4_2 = Version.Qt_4_2
    Qt_4_3 = Version.Qt_4_3
    Qt_4_4 = Version.Qt_4_4
    Qt_4_5 = Version.Qt_4_5
    Qt_4_6 = Version.Qt_4_6
    Qt_4_7 = Version.Qt_4_7
    Qt_4_8 = Version.Qt_4_8
    Qt_4_9 = Version.Qt_4_9
    Qt_5_0 = Version.Qt_5_0
    Qt_5_1 = Version.Qt_5_1
    Qt_5_2 = Version.Qt_5_2
    Qt_5_3 = Version.Qt_5_3
    Qt_5_4 = Version.Qt_5_4
    Qt_5_5 = Version.Qt_5_5
    Qt_5_6 = Version.Qt_5_6
    Qt_5_7 = Version.Qt_5_7
    Qt_5_8 = Version.Qt_5_8
    Qt_5_9 = Version.Qt_5_9
    Qt_5_10 = Version.Qt_5_10
    Qt_5_11 = Version.Qt_5_11
    Qt_5_12 = Version.Qt_5_12
    Qt_5_13 = Version.Qt_5_13
    Qt_5_14 = Version.Qt_5_14
    Qt_5_15 = Version.Qt_5_15
    Qt_6_0 = Version.Qt_6_0
    Qt_6_1 = Version.Qt_6_1
    Qt_6_2 = Version.Qt_6_2
    Qt_6_3 = Version.Qt_6_3
    Qt_6_4 = Version.Qt_6_4
    Qt_6_5 = Version.Qt_6_5
    Qt_6_6 = Version.Qt_6_6
    Qt_6_7 = Version.Qt_6_7
    Qt_6_8 = Version.Qt_6_8
    Qt_6_9 = Version.Qt_6_9
    Qt_6_10 = Version.Qt_6_10
    Qt_6_11 = Version.Qt_6_11
    Qt_DefaultCompiledVersion = Version.Qt_DefaultCompiledVersion

    BigEndian = ByteOrder.BigEndian
    LittleEndian = ByteOrder.LittleEndian

    Ok = Status.Ok
    ReadPastEnd = Status.ReadPastEnd
    ReadCorruptData = Status.ReadCorruptData
    WriteFailed = Status.WriteFailed
    SizeLimitExceeded = Status.SizeLimitExceeded

    SinglePrecision = FloatingPointPrecision.SinglePrecision
    DoublePrecision = FloatingPointPrecision.DoublePrecision


    def __init__(self, target: object = None, mode: object = None, /) -> None:
        self._device: _Device | None = open_target(target, mode, "QDataStream")
        self._structs = _STRUCTS[">"]
        self._byte_order = ByteOrder.BigEndian
        self._version = int(Version.Qt_DefaultCompiledVersion)
        self._status = Status.Ok
        self._precision = FloatingPointPrecision.DoublePrecision
        self._transaction_depth = 0

    # -- device and settings ------------------------------------------------------------

    def device(self) -> QIODevice | ByteArrayBuffer | None:
        """The device; for a byte-array stream its buffer (PySide6: a ``QBuffer``)."""
        return self._device

    def setDevice(self, device: QIODevice | ByteArrayBuffer | None) -> None:
        """Use *device* from now on (None: no device); a byte array's buffer is let go."""
        if device is not None and not isinstance(device, (QIODevice, ByteArrayBuffer)):
            raise TypeError(f"QDataStream.setDevice() takes a QIODevice or None, "
                            f"not {type(device).__name__}")
        self._device = device

    def atEnd(self) -> bool:
        """The device's ``atEnd()``: for a socket, nothing buffered now; True with no
        device."""
        return self._device.atEnd() if self._device is not None else True

    def status(self) -> Status:
        return self._status

    def setStatus(self, status: int) -> None:
        """Set the status, unless it is already not ``Ok`` (Qt keeps the first error)."""
        if self._status == Status.Ok:
            self._status = Status(coerce_size(status, "QDataStream.setStatus()"))

    def resetStatus(self) -> None:
        self._status = Status.Ok

    def byteOrder(self) -> ByteOrder:
        return self._byte_order

    def setByteOrder(self, bo: int) -> None:
        self._byte_order = ByteOrder(coerce_size(bo, "QDataStream.setByteOrder()"))
        self._structs = _STRUCTS["<" if self._byte_order == ByteOrder.LittleEndian else ">"]

    def version(self) -> int:
        return self._version

    def setVersion(self, v: int) -> None:
        """Set the format version: a ``Version`` member or its number (Qt takes
        any int)."""
        self._version = int(coerce_size(v, "QDataStream.setVersion()"))

    def floatingPointPrecision(self) -> FloatingPointPrecision:
        return self._precision

    def setFloatingPointPrecision(self, precision: int) -> None:
        """Whether ``float`` and ``double`` are both written as 4 or as 8 bytes (from
        ``Qt_4_6``; earlier versions write a ``float`` as 4, a ``double`` as 8)."""
        self._precision = FloatingPointPrecision(
            coerce_size(precision, "QDataStream.setFloatingPointPrecision()"))

    # -- read transactions ----------------------------------------------------------------

    def startTransaction(self) -> None:
        """Start a read transaction (nested ones join the outermost); the outermost
        starts the device's and resets the status."""
        if self._device is None:
            return
        self._transaction_depth += 1
        if self._transaction_depth == 1:
            self._device.startTransaction()
            self.resetStatus()

    def commitTransaction(self) -> bool:
        """End a transaction; True if every read in it succeeded.

        Ending the outermost after a read ran past the data rolls the device back to
        where the transaction started (read it again when more data has come) and
        returns False; after corrupt data the bytes stay consumed.
        """
        if not self._end_transaction():
            return False
        if self._transaction_depth == 0:
            if self._device is None:
                return False
            if self._status == Status.ReadPastEnd:
                self._device.rollbackTransaction()
                return False
            self._device.commitTransaction()
        return self._status == Status.Ok

    def rollbackTransaction(self) -> None:
        """Undo the reads since the outermost ``startTransaction()``; the status
        becomes ``ReadPastEnd`` if it was ``Ok`` (after corrupt data nothing is undone)."""
        self.setStatus(Status.ReadPastEnd)
        if self._end_transaction() and self._transaction_depth == 0 \
                and self._device is not None:
            if self._status == Status.ReadPastEnd:
                self._device.rollbackTransaction()
            else:
                self._device.commitTransaction()

    def abortTransaction(self) -> None:
        """Give up the transaction: the status becomes ``ReadCorruptData``, what was
        read stays consumed."""
        self._status = Status.ReadCorruptData
        if self._end_transaction() and self._transaction_depth == 0 \
                and self._device is not None:
            self._device.commitTransaction()

    def _end_transaction(self) -> bool:
        if self._transaction_depth == 0:
            qt_warning("QDataStream: No transaction in progress")
            return False
        self._transaction_depth -= 1
        return True

    def isDeviceTransactionStarted(self) -> bool:
        return self._device is not None and self._device.isTransactionStarted()

    # -- reading and writing blocks -----------------------------------------------------------

    def _read_block(self, device: _Device, size: int) -> bytes | None:
        """Qt's ``readBlock()``: up to *size* bytes; ``ReadPastEnd`` if fewer came.

        None where Qt's read returns -1: the device is not readable, or a read in
        this transaction already failed (then nothing more is read).
        """
        if self._status != Status.Ok and device.isTransactionStarted():
            return None
        data = device.read(size)
        if len(data) == size and (size or device.isReadable()):
            return data
        self.setStatus(Status.ReadPastEnd)
        return data if device.isReadable() else None

    def _write(self, data: bytes) -> None:
        """Write *data* unless there is no device or the status is not ``Ok``.

        Qt writes a length prefix and its data with two device writes; this makes
        one, which differs only for a device that accepts part of a write.
        """
        device = self._device
        if device is None or self._status != Status.Ok:
            return
        if device.write(data) != len(data):
            self._status = Status.WriteFailed

    def _unpack(self, code: str) -> Any:
        """One value of the struct *code*; None if it could not be read."""
        if self._device is None:
            return None
        fmt = self._structs[code]
        data = self._read_block(self._device, fmt.size)
        if data is None or len(data) != fmt.size:
            return None
        return fmt.unpack(data)[0]

    def _read(self, code: str) -> int:
        """An integer; 0 if it could not be read (Qt's zero value)."""
        value = self._unpack(code)
        return 0 if value is None else int(value)

    def _read_real(self, code: str) -> float:
        value = self._unpack(code)
        return 0.0 if value is None else float(value)

    def _pack(self, code: str, value: object, what: str) -> bytes:
        return self._structs[code].pack(_checked(code, value, what))

    # -- integers and bool ------------------------------------------------------------------

    def writeInt8(self, i: int, /) -> None:
        self._write(self._pack("b", i, "QDataStream.writeInt8()"))

    def writeUInt8(self, i: int, /) -> None:
        self._write(self._pack("B", i, "QDataStream.writeUInt8()"))

    def writeInt16(self, i: int, /) -> None:
        self._write(self._pack("h", i, "QDataStream.writeInt16()"))

    def writeUInt16(self, i: int, /) -> None:
        self._write(self._pack("H", i, "QDataStream.writeUInt16()"))

    def writeInt32(self, i: int, /) -> None:
        self._write(self._pack("i", i, "QDataStream.writeInt32()"))

    def writeUInt32(self, i: int, /) -> None:
        self._write(self._pack("I", i, "QDataStream.writeUInt32()"))

    def writeInt64(self, i: int, /) -> None:
        self._write_64("q", i, "QDataStream.writeInt64()")

    def writeUInt64(self, i: int, /) -> None:
        self._write_64("Q", i, "QDataStream.writeUInt64()")

    def _write_64(self, code: str, value: object, what: str) -> None:
        number = _checked(code, value, what)
        if self._version >= _V_QINT64:
            self._write(self._structs[code].pack(number))
            return
        # Two quint32 words, the high one first, each in the byte order.
        pack = self._structs["I"].pack
        number &= 0xFFFFFFFFFFFFFFFF
        self._write(pack(number >> 32) + pack(number & 0xFFFFFFFF))

    def readInt8(self) -> int:
        return self._read("b")

    def readUInt8(self) -> int:
        return self._read("B")

    def readInt16(self) -> int:
        return self._read("h")

    def readUInt16(self) -> int:
        return self._read("H")

    def readInt32(self) -> int:
        return self._read("i")

    def readUInt32(self) -> int:
        return self._read("I")

    def readInt64(self) -> int:
        value = self._read_64()
        return value - (1 << 64) if value >= 1 << 63 else value

    def readUInt64(self) -> int:
        return self._read_64()

    def _read_64(self) -> int:
        if self._version >= _V_QINT64:
            return self._read("Q")
        if self._device is None:
            return 0
        # Qt reads the first word into its "low" variable and the second into its
        # "high" one: the two words come back swapped from how they were written.
        first = self._read("I")
        second = self._read("I")
        return (second << 32) + first

    # PyQt's names for the 32-bit ones.
    writeInt = writeInt32
    writeUInt = writeUInt32
    readInt = readInt32
    readUInt = readUInt32

    def writeBool(self, i: bool, /) -> None:
        """One byte, 1 or 0 (any int is taken by its truth, as PySide6)."""
        if not isinstance(i, int):
            raise TypeError(f"QDataStream.writeBool() takes a bool, not {type(i).__name__}")
        self._write(self._structs["b"].pack(1 if i else 0))

    def readBool(self) -> bool:
        return self._read("b") != 0

    # -- floating point -----------------------------------------------------------------------

    def writeFloat(self, f: float, /) -> None:
        """A C ``float``: 8 bytes at ``DoublePrecision`` (the default), 4 at
        ``SinglePrecision``; the value is rounded to single precision either way."""
        value = _to_float32(_real(f, "QDataStream.writeFloat()"))
        if self._version >= _V_PRECISION and \
                self._precision == FloatingPointPrecision.DoublePrecision:
            self._write(self._structs["d"].pack(value))
        else:
            self._write(self._structs["f"].pack(value))

    def writeDouble(self, f: float, /) -> None:
        """A C ``double``: 8 bytes, or 4 (rounded) at ``SinglePrecision``."""
        value = _real(f, "QDataStream.writeDouble()")
        if self._version >= _V_PRECISION and \
                self._precision == FloatingPointPrecision.SinglePrecision:
            self._write(self._structs["f"].pack(_to_float32(value)))
        else:
            self._write(self._structs["d"].pack(value))

    def readFloat(self) -> float:
        """A C ``float`` (8 bytes at ``DoublePrecision``, rounded to single precision)."""
        if self._version >= _V_PRECISION and \
                self._precision == FloatingPointPrecision.DoublePrecision:
            return _to_float32(self._read_real("d"))
        return self._read_real("f")

    def readDouble(self) -> float:
        if self._version >= _V_PRECISION and \
                self._precision == FloatingPointPrecision.SinglePrecision:
            return self._read_real("f")
        return self._read_real("d")

    # -- sizes, byte arrays and raw data ------------------------------------------------------

    def _size_prefix(self, size: int) -> bytes | None:
        """Qt's ``writeQSizeType()``: a quint32, or from ``Qt_6_7`` the extended-size
        marker and a qint64; None (``SizeLimitExceeded``) if older versions cannot
        say it."""
        if size < _EXTENDED_SIZE:
            return self._structs["I"].pack(size & 0xFFFFFFFF)
        if self._version >= _V_EXTENDED:
            return self._structs["I"].pack(_EXTENDED_SIZE) + self._structs["q"].pack(size)
        if size == _EXTENDED_SIZE:
            return self._structs["I"].pack(_EXTENDED_SIZE)
        self.setStatus(Status.SizeLimitExceeded)
        return None

    def _read_size(self) -> int:
        """Qt's ``readQSizeType()``: -1 for the null marker."""
        first = self._read("I")
        if first == _NULL_CODE:
            return -1
        if first < _EXTENDED_SIZE or self._version < _V_EXTENDED:
            return first
        return self._read("q")

    def _write_bytes(self, data: bytes) -> None:
        """Qt's ``writeBytes()``: the size, then the bytes."""
        if self._device is None or self._status != Status.Ok:
            return
        prefix = self._size_prefix(len(data))
        if prefix is not None:
            self._write(prefix + data)

    def _write_byte_array(self, data: bytes | None) -> None:
        """``operator<<(QByteArray)``; *data* None is a null array."""
        if data is None and self._version >= _V_QBYTEARRAY_NULL:
            self._write(self._structs["I"].pack(_NULL_CODE))
        else:
            self._write_bytes(data or b"")

    def _read_byte_array(self) -> tuple[bytes, bool]:
        """``operator>>(QByteArray)``: the bytes and whether the array is null (it is,
        as Qt clears it, after a failed read)."""
        size = self._read_size()
        if size < -1:
            self.setStatus(Status.SizeLimitExceeded)
            return b"", True
        if size == -1:
            return b"", True
        data = self._read_raw(size)
        if data is None or len(data) != size:
            self.setStatus(Status.ReadPastEnd)
            return b"", True
        return data, False

    def _read_raw(self, size: int) -> bytes | None:
        return None if self._device is None else self._read_block(self._device, size)

    def writeBytes(self, data: bytes | bytearray | memoryview, /) -> QDataStream:
        """The length (as ``writeQSizeType``), then *data*; returns the stream."""
        self._write_bytes(_bytes_arg(data, "QDataStream.writeBytes()"))
        return self

    def readBytes(self, unused: int = 0, /) -> bytes | None:
        """What ``writeBytes()`` wrote; None if it was empty or could not be read
        (PySide6's answers). A null array's marker gives None and ``SizeLimitExceeded``.

        *unused* is PySide6's required but unused argument (Qt's output parameter); here
        it is optional and ignored.
        """
        if self._device is None:
            return None
        size = self._read_size()
        if size == 0:
            return None
        if size < 0:
            self.setStatus(Status.SizeLimitExceeded)
            return None
        data = self._read_block(self._device, size)
        if data is None or len(data) != size:
            return None
        return data

    def writeRawData(self, data: bytes | bytearray | memoryview | str, /) -> int:
        """Write *data* as is; the count written, or -1.

        A ``str`` is written as UTF-8; PySide6 writes only as many bytes as the text
        has characters, cutting non-ASCII text short.
        """
        payload = data.encode("utf-8") if isinstance(data, str) else \
            _bytes_arg(data, "QDataStream.writeRawData()")
        device = self._device
        if device is None or self._status != Status.Ok:
            return -1
        written = device.write(payload)
        if written != len(payload):
            self._status = Status.WriteFailed
        return written

    def readRawData(self, size: int, /) -> bytes | None:
        """Up to *size* bytes as they are (``ReadPastEnd`` if fewer came); None where
        Qt returns -1 (no device, not readable, a failed transaction)."""
        size = coerce_size(size, "QDataStream.readRawData()")
        if size < 0:
            return b""
        return self._read_raw(size)

    def skipRawData(self, size: int, /) -> int:
        """Skip up to *size* bytes; the count skipped (``ReadPastEnd`` if fewer), -1 on
        error."""
        size = coerce_size(size, "QDataStream.skipRawData()")
        device = self._device
        if device is None:
            return -1
        if self._status != Status.Ok and device.isTransactionStarted():
            return -1
        skipped = device.skip(size)
        if skipped != size:
            self.setStatus(Status.ReadPastEnd)
        return skipped

    # -- strings --------------------------------------------------------------------------------

    @property
    def _utf16(self) -> str:
        return "utf-16-le" if self._byte_order == ByteOrder.LittleEndian else "utf-16-be"

    def writeQString(self, s: str | None, /) -> None:
        """A QString: its UTF-16 byte count, then UTF-16 in the stream's byte order;
        None is a null string (``0xFFFFFFFF``)."""
        if s is not None and not isinstance(s, str):
            raise TypeError(f"QDataStream.writeQString() takes a str, not {type(s).__name__}")
        if self._version == Version.Qt_1_0:
            self._write_byte_array(None if s is None else _latin1(s))
        elif s is not None or self._version < _V_QSTRING_NULL:
            self._write_bytes((s or "").encode(self._utf16, "surrogatepass"))
        else:
            self._write(self._structs["I"].pack(_NULL_CODE))

    def readQString(self) -> str:
        """A QString; ``""`` for a null or unreadable one. Odd byte counts set
        ``ReadCorruptData``. Unpaired surrogates are dropped (PySide6's conversion)."""
        if self._version == Version.Qt_1_0:
            return self._read_byte_array()[0].decode("latin-1")
        size = self._read_size()
        if size < -1:
            self.setStatus(Status.SizeLimitExceeded)
            return ""
        if size <= 0:
            return ""
        if size & 1:
            self.setStatus(Status.ReadCorruptData)
            return ""
        data = self._read_raw(size)
        if data is None or len(data) != size:
            self.setStatus(Status.ReadPastEnd)
            return ""
        return data.decode(self._utf16, "ignore")

    # PySide6 maps both to QString (Qt's char* overloads are not exposed).
    writeString = writeQString
    readString = readQString

    def writeQChar(self, c: str, /) -> None:
        """One UTF-16 unit (a character of the Basic Multilingual Plane), as Qt's
        ``operator<<(QChar)``. PySide6 gets non-ASCII characters wrong (it writes the
        first UTF-8 byte, sign-extended: ``0xFFC3`` for ``é``)."""
        if not isinstance(c, str) or len(c) != 1 or ord(c) > 0xFFFF:
            raise ValueError(f"QDataStream.writeQChar() takes one UTF-16 character, not {c!r}")
        self._write(self._structs["H"].pack(ord(c)))

    def readQChar(self) -> str:
        return chr(self._read("H"))

    def writeQStringList(self, strings: Sequence[str], /) -> None:
        """The count, then each string."""
        items = [_str_arg(item, "QDataStream.writeQStringList()") for item in strings]
        prefix = self._size_prefix(len(items))
        if prefix is None:
            return
        self._write(prefix)
        for item in items:
            self.writeQString(item)

    def readQStringList(self) -> list[str]:
        """The strings; ``[]`` if any could not be read. Outside a transaction an
        earlier error does not stop the read, and is kept (Qt's ``StreamStateSaver``)."""
        old_status = self._status
        if not self.isDeviceTransactionStarted():
            self._status = Status.Ok
        result: list[str] = []
        count = self._read_size()
        if count < 0:
            self.setStatus(Status.SizeLimitExceeded)
        else:
            for _ in range(count):
                item = self.readQString()
                if self._status != Status.Ok:
                    result.clear()
                    break
                result.append(item)
        if old_status != Status.Ok:
            self._status = old_status
        return result

    # -- operators ------------------------------------------------------------------------------

    def __lshift__(self, value: object) -> QDataStream:
        """``stream << str`` (QString), ``<< None`` (null QString), ``<< bytes`` /
        ``QByteArray`` (QByteArray; a null one as ``0xFFFFFFFF``). Numbers are refused:
        say their width with ``writeInt32()`` and the like."""
        if value is None or isinstance(value, str):
            self.writeQString(value)
        elif isinstance(value, QByteArray):
            self._write_byte_array(None if value.isNull() else bytes(value))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._write_byte_array(bytes(value))
        elif isinstance(value, (int, float)):
            raise TypeError(
                f"QDataStream << {type(value).__name__}: the width is not known; use "
                "writeInt32(), writeUInt8(), writeBool(), writeDouble()... (PySide6 "
                "writes a number as a QBitArray)")
        else:
            raise TypeError(f"QDataStream << {type(value).__name__} is not supported")
        return self

    def __rshift__(self, target: object) -> QDataStream:
        """``stream >> array``: read a QByteArray into *array* (a ``QByteArray`` or
        ``bytearray``), replacing its contents. Other types cannot be filled in place:
        use ``readQString()``, ``readInt32()``..."""
        if not isinstance(target, bytearray):
            raise TypeError(
                f"QDataStream >> {type(target).__name__}: only a QByteArray/bytearray can "
                "be read into; use readQString(), readInt32(), readDouble()...")
        data, null = self._read_byte_array()
        if isinstance(target, QByteArray):
            target._assign(data, null)
        else:
            target[:] = data
        return self


def _checked(code: str, value: object, what: str) -> int:
    """An int argument in the range of the struct *code*: TypeError for other types
    (PySide6 truncates a float), OverflowError out of range (as PySide6)."""
    number = coerce_size(value, what)
    low, high = _RANGES[code]
    if not low <= number <= high:
        raise OverflowError(f"{what}: {number} does not fit in {low}..{high}")
    return number


def _bytes_arg(data: object, what: str) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{what} takes bytes-like data, not {type(data).__name__}")


def _str_arg(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"{what} takes strings, not {type(value).__name__}")
