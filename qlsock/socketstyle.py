"""The socket face of :class:`~qlsock.QLocalSocket`: what gevent's sockets offer.

For greenlet-per-client code that thinks in sockets rather than in Qt's signals:
``sendall``, ``recv``, ``recv_into``, ``recv_exactly``, ``makefile``,
``settimeout``/``gettimeout``, and length-prefixed messages (``send_message`` /
``recv_message``). They are built on the Qt methods of the same object, so the two
faces mix on one socket with defined results:

* reading either way takes from the same buffer (``recv`` after ``readyRead`` gets
  what the slot left, and a ``recv`` counts as a ``waitForReadyRead`` for what is new);
* ``sendall`` queues with ``write()`` and waits like ``waitForBytesWritten()``: the
  bytes a slot wrote before are sent first;
* the timeout (``settimeout``, in seconds; None: for ever, the default; 0: never
  wait) applies to these methods only; the ``waitFor*`` calls keep their millisecond
  arguments. A timeout also emits ``errorOccurred(SocketTimeoutError)``, as a
  ``waitFor*`` timeout does, and leaves the socket usable.

Failures raise the :class:`OSError` subclass Python's sockets raise for the same
condition, with Qt's error code in ``exc.qt_error`` and the socket's ``errorString()``
as the message: ``TimeoutError``, ``ConnectionResetError`` (the peer went away while
we were sending), ``BrokenPipeError`` (sending on a connection that has ended),
``OSError`` otherwise. The end of the stream is ``b""`` for ``recv`` and
:class:`IncompleteReadError` (an ``EOFError``) for the exact reads. A
``gevent.Timeout`` around any of them is safe: it interrupts the wait, and nothing
read or queued is lost (what was read stays in the buffer for the next call).
"""

from __future__ import annotations

import errno
import io
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from greenlet import getcurrent

from .enums import LocalSocketError, LocalSocketState
from .iodevice import MODE_READ, MODE_TEXT, MODE_WRITE
from .signals import any_slots

if TYPE_CHECKING:
    from .localsocket import QLocalSocket

#: What the sending calls take (a bytes-like object).
BytesLike = bytes | bytearray | memoryview

__all__ = ["DEFAULT_MAX_MESSAGE", "IncompleteReadError", "MessageTooLargeError",
           "SocketStyle", "socket_error"]

_CONNECTED = LocalSocketState.ConnectedState
_UNCONNECTED = LocalSocketState.UnconnectedState

#: The largest message ``recv_message`` accepts by default (bytes).
DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
#: QDataStream's length of a null QByteArray.
_NULL = 0xFFFFFFFF
#: Qt 6.7's marker for a 64-bit length that follows (sizes of 0xFFFFFFFE and more).
_EXTENDED = 0xFFFFFFFE


class IncompleteReadError(EOFError):
    """The stream ended before *expected* bytes came; *partial* holds what did."""

    def __init__(self, partial: bytes, expected: int) -> None:
        super().__init__(f"the stream ended after {len(partial)} of {expected} bytes")
        self.partial = partial
        self.expected = expected


class MessageTooLargeError(OSError):
    """A peer announced a message larger than ``max_size``; the connection is aborted
    (what follows the header cannot be told apart from the next message)."""


_EXCEPTIONS: dict[LocalSocketError, type[OSError]] = {
    LocalSocketError.SocketTimeoutError: TimeoutError,
    LocalSocketError.PeerClosedError: ConnectionResetError,
    LocalSocketError.ServerNotFoundError: FileNotFoundError,
    LocalSocketError.ConnectionRefusedError: ConnectionRefusedError,
    LocalSocketError.SocketAccessError: PermissionError,
}
_ERRNOS = {
    TimeoutError: errno.ETIMEDOUT,
    ConnectionResetError: errno.ECONNRESET,
    BrokenPipeError: errno.EPIPE,
    BlockingIOError: errno.EAGAIN,
    FileNotFoundError: errno.ENOENT,
    ConnectionRefusedError: errno.ECONNREFUSED,
    PermissionError: errno.EACCES,
}


