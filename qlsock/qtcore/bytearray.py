"""``QByteArray``: Qt's byte array, as PySide6 hands it to Python.

A ``bytearray`` subclass, so it is mutable (``QDataStream(array, WriteOnly)``
writes into it, ``stream >> array`` fills it) and has the buffer protocol:
``socket.write(array)``, ``bytes(array)`` and ``memoryview(array)`` work. qlsock's own
read methods keep returning plain ``bytes``.

Where PySide6's ``QByteArray`` and a ``bytearray`` behave differently, this follows
PySide6: indexing and iterating give one-byte ``bytes``, not ints; slices are
``QByteArray``; ``str()`` is ``str(bytes)``; it is hashable; it compares equal to a
``str`` (as UTF-8) and ``== None`` is true of an empty array (``None`` converts to a
null ``QByteArray`` in PySide6). Qt's null array (``QByteArray()``, or after
``clear()``) is told from an empty one by ``isNull()``.

Differences from PySide6, each a case PySide6 rejects or gets wrong:

* negative indices count from the end (PySide6 raises IndexError);
* ``in`` is a substring test (PySide6 compares single bytes, so ``b"ab" in x`` is
  always false there);
* ``bytes + QByteArray`` gives ``bytes`` (Python asks ``bytes`` first; PySide6
  gives a QByteArray); the other ``+`` give a QByteArray, and ``str + QByteArray``
  a ``str``, as in PySide6;
* ``hash(x) == hash(bytes(x))``, as ``x == bytes(x)`` requires (PySide6 hashes
  differently);
* arguments PySide6 refuses are accepted where the meaning is plain: a ``str`` (as
  UTF-8) for ``startsWith``/``endsWith``/``contains``/``fromHex``/``fromBase64``, a
  ``bytes`` separator for ``toHex``, a ``memoryview`` to construct, and
  ``fromRawData`` (broken in PySide6 6.11) with an optional size.

Every ``bytearray`` method stays available with Python's semantics (``find``,
``split``, ``decode``...); the Qt methods here are the ones programs use on socket
data.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Iterator
from typing import Any, SupportsIndex

from ..iodevice import coerce_size
from .stringconverter import from_utf8

__all__ = ["QByteArray"]

# Python's base64 decoder checks padding; Qt's skips every byte outside the
# alphabet and decodes what is left, so the input is filtered first.
_STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_URL_ALPHABET = _STD_ALPHABET[:62] + b"-_"
_ALL_BYTES = bytes(range(256))
_NOT_STD = _ALL_BYTES.translate(None, _STD_ALPHABET)
_NOT_URL = _ALL_BYTES.translate(None, _URL_ALPHABET)
_HEX_VALUE = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}


def _as_bytes(value: object, what: str) -> bytes:
    """A byte-string argument: bytes-like, ``str`` (UTF-8), or an int (one byte)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 255:
            return bytes((value,))
        raise ValueError(f"{what}: a byte value is 0..255, not {value}")
    raise TypeError(f"{what} takes bytes, QByteArray or str, not {type(value).__name__}")


