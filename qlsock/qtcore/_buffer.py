"""The device a ``QDataStream`` or ``QTextStream`` makes over a byte array.

Qt wraps a ``QByteArray`` given to either stream in a ``QBuffer``; so does this, with a
private ``ByteArrayBuffer`` that has ``QBuffer``'s semantics for what the streams
call: a random-access position, writes that overwrite from it (``WriteOnly`` does not
truncate; ``Append`` starts at the end), and read transactions that restore it.
Nothing is translated in ``Text`` mode: the text stream removes ``\\r`` itself, and a
data stream's buffer is never opened in ``Text`` mode.
"""

from __future__ import annotations

from .._log import qt_warning
from ..enums import OpenModeFlag
from ..iodevice import QIODevice, coerce_mode

__all__ = ["ByteArrayBuffer", "open_target"]

_READ = int(OpenModeFlag.ReadOnly)
_WRITE = int(OpenModeFlag.WriteOnly)
_APPEND = int(OpenModeFlag.Append)
_TRUNCATE = int(OpenModeFlag.Truncate)
_TEXT = int(OpenModeFlag.Text)


class ByteArrayBuffer:
    """``QBuffer`` over a caller's ``bytearray`` (a ``QByteArray``), opened."""

    def __init__(self, array: bytearray, mode: int) -> None:
        """Open over *array* with *mode*, as ``QBuffer::open()``: ``Append`` and
        ``Truncate`` imply ``WriteOnly``, ``Truncate`` empties the array, and a mode
        that neither reads nor writes leaves the buffer closed (with Qt's warning)."""
        if mode & (_APPEND | _TRUNCATE):
            mode |= _WRITE
        if not mode & (_READ | _WRITE):
            # Qt's answer: a buffer that stays closed, so every read and write fails.
            qt_warning("QBuffer::open: Buffer access not specified")
            mode = 0
        elif mode & _TRUNCATE:
            del array[:]
        self._array = array
        self._mode = mode | int(OpenModeFlag.Unbuffered) if mode else 0
        self._pos = len(array) if mode & _APPEND else 0
        self._transaction_pos: int | None = None

    def _warn(self, function: str, text: str) -> None:
        qt_warning(f"QIODevice::{function} (QBuffer): {text}")

    def data(self) -> bytearray:
        """The byte array itself (QBuffer's ``buffer()``)."""
        return self._array

    def openMode(self) -> OpenModeFlag:
        return OpenModeFlag(self._mode)

    def isOpen(self) -> bool:
        return bool(self._mode)

    def isReadable(self) -> bool:
        return bool(self._mode & _READ)

    def isWritable(self) -> bool:
        return bool(self._mode & _WRITE)

    def isSequential(self) -> bool:
        return False

    def isTextModeEnabled(self) -> bool:
        return bool(self._mode & _TEXT)

    def setTextModeEnabled(self, enabled: bool) -> None:
        self._mode = self._mode | _TEXT if enabled else self._mode & ~_TEXT

    def pos(self) -> int:
        return self._pos

    def size(self) -> int:
        return len(self._array)

    def bytesAvailable(self) -> int:
        return max(len(self._array) - self._pos, 0)

    def atEnd(self) -> bool:
        return not self._mode or self._pos >= len(self._array)

    def read(self, maxlen: int) -> bytes:
        """Up to *maxlen* bytes from the position; ``b""`` with Qt's warning when the
        buffer is not readable."""
        if maxlen < 0:
            self._warn("read", "Called with maxSize < 0")
            return b""
        if not self._mode & _READ:
            self._warn("read", "WriteOnly device" if self._mode else "device not open")
            return b""
        data = bytes(self._array[self._pos:self._pos + maxlen])
        self._pos += len(data)
        return data

    def skip(self, maxSize: int) -> int:
        """Move the position on by up to *maxSize*; the count, -1 if not readable."""
        if maxSize < 0:
            self._warn("skip", "Called with maxSize < 0")
            return -1
        if not self._mode & _READ:
            self._warn("skip", "WriteOnly device" if self._mode else "device not open")
            return -1
        skipped = min(maxSize, self.bytesAvailable())
        self._pos += skipped
        return skipped

    def write(self, data: bytes) -> int:
        """Write at the position, overwriting and extending; the count, or -1."""
        if not self._mode & _WRITE:
            self._warn("write", "ReadOnly device" if self._mode else "device not open")
            return -1
        end = self._pos + len(data)
        self._array[self._pos:end] = data
        self._pos = end
        return len(data)

    # -- read transactions: a random-access device keeps its position --------------------

    def startTransaction(self) -> None:
        if self._transaction_pos is not None:
            self._warn("startTransaction", "Called while transaction already in progress")
            return
        self._transaction_pos = self._pos

    def commitTransaction(self) -> None:
        if self._transaction_pos is None:
            self._warn("commitTransaction", "Called while no transaction in progress")
            return
        self._transaction_pos = None

    def rollbackTransaction(self) -> None:
        if self._transaction_pos is None:
            self._warn("rollbackTransaction", "Called while no transaction in progress")
            return
        self._pos = self._transaction_pos
        self._transaction_pos = None

    def isTransactionStarted(self) -> bool:
        return self._transaction_pos is not None


def open_target(target: object, mode: object, what: str,
                default_mode: int | None = None) -> QIODevice | ByteArrayBuffer | None:
    """The device a stream's constructor arguments name.

    None or a device is used as is. A ``bytearray`` (a ``QByteArray``) with a *mode*,
    or with no mode when the stream has a *default_mode* (QTextStream's
    ``ReadWrite``), gets a buffer over the caller's array, which writes go into.
    Otherwise bytes-like data gets a buffer over a copy, read-only unless *mode*
    says otherwise (Qt's ``const QByteArray &`` constructors); immutable data cannot
    be written to.
    """
    if target is None or isinstance(target, (QIODevice, ByteArrayBuffer)):
        if mode is not None:
            raise TypeError(f"{what}(device) takes no open mode")
        return target
    if not isinstance(target, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what}() takes a QIODevice, a QByteArray or bytes, "
                        f"not {type(target).__name__}")
    if mode is None:
        if isinstance(target, bytearray) and default_mode is not None:
            return ByteArrayBuffer(target, default_mode)
        return ByteArrayBuffer(bytearray(target), _READ)
    flags = int(coerce_mode(mode, f"{what}(array, mode)"))
    if isinstance(target, bytearray):
        return ByteArrayBuffer(target, flags)
    if flags & (_WRITE | _APPEND | _TRUNCATE):
        raise TypeError(f"{what}: {type(target).__name__} cannot be written to; "
                        "pass a QByteArray or bytearray")
    return ByteArrayBuffer(bytearray(target), flags)