def socket_error(code: LocalSocketError, text: str,
                 kind: type[OSError] | None = None) -> OSError:
    """The OSError Python's sockets raise for Qt's *code*, with ``qt_error`` set."""
    cls = kind or _EXCEPTIONS.get(code, OSError)
    exc = cls(_ERRNOS.get(cls, 0), text)
    exc.qt_error = code  # type: ignore[attr-defined]
    return exc


class SocketStyle:
    """Socket-style methods for :class:`~qlsock.QLocalSocket` (see the module)."""

    _socket_timeout: float | None = None

    if TYPE_CHECKING:
        _self: QLocalSocket

    # -- timeout ------------------------------------------------------------------------

    def settimeout(self, value: float | None) -> None:
        """Seconds the socket-style calls may wait (None: for ever; 0: not at all)."""
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"settimeout() takes a number of seconds or None, "
                                f"not {type(value).__name__}")
            if value < 0 or value != value:
                raise ValueError(f"settimeout(): the timeout must be >= 0, not {value}")
            value = float(value)
        self._socket_timeout = value

    def gettimeout(self) -> float | None:
        return self._socket_timeout

    def setblocking(self, flag: bool) -> None:
        """``settimeout(None)`` if *flag*, else ``settimeout(0.0)``, as for sockets."""
        self.settimeout(None if flag else 0.0)

    def _socket_deadline(self) -> float | None:
        timeout = self._socket_timeout
        return None if timeout is None else time.monotonic() + timeout

    @staticmethod
    def _msecs(deadline: float | None) -> int:
        if deadline is None:
            return -1
        return max(int((deadline - time.monotonic()) * 1000), 0)

    # -- sending ------------------------------------------------------------------------

    def sendall(self, data: BytesLike) -> None:
        """Send all of *data*; return once the kernel has taken every queued byte.

        Raises ``BrokenPipeError`` if the connection has ended, ``ConnectionResetError``
        if it ends meanwhile, ``TimeoutError`` at the timeout (the rest stays queued).
        """
        sock: QLocalSocket = self  # type: ignore[assignment]
        if sock._state is not _CONNECTED:
            raise self._ended("sendall")
        transport = sock._transport
        wbuf = sock._wbuf
        if data.__class__ is bytearray or data.__class__ is memoryview:
            data = bytes(data)  # as write() keeps it: a copy the caller cannot change
        if data.__class__ is bytes and data and not wbuf.size and transport is not None \
                and sock._open_mode & MODE_WRITE and sock._direct_write:
            # As socket.sendall does, send before waiting: the kernel usually takes
            # it all, and write() would first have the hub look at it later.
            sock._check_thread()
            wbuf.chunks.append(data)
            wbuf.size = len(data)
            sent = sock._write_step(transport)
            sock._sent_reported = sock._sent
            if sent < 0:
                self._raise_failure("sendall")
            if not wbuf.size:
                return
        elif sock.write(data) < 0:
            raise self._ended("sendall")
        else:
            sock.flush()
        self._drain(self._socket_deadline())

    def _drain(self, deadline: float | None) -> None:
        sock: QLocalSocket = self  # type: ignore[assignment]
        while sock.bytesToWrite():
            if not sock.waitForBytesWritten(self._msecs(deadline)) and sock.bytesToWrite():
                self._raise_failure("sendall")

    def send(self, data: BytesLike) -> int:
        """:meth:`sendall`, then the number of bytes: the kernel takes a local
        socket's writes whole or waits, so a partial send never happens here."""
        self.sendall(data)
        return len(memoryview(data))

    def fileno(self) -> int:
        """The descriptor (-1 when not connected), for ``select`` and friends."""
        sock: QLocalSocket = self  # type: ignore[assignment]
        return sock.socketDescriptor()

    def shutdown(self, how: int) -> None:
        """Shut down one or both directions, as ``socket.shutdown`` does.

        ``SHUT_WR`` first sends what is queued (as :meth:`sendall` waits), then lets
        the peer read the end of the stream while this side goes on reading; the
        socket stays Connected until the peer closes. ``SHUT_RD`` and ``SHUT_RDWR``
        close gracefully (``disconnectFromServer()``); Qt has no half-close.
        """
        sock: QLocalSocket = self  # type: ignore[assignment]
        if how not in (socket.SHUT_RD, socket.SHUT_WR, socket.SHUT_RDWR):
            raise ValueError(f"shutdown(): how must be SHUT_RD, SHUT_WR or SHUT_RDWR, "
                             f"not {how!r}")
        if sock.state() is not _CONNECTED:
            raise self._ended("shutdown")
        if how != socket.SHUT_WR:
            sock.disconnectFromServer()
            return
        self._drain(self._socket_deadline())
        with socket.socket(fileno=os.dup(sock.socketDescriptor())) as duplicate:
            duplicate.shutdown(socket.SHUT_WR)

    # -- receiving ------------------------------------------------------------------------

    def recv(self, bufsize: int) -> bytes:
        """Up to *bufsize* bytes, waiting for some if none are buffered; ``b""`` at the
        end of the stream. ``TimeoutError`` at the timeout."""
        sock: QLocalSocket = self  # type: ignore[assignment]
        if isinstance(bufsize, bool) or not isinstance(bufsize, int):
            raise TypeError(f"recv() takes an int, not {type(bufsize).__name__}")
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        if bufsize == 0:
            return b""
        deadline = self._socket_deadline()
        while not sock._rbuf.size:
            data = self._recv_now(bufsize)
            if data:
                return data
            if data is None:
                break
            # The kernel had nothing: wait until it has, then read it here, as
            # gevent's recv does (the bytes skip the buffer).
            if not self._wait_readable(deadline, "recv", drained=True, direct=True):
                return b""
        if not self._wait_readable(deadline, "recv"):
            return b""
        return sock.read(bufsize)

    def _recv_now(self, bufsize: int) -> bytes | None:
        """Up to *bufsize* bytes straight from the kernel; ``b""`` when it had none
        (the caller then waits, knowing the queue drained), or None when the caller
        must take the general path (the end of the stream, a failure, or a reason
        not to read here).

        As gevent's ``recv`` does, read before waiting: with nothing buffered and
        nobody to see the bytes on their way (no ``readyRead`` slot, no other
        reader, no transaction, no text mode, no ``readData`` override), the buffer
        and the wait are skipped. The bytes count as arrived and reported, as if a
        ``waitForReadyRead`` had returned them. An end of stream or failure found
        here is taken as the hub would take it.
        """
        sock: QLocalSocket = self  # type: ignore[assignment]
        transport = sock._transport
        if transport is None or sock._state is not _CONNECTED or sock._reading_paused \
                or sock._ending is transport \
                or sock._open_mode & (MODE_READ | MODE_TEXT) != MODE_READ \
                or sock._rbuf._taken is not None or not sock._direct_read:
            # Not readable; or a text mode read (it drops "\r"), a transaction (it
            # keeps what is read) or a readData() override must see the bytes.
            return None
        if any_slots(sock, "readyRead", "channelReadyRead"):
            return None
        reader = sock._reader
        if reader is not None and reader is not getcurrent():
            return None
        sock._check_thread()
        try:
            data = transport.recv(bufsize)
        except BlockingIOError:
            return b""
        except OSError as exc:
            sock._stream_failed(transport, exc.errno or 0)
            return None
        if not data:
            sock._peer_closed(transport, drain=True)
            return None
        sock._arrived += len(data)
        sock._reported = sock._arrived
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        """Read into *buffer* (up to *nbytes*, or its size); the count, 0 at the end."""
        view = memoryview(buffer).cast("B")
        size = len(view) if nbytes == 0 else nbytes
        if size < 0 or size > len(view):
            raise ValueError("nbytes is greater than the length of the buffer"
                             if size > 0 else "negative buffersize in recv_into")
        data = self.recv(size)
        view[:len(data)] = data
        return len(data)

    def recv_exactly(self, size: int) -> bytes:
        """Exactly *size* bytes, waiting as long as it takes (within the timeout, for
        the whole read). :class:`IncompleteReadError` if the stream ends first; at the
        timeout ``TimeoutError``, with the bytes read so far left in the buffer."""
        sock: QLocalSocket = self  # type: ignore[assignment]
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"recv_exactly() takes an int, not {type(size).__name__}")
        if size < 0:
            raise ValueError(f"recv_exactly(): the size must be >= 0, not {size}")
        deadline = self._socket_deadline()
        if not sock._rbuf.size and size:
            data = self._recv_now(size)
            if data is not None and len(data) == size:
                return data
            if data is not None:
                return self._exactly_direct(size, data, deadline)
        return self._exactly(size, deadline, "recv_exactly")

    def _exactly_direct(self, size: int, first: bytes, deadline: float | None) -> bytes:
        """:meth:`recv_exactly` reading from the kernel itself, as gevent's reads do:
        *first* came from an empty buffer and drained the kernel's queue; wait for
        readability and read the rest here, without the buffer. Bytes already taken
        go back in front of the buffer if the call ends without the rest (a
        timeout, a ``gevent.Timeout``, a kill), or when it must take the general
        way (the hub buffered bytes meanwhile, or a reason not to read here)."""
        sock: QLocalSocket = self  # type: ignore[assignment]
        parts = [first] if first else []
        have = len(first)
        ended = False
        try:
            while not sock._rbuf.size:
                if not self._wait_readable(deadline, "recv_exactly", drained=True,
                                           direct=True):
                    ended = True
                    raise IncompleteReadError(b"".join(parts) + sock.readAll(), size)
                if sock._rbuf.size:
                    break
                data = self._recv_now(size - have)
                if data is None:
                    break
                if data:
                    parts.append(data)
                    have += len(data)
                    if have == size:
                        ended = True
                        return b"".join(parts)
        finally:
            if not ended and parts:
                sock._rbuf.prepend(b"".join(parts))
        return self._exactly(size, deadline, "recv_exactly")

    def _wait_readable(self, deadline: float | None, what: str, more: bool = False,
                       drained: bool = False, direct: bool = False) -> bool:
        """Until bytes are buffered (with *more*: until new ones came; with *direct*:
        or the kernel has some): True, False at the end of the stream; raise on
        timeout or failure. *drained*: the kernel's queue was found empty just now
        (see ``QLocalSocket._wait_ready_read``)."""
        sock: QLocalSocket = self  # type: ignore[assignment]
        if sock.bytesAvailable() and not more:
            return True
        if not sock.isValid() and sock.state() is _UNCONNECTED:
            # Never connected, or closed here (close/abort): Python's sockets raise;
            # the end of a stream the peer closed stays b"" until then.
            exc = OSError(errno.ENOTCONN, f"{what}(): the socket is not connected")
            exc.qt_error = sock._error  # type: ignore[attr-defined]
            raise exc
        while True:
            state = sock.state()
            if state is not _CONNECTED and state is not LocalSocketState.ConnectingState:
                if sock._error not in (LocalSocketError.PeerClosedError,
                                        LocalSocketError.UnknownSocketError,
                                        LocalSocketError.SocketTimeoutError):
                    self._raise_failure(what)
                return bool(sock.bytesAvailable()) and not more
            before = sock.bytesAvailable()
            sock._check_thread()
            if sock._wait_ready_read(deadline, drained, direct):
                return True
            drained = False
            if sock.bytesAvailable() > before:
                return True
            if sock._error is LocalSocketError.SocketTimeoutError and \
                    sock.state() is _CONNECTED:
                raise self._timeout_error(what)

    # -- messages ---------------------------------------------------------------------------

    def send_message(self, data: BytesLike) -> None:
        """Send *data* as one message: ``QDataStream << QByteArray`` framing (a 32-bit
        big-endian length, then the bytes), which a Qt peer reads with
        ``QDataStream >> QByteArray``. Waits as :meth:`sendall` does."""
        if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send_message() takes bytes-like data, not "
                            f"{type(data).__name__}" + ("; encode it first, e.g. "
                            "text.encode('utf-8')" if isinstance(data, str) else ""))
        payload = bytes(data)
        size = len(payload)
        if size >= _EXTENDED:
            header = _EXTENDED.to_bytes(4, "big") + size.to_bytes(8, "big")
        else:
            header = size.to_bytes(4, "big")
        self.sendall(header + payload if size < 65536 else header)
        if size >= 65536:
            self.sendall(payload)

    def recv_message(self, max_size: int = DEFAULT_MAX_MESSAGE) -> bytes | None:
        """The next message sent with :meth:`send_message` (or a Qt peer's
        ``QDataStream << QByteArray``); None at the end of the stream between
        messages; ``b""`` for an empty (or Qt's null) QByteArray.

        A length above *max_size* is refused before anything is allocated:
        :class:`MessageTooLargeError`, and the connection is aborted. A stream that
        ends inside a message raises :class:`IncompleteReadError`.
        """
        sock: QLocalSocket = self  # type: ignore[assignment]
        deadline = self._socket_deadline()
        if not sock.bytesAvailable() and not self._wait_readable(deadline, "recv_message"):
            return None
        header = self._exactly(4, deadline)
        size = int.from_bytes(header, "big")
        if size == _NULL:
            return b""
        if size == _EXTENDED:
            size = int.from_bytes(self._exactly(8, deadline), "big")
        if size > max_size:
            sock.abort()
            raise MessageTooLargeError(
                errno.EMSGSIZE, f"recv_message(): the peer announced {size} bytes, more "
                f"than max_size={max_size}; the connection was aborted")
        return self._exactly(size, deadline)

    def _exactly(self, size: int, deadline: float | None, what: str = "recv_message",
                 drained: bool = False) -> bytes:
        sock: QLocalSocket = self  # type: ignore[assignment]
        limit = sock._read_buffer_size
        if limit and size > limit and not sock._rbuf.in_transaction:
            return self._exactly_past_the_limit(size, deadline, what, drained)
        while sock.bytesAvailable() < size:
            if not self._wait_readable(deadline, what, more=True, drained=drained):
                raise IncompleteReadError(sock.readAll(), size)
            drained = False
        return sock.read(size)

    def _exactly_past_the_limit(self, size: int, deadline: float | None, what: str,
                                drained: bool) -> bytes:
        """:meth:`_exactly` for more than ``setReadBufferSize()`` lets the buffer hold:
        the bytes are taken out as they come, so that reading goes on (a full
        buffer pauses it), and put back in front if the call ends without them (a
        timeout, a ``gevent.Timeout``, a kill), as the buffered way would leave them."""
        sock: QLocalSocket = self  # type: ignore[assignment]
        parts: list[bytes] = []
        have = 0
        ended = False
        try:
            while have < size:
                available = sock.bytesAvailable()
                if available:
                    part = sock.read(min(available, size - have))
                    parts.append(part)
                    have += len(part)
                    continue
                if not self._wait_readable(deadline, what, more=True, drained=drained):
                    ended = True
                    raise IncompleteReadError(b"".join(parts) + sock.readAll(), size)
                drained = False
            ended = True
            return b"".join(parts)
        finally:
            if not ended and parts:
                sock._rbuf.prepend(b"".join(parts))

    # -- files --------------------------------------------------------------------------------

    def makefile(self, mode: str = "r", buffering: int | None = None, *,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None) -> Any:
        """A file object on the socket, as :meth:`socket.socket.makefile` makes one.

        Modes ``r``, ``w``, ``rw`` (with ``b`` for binary); text files decode with
        *encoding* (default UTF-8, not the locale's). Reads wait like :meth:`recv`,
        writes like :meth:`sendall`; iterating reads lines. Closing the file does not
        close the socket. Unlike ``socket.makefile("rw")``, whose text file drops
        what it had read ahead whenever it writes (``TextIOWrapper`` resets its
        decoder on every write), a text ``rw`` file here reads and writes through
        two wrappers, so a line-by-line request/reply loop loses nothing.
        """
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        reading, writing, binary = "r" in mode, "w" in mode, "b" in mode
        if not reading and not writing:
            raise ValueError("makefile(): the mode must include 'r' or 'w'")
        raw = _SocketIO(self, reading, writing)
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buffered: io.BufferedIOBase
        if reading and writing and not binary:
            return _TextPair(
                _text(io.BufferedReader(raw, buffering), encoding, errors, newline, mode),
                _text(io.BufferedWriter(raw, buffering), encoding, errors, newline, mode))
        if reading and writing:
            buffered = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffered = io.BufferedReader(raw, buffering)
        else:
            buffered = io.BufferedWriter(raw, buffering)
        if binary:
            return buffered
        return _text(buffered, encoding, errors, newline, mode)

    # -- failures -------------------------------------------------------------------------

    def _ended(self, what: str) -> OSError:
        sock: QLocalSocket = self  # type: ignore[assignment]
        code = sock.error()
        text = sock.errorString() if code not in (
            LocalSocketError.UnknownSocketError, LocalSocketError.SocketTimeoutError) \
            and sock.errorString() else "the socket is not connected"
        return socket_error(sock.error(), f"{what}(): {text}", BrokenPipeError)

    def _raise_failure(self, what: str) -> None:
        sock: QLocalSocket = self  # type: ignore[assignment]
        code = sock.error()
        if sock.state() is not _UNCONNECTED and code is LocalSocketError.SocketTimeoutError:
            raise self._timeout_error(what)
        text = sock.errorString() or "the connection ended"
        kind = BrokenPipeError if code in (LocalSocketError.UnknownSocketError,
                                           LocalSocketError.SocketTimeoutError) else None
        raise socket_error(code, f"{what}(): {text}", kind)

    def _timeout_error(self, what: str) -> OSError:
        if self._socket_timeout == 0:
            # settimeout(0) is a non-blocking socket: "would block", as Python's.
            return socket_error(LocalSocketError.SocketTimeoutError,
                                f"{what}(): nothing could be done without waiting",
                                BlockingIOError)
        return socket_error(LocalSocketError.SocketTimeoutError,
                            f"{what}() timed out after {self._socket_timeout:g} s")


