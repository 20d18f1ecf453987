"""``QStringConverter``'s encodings, and Qt's decoders and encoders as QTextStream uses them.

Python's codecs do the work; where Qt's converters answer differently, this follows
Qt, since a program that reads what a Qt peer writes must see what Qt would show it:

* Decoding is stateful, as a stream's is: bytes of a character cut between two reads
  wait for the rest. Bad UTF-8 becomes U+FFFD per byte, as Qt restarts after the
  first byte of a bad sequence, and Qt's handling of a sequence cut between two
  reads is reproduced (it holds bytes Python would already reject, and after them
  skips a byte). UTF-16 and UTF-32 take their byte order from a byte order mark,
  else the host's; an initial BOM is dropped in every Unicode encoding.
* Decoded text is held as Qt holds it, one character per UTF-16 unit
  (``to_units()``), so lengths count as Qt counts them; ``from_units()`` turns it
  back into a ``str``, dropping unpaired surrogates as PySide6's conversion does.
* Encoding writes what Qt's encoders write for valid text; an unpaired surrogate
  becomes U+FFFD in UTF-8 and UTF-32, ``?`` in Latin-1 (one per UTF-16 unit, as
  for any character Latin-1 lacks), and stays as it is in UTF-16.

``System`` is UTF-8, as it is for Qt 6 on the platforms qlsock runs on.
"""

from __future__ import annotations

import codecs
import re
import sys
from collections.abc import Callable

from ..enums import _QtEnum

__all__ = ["Decoder", "QStringConverter", "encode", "encoding_for_data", "from_units",
           "from_utf8", "to_units"]


class QStringConverter:
    """The part of Qt's ``QStringConverter`` QTextStream takes: its encodings."""

    class Encoding(_QtEnum):
        Utf8 = 0
        Utf16 = 1
        Utf16LE = 2
        Utf16BE = 3
        Utf32 = 4
        Utf32LE = 5
        Utf32BE = 6
        Latin1 = 7
        System = 8
        LastEncoding = 8

    Utf8 = Encoding.Utf8
    Utf16 = Encoding.Utf16
    Utf16LE = Encoding.Utf16LE
    Utf16BE = Encoding.Utf16BE
    Utf32 = Encoding.Utf32
    Utf32LE = Encoding.Utf32LE
    Utf32BE = Encoding.Utf32BE
    Latin1 = Encoding.Latin1
    System = Encoding.System
    LastEncoding = Encoding.LastEncoding


Encoding = QStringConverter.Encoding
Encoding._qt_owner = "QStringConverter"
_HOST = "le" if sys.byteorder == "little" else "be"

# The Python codec writing each encoding; Utf16/Utf32 write the host's byte order.
_CODECS: dict[Encoding, str] = {
    Encoding.Utf8: "utf-8", Encoding.System: "utf-8", Encoding.Latin1: "latin-1",
    Encoding.Utf16: f"utf-16-{_HOST}", Encoding.Utf16LE: "utf-16-le",
    Encoding.Utf16BE: "utf-16-be", Encoding.Utf32: f"utf-32-{_HOST}",
    Encoding.Utf32LE: "utf-32-le", Encoding.Utf32BE: "utf-32-be",
}
_BOMS: dict[Encoding, bytes] = {
    encoding: "\ufeff".encode(codec) for encoding, codec in _CODECS.items()
    if encoding != Encoding.Latin1
}


def _qt_decode_error(exc: UnicodeError) -> tuple[str, int]:
    """Qt's decoders' answer to bytes that are not text: UTF-8, one U+FFFD per byte
    (Qt restarts after the first byte of a bad sequence); UTF-32, a surrogate kept
    as a UTF-16 unit, a value beyond U+10FFFF as U+FFFD."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    if exc.encoding.startswith("utf-32"):
        value = int.from_bytes(exc.object[exc.start:exc.start + 4],
                               "little" if exc.encoding.endswith("le") else "big")
        return (chr(value) if 0xD800 <= value <= 0xDFFF else "\ufffd"), exc.end
    return "\ufffd", exc.start + 1


def _qt_encode_error(exc: UnicodeError) -> tuple[str | bytes, int]:
    """Qt's encoders' answer to characters they cannot write (see the module)."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    if exc.encoding.startswith("utf-16"):
        return bad.encode(exc.encoding, "surrogatepass"), exc.end
    if exc.encoding in ("latin-1", "latin_1", "iso8859-1"):
        return "".join("??" if ord(c) > 0xFFFF else "?" for c in bad), exc.end
    # CPython's UTF-8 encoder takes only ASCII from a handler's str: give bytes.
    return ("\ufffd" * len(bad)).encode(exc.encoding), exc.end


codecs.register_error("qlsock.qt-decode", _qt_decode_error)
codecs.register_error("qlsock.qt-encode", _qt_encode_error)


def encode(text: str, encoding: Encoding, bom: bool = False) -> bytes:
    """*text* in *encoding*, after a byte order mark if *bom* (none for Latin-1)."""
    data = text.encode(_CODECS[encoding], "qlsock.qt-encode")
    return _BOMS.get(encoding, b"") + data if bom else data


