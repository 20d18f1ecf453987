"""An in-memory model of the read side of Qt's ``QIODevice``, for property tests.

It follows ``src/corelib/io/qiodevice.cpp`` (Qt 6) for an open, readable, sequential
device in binary mode, as qlsock's Python API presents it: the byte-array forms of the
reads (``bytes``; ``b""`` where Qt's ``char *`` forms return 0 or -1), ``getChar()`` as
``(bool, bytes)`` and ``ungetChar()`` taking a byte value.

What the model knows and the device cannot tell it: nothing. What the device knows and
the model cannot predict: *when* bytes arrive (that depends on the kernel and on the
read-buffer limit). So the data source is driven from outside: :meth:`arrive` appends
what the real device was seen to receive, :meth:`end` records that the stream ended.
Everything else (every return value, and the buffer state after every call) is the
model's prediction.

The rules, with the places in ``qiodevice.cpp`` they come from:

* Reads never wait: they return what is buffered (``QIODevicePrivate::read``).
* ``readLine(maxSize)``: through the first ``\\n``, at most ``maxSize - 1`` bytes when
  ``maxSize > 0`` (a slot is kept for the C terminator); the partial line when there
  is no ``\\n``; ``maxSize`` 1 (or negative) warns ``Called with maxSize < 2`` and
  returns nothing (``CHECK_LINEMAXLEN``).
* Negative sizes for ``read``/``peek``/``skip`` warn ``Called with maxSize < 0`` and
  return nothing, ``skip`` -1 (``CHECK_MAXLEN``).
* ``skip(n)``: ``min(n, buffered)``; with nothing buffered 0 while more may come and -1
  once the stream has ended (``QIODevice::skip``, ``QAbstractSocket::skipData``).
* ``ungetChar(c)`` puts one byte in front; during a transaction it warns and does
  nothing.
* Transactions (sequential devices): reads advance a transaction position instead of
  consuming; ``commitTransaction`` drops what was read, ``rollbackTransaction`` makes
  it readable again; ``bytesAvailable``/``canReadLine``/``atEnd`` look only past the
  transaction position. Starting twice, or ending when none is started, warns.
* ``atEnd()`` is "nothing buffered", not end of stream.

Text mode, ``skip(0)`` and the not-open/write-only cases are outside the model
(tests cover them one by one).
"""

from __future__ import annotations

__all__ = ["QIODeviceModel"]


class QIODeviceModel:
    """Qt's ``QIODevice`` read semantics over an in-memory byte buffer."""

    def __init__(self, qt_class: str = "QLocalSocket") -> None:
        self.qt_class = qt_class
        #: Every byte received and not yet consumed, including bytes read during a
        #: transaction (they are kept until it ends), in stream order.
        self.buffer = bytearray()
        #: The transaction position (an index into ``buffer``), or None.
        self.tpos: int | None = None
        #: Whether the stream has ended (no more bytes will arrive).
        self.ended = False
        #: The Qt warnings the calls so far print, in order.
        self.warnings: list[str] = []

    # -- the data source --------------------------------------------------------------

    def arrive(self, data: bytes) -> None:
        """*data* was received: it is appended after everything buffered."""
        self.buffer += data

    def end(self) -> None:
        """The stream ended (the peer closed); buffered bytes stay readable."""
        self.ended = True

    # -- helpers ----------------------------------------------------------------------

    def _warn(self, function: str, text: str) -> None:
        self.warnings.append(f"QIODevice::{function} ({self.qt_class}): {text}")

    @property
    def _start(self) -> int:
        return 0 if self.tpos is None else self.tpos

    def _unread(self) -> bytes:
        return bytes(self.buffer[self._start:])

    def _take(self, count: int) -> bytes:
        start = self._start
        data = bytes(self.buffer[start:start + max(count, 0)])
        if self.tpos is None:
            del self.buffer[:len(data)]
        else:
            self.tpos += len(data)
        return data

    # -- queries ----------------------------------------------------------------------

    def bytesAvailable(self) -> int:
        return len(self.buffer) - self._start

    def atEnd(self) -> bool:
        return self.bytesAvailable() == 0

    def canReadLine(self) -> bool:
        return self.buffer.find(b"\n", self._start) >= 0

    def isTransactionStarted(self) -> bool:
        return self.tpos is not None

    # -- reading ----------------------------------------------------------------------

    def read(self, maxSize: int) -> bytes:
        if maxSize < 0:
            self._warn("read", "Called with maxSize < 0")
            return b""
        return self._take(maxSize)

    def readAll(self) -> bytes:
        return self._take(self.bytesAvailable())

    def peek(self, maxSize: int) -> bytes:
        if maxSize < 0:
            self._warn("peek", "Called with maxSize < 0")
            return b""
        start = self._start
        return bytes(self.buffer[start:start + maxSize])

    def readLine(self, maxSize: int = 0) -> bytes:
        if maxSize != 0 and maxSize < 2:
            # Qt 6.9+ implements readLine() with readLineInto(), whose name the
            # warning carries.
            self._warn("readLineInto", "Called with maxSize < 2")
            return b""
        unread = self._unread()
        limit = len(unread) if maxSize == 0 else min(maxSize - 1, len(unread))
        newline = unread.find(b"\n", 0, limit)
        return self._take(limit if newline < 0 else newline + 1)

    def getChar(self) -> tuple[bool, bytes]:
        data = self._take(1)
        return (True, data) if data else (False, b"")

    def ungetChar(self, byte: int) -> None:
        if self.tpos is not None:
            self._warn("ungetChar", "Called while transaction is in progress")
            return
        self.buffer.insert(0, byte)

    def skip(self, maxSize: int) -> int:
        if maxSize < 0:
            self._warn("skip", "Called with maxSize < 0")
            return -1
        if not self.bytesAvailable():
            return -1 if self.ended else 0
        return len(self._take(maxSize))

    # -- transactions -------------------------------------------------------------------

    def startTransaction(self) -> None:
        if self.tpos is not None:
            self._warn("startTransaction", "Called while transaction already in progress")
            return
        self.tpos = 0

    def commitTransaction(self) -> None:
        if self.tpos is None:
            self._warn("commitTransaction", "Called while no transaction in progress")
            return
        del self.buffer[:self.tpos]
        self.tpos = None

    def rollbackTransaction(self) -> None:
        if self.tpos is None:
            self._warn("rollbackTransaction", "Called while no transaction in progress")
            return
        self.tpos = None