def _text(buffered: Any, encoding: str | None, errors: str | None, newline: str | None,
          mode: str) -> io.TextIOWrapper:
    text = io.TextIOWrapper(buffered, encoding or "utf-8", errors, newline,
                            write_through=True)
    text.mode = mode  # type: ignore[misc]
    return text


class _TextPair:
    """A text file that reads through one wrapper and writes through another."""

    def __init__(self, reader: io.TextIOWrapper, writer: io.TextIOWrapper) -> None:
        self._reader = reader
        self._writer = writer
        self.mode = reader.mode
        self.encoding = reader.encoding

    def read(self, size: int | None = -1) -> str:
        return self._reader.read(size)

    def readline(self, size: int = -1) -> str:
        return self._reader.readline(size)

    def readlines(self, hint: int = -1) -> list[str]:
        return self._reader.readlines(hint)

    def __iter__(self) -> _TextPair:
        return self

    def __next__(self) -> str:
        return next(self._reader)

    def write(self, text: str) -> int:
        return self._writer.write(text)

    def writelines(self, lines: Any) -> None:
        self._writer.writelines(lines)

    def flush(self) -> None:
        self._writer.flush()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._reader.fileno()

    @property
    def closed(self) -> bool:
        return self._reader.closed and self._writer.closed

    def close(self) -> None:
        try:
            self._writer.close()
        finally:
            self._reader.close()

    def __enter__(self) -> _TextPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SocketIO(io.RawIOBase):
    """The raw file under :meth:`SocketStyle.makefile`."""

    def __init__(self, sock: SocketStyle, reading: bool, writing: bool) -> None:
        super().__init__()
        self._sock = sock
        self._reading = reading
        self._writing = writing

    def readable(self) -> bool:
        return self._reading

    def writable(self) -> bool:
        return self._writing

    def readinto(self, b: Any) -> int:
        if not self._reading:
            raise io.UnsupportedOperation("not readable")
        return self._sock.recv_into(b)

    def write(self, b: Any) -> int:
        if not self._writing:
            raise io.UnsupportedOperation("not writable")
        data = bytes(b)
        self._sock.sendall(data)
        return len(data)

    def fileno(self) -> int:
        return self._sock.socketDescriptor()  # type: ignore[attr-defined, no-any-return]
