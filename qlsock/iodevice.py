"""``QIODevice``: the byte-stream API a socket inherits (``qiodevice.cpp`` semantics).

Reads never wait: they return what is buffered. In Python the byte-array forms are
used, so "nothing buffered" and "end of stream" both read as ``b""``; ``skip()``
keeps Qt's 0 / -1 distinction and ``state()`` tells the two apart elsewhere.

Misuse that Qt answers with a warning and an empty result (reading a device that is
not open, a negative size) gets the same answer here, with Qt's warning text logged
to the ``qlsock`` logger. A wrong argument *type* raises :class:`TypeError`.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from ._log import qt_warning
from .buffers import ReadBuffer
from .enums import OpenModeFlag, QIODeviceBase
from .interfaces import IIODevice
from .qobject import QObject
from .signals import Signal, emit_if_connected

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["MODE_READ", "MODE_TEXT", "MODE_WRITE", "QIODevice", "coerce_mode", "coerce_size"]

_ALL_MODE_BITS = 0xFF
# The open mode is kept as a plain int: IntFlag arithmetic costs a Python call
# per operation on the data path. openMode() hands out the flag type.
MODE_READ = int(OpenModeFlag.ReadOnly)
MODE_WRITE = int(OpenModeFlag.WriteOnly)
MODE_TEXT = int(OpenModeFlag.Text)


def coerce_size(value: object, what: str) -> int:
    """An integer argument; TypeError naming the call for anything else."""
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} takes an int, not {type(value).__name__}") from None


def coerce_mode(value: object, what: str) -> OpenModeFlag:
    """A ``QIODevice.OpenModeFlag`` from a flag or an int."""
    if value.__class__ is OpenModeFlag and 0 <= value._value_ <= _ALL_MODE_BITS:
        # Already a valid flag (the usual default argument): building it again,
        # through IntFlag's Python-level constructor, would only cost time.
        return value
    bits = coerce_size(value, what)
    if bits & ~_ALL_MODE_BITS or bits < 0:
        raise ValueError(f"{what}: {bits:#x} is not a combination of QIODevice.OpenModeFlag")
    return OpenModeFlag(bits)


def _one_byte(char: object, what: str) -> bytes:
    if isinstance(char, int) and not isinstance(char, bool):
        if 0 <= char <= 255:
            return bytes((char,))
        raise ValueError(f"{what}: a byte value is 0..255, not {char}")
    if isinstance(char, (bytes, bytearray, memoryview)):
        data = bytes(char)
        if len(data) == 1:
            return data
        raise ValueError(f"{what} takes exactly one byte, got {len(data)}")
    if isinstance(char, str):
        raise TypeError(f"{what} takes one byte (bytes of length 1 or an int), not str; "
                        "encode text first")
    raise TypeError(f"{what} takes one byte (bytes of length 1 or an int), "
                    f"not {type(char).__name__}")


@implementer(IIODevice)
class QIODevice(QObject, QIODeviceBase):
    """Qt's ``QIODevice`` for sequential devices, over a :class:`ReadBuffer`.

    Subclasses provide the data source (they append to ``self._rbuf``) and
    :meth:`writeData`; they may override the hooks ``_buffer_consumed`` (called after
    the application took bytes) and ``_stream_ended`` (no more data will arrive).
    """


    readyRead = Signal()
    bytesWritten = Signal(int)
    aboutToClose = Signal()
    readChannelFinished = Signal()
    channelReadyRead = Signal(int)
    channelBytesWritten = Signal(int, int)

    _qt_class = "QIODevice"

    def __init__(self, parent: QObject | None = None) -> None:
        QObject.__init__(self, parent)
        self._open_mode = 0
        self._error_string = ""
        self._rbuf = ReadBuffer()

    # -- hooks -----------------------------------------------------------------------

    def _buffer_consumed(self) -> None:
        """The application took bytes from the read buffer."""

    def _stream_ended(self) -> bool:
        """True when no more bytes will arrive."""
        return True

    def _check_thread(self) -> None:
        """Raise if called from a thread that does not own the device."""

    # Emit a signal only if something is connected to it (see emit_if_connected).
    _emit = emit_if_connected

    def _warn(self, function: str, text: str) -> None:
        qt_warning(f"QIODevice::{function} ({self._qt_class}): {text}")

    def _check_readable(self, function: str) -> bool:
        self._check_thread()
        mode = self._open_mode
        if mode & MODE_READ:
            return True
        self._warn(function, "WriteOnly device" if mode else "device not open")
        return False

    # -- open / close ------------------------------------------------------------------

    def open(self, mode: Any) -> bool:
        """Open with *mode*: buffers and the error string are reset."""
        self._open_mode = int(coerce_mode(mode, "QIODevice.open()"))
        self._rbuf.clear()
        self._error_string = ""
        return True

    def close(self) -> None:
        """Emit ``aboutToClose``, then close: read buffers are dropped."""
        if not self._open_mode:
            return
        self._emit("aboutToClose")
        self._open_mode = 0
        self._rbuf.clear()

    def isOpen(self) -> bool:
        return bool(self._open_mode)

    def isReadable(self) -> bool:
        return bool(self._open_mode & MODE_READ)

    def isWritable(self) -> bool:
        return bool(self._open_mode & MODE_WRITE)

    def openMode(self) -> OpenModeFlag:
        return OpenModeFlag(self._open_mode)

    def setOpenMode(self, openMode: Any) -> None:
        """Change the mode flags of an open device (Qt's protected setter)."""
        self._open_mode = int(coerce_mode(openMode, "QIODevice.setOpenMode()"))

    def isSequential(self) -> bool:
        return True

    def isTextModeEnabled(self) -> bool:
        return bool(self._open_mode & MODE_TEXT)

    def setTextModeEnabled(self, enabled: bool) -> None:
        """Set or clear ``Text``; Qt ignores this (with a warning) when not open."""
        if not self._open_mode:
            qt_warning(f"QIODevice::setTextModeEnabled ({self._qt_class}): "
                       "The device is not open")
            return
        if enabled:
            self._open_mode |= MODE_TEXT
        else:
            self._open_mode &= ~MODE_TEXT

    def errorString(self) -> str:
        """The last error's text; ``"Unknown error"`` when none was set (Qt)."""
        return self._error_string or "Unknown error"

    def setErrorString(self, text: str) -> None:
        """Set the text ``errorString()`` returns (protected in Qt, public here)."""
        self._error_string = text

    # -- reading -------------------------------------------------------------------------

    def bytesAvailable(self) -> int:
        return self._rbuf.size

    def bytesToWrite(self) -> int:
        return 0

    def atEnd(self) -> bool:
        """True when nothing is buffered, even while connected (not an EOF test)."""
        return not self._open_mode or not self._rbuf.size

    def canReadLine(self) -> bool:
        return bool(self._open_mode & MODE_READ) and self._rbuf.find_newline() >= 0

    def _read_size(self, maxlen: object, function: str, size_first: bool = False) -> int:
        """A validated size for a read call, or -1 when it must return nothing.

        Qt answers a device that is not readable, or a negative size, with a
        warning and an empty result; so does this. ``read()`` checks the open mode
        first, ``peek()`` and ``skip()`` the size (``qiodevice.cpp``), which decides
        the warning when both are wrong.
        """
        size = coerce_size(maxlen, f"QIODevice.{function}()")
        if size_first and size < 0:
            self._check_thread()
            self._warn(function, "Called with maxSize < 0")
            return -1
        if not self._check_readable(function):
            return -1
        if size < 0:
            self._warn(function, "Called with maxSize < 0")
            return -1
        return size

    def readData(self, maxlen: int) -> bytes:
        """The raw read: up to *maxlen* buffered bytes, no mode checks."""
        data = self._rbuf.read(maxlen)
        if data:
            self._buffer_consumed()
        return data

    def read(self, maxlen: int) -> bytes:
        """Up to *maxlen* buffered bytes; ``b""`` when none. Never waits."""
        if maxlen.__class__ is int and maxlen >= 0 and \
                self._open_mode & (MODE_READ | MODE_TEXT) == MODE_READ:
            # The common read, without _read_size()'s checks and their calls:
            # only the thread is left to check.
            self._check_thread()
            return self.readData(maxlen)
        maxlen = self._read_size(maxlen, "read")
        if maxlen < 0:
            return b""
        if self._open_mode & MODE_TEXT:
            return self._read_text(maxlen)
        return self.readData(maxlen)

    def _read_text(self, maxlen: int) -> bytes:
        out = bytearray()
        while len(out) < maxlen and self._rbuf.size:
            out += self._rbuf.read(maxlen - len(out)).replace(b"\r", b"")
        self._buffer_consumed()
        return bytes(out)

    def readAll(self) -> bytes:
        """Every buffered byte."""
        mode = self._open_mode
        if not mode & MODE_READ:
            self._check_readable("read")  # warns, as Qt does
            return b""
        self._check_thread()
        if mode & MODE_TEXT:
            return self._read_text(self._rbuf.size)
        return self.readData(self._rbuf.size)

    def peek(self, maxlen: int) -> bytes:
        """Like :meth:`read`, but the bytes stay buffered."""
        maxlen = self._read_size(maxlen, "peek", size_first=True)
        if maxlen < 0:
            return b""
        if self._open_mode & MODE_TEXT:
            return self._rbuf.peek(self._rbuf.size).replace(b"\r", b"")[:maxlen]
        return self._rbuf.peek(maxlen)

    def readLine(self, maxlen: int = 0) -> bytes:
        """Bytes up to and including the first ``\\n``.

        With ``maxlen > 0`` at most ``maxlen - 1`` bytes are returned (Qt keeps a
        slot for the C string terminator); ``maxlen == 1`` warns and returns
        ``b""``. Without a ``\\n`` the buffered part of the line is returned. In
        text mode a trailing ``\\r\\n`` becomes ``\\n``.
        """
        # Qt 6.9+ implements readLine() with readLineInto(), whose name its
        # warnings carry.
        return self._read_line(maxlen, "readLineInto")

    def _read_line(self, maxlen: object, function: str) -> bytes:
        size = coerce_size(maxlen, f"QIODevice.{function}()")
        if not self._check_readable(function):
            return b""
        if size != 0 and size < 2:
            self._warn(function, "Called with maxSize < 2")
            return b""
        limit = self._rbuf.size if size == 0 else min(size - 1, self._rbuf.size)
        newline = self._rbuf.find_newline(limit)
        count = limit if newline < 0 else newline + 1
        line = self.readData(count)
        if self._open_mode & MODE_TEXT and line.endswith(b"\r\n"):
            line = line[:-2] + b"\n"
        return line

    def readLineInto(self, line: bytearray | None = None, maxSize: int = 0) -> bool:
        """Read a line as :meth:`readLine` does, into the caller's *line*.

        *line*'s contents are replaced by the line read (emptied when nothing was
        buffered); with ``None`` the line is read and discarded. Returns True if
        any bytes were read (Qt 6.9's ``readLineInto(QByteArray*, qint64)``).
        """
        if line is not None and not isinstance(line, bytearray):
            raise TypeError("readLineInto() fills a bytearray (or None to discard), "
                            f"not {type(line).__name__}")
        data = self._read_line(maxSize, "readLineInto")
        if line is not None:
            line[:] = data
        return bool(data)

    # -- transactions ----------------------------------------------------------------------

    def startTransaction(self) -> None:
        """Start keeping what is read, so :meth:`rollbackTransaction` can restore it.

        The way to parse a message that may not have fully arrived: start, read,
        and roll back if it is incomplete, or commit if it is whole.
        """
        self._check_thread()
        if self._rbuf.in_transaction:
            self._warn("startTransaction", "Called while transaction already in progress")
            return
        self._rbuf.start_transaction()

    def commitTransaction(self) -> None:
        """End the transaction; what was read is consumed."""
        self._check_thread()
        if not self._rbuf.in_transaction:
            self._warn("commitTransaction", "Called while no transaction in progress")
            return
        self._rbuf.commit_transaction()

    def rollbackTransaction(self) -> None:
        """End the transaction; what was read since it started is readable again."""
        self._check_thread()
        if not self._rbuf.in_transaction:
            self._warn("rollbackTransaction", "Called while no transaction in progress")
            return
        self._rbuf.rollback_transaction()

    def isTransactionStarted(self) -> bool:
        """True between ``startTransaction()`` and its commit or rollback."""
        return self._rbuf.in_transaction

    def getChar(self) -> tuple[bool, bytes]:
        """``(True, b"x")`` for the next byte, ``(False, b"")`` when none.

        Differs from PySide6, which returns the byte as a one-character ``str``.
        """
        if not self._check_readable("read"):  # Qt's getChar() uses read()'s check
            return (False, b"")
        while self._rbuf.size:
            byte = self.readData(1)
            if byte == b"\r" and self._open_mode & MODE_TEXT:
                continue
            return (True, byte)
        return (False, b"")

    def ungetChar(self, char: Any) -> None:
        """Put one byte back in front of the read buffer."""
        data = _one_byte(char, "QIODevice.ungetChar()")
        if not self._check_readable("read"):  # Qt's ungetChar() uses read()'s check
            return
        if self._rbuf.in_transaction:
            self._warn("ungetChar", "Called while transaction is in progress")
            return
        self._rbuf.prepend(data)

    def skip(self, maxSize: int) -> int:
        """Discard up to *maxSize* buffered bytes without waiting.

        Returns the count; 0 when nothing is buffered but more may come, -1 when
        nothing is buffered and the stream has ended (or the device is not open).
        """
        maxSize = self._read_size(maxSize, "skip", size_first=True)
        if maxSize < 0:
            return -1
        if not self._rbuf.size:
            return -1 if self._stream_ended() else 0
        skipped = self._rbuf.skip(maxSize)
        if skipped:
            self._buffer_consumed()
        return skipped

    def readLineData(self, maxlen: int) -> bytes:
        """The raw line read: up to *maxlen* bytes, through the first ``\\n``."""
        maxlen = coerce_size(maxlen, "QIODevice.readLineData()")
        newline = self._rbuf.find_newline(maxlen)
        return self.readData(maxlen if newline < 0 else newline + 1)

    def skipData(self, maxSize: int) -> int:
        """The raw skip: discard up to *maxSize* buffered bytes; the count."""
        skipped = self._rbuf.skip(coerce_size(maxSize, "QIODevice.skipData()"))
        if skipped:
            self._buffer_consumed()
        return skipped

    # -- random access and channels (a socket is sequential, with one channel) ---------

    def pos(self) -> int:
        """0: a sequential device has no position."""
        return 0

    def size(self) -> int:
        """For a sequential device, :meth:`bytesAvailable`."""
        return self.bytesAvailable()

    def seek(self, pos: int) -> bool:
        """False, with Qt's warning: a sequential device cannot seek."""
        coerce_size(pos, "QIODevice.seek()")
        self._warn("seek", "Cannot call seek on a sequential device")
        return False

    def reset(self) -> bool:
        """``seek(0)``: False for a sequential device, with seek()'s warning (Qt)."""
        return self.seek(0)

    def readChannelCount(self) -> int:
        """1 while open (a socket has one read channel), else 0."""
        return 1 if self._open_mode else 0

    def writeChannelCount(self) -> int:
        """1 while open (a socket has one write channel), else 0."""
        return 1 if self._open_mode else 0

    def currentReadChannel(self) -> int:
        """Always 0: the only read channel."""
        return 0

    def currentWriteChannel(self) -> int:
        """Always 0: the only write channel."""
        return 0

    def setCurrentReadChannel(self, channel: int) -> None:
        """Only channel 0 exists; Qt warns about any other."""
        if coerce_size(channel, "QIODevice.setCurrentReadChannel()") != 0:
            self._warn("setReadChannel", "Failed due to read channel being out of range")

    def setCurrentWriteChannel(self, channel: int) -> None:
        """Only channel 0 exists; Qt warns about any other."""
        if coerce_size(channel, "QIODevice.setCurrentWriteChannel()") != 0:
            self._warn("setWriteChannel", "Failed due to write channel being out of range")

    # -- writing -------------------------------------------------------------------------

    def writeData(self, data: bytes) -> int:
        """The raw write; subclasses buffer *data* and return its length, or -1."""
        return -1

    def write(self, data: Any) -> int:
        """Buffer *data* (bytes-like) for sending; its length, or -1 on failure.

        ``str`` is refused with TypeError: encode text first (Qt's ``QString``
        overloads are not part of the byte-device API).
        """
        if data.__class__ is bytes:
            payload = data
        elif isinstance(data, str):
            raise TypeError("write() takes bytes-like data, not str; encode it first, "
                            "e.g. text.encode('utf-8')")
        elif isinstance(data, bytes):
            payload = data
        elif isinstance(data, (bytearray, memoryview)):
            payload = bytes(data)
        else:
            try:
                payload = bytes(memoryview(data))
            except TypeError:
                raise TypeError(
                    f"write() takes bytes-like data, not {type(data).__name__}"
                ) from None
        mode = self._open_mode
        if not mode & MODE_WRITE:
            self._warn("write", "ReadOnly device" if mode else "device not open")
            return -1
        return self.writeData(payload)

    def putChar(self, char: Any) -> bool:
        """Write one byte (bytes of length 1, or an int 0..255); True on success."""
        return self.write(_one_byte(char, "QIODevice.putChar()")) == 1

    # -- waiting (overridden by sockets) -------------------------------------------------

    def waitForReadyRead(self, msecs: int = 30000) -> bool:
        return False

    def waitForBytesWritten(self, msecs: int = 30000) -> bool:
        return False

    # -- Python conveniences -------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
