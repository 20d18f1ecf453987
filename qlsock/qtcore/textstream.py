"""``QTextStream``: text over a device (a socket) or a byte array, as Qt reads and writes it.

Reading pulls what the device has (up to 16 KiB at a time) and decodes it with the
stream's encoding, UTF-8 unless set; bytes of a character that has not fully
arrived wait for the rest (``qlsock.qtcore.stringconverter`` has Qt's decoders). ``readLine()``
returns a line without its ``\\n`` (or ``\\r\\n``); on a socket, like Qt, it also
returns the start of a line whose end has not arrived yet, consuming it: check
``canReadLine()`` on the socket first. Lengths (``read(n)``, ``readLine(maxlen)``)
count UTF-16 units, as Qt's do, so a character beyond U+FFFF counts two and can be
cut in two (whose halves PySide6 drops, and so does this). The first bytes read
pick the encoding if they begin with a byte order mark (``setAutoDetectUnicode(False)``
turns that off), and an initial BOM is not returned.

Writing collects text and encodes it when ``flush()`` is called, when more than
16 KiB is waiting, when the device is about to close, and when the stream is
deleted (as Qt's destructor flushes, so ``QTextStream(socket) << "hi\\n"`` sends).
``<<`` takes ``str``, ``int``, ``float`` (six significant digits, as Qt's default
``SmartNotation``: ``1e+20``, ``0.3``), ``bytes`` (read as UTF-8) and ``None``
(nothing).

Differences from PySide6 6.11: ``<< -1`` and ``<< 1.5`` are Qt's ``-1`` and ``1.5``
(PySide6 raises OverflowError for negative numbers and truncates floats to unsigned
integers); ``QTextStream(bytes)`` reads (PySide6 raises ValueError);
``readLineInto()`` works (PySide6's cannot be called). Not supported: the formatting
options (field width, number base, precision, padding, locale), ``pos()``/``seek()``,
``>>`` into anything but a ``QByteArray``/``bytearray`` (PySide6's only ``>>`` too),
and a ``str`` buffer (PySide6 cannot make one either); ``setEncoding()`` in the middle
of a byte array leaves what was decoded as it was (Qt decodes it again).
"""

from __future__ import annotations

import enum
import sys
import unicodedata
import weakref
from collections.abc import Callable
from typing import TypeAlias

from .._log import qt_warning
from ..enums import OpenModeFlag, QIODeviceBase, _QtEnum
from ..iodevice import QIODevice, coerce_size
from ._buffer import ByteArrayBuffer, open_target
from .bytearray import QByteArray
from .stringconverter import (
    Decoder,
    QStringConverter,
    encode,
    encoding_for_data,
    from_units,
    from_utf8,
)

__all__ = ["QStringConverter", "QTextStream"]

# Qt's QTEXTSTREAM_BUFFERSIZE: the most read from the device at once, and the amount
# of written text kept before it goes to the device.
_BUFFER_SIZE = 16384


class _Delimiter(enum.Enum):
    SPACE = 0
    NOT_SPACE = 1
    END_OF_LINE = 2


def _is_space(ch: str) -> bool:
    """``QChar::isSpace()``: tab to carriage return, space, and Unicode separators
    (narrower than ``str.isspace()``, which takes U+001C..U+001F too)."""
    if ch == " " or "\t" <= ch <= "\r":
        return True
    return ch > "\x7f" and (ch in "\x85\xa0" or unicodedata.category(ch) in ("Zs", "Zl", "Zp"))


def _format_real(value: float) -> str:
    """Qt's default ``SmartNotation`` at precision 6: C's ``%g``, but ``-0`` is ``0``."""
    return format(value, "g") if value else "0"


class Status(_QtEnum):
    """``QTextStream::Status``."""

    Ok = 0
    ReadPastEnd = 1
    ReadCorruptData = 2
    WriteFailed = 3


Status._qt_owner = "QTextStream"