def _one_byte(value: object, what: str) -> int:
    """A single byte given as an int, a one-byte bytes, or a one-character str."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 255:
            return value
        raise ValueError(f"{what}: a byte value is 0..255, not {value}")
    if isinstance(value, str) and len(value) == 1:
        # PySide6 converts the character to a C char: the first byte of its UTF-8.
        return value.encode("utf-8")[0]
    if isinstance(value, (bytes, bytearray)) and len(value) == 1:
        return value[0]
    raise ValueError(f"{what} takes one byte (an int, bytes of size 1 or a character), "
                     f"not {value!r}")


class QByteArray(bytearray):
    """Qt's ``QByteArray``: a mutable byte string that can be null."""

    __slots__ = ("_null",)

    class Base64Option(enum.IntFlag):
        """``QByteArray::Base64Option``."""

        Base64Encoding = 0
        KeepTrailingEquals = 0
        IgnoreBase64DecodingErrors = 0
        Base64UrlEncoding = 1
        OmitTrailingEquals = 2
        AbortOnBase64DecodingErrors = 4

    Base64Encoding = Base64Option.Base64Encoding
    KeepTrailingEquals = Base64Option.KeepTrailingEquals
    IgnoreBase64DecodingErrors = Base64Option.IgnoreBase64DecodingErrors
    Base64UrlEncoding = Base64Option.Base64UrlEncoding
    OmitTrailingEquals = Base64Option.OmitTrailingEquals
    AbortOnBase64DecodingErrors = Base64Option.AbortOnBase64DecodingErrors

    def __init__(self, data: object = None, fill: object = None, /) -> None:
        """``QByteArray()`` (null), ``(bytes-like or QByteArray)``, ``(str)`` (UTF-8),
        or ``(size, ch)``: *size* copies of the byte *ch* (empty if *size* <= 0).

        ``QByteArray(None)`` is null, as in PySide6; ``QByteArray(5)`` is a TypeError
        there and here (``bytearray(5)`` would make five zero bytes).
        """
        self._null = False
        if fill is not None:
            size = coerce_size(data, "QByteArray(size, ch)")
            super().__init__(bytes((_one_byte(fill, "QByteArray(size, ch)"),)) * max(size, 0))
        elif data is None:
            super().__init__()
            self._null = True
        elif isinstance(data, QByteArray):
            super().__init__(data)
            self._null = data.isNull()
        elif isinstance(data, (bytes, bytearray, memoryview)):
            super().__init__(data)
        elif isinstance(data, str):
            super().__init__(data.encode("utf-8"))
        else:
            raise TypeError("QByteArray() takes bytes, QByteArray, str or (size, ch), "
                            f"not {type(data).__name__}")

    @classmethod
    def _make(cls, data: bytes | bytearray, null: bool) -> QByteArray:
        """A QByteArray of *data*, null if it is empty and *null* is true."""
        array = cls(data)
        array._null = null and not data
        return array

    def _assign(self, data: bytes, null: bool) -> None:
        """Replace the contents, as a stream's ``>>`` assigns a whole array."""
        self[:] = data
        self._null = null and not data

    def __reduce__(self) -> tuple[Any, ...]:
        return (QByteArray, () if self.isNull() else (bytes(self),))

    # -- size and null-ness -----------------------------------------------------------

    def data(self) -> bytes:
        """The contents as ``bytes`` (a copy)."""
        return bytes(self)

    def size(self) -> int:
        return len(self)

    def length(self) -> int:
        return len(self)

    def count(self, sub: object = None, /) -> int:  # type: ignore[override]
        """Qt's ``count()``: the size with no argument (deprecated in Qt), else the
        number of possibly overlapping occurrences of *sub* (``size() + 1`` for an
        empty one, as Qt counts)."""
        if sub is None:
            return len(self)
        needle = _as_bytes(sub, "QByteArray.count()")
        found = 0
        start = self.find(needle)
        while start != -1:
            found += 1
            start = self.find(needle, start + 1)
        return found

    def isEmpty(self) -> bool:
        return not self

    def isNull(self) -> bool:
        """True for ``QByteArray()``, ``QByteArray(None)`` and after ``clear()``."""
        return self._null and not self

    def reserve(self, size: int) -> None:
        """Qt pre-allocates *size* bytes; Python's bytearray grows by itself, so this
        only checks the argument (programs call it before appending a known length)."""
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"reserve() takes an int, not {type(size).__name__}")

    def capacity(self) -> int:
        """The size (Python's bytearray keeps its spare room to itself)."""
        return len(self)

    def squeeze(self) -> None:
        """Nothing to release: see :meth:`capacity`."""

    def clear(self) -> None:
        """Empty the array and make it null (Qt)."""
        super().clear()
        self._null = True

    # -- building -----------------------------------------------------------------------

    def append(self, data: object, ch: object = None, /) -> QByteArray:  # type: ignore[override]
        """Append *data* (bytes-like, QByteArray, str as UTF-8, or one byte as an
        int), or ``append(count, ch)``; returns the array itself, as Qt's reference.

        Appending a null array (or None) leaves a null array null; anything else,
        even empty, makes it non-null (Qt).
        """
        if ch is not None:
            count = coerce_size(data, "QByteArray.append(count, ch)")
            self.extend(bytes((_one_byte(ch, "QByteArray.append(count, ch)"),)) * max(count, 0))
            self._null = False
            return self
        if data is None or (isinstance(data, QByteArray) and data.isNull()):
            return self
        self.extend(_as_bytes(data, "QByteArray.append()"))
        self._null = False
        return self

    def prepend(self, data: object, /) -> QByteArray:
        """Insert *data* in front (as ``append()`` takes it); returns the array."""
        if data is None:
            return self
        head = _as_bytes(data, "QByteArray.prepend()")
        if head:
            # Unlike append(), prepending nothing leaves a null array null (Qt).
            self[:0] = head
        return self

    def __iadd__(self, other: object) -> QByteArray:
        return self.append(other)

    def __add__(self, other: object) -> QByteArray:
        if not isinstance(other, (bytes, bytearray, memoryview, str, int, type(None))):
            return NotImplemented
        return QByteArray(self).append(other)

    def __radd__(self, other: object) -> str:
        # Qt's QString + QByteArray: the bytes are read as UTF-8 (QString::fromUtf8)
        # and the result is a string. bytes/bytearray + QByteArray never get here:
        # their own __add__ takes any buffer.
        if isinstance(other, str):
            return other + from_utf8(bytes(self))
        return NotImplemented

    # -- comparison and hashing -----------------------------------------------------------

    @staticmethod
    def _comparable(other: object) -> bytes | None:
        if isinstance(other, (bytes, bytearray)):
            return bytes(other)
        if isinstance(other, str):
            return other.encode("utf-8")
        if other is None:
            return b""
        return None

    def __eq__(self, other: object) -> bool:
        value = self._comparable(other)
        return NotImplemented if value is None else bytes(self) == value

    def __ne__(self, other: object) -> bool:
        value = self._comparable(other)
        return NotImplemented if value is None else bytes(self) != value

    def __lt__(self, other: object) -> bool:
        value = self._comparable(other)
        return NotImplemented if value is None else bytes(self) < value

    def __le__(self, other: object) -> bool:
        value = self._comparable(other)
        return NotImplemented if value is None else bytes(self) <= value

    def __gt__(self, other: object) -> bool:
        value = self._comparable(other)
        return NotImplemented if value is None else bytes(self) > value

    def __ge__(self, other: object) -> bool:
        value = self._comparable(other)
        return NotImplemented if value is None else bytes(self) >= value

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(bytes(self))

    # -- element access ---------------------------------------------------------------------

    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        """``x[i]`` is a one-byte ``bytes``; ``x[i:j]`` a QByteArray (null when
        empty, as PySide6's)."""
        if isinstance(index, slice):
            return QByteArray._make(super().__getitem__(index), null=True)
        return bytes((super().__getitem__(index),))

    def __setitem__(self, index: SupportsIndex | slice, value: Any) -> None:
        """``x[i] = b"c"`` (or an int); ``x[i:j] = bytes-like``."""
        if isinstance(index, slice):
            super().__setitem__(index, _as_bytes(value, "QByteArray slice assignment"))
        else:
            super().__setitem__(index, _one_byte(value, "QByteArray item assignment"))
        self._null = False

    def __iter__(self) -> Iterator[bytes]:  # type: ignore[override]
        """One-byte ``bytes``, as PySide6 iterates."""
        for byte in bytes(self):
            yield bytes((byte,))

    def __str__(self) -> str:
        return str(bytes(self))

    def __repr__(self) -> str:
        return f"QByteArray({bytes(self)!r})"

    # -- conversions ------------------------------------------------------------------------

    def toStdString(self) -> str:
        """The bytes decoded as UTF-8 (UnicodeDecodeError if they are not, as PySide6)."""
        return self.decode("utf-8")

    @staticmethod
    def fromStdString(text: str) -> QByteArray:
        return QByteArray(text.encode("utf-8"))

    @staticmethod
    def fromRawData(data: object, size: int = -1) -> QByteArray:
        """A QByteArray of the first *size* bytes of *data* (all with -1).

        Qt shares the caller's memory; Python cannot guarantee its lifetime, so this
        copies.
        """
        raw = _as_bytes(data, "QByteArray.fromRawData()")
        size = coerce_size(size, "QByteArray.fromRawData()")
        return QByteArray(raw if size < 0 else raw[:size])

    def toHex(self, separator: object = None) -> QByteArray:
        """Lowercase hex digits, with the one-byte *separator* between bytes if given."""
        if separator is None or separator in ("\0", b"\0", 0):
            return QByteArray._make(self.hex().encode("ascii"), null=True)
        sep = bytes((_one_byte(separator, "QByteArray.toHex()"),))
        return QByteArray._make(self.hex(sep.decode("latin-1")).encode("latin-1"), null=True)

    @staticmethod
    def fromHex(hexEncoded: object) -> QByteArray:
        """Decode hex digits as Qt does: other bytes are skipped, and digits pair up
        from the end, so an odd count leaves the first digit alone in the first byte."""
        digits = [_HEX_VALUE[c] for c in _as_bytes(hexEncoded, "QByteArray.fromHex()")
                  if c in _HEX_VALUE]
        if len(digits) % 2:
            digits.insert(0, 0)
        return QByteArray(bytes(hi << 4 | lo
                                for hi, lo in zip(digits[::2], digits[1::2], strict=True)))

    def toBase64(self, options: int = Base64Option.Base64Encoding) -> QByteArray:
        """Base64 (``Base64UrlEncoding`` for the URL alphabet; ``OmitTrailingEquals``
        drops the padding)."""
        options = coerce_size(options, "QByteArray.toBase64()")
        if options & QByteArray.Base64UrlEncoding:
            encoded = base64.urlsafe_b64encode(self)
        else:
            encoded = base64.b64encode(self)
        if options & QByteArray.OmitTrailingEquals:
            encoded = encoded.rstrip(b"=")
        return QByteArray(encoded)

    @staticmethod
    def fromBase64(base64Data: object, options: int = Base64Option.Base64Encoding) -> QByteArray:
        """Decode base64 as Qt does: bytes outside the alphabet (``=`` included) are
        skipped, and padding is optional. With ``AbortOnBase64DecodingErrors`` any
        such byte, or bad padding, gives an empty array."""
        data = _as_bytes(base64Data, "QByteArray.fromBase64()")
        options = coerce_size(options, "QByteArray.fromBase64()")
        url = bool(options & QByteArray.Base64UrlEncoding)
        if options & QByteArray.AbortOnBase64DecodingErrors and not _strict_base64_ok(data, url):
            return QByteArray()
        digits = data.translate(None, _NOT_URL if url else _NOT_STD)
        if len(digits) % 4 == 1:
            # Six bits make no byte: Qt drops them.
            digits = digits[:-1]
        digits += b"=" * (-len(digits) % 4)
        if url:
            return QByteArray(base64.urlsafe_b64decode(digits))
        return QByteArray(base64.b64decode(digits))

    # -- searching --------------------------------------------------------------------------

    def startsWith(self, prefix: object) -> bool:
        return self.startswith(_as_bytes(prefix, "QByteArray.startsWith()"))

    def endsWith(self, suffix: object) -> bool:
        return self.endswith(_as_bytes(suffix, "QByteArray.endsWith()"))

    def indexOf(self, needle: object, from_: int = 0) -> int:
        """The first position of *needle* at or after *from_* (counted from the end
        if negative), or -1.

        Qt 6 gives -1 when *needle* cannot fit between *from_* and the end, and when
        the start it counts back to is more than the needle's size before the array
        (Qt compares as unsigned); a start a little before the array is its start.
        """
        start = coerce_size(from_, "QByteArray.indexOf()")
        target = _as_bytes(needle, "QByteArray.indexOf()")
        if start < 0:
            start += len(self)
        if not 0 <= start + len(target) <= len(self):
            return -1
        return self.find(target, max(start, 0))

    def contains(self, needle: object) -> bool:
        return self.find(_as_bytes(needle, "QByteArray.contains()")) != -1

    # -- parts ------------------------------------------------------------------------------

    def _part(self, start: int, length: int) -> QByteArray:
        """Qt's ``sliced()``: a part of a null array is null, of any other non-null."""
        return QByteArray._make(bytes(self)[start:start + length], null=self.isNull())

    def left(self, n: int) -> QByteArray:
        """The first *n* bytes (all if *n* >= size, none if negative)."""
        n = coerce_size(n, "QByteArray.left()")
        if n >= len(self):
            return QByteArray(self)
        return self._part(0, max(n, 0))

    def right(self, n: int) -> QByteArray:
        """The last *n* bytes (all if *n* >= size, none if negative)."""
        n = coerce_size(n, "QByteArray.right()")
        if n >= len(self):
            return QByteArray(self)
        return self._part(len(self) - max(n, 0), max(n, 0))

    def mid(self, pos: int, length: int = -1) -> QByteArray:
        """*length* bytes from *pos* (to the end if -1), clipped as Qt clips: a
        negative *pos* shortens the length by as much; past the end gives null."""
        pos = coerce_size(pos, "QByteArray.mid()")
        length = coerce_size(length, "QByteArray.mid()")
        size = len(self)
        if pos > size:
            return QByteArray()
        if pos < 0:
            if length < 0 or length + pos >= size:
                return QByteArray(self)
            if length + pos <= 0:
                return QByteArray()
            length += pos
            pos = 0
        elif length < 0 or length > size - pos:
            length = size - pos
        if pos == 0 and length == size:
            return QByteArray(self)
        # Qt's "empty" case is a non-null empty array even when taken from a null one.
        return QByteArray(bytes(self)[pos:pos + length]) if length <= 0 else \
            self._part(pos, length)

    def chop(self, n: int) -> None:
        """Remove *n* bytes from the end (all if *n* >= size)."""
        n = coerce_size(n, "QByteArray.chop()")
        if n > 0:
            # Qt resizes, which allocates: even a null array is then non-null.
            del self[max(len(self) - n, 0):]
            self._null = False

    def truncate(self, pos: int) -> None:
        """Keep the first *pos* bytes (none if negative)."""
        pos = coerce_size(pos, "QByteArray.truncate()")
        if pos < len(self):
            del self[max(pos, 0):]
            self._null = False


def _strict_base64_ok(data: bytes, url: bool) -> bool:
    """Qt's ``AbortOnBase64DecodingErrors`` check: only alphabet bytes, then one or
    two ``=`` padding the input to a multiple of four, or none."""
    body = data.rstrip(b"=")
    padding = len(data) - len(body)
    if body.translate(None, _NOT_URL if url else _NOT_STD) != body:
        return False
    if padding == 0:
        return True
    return padding <= 2 and len(data) % 4 == 0