def from_utf8(data: bytes) -> str:
    """``QString::fromUtf8()``: stateless, so a cut sequence at the end is U+FFFD too,
    and an initial BOM is dropped."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "qlsock.qt-decode")


def encoding_for_data(data: bytes) -> Encoding | None:
    """``QStringConverter::encodingForData()``: the encoding a BOM names, if any."""
    if len(data) > 3:
        if data[:4] == b"\x00\x00\xfe\xff":
            return Encoding.Utf32BE
        if data[:4] == b"\xff\xfe\x00\x00":
            return Encoding.Utf32LE
    if len(data) > 2 and data[:3] == b"\xef\xbb\xbf":
        return Encoding.Utf8
    if len(data) > 1:
        if data[:2] == b"\xfe\xff":
            return Encoding.Utf16BE
        if data[:2] == b"\xff\xfe":
            return Encoding.Utf16LE
    return None


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_pair(match: re.Match[str]) -> str:
    code = ord(match.group()) - 0x10000
    return chr(0xD800 | code >> 10) + chr(0xDC00 | code & 0x3FF)


def to_units(text: str) -> str:
    """Text as Qt holds it: one character per UTF-16 unit (a character beyond
    U+FFFF becomes its two surrogates)."""
    return text if _ASTRAL.search(text) is None else _ASTRAL.sub(_surrogate_pair, text)


def from_units(text: str) -> str:
    """Text handed to Python: surrogate pairs joined, unpaired surrogates dropped."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")


def _utf8_char(buf: bytes, i: int) -> tuple[str | None, int]:
    """Qt's ``QUtf8Functions::fromUtf8()`` for the sequence at *buf[i]*:
    ``(char, size)``; ``(None, 1)`` if it is bad; ``(None, 0)`` if more bytes are
    needed to tell. Qt checks that continuation bytes are such before it checks the
    value, so it waits where Python already knows a sequence is bad."""
    lead = buf[i]
    if lead < 0x80:
        return chr(lead), 1
    if lead < 0xC2 or lead > 0xF4:
        return None, 1
    size, lowest, value = ((2, 0x80, lead & 0x1F) if lead < 0xE0 else
                           (3, 0x800, lead & 0x0F) if lead < 0xF0 else
                           (4, 0x10000, lead & 0x07))
    tail = buf[i + 1:i + size]
    if any(byte & 0xC0 != 0x80 for byte in tail[:2]):
        return None, 1
    if len(tail) < size - 1:
        return None, 0
    for byte in tail:
        if byte & 0xC0 != 0x80:
            return None, 1
        value = value << 6 | byte & 0x3F
    if value < lowest or 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
        return None, 1
    return chr(value), size


class Decoder:
    """Qt's stateful ``QStringDecoder`` for one encoding; ``decode()`` gives text in
    UTF-16 units (``to_units()``)."""

    def __init__(self, encoding: Encoding) -> None:
        self._pending = b""
        self._at_start = encoding != Encoding.Latin1
        self._decode: Callable[[bytes], str]
        if encoding in (Encoding.Utf8, Encoding.System):
            self._decode = self._utf8
        elif encoding == Encoding.Latin1:
            self._decode = codecs.getincrementaldecoder("latin-1")().decode
        elif encoding in (Encoding.Utf16, Encoding.Utf16LE, Encoding.Utf16BE):
            self._order = {Encoding.Utf16LE: "le", Encoding.Utf16BE: "be"}.get(encoding, "")
            self._decode = self._utf16
        else:
            self._order = {Encoding.Utf32LE: "le", Encoding.Utf32BE: "be"}.get(encoding, "")
            self._decode = self._utf32

    def decode(self, data: bytes) -> str:
        text = self._decode(data)
        if self._at_start and text:
            self._at_start = False
            if text[0] == "\ufeff":
                text = text[1:]
        return to_units(text)

    def _utf8(self, data: bytes) -> str:
        """``QUtf8::convertToUnicode()`` with a state: Python decodes the valid runs,
        ``_utf8_char()`` decides at each place Python stops."""
        out: list[str] = []
        if data and (self._pending or self._at_start):
            # Qt decodes the first character, or the one cut by the last read, from
            # a separate 4-byte buffer; after a bad one it skips a byte of the new
            # data, which then belonged to no character.
            held = len(self._pending)
            char, size = _utf8_char(self._pending + data[:4 - held], 0)
            if char is None and size == 0:
                self._pending += data[:4 - held]
                return ""
            self._pending = b""
            if char is None:
                out.append("\ufffd")
                data = data[1:]
            else:
                out.append(char)
                data = data[size - held:]
        while data:
            try:
                text, used = codecs.utf_8_decode(data, "strict", False)
            except UnicodeDecodeError as exc:
                out.append(data[:exc.start].decode("utf-8"))
                char, size = _utf8_char(data, exc.start)
                if char is None and size == 0:
                    self._pending = data[exc.start:]
                    break
                out.append("\ufffd" if char is None else char)
                data = data[exc.start + size:]
            else:
                out.append(text)
                self._pending = data[used:]
                break
        return "".join(out)

    def _utf16(self, data: bytes) -> str:
        """``QUtf16::convertToUnicode()``: units as they come (an unpaired surrogate
        too, even one whose other half is in the next read)."""
        return self._units(data, 2, b"\xfe\xff", b"\xff\xfe", "utf-16", "surrogatepass")

    def _utf32(self, data: bytes) -> str:
        """``QUtf32::convertToUnicode()``: whole 4-byte units, the rest held."""
        return self._units(data, 4, b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", "utf-32",
                           "qlsock.qt-decode")

    def _units(self, data: bytes, width: int, big: bytes, little: bytes, codec: str,
               errors: str) -> str:
        """Decode whole *width*-byte units, holding a partial one for the next call;
        the byte order comes from the first unit's BOM (*big*, *little*), else the
        host's."""
        data = self._pending + data
        if not self._order:
            if len(data) < width:
                self._pending = data
                return ""
            head = data[:width]
            self._order = "be" if head == big else "le" if head == little else _HOST
        whole = len(data) - len(data) % width
        self._pending = data[whole:]
        return data[:whole].decode(f"{codec}-{self._order}", errors)