class QTextStream(QIODeviceBase):
    """Qt's ``QTextStream`` over a :class:`qlsock.QIODevice` or a byte array.

    ``QTextStream(device)``; ``QTextStream(array, openMode=ReadWrite)`` over the
    caller's ``QByteArray``/``bytearray`` (a ``QBuffer`` in Qt: writes start at the
    array's start, or its end with ``Append``); ``QTextStream(data)`` reads a copy of
    bytes; ``QTextStream()`` has no device (reads give ``""``, with Qt's warning).
    """

    Status: TypeAlias = Status
    OpenModeFlag: TypeAlias = OpenModeFlag

    Ok = Status.Ok
    ReadPastEnd = Status.ReadPastEnd
    ReadCorruptData = Status.ReadCorruptData
    WriteFailed = Status.WriteFailed


    def __init__(self, target: object = None, /, openMode: object = None) -> None:
        self._close_hook: Callable[[], None] | None = None
        self._write_buffer: list[str] = []
        self._write_size = 0
        self._device = open_target(target, openMode, "QTextStream",
                                   int(OpenModeFlag.ReadWrite))
        self._reset()
        self._watch_device()

    def _reset(self) -> None:
        """Qt's ``QTextStreamPrivate::reset()`` and ``resetReadBuffer()``."""
        self._status = Status.Ok
        self._encoding = QStringConverter.Utf8
        self._decoder = Decoder(self._encoding)
        self._auto_detect = True
        self._generate_bom = False
        # Whether the encoder writes a BOM before its first output: set when it is
        # made with generateByteOrderMark() on and nothing written yet (Qt's
        # WriteBom flag), so an encoder replaced by auto-detection writes none.
        self._encoder_bom = False
        self._has_written = False
        self._read_buffer = ""
        self._read_offset = 0
        self._last_token = 0

    def __del__(self) -> None:
        # Qt's destructor flushes what is left; a stream whose constructor failed
        # has no buffer to flush.
        if getattr(self, "_write_buffer", None):
            self._flush_write_buffer()
        if getattr(self, "_close_hook", None) is not None:
            self._unwatch_device()

    # -- device -----------------------------------------------------------------------------

    def device(self) -> QIODevice | ByteArrayBuffer | None:
        """The device; for a byte-array stream its buffer (PySide6: a ``QBuffer``)."""
        return self._device

    def setDevice(self, device: QIODevice | ByteArrayBuffer | None) -> None:
        """Flush, then use *device*, with every setting back to its default (Qt)."""
        if device is not None and not isinstance(device, (QIODevice, ByteArrayBuffer)):
            raise TypeError(f"QTextStream.setDevice() takes a QIODevice or None, "
                            f"not {type(device).__name__}")
        self.flush()
        self._unwatch_device()
        self._reset()
        self._device = device
        self._watch_device()

    def _watch_device(self) -> None:
        """Flush when the device is about to close, as Qt's stream does. The slot holds
        the stream weakly: a device must not keep its streams alive."""
        if not isinstance(self._device, QIODevice):
            return
        stream = weakref.ref(self)

        def flush_before_close() -> None:
            alive = stream()
            if alive is not None:
                alive.flush()

        self._device.aboutToClose.connect(flush_before_close)
        self._close_hook = flush_before_close

    def _unwatch_device(self) -> None:
        if self._close_hook is not None and isinstance(self._device, QIODevice):
            self._device.aboutToClose.disconnect(self._close_hook)
        self._close_hook = None

    def _check_device(self) -> bool:
        if self._device is None:
            qt_warning("QTextStream: No device")
            return False
        return True

    # -- settings ---------------------------------------------------------------------------

    def status(self) -> Status:
        return self._status

    def setStatus(self, status: int) -> None:
        """Set the status, unless it is already not ``Ok`` (Qt keeps the first error)."""
        if self._status == Status.Ok:
            self._status = Status(coerce_size(status, "QTextStream.setStatus()"))

    def resetStatus(self) -> None:
        self._status = Status.Ok

    def encoding(self) -> QStringConverter.Encoding:
        return self._encoding

    def setEncoding(self, encoding: int) -> None:
        """Decode and encode with *encoding* from now on (bytes already decoded stay
        as they were; Qt decodes a random-access device's again)."""
        encoding = QStringConverter.Encoding(coerce_size(encoding, "QTextStream.setEncoding()"))
        if encoding == self._encoding:
            return
        self._encoding = encoding
        self._decoder = Decoder(encoding)
        self._encoder_bom = self._generate_bom and not self._has_written

    def autoDetectUnicode(self) -> bool:
        return self._auto_detect

    def setAutoDetectUnicode(self, enabled: bool) -> None:
        """Whether the first bytes read may change the encoding by their BOM."""
        self._auto_detect = bool(enabled)

    def generateByteOrderMark(self) -> bool:
        return self._generate_bom

    def setGenerateByteOrderMark(self, generate: bool) -> None:
        """Write a BOM (for Unicode encodings) before the first text; ignored once
        text has been written, as in Qt."""
        generate = bool(generate)
        if self._has_written or self._generate_bom == generate:
            return
        self._generate_bom = generate
        self._encoder_bom = generate

    # -- writing ----------------------------------------------------------------------------

    def __lshift__(self, value: object) -> QTextStream:
        """``stream << value``: a ``str``, an ``int``, a ``float``, ``bytes`` (UTF-8) or
        None (nothing)."""
        if isinstance(value, str):
            text = value
        elif isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, float):
            text = _format_real(value)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            text = from_utf8(bytes(value))
        elif value is None:
            text = ""
        else:
            raise TypeError(f"QTextStream << {type(value).__name__} is not supported")
        if self._check_device() and text:
            self._write_buffer.append(text)
            # Qt counts UTF-16 units; code points are near enough for when to flush.
            self._write_size += len(text)
            if self._write_size > _BUFFER_SIZE:
                self._flush_write_buffer()
        return self

    def flush(self) -> None:
        """Encode the text written so far and write it to the device."""
        self._flush_write_buffer()

    def _flush_write_buffer(self) -> None:
        # After an error Qt keeps the text back: writing on would corrupt the stream.
        if self._device is None or self._status != Status.Ok or not self._write_buffer:
            return
        text = "".join(self._write_buffer)
        self._write_buffer.clear()
        self._write_size = 0
        data = encode(text, self._encoding, self._encoder_bom)
        self._encoder_bom = False
        self._has_written = True
        written = self._device.write(data)
        if written != len(data):
            self._status = Status.WriteFailed

    # -- reading ----------------------------------------------------------------------------

    def _fill_read_buffer(self) -> bool:
        """Read what the device has (16 KiB at most) into the read buffer; False if it
        had nothing."""
        text = self._read_chunk()
        if text is None:
            return False
        self._read_buffer += text
        return True

    def _read_chunk(self) -> str | None:
        """Read what the device has (16 KiB at most) and decode it; None if it had
        nothing. Qt reads past the device's Text mode and drops ``\\r`` itself."""
        device = self._device
        if device is None:
            return None
        text_mode = device.isTextModeEnabled()
        if text_mode:
            device.setTextModeEnabled(False)
        data = device.read(_BUFFER_SIZE)
        if text_mode:
            device.setTextModeEnabled(True)
        if not data:
            return None
        if self._auto_detect:
            self._auto_detect = False
            detected = encoding_for_data(data)
            if detected is not None:
                self._encoding = detected
                self._decoder = Decoder(detected)
                self._encoder_bom = False
        text = self._decoder.decode(data)
        return text.replace("\r", "") if text_mode else text

    def _scan(self, maxlen: int, delimiter: _Delimiter) -> tuple[int, int] | None:
        """Qt's ``QTextStreamPrivate::scan()``: find the next token ending at
        *delimiter* in at most *maxlen* characters (0: no limit), reading more from
        the device as needed. Returns its offset and length, and sets how much the
        next ``_consume_last_token()`` consumes; None if there is nothing."""
        total = 0
        delimiter_size = 0
        consume_delimiter = False
        found = False
        pos = self._read_offset
        last = ""
        while True:
            buffer = self._read_buffer
            end = len(buffer) if not maxlen else max(pos, min(len(buffer), pos + maxlen - total))
            if delimiter is _Delimiter.END_OF_LINE:
                newline = buffer.find("\n", pos, end)
                stop = end if newline < 0 else newline + 1
                if newline >= 0:
                    found = True
                    consume_delimiter = True
                    delimiter_size = 2 if newline > self._read_offset and \
                        buffer[newline - 1] == "\r" else 1
                elif stop > pos:
                    last = buffer[stop - 1]
                total += stop - pos
                pos = stop
            else:
                want_space = delimiter is _Delimiter.SPACE
                while pos < end:
                    total += 1
                    pos += 1
                    if _is_space(buffer[pos - 1]) == want_space:
                        found = True
                        delimiter_size = 1
                        break
            if found or (maxlen and total >= maxlen) or not self._fill_read_buffer():
                break
        if total == 0:
            return None
        # A '\r' at the very end of the data is not part of the line (Qt).
        if delimiter is _Delimiter.END_OF_LINE and not found and last == "\r" \
                and self._device is not None and self._device.atEnd():
            consume_delimiter = True
            delimiter_size += 1
        self._last_token = total if consume_delimiter else total - delimiter_size
        return self._read_offset, total - delimiter_size

    def _consume_last_token(self) -> None:
        size, self._last_token = self._last_token, 0
        if not size:
            return
        self._read_offset += size
        if self._read_offset >= len(self._read_buffer):
            self._read_buffer = ""
            self._read_offset = 0
        elif self._read_offset > _BUFFER_SIZE:
            self._read_buffer = self._read_buffer[self._read_offset:]
            self._read_offset = 0

    def _read(self, maxlen: int) -> str:
        # Joined once: appending chunk by chunk would copy the buffer for each one.
        chunks = [self._read_buffer]
        available = len(self._read_buffer) - self._read_offset
        while available < maxlen:
            text = self._read_chunk()
            if text is None:
                break
            chunks.append(text)
            available += len(text)
        self._read_buffer = "".join(chunks)
        start = self._read_offset
        self._last_token = min(maxlen, len(self._read_buffer) - start)
        text = self._read_buffer[start:start + self._last_token]
        self._consume_last_token()
        return from_units(text)

    def atEnd(self) -> bool:
        """True when nothing decoded is left and the device is at its end (for a
        socket: has nothing buffered now)."""
        device = self._device
        if device is None:
            qt_warning("QTextStream: No device")
            return True
        return self._read_offset >= len(self._read_buffer) and device.atEnd()

    def readLine(self, maxlen: int | None = None) -> str:
        """The next line without its ``\\n``/``\\r\\n``, at most *maxlen* characters
        (0 or None: any); ``""`` at the end. What has arrived of an unfinished line
        is returned (and consumed), as in Qt."""
        return self.readLineInto(maxlen)[1]

    def readLineInto(self, maxlen: int | None = None) -> tuple[bool, str]:
        """``(True, line)`` as ``readLine()`` reads it, ``(False, "")`` when there is
        no more text."""
        size = 0 if maxlen is None else coerce_size(maxlen, "QTextStream.readLine()")
        if not self._check_device():
            return False, ""
        token = self._scan(size, _Delimiter.END_OF_LINE)
        if token is None:
            return False, ""
        start, length = token
        line = self._read_buffer[start:start + length]
        self._consume_last_token()
        return True, from_units(line)

    def read(self, maxlen: int) -> str:
        """Up to *maxlen* characters of what has arrived."""
        size = coerce_size(maxlen, "QTextStream.read()")
        if not self._check_device() or size <= 0:
            return ""
        return self._read(size)

    def readAll(self) -> str:
        """Everything that has arrived, decoded."""
        if not self._check_device():
            return ""
        return self._read(sys.maxsize)

    def skipWhiteSpace(self) -> None:
        """Consume spaces, tabs and line breaks up to the next other character."""
        if self._check_device():
            self._scan(0, _Delimiter.NOT_SPACE)
            self._consume_last_token()

    def __rshift__(self, target: object) -> QTextStream:
        """``stream >> array``: the next word (after spaces), as UTF-8, replacing a
        ``QByteArray``'s or ``bytearray``'s contents; ``ReadPastEnd`` (and a null
        array) when there is none."""
        if not isinstance(target, bytearray):
            raise TypeError(f"QTextStream >> {type(target).__name__}: only a QByteArray or "
                            "bytearray can be read into; use readLine(), read()...")
        if not self._check_device():
            return self
        self.skipWhiteSpace()
        token = self._scan(0, _Delimiter.SPACE)
        if token is None:
            self.setStatus(Status.ReadPastEnd)
            data, null = b"", True
        else:
            start, length = token
            data = from_units(self._read_buffer[start:start + length]).encode("utf-8")
            null = False
            self._consume_last_token()
        if isinstance(target, QByteArray):
            target._assign(data, null)
        else:
            target[:] = data
        return self
