"""``QLocalSocket`` on the engine contracts (``qlocalsocket*.cpp`` semantics).

The state machine, the order of signals and the error texts follow
``docs/semantics.md`` (Qt's Unix backend). I/O is cooperative:

* ``write()`` only buffers; bytes leave through the hub in the background, or inside
  ``flush()`` and the ``waitFor*`` calls.
* A ``waitFor*`` call first does what it can without waiting (send what the kernel
  takes, read what the kernel holds) and yields the calling greenlet only if that is
  not enough; other greenlets run meanwhile.
* Events from the outside (data, peer close, a background flush) are delivered in a
  greenlet scheduled by the hub, or by the ``waitFor*`` call that observes them, in
  its own greenlet; ``readyRead`` and ``bytesWritten`` are never emitted nested.
"""

from __future__ import annotations

import fcntl
import sys
import termios
import time
from logging import DEBUG
from typing import Any, TypeAlias

from greenlet import getcurrent
from zope.interface import implementer

from ._log import logger, qt_warning
from .buffers import WriteBuffer
from .credentials import PeerCredentials, peer_credentials
from .enums import (
    LocalSocketError,
    LocalSocketOption,
    LocalSocketState,
    OpenModeFlag,
)
from .errors import ConcurrentWaitError, connect_error, local_socket_text, stream_error
from .hub import current_engine
from .interfaces import READ, WRITE, ILocalSocket, IStreamTransport
from .iodevice import MODE_READ, MODE_WRITE, QIODevice, coerce_mode, coerce_size
from .naming import (
    ABSTRACT_SUPPORTED,
    NameProblem,
    coerce_name,
    names_from_address,
    resolve,
)
from .qobject import QObject
from .signals import Signal, SignalAlias
from .socketfile import connect_failure
from .socketstyle import SocketStyle

__all__ = ["QLocalSocket"]

_U = LocalSocketState.UnconnectedState
_CONNECTING = LocalSocketState.ConnectingState
_CONNECTED = LocalSocketState.ConnectedState
_CLOSING = LocalSocketState.ClosingState

_ABSTRACT_OPTION = int(LocalSocketOption.AbstractNamespaceOption)

_RECV_SIZE = 65536
#: Reads sized to what is queued stop when this little is queued.
_SMALL_READ = 4096
_INT_ZERO = bytes(4)
#: How many times one delivery sends what its slots keep writing (see _on_events).
#: Each round ends on the kernel's say (a send it does not take whole stops the
#: loop), so the bound only matters while a peer on another core drains as fast as
#: the slots write; with 64 KiB writes it lets 4 MiB go per hub pass. At 8 rounds,
#: the hub pass (a poll and three greenlet switches) every 512 KiB cost
#: signal-style bulk a fifth of its throughput.
_FLUSH_ROUNDS = 64
#: How many times one delivery reads from a fast sender (see _on_events).
_READ_ROUNDS = 8
#: Qt's QT_CONNECT_TIMEOUT: how long a connect keeps retrying a full backlog.
CONNECT_TIMEOUT = 30.0


def _queued_bytes(fd: int) -> int:
    """How many received bytes the kernel holds for *fd* (``FIONREAD``)."""
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, _INT_ZERO), sys.byteorder)


#: Timeouts beyond qint64 milliseconds (which Qt cannot even be given) wait forever,
#: like negative ones: a float cannot hold every int.
_FOREVER_MS = 2**63 - 1


def timeout_seconds(msecs: object, what: str) -> float | None:
    """Qt's millisecond timeout as seconds; any negative value means "forever"."""
    value = coerce_size(msecs, what)
    return None if value < 0 or value > _FOREVER_MS else value / 1000.0


class _Attempt:
    """One connectToServer() call. Anything that starts another attempt, or ends
    this one (abort, close, a new connect from a slot), replaces the socket's
    current attempt, so a pending retry sees it is no longer wanted."""

    __slots__ = ("address", "deadline", "full", "mode")

    def __init__(self, mode: OpenModeFlag) -> None:
        self.mode = mode
        self.address = b""
        self.full = ""
        self.deadline = 0.0


@implementer(ILocalSocket)
class QLocalSocket(SocketStyle, QIODevice):
    """A local socket with Qt's ``QLocalSocket`` API, cooperative under gevent.

    A socket belongs to the OS thread (gevent hub) that created it. Signals are
    direct: slots run in the greenlet that caused or observed the event, never in
    the hub. See ``docs/semantics.md`` for the full contract and the differences
    from Qt.
    """

    LocalSocketError: TypeAlias = LocalSocketError
    LocalSocketState: TypeAlias = LocalSocketState
    SocketOption: TypeAlias = LocalSocketOption
    # Qt's enum members on the class (QLocalSocket.PeerClosedError), spelled out
    # so type checkers see them as well as the interpreter.
    ConnectionRefusedError = LocalSocketError.ConnectionRefusedError
    PeerClosedError = LocalSocketError.PeerClosedError
    ServerNotFoundError = LocalSocketError.ServerNotFoundError
    SocketAccessError = LocalSocketError.SocketAccessError
    SocketResourceError = LocalSocketError.SocketResourceError
    SocketTimeoutError = LocalSocketError.SocketTimeoutError
    DatagramTooLargeError = LocalSocketError.DatagramTooLargeError
    ConnectionError = LocalSocketError.ConnectionError
    UnsupportedSocketOperationError = LocalSocketError.UnsupportedSocketOperationError
    OperationError = LocalSocketError.OperationError
    UnknownSocketError = LocalSocketError.UnknownSocketError
    UnconnectedState = LocalSocketState.UnconnectedState
    ConnectingState = LocalSocketState.ConnectingState
    ConnectedState = LocalSocketState.ConnectedState
    ClosingState = LocalSocketState.ClosingState
    NoOptions = LocalSocketOption.NoOptions
    AbstractNamespaceOption = LocalSocketOption.AbstractNamespaceOption

    connected = Signal()
    disconnected = Signal()
    errorOccurred = Signal(LocalSocketError)
    stateChanged = Signal(LocalSocketState)

    _qt_class = "QLocalSocket"

    # What most sockets never change lives on the class, and an instance holds it only
    # once it changes: CPython shares one key table among the instances of a class
    # while they hold at most 30 attributes, and a socket past that costs over a
    # kilobyte more (a server holds thousands).
    _error = LocalSocketError.UnknownSocketError
    _server_name = ""
    _full_server_name = ""
    _options = LocalSocketOption.NoOptions
    _read_buffer_size = 0
    _inner_open = False
    # The greenlets in waitForReadyRead, waitForBytesWritten and waitForDisconnected:
    # one of each may wait at once (full duplex).
    _reader: Any = None
    _writer: Any = None
    _closer: Any = None
    # The connection ended in the background, and no waitForDisconnected has been
    # told yet.
    _gone_unseen = False
    # Released from a server's children when the connection ended.
    _released = False
    # The transport whose end (end of stream, a failed send) is being reported:
    # nothing reads from it any more, and its end is reported once.
    _ending: IStreamTransport | None = None
    _attempt: _Attempt | None = None
    # How many deliveries of this socket's readiness are running (their slots
    # included): non-zero while one is.
    _in_events = 0
    # Whether recv() and sendall() may move bytes between the kernel and the caller
    # directly: not when a subclass overrides readData()/writeData(), which every
    # byte must pass through as in Qt (see __init_subclass__).
    _direct_read = True
    _direct_write = True
    # The last name debug records used: Qt clears the names before the final
    # stateChanged, and a record without a name helps nobody.
    _log_name = "(no name)"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._direct_read = cls.readData is QLocalSocket.readData
        cls._direct_write = cls.writeData is QLocalSocket.writeData

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Qt 5's error: the getter and another name for errorOccurred (SignalAlias).
        self.__dict__["error"] = SignalAlias(self, "errorOccurred", QLocalSocket.error)
        self._engine = current_engine()
        # Bound once: every read and wait checks the thread.
        self._check_thread = self._engine.check_thread  # type: ignore[method-assign]
        self._state = _U
        self._transport: IStreamTransport | None = None
        self._interest = 0
        self._wbuf = WriteBuffer()
        self._reading_paused = False
        self._in_ready_read = False
        self._in_bytes_written = False
        # True while the kernel holds more than one recv() takes (a fast sender):
        # reads are then sized to what is queued, so the data arrives in one chunk.
        self._read_ahead = False
        # True while queued for the engine's reconcile by writeData().
        self._write_owed = False
        # Bytes ever put into the read buffer, and how many of them a readyRead
        # emission or a waitForReadyRead has reported: what came in between (read
        # by the hub while the blocking-style greenlet was busy) makes its next
        # waitForReadyRead return at once, as a Qt thread without an event loop
        # would find those bytes still in the kernel.
        self._arrived = 0
        self._reported = 0
        # The same for bytes sent: the hub's background sends that no bytesWritten
        # emission reported make the next waitForBytesWritten return at once.
        self._sent = 0
        self._sent_reported = 0

    def __repr__(self) -> str:
        name = self._full_server_name or self._server_name
        return f"<QLocalSocket {self._state!r} {name!r} fd={self.socketDescriptor()}>"

    def __del__(self) -> None:
        # Nobody references the socket any more: the hub holds it weakly. Close its
        # connection as Qt's destructor does, except that queued bytes still leave.
        transport = getattr(self, "_transport", None)
        if transport is not None and not transport.closed:
            try:
                self._engine.release(self._engine.release_stream, transport, self._wbuf)
            except Exception:  # interpreter shutdown: nothing to close with
                pass

    # -- state and names -----------------------------------------------------------------

    def state(self) -> LocalSocketState:
        return self._state

    def _set_state(self, state: LocalSocketState) -> None:
        if state is not self._state:
            if logger.isEnabledFor(DEBUG):
                self._log_transition(state)
            self._state = state
            self._emit("stateChanged", state)

    def _log_transition(self, state: LocalSocketState) -> None:
        name = self._full_server_name or self._server_name or self._log_name
        self._log_name = name
        logger.debug("QLocalSocket %s (fd %d): %s -> %s", name, self.socketDescriptor(),
                     self._state.name, state.name)

    def serverName(self) -> str:
        return self._server_name

    def fullServerName(self) -> str:
        return self._full_server_name

    def setServerName(self, name: Any) -> None:
        """Set the name ``connectToServer()`` uses; ignored unless unconnected."""
        name = coerce_name(name, "QLocalSocket.setServerName()")
        if self._state is not _U:
            qt_warning("QLocalSocket::setServerName() called while not in unconnected state")
            return
        self._server_name = name

    def socketOptions(self) -> LocalSocketOption:
        """The ``SocketOption`` flags ``connectToServer()`` uses (Qt's default: none)."""
        return self._options

    def setSocketOptions(self, options: Any) -> None:
        """Set ``SocketOption`` flags; ignored (with Qt's warning) unless unconnected."""
        bits = coerce_size(options, "QLocalSocket.setSocketOptions()")
        if bits & ~int(LocalSocketOption.AbstractNamespaceOption) or bits < 0:
            raise ValueError(f"{bits:#x} is not a combination of QLocalSocket.SocketOption")
        if self._state is not _U:
            qt_warning("QLocalSocket::setSocketOptions() called while not in unconnected state")
            return
        self._options = LocalSocketOption(bits)

    def error(self) -> LocalSocketError:
        """The last error (``QLocalSocket::error()``).

        Also Qt 5's ``error`` signal: ``sock.error.connect(slot)`` connects to
        :attr:`errorOccurred`, and the two names share their slots.
        """
        return self._error

    def socketDescriptor(self) -> int:
        transport = self._transport
        return -1 if transport is None else transport.fileno()

    def peerCredentials(self) -> PeerCredentials | None:
        """The peer process's ``(pid, uid, gid)`` when it connected (not in Qt).

        Read with ``SO_PEERCRED`` (Linux): the kernel's record, not something the
        peer sends, so a server can trust it for access decisions. ``None`` when
        there is no connection.
        """
        transport = self._transport
        if transport is None:
            return None
        try:
            return peer_credentials(transport.fileno())
        except OSError:
            return None

    def isValid(self) -> bool:
        """True while connected, and after the connection ended until close/abort."""
        return self._transport is not None or self._inner_open

    def _stream_ended(self) -> bool:
        return self._state is _U

    def bytesToWrite(self) -> int:
        return self._wbuf.size

    def readData(self, maxlen: int) -> bytes:
        data = self._rbuf.read(maxlen)
        # Without a read buffer limit reading is never paused, so there is
        # nothing to resume.
        if data and self._read_buffer_size:
            self._buffer_consumed()
        return data

    def readBufferSize(self) -> int:
        return self._read_buffer_size

    def setReadBufferSize(self, size: int) -> None:
        """Limit the read buffer to *size* bytes (0: unlimited).

        When the buffer is full, reading from the kernel pauses until the
        application reads: nothing is dropped, the peer is slowed down instead.
        """
        size = coerce_size(size, "QLocalSocket.setReadBufferSize()")
        if size < 0:
            raise ValueError(f"setReadBufferSize(): the size must be >= 0 (0 means "
                             f"unlimited), not {size}")
        self._engine.check_thread()
        self._read_buffer_size = size
        self._buffer_consumed()

    def _set_error(self, code: LocalSocketError, function: str, err: int = 0,
                   detail: str = "") -> None:
        self._error = code
        text = local_socket_text(code, err)
        self._error_string = f"{function}: {text} ({detail})" if detail else f"{function}: {text}"

    # -- connecting ------------------------------------------------------------------------

    def connectToServer(self, name: Any = None, openMode: Any = OpenModeFlag.ReadWrite) -> None:
        """Connect to *name*, or to the name set by :meth:`setServerName`.

        Both Qt overloads are accepted: ``connectToServer(name, mode)`` and
        ``connectToServer(mode)``. On Unix the attempt completes before this
        returns: ``stateChanged(Connecting)``, then either
        ``stateChanged(Connected)`` and ``connected()``, or ``errorOccurred`` and
        ``stateChanged(Unconnected)``. When the server's backlog is full the socket
        stays Connecting and retries until connected or 30 s have passed.
        """
        if isinstance(name, int):
            openMode, name = name, None
        mode = coerce_mode(openMode, "QLocalSocket.connectToServer()")
        # The flags' values, not the flags: IntFlag arithmetic runs Python code.
        if not mode._value_ & (MODE_READ | MODE_WRITE):
            raise ValueError("connectToServer(): the open mode must include ReadOnly "
                             f"and/or WriteOnly, not {mode!r}")
        if name is not None:
            self.setServerName(name)
        self._engine.check_thread()
        if self._state is _CONNECTING or self._state is _CONNECTED:
            self._error_string = ("QLocalSocket::connectToserver: Operation not permitted "
                                  "when socket is in this state")
            self._emit("errorOccurred", LocalSocketError.OperationError)
            return
        if self._state is _CLOSING:
            self._drop_transport()
        self._error_string = ""
        attempt = self._attempt = _Attempt(mode)
        self._set_state(_CONNECTING)
        if self._attempt is not attempt:
            return
        name = self._server_name
        if not name:
            self._connect_failed(LocalSocketError.ServerNotFoundError, detail="the name is empty")
            return
        abstract = ABSTRACT_SUPPORTED and bool(
            self._options._value_ & _ABSTRACT_OPTION)
        try:
            full, address = resolve(name, abstract)
        except NameProblem as exc:
            self._connect_failed(LocalSocketError.ServerNotFoundError, detail=str(exc))
            return
        attempt.address, attempt.full = address, full
        attempt.deadline = time.monotonic() + CONNECT_TIMEOUT
        if not self._try_connect(attempt):
            self._engine.spawn(self._retry_connect, attempt)

    def open(self, mode: Any = OpenModeFlag.ReadWrite) -> bool:
        """``connectToServer(mode)``, then whether the device is open."""
        self.connectToServer(mode)
        return self.isOpen()

    def _try_connect(self, attempt: _Attempt) -> bool:
        """One connect(2); False only when the backlog was full (try again)."""
        if self._attempt is not attempt or self._state is not _CONNECTING:
            return True
        try:
            transport = self._engine.connect(attempt.address)
        except OSError as exc:
            code = connect_error(exc.errno or 0)
            if code is None:
                if time.monotonic() < attempt.deadline:
                    return False
                self._connect_failed(LocalSocketError.SocketTimeoutError,
                                     detail="the server's backlog stayed full")
                return True
            # Qt's text names neither the path nor what is wrong with it.
            abstract = attempt.address[:1] == b"\0"
            self._connect_failed(code, err=exc.errno or 0,
                                 detail=connect_failure(exc.errno or 0, attempt.full, abstract))
            return True
        self._attempt = None
        self._attach(transport)
        self._full_server_name = attempt.full
        try:
            self._set_state(_CONNECTED)
        finally:
            # Also when a slot let the caller's Timeout or kill through: the socket
            # must not be left connected and closed.
            if self._transport is transport:
                QIODevice.open(self, attempt.mode)
                self._update_interest()
        if self._transport is not transport:
            return True
        self._emit("connected")
        return True

    def _retry_connect(self, attempt: _Attempt) -> None:
        delay = 0.001
        while not self._try_connect(attempt):
            self._engine.sleep(max(min(delay, attempt.deadline - time.monotonic()), 0.0))
            delay = min(delay * 2, 0.05)

    def _connect_failed(self, code: LocalSocketError, err: int = 0, detail: str = "") -> None:
        self._attempt = None
        self._set_error(code, "QLocalSocket::connectToServer", err, detail)
        try:
            self._emit("errorOccurred", code)
        finally:
            if self._state is _CONNECTING:
                self._inner_open = False
                self._server_name = self._full_server_name = ""
                QIODevice.close(self)
                self._set_state(_U)

    def waitForConnected(self, msecs: int = 30000) -> bool:
        """True once connected; while a full backlog delays the connect, retry.

        Returns False (no error, still Connecting) at the deadline, as Qt does; the
        connect itself gives up after 30 s with ``SocketTimeoutError``.
        """
        timeout = timeout_seconds(msecs, "QLocalSocket.waitForConnected()")
        self._engine.check_thread()
        if self._state is not _CONNECTING:
            return self._state is _CONNECTED
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.001
        while self._state is _CONNECTING:
            attempt = self._attempt
            if attempt is None or self._try_connect(attempt):
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._engine.sleep(delay if remaining is None else min(delay, remaining))
            delay = min(delay * 2, 0.05)
        return self._state is _CONNECTED

    # -- the connection ----------------------------------------------------------------------

    def _attach(self, transport: IStreamTransport) -> None:
        self._transport = transport
        self._interest = 0
        self._wbuf.clear()
        self._reading_paused = False
        self._inner_open = True
        if self._error is not LocalSocketError.UnknownSocketError:
            self._error = LocalSocketError.UnknownSocketError
        self._error_string = ""
        self._reported = self._arrived
        self._sent_reported = self._sent
        if self._gone_unseen:
            self._gone_unseen = False
        if self._ending is not None:
            self._ending = None
        transport.start(self._on_events)
        if self._released:
            # An accepted socket whose connection ended, connected anew.
            self._released = False
            parent = self._parent
            if parent is not None:
                parent._keep_child(self)

    def _drop_transport(self) -> None:
        transport = self._transport
        if transport is not None:
            self._transport = None
            transport.close()
            parent = self._parent
            if parent is not None and getattr(parent, "_releases_ended_children", False):
                # A server's child lives while connected (see QLocalServer).
                self._released = True
                parent._release_child(self)
        self._wbuf.clear()

    def _update_interest(self) -> None:
        transport = self._transport
        if transport is None:
            return
        read = self._state is _CONNECTED and not self._reading_paused \
            and self._ending is not transport
        write = self._wbuf.size > 0
        interest = (READ if read else 0) | (WRITE if write else 0)
        if interest != self._interest:
            self._interest = interest
            transport.set_interest(read, write)

    def _buffer_consumed(self) -> None:
        if self._reading_paused and (
            not self._read_buffer_size or self._rbuf.size < self._read_buffer_size
        ):
            self._reading_paused = False
            self._update_interest()
        elif not self._reading_paused and self._read_buffer_size and \
                self._rbuf.size >= self._read_buffer_size:
            self._reading_paused = True
            self._update_interest()

    def _read_step(self, transport: IStreamTransport) -> int:
        """Read what the kernel holds and announce it: the new byte count, or -1 if
        the connection ended (end of stream, or reading failed)."""
        rbuf = self._rbuf
        limit = self._read_buffer_size
        keep = self._open_mode & MODE_READ
        recv = transport.recv
        total = 0
        eof = False
        err = 0
        while True:
            size = _RECV_SIZE
            if self._read_ahead:
                queued = _queued_bytes(transport.fileno())
                if queued > size:
                    size = queued
                elif 0 < queued < _SMALL_READ:
                    # The sender slowed down: back to plain reads. (Nothing
                    # queued says nothing: the end of stream is queued as 0.)
                    self._read_ahead = False
            if limit:
                room = limit - rbuf.size
                if room <= 0:
                    self._reading_paused = True
                    break
                if room < size:
                    size = room
            try:
                data = recv(size)
            except BlockingIOError:
                break
            except OSError as exc:
                err = exc.errno or 0
                break
            count = len(data)
            if not count:
                eof = True
                break
            if keep:
                rbuf.append(data)
                total += count
            if count < size:
                break
            if self._read_ahead:
                # Everything queued a moment ago was taken; more that came since
                # is reported by the hub.
                break
            if size == _RECV_SIZE:
                self._read_ahead = True
        try:
            if total:
                self._arrived += total
                reader = self._reader
                if reader is not None and reader is not getcurrent():
                    # Another greenlet waits in waitForReadyRead; these bytes will
                    # not make the kernel report readiness again.
                    transport.wake()
                if not self._in_ready_read and (
                        self.readyRead._slots or self.channelReadyRead._slots):
                    self._announce_read(transport)
        finally:
            # The end of stream was taken from the kernel: it is reported even if a
            # readyRead slot let the caller's Timeout or kill through.
            if (eof or err) and self._transport is transport:
                if eof:
                    self._peer_closed(transport, drain=True)
                else:
                    self._stream_failed(transport, err)
        if eof or err or self._transport is not transport:
            # The connection ended (here, or in a slot): the new bytes still
            # arrived and were announced.
            return total if total else -1
        return total

    def _announce_read(self, transport: IStreamTransport) -> None:
        """Emit readyRead, never nested; again after the slots return if bytes came
        meanwhile that nobody reported (read while a slot blocked)."""
        self._in_ready_read = True
        try:
            while True:
                self._reported = self._arrived
                self.readyRead.emit()
                self.channelReadyRead.emit(0)
                # Also after the connection ended or was replaced meanwhile: the
                # bytes are in the buffer, and only this emission announces them.
                if self._arrived == self._reported or not self._rbuf.size:
                    break
        finally:
            self._in_ready_read = False

    def _write_step(self, transport: IStreamTransport) -> int:
        """Send what the kernel takes: the count, or -1 if the connection failed."""
        wbuf = self._wbuf
        chunks = wbuf.chunks
        total = 0
        while wbuf.size:
            try:
                sent = transport.send(chunks if len(chunks) <= wbuf.MAX_IOV else wbuf.head())
            except BlockingIOError:
                break
            except OSError as exc:
                self._stream_failed(transport, exc.errno or 0)
                return -1
            if sent == wbuf.size:
                # All of it (the usual case): WriteBuffer.consume(), inlined.
                chunks.clear()
                wbuf.size = 0
            else:
                wbuf.consume(sent)
            total += sent
        if not total:
            if not self._interest & WRITE:
                self._update_interest()
            return 0
        self._sent += total
        try:
            # Written: announce it (inlined here, the only place bytes are sent).
            if not self._in_bytes_written and (
                    self.bytesWritten._slots or self.channelBytesWritten._slots):
                self._announce_written(transport, total)
        finally:
            # Even if a bytesWritten slot let the caller's Timeout or kill through: a
            # drained Closing socket must still close.
            if self._transport is transport:
                writer = self._writer
                if writer is not None and writer is not getcurrent():
                    transport.wake()
                if self._state is _CLOSING and not wbuf.size:
                    self._finish_disconnect(transport)
                elif bool(self._interest & WRITE) is not (wbuf.size > 0):
                    self._update_interest()
        return total

    def _announce_written(self, transport: IStreamTransport, count: int) -> None:
        """Emit bytesWritten, never nested; bytes sent while a slot blocked (and not
        reported by a waitForBytesWritten) are announced once it returns."""
        self._in_bytes_written = True
        try:
            while count > 0:
                self._sent_reported = self._sent
                self.bytesWritten.emit(count)
                self.channelBytesWritten.emit(0, count)
                count = self._sent - self._sent_reported
        finally:
            self._in_bytes_written = False

    def _on_events(self, events: int) -> None:
        transport = self._transport
        if transport is None:
            return
        # A count, not a saved-and-restored flag: deliveries overlap (a slot that
        # blocks lets the next delivery run in another greenlet) and may end in any
        # order, and a restored flag would then stay set for ever.
        self._in_events += 1
        try:
            self._serve_events(transport, events)
        finally:
            self._in_events -= 1

    def _serve_events(self, transport: IStreamTransport, events: int) -> None:
        if events & READ and self._state is _CONNECTED and not self._reading_paused:
            # While a fast sender keeps the kernel queue full (read-ahead), more
            # has usually come by the time the readyRead slots return: read it in
            # this delivery rather than after a round through the hub, as a
            # blocking reader's next wait would. Bounded, so that other greenlets
            # still get their turn.
            for _ in range(_READ_ROUNDS):
                if self._read_step(transport) <= 0 or not self._read_ahead \
                        or self._transport is not transport \
                        or self._state is not _CONNECTED or self._reading_paused:
                    break
        # Also flush what the slots just wrote: the hub would find the descriptor
        # writable on its next iteration anyway, and a reply then costs no extra
        # loop iteration (write() itself still never sends). A bytesWritten slot
        # that refills the buffer is served again while the kernel takes more,
        # a bounded number of times so that other greenlets still get their turn.
        if self._wbuf.size:
            for _ in range(_FLUSH_ROUNDS):
                if self._transport is not transport or not self._wbuf.size \
                        or self._write_step(transport) <= 0:
                    break
        if self._transport is transport:
            self._update_interest()

    def _peer_closed(self, transport: IStreamTransport, drain: bool = False) -> None:
        """The peer is gone: report it as Qt does (PeerClosedError, "Remote closed",
        Closing, then the end). With *drain* (an end of stream: the peer may only
        have shut down its side, and still read) bytes still queued are sent before
        the connection ends, rather than dropped as Qt drops them."""
        if self._ending is transport:
            # Reported already; now a send failed too: nothing more can leave.
            if not drain:
                self._finish_disconnect(transport)
            return
        self._ending = transport
        self._set_error(LocalSocketError.PeerClosedError, "QLocalSocket")
        # Stop reading first: the end of stream stays readable, and would be
        # delivered again and again while a slot below blocks.
        self._update_interest()
        try:
            self._emit("errorOccurred", LocalSocketError.PeerClosedError)
        finally:
            if self._transport is transport:
                try:
                    self._set_state(_CLOSING)
                finally:
                    if self._transport is transport:
                        if drain and self._wbuf.size:
                            self._update_interest()
                        else:
                            self._finish_disconnect(transport)

    def _stream_failed(self, transport: IStreamTransport, err: int) -> None:
        code = stream_error(err)
        if code is LocalSocketError.PeerClosedError:
            # EPIPE, ECONNRESET: the peer is gone, reported as Qt reports it
            # (through ClosingState, "Remote closed").
            self._peer_closed(transport)
            return
        if self._ending is transport:
            self._finish_disconnect(transport)
            return
        self._ending = transport
        self._set_error(code, "QLocalSocket", err)
        self._update_interest()
        try:
            self._emit("errorOccurred", code)
        finally:
            self._finish_disconnect(transport)

    def _finish_disconnect(self, transport: IStreamTransport) -> None:
        """The connection is over: Unconnected, readChannelFinished, disconnected."""
        if self._transport is not transport:
            return
        self._drop_transport()
        self._gone_unseen = True
        self._server_name = self._full_server_name = ""
        try:
            self._set_state(_U)
        finally:
            try:
                self._emit("readChannelFinished")
            finally:
                self._emit("disconnected")

    def _timed_out(self) -> None:
        self._set_error(LocalSocketError.SocketTimeoutError, "QLocalSocket")
        self._emit("errorOccurred", LocalSocketError.SocketTimeoutError)

    # -- writing -------------------------------------------------------------------------

    def writeData(self, data: bytes) -> int:
        """Buffer *data*; it is sent by the hub, ``flush()`` or a ``waitFor*``."""
        if self._transport is None:
            self._set_error(LocalSocketError.UnknownSocketError, "QLocalSocket",
                            detail="the socket is not connected")
            self._error_string = "QLocalSocket: Socket is not connected"
            return -1
        engine = self._engine
        engine.check_thread()
        if data:
            # WriteBuffer.append(), inlined for an empty buffer (the usual case):
            # one call less per write.
            wbuf = self._wbuf
            if wbuf.chunks:
                wbuf.append(data)
            else:
                wbuf.chunks.append(data)
                wbuf.size += len(data)
            if not self._interest & WRITE and not self._write_owed:
                if engine.dispatcher.delivering and not self._in_events:
                    # Possibly in a slot the dispatcher runs: the transport
                    # flushes such writes in the same pass (see readiness.py).
                    # Not for a slot of this socket's own delivery, which flushes
                    # when its slots return: it takes the path below, which also
                    # covers a slot that blocks before then.
                    self._update_interest()
                else:
                    # Interest in writability is raised only if the bytes are
                    # still here when the hub is about to poll: a write that a
                    # waitFor* or flush() sends first costs no interest change.
                    self._write_owed = True
                    deferred = engine.deferred
                    if not deferred:
                        engine.loop.run_callback(engine.reconcile)
                    deferred.append(self._settle_writes)
        return len(data)

    def _settle_writes(self) -> None:
        # Runs in the hub (the engine's reconcile, before it polls): bookkeeping only.
        self._write_owed = False
        transport = self._transport
        if self._wbuf.size and not self._interest & WRITE and transport is not None:
            transport.deliver_writable()

    def flush(self) -> bool:
        """Send as much as the kernel takes now, without waiting; True if any was sent."""
        transport = self._transport
        if transport is None or not self._wbuf.size:
            return False
        self._engine.check_thread()
        sent = self._write_step(transport)
        self._sent_reported = self._sent
        return sent > 0

    # -- closing -------------------------------------------------------------------------

    def disconnectFromServer(self) -> None:
        """Go to Closing; once the write buffer has drained, close the connection.

        With nothing buffered the whole sequence (``stateChanged(Closing)``,
        ``stateChanged(Unconnected)``, ``readChannelFinished``, ``disconnected``)
        runs before this returns. The device stays open: buffered data can still
        be read.
        """
        self._engine.check_thread()
        transport = self._transport
        if self._state is not _CONNECTED or transport is None:
            return
        try:
            self._set_state(_CLOSING)
        finally:
            if self._transport is transport:
                if self._wbuf.size:
                    self._update_interest()
                else:
                    self._finish_disconnect(transport)
                    # Ended by this call, not while someone was busy elsewhere.
                    self._gone_unseen = False

    def close(self) -> None:
        """``aboutToClose``, close the device, then disconnect as
        :meth:`disconnectFromServer` does (buffered writes still drain)."""
        self._engine.check_thread()
        self._attempt = None
        QIODevice.close(self)
        self._inner_open = False
        if self._state is _CONNECTED:
            self.disconnectFromServer()
        elif self._state is _CONNECTING:
            self._set_state(_U)
        self._server_name = self._full_server_name = ""

    def _destroy(self) -> None:
        # Qt's destructor closes the socket; deleteLater() lands here.
        self.abort()

    def abort(self) -> None:
        """Close at once: unsent data is dropped, then the device is closed.

        Signals: ``stateChanged(Unconnected)``, ``readChannelFinished``,
        ``disconnected`` (if it was connected), then ``aboutToClose`` last.
        """
        self._engine.check_thread()
        self._attempt = None
        previous = self._state
        self._drop_transport()
        self._gone_unseen = False
        self._inner_open = False
        self._server_name = self._full_server_name = ""
        # Qt drops unread data before the first signal: no slot sees it.
        self._rbuf.clear()
        if previous is not _U:
            self._set_state(_U)
            self._emit("readChannelFinished")
            if previous is not _CONNECTING:
                self._emit("disconnected")
        QIODevice.close(self)
        self._server_name = self._full_server_name = ""

    # -- adopting a descriptor -----------------------------------------------------------------

    def setSocketDescriptor(self, socketDescriptor: int,
                            socketState: Any = LocalSocketState.ConnectedState,
                            openMode: Any = OpenModeFlag.ReadWrite) -> bool:
        """Adopt a connected ``AF_UNIX`` stream descriptor; True on success.

        As in Qt, *openMode* and *socketState* are applied before the descriptor is
        checked and stay even if it is rejected. Names are read from the peer's
        address, else the socket's own. The socket owns the descriptor afterwards.
        """
        fd = coerce_size(socketDescriptor, "QLocalSocket.setSocketDescriptor()")
        state = LocalSocketState(coerce_size(socketState, "QLocalSocket.setSocketDescriptor()"))
        mode = coerce_mode(openMode, "QLocalSocket.setSocketDescriptor()")
        self._engine.check_thread()
        self._attempt = None
        self._drop_transport()
        QIODevice.open(self, mode)
        self._state = state
        if fd < 0:
            return False
        try:
            transport = self._engine.adopt_stream(fd)
        except (OSError, ValueError, OverflowError) as exc:
            self._set_error(LocalSocketError.UnsupportedSocketOperationError,
                            "QLocalSocket::setSocketDescriptor", detail=str(exc))
            return False
        self._adopted(transport, state)
        return True

    def _adopt_accepted(self, transport: IStreamTransport, own_address: bytes = b"") -> None:
        """``setSocketDescriptor(fd)`` for a new socket and a descriptor the server
        has just accepted and the engine wrapped (see QLocalServer.incomingConnection).

        *own_address*, when given, stands in for the socket's own address in the
        names: with access options the listening socket is bound in a private
        directory and linked into place, so its real address is a path that no
        longer exists (which Qt reports).
        """
        self._open_mode = MODE_READ | MODE_WRITE
        self._state = _CONNECTED
        self._adopted(transport, _CONNECTED, own_address)

    def _adopted(self, transport: IStreamTransport, state: LocalSocketState,
                 own_address: bytes = b"") -> None:
        address = transport.peername() or own_address or transport.sockname()
        server, full, abstract = names_from_address(address)
        self._server_name, self._full_server_name = server, full
        if abstract is not None:
            self._options = (LocalSocketOption.AbstractNamespaceOption if abstract
                             else LocalSocketOption.NoOptions)
        self._attach(transport)
        self._emit("stateChanged", state)
        self._update_interest()

    # -- waiting -----------------------------------------------------------------------

    def _deadline(self, msecs: object, what: str) -> float | None:
        # timeout_seconds(), inlined: the waits are on the data path.
        if msecs.__class__ is not int:
            msecs = coerce_size(msecs, what)
        self._engine.check_thread()
        if msecs < 0 or msecs > _FOREVER_MS:
            return None
        return time.monotonic() + msecs / 1000.0

    @staticmethod
    def _remaining(deadline: float | None) -> float | None:
        return None if deadline is None else deadline - time.monotonic()

    def _connected_by(self, deadline: float | None) -> bool:
        if self._state is _CONNECTING:
            remaining = self._remaining(deadline)
            msecs = -1 if remaining is None else max(int(remaining * 1000), 0)
            self.waitForConnected(msecs)
        return self._state is _CONNECTED or self._state is _CLOSING

    def _role_taken(self, holder: Any, what: str) -> ConcurrentWaitError:
        return ConcurrentWaitError(
            f"another greenlet ({holder!r}) is already in {what} on this socket; one "
            "greenlet may wait for data, one for writes and one for the disconnect at "
            "a time (gevent's rule for sockets): share the work through a queue, or "
            "let the greenlet that is waiting do it"
        )

    def waitForReadyRead(self, msecs: int = 30000) -> bool:
        """Wait for *new* data; True once it came. -1 waits forever.

        "New" is what this greenlet has not been told about: bytes the hub read
        while it was busy elsewhere (and that no ``readyRead`` emission reported)
        make this return True at once, as a Qt thread without an event loop finds
        them waiting in the kernel. Pending writes are sent meanwhile. False if the
        connection ends (the peer-close signals are emitted inside this call) or at
        the deadline, which emits ``errorOccurred(SocketTimeoutError)`` and leaves
        the socket connected. One greenlet at a time may wait for data
        (:class:`~qlsock.ConcurrentWaitError` for a second one); another may wait
        for writes and a third for the disconnect meanwhile.
        """
        # _deadline(), inlined: this is the wait of every blocking-style read.
        if msecs.__class__ is not int:
            msecs = coerce_size(msecs, "QLocalSocket.waitForReadyRead()")
        self._check_thread()
        deadline = None if msecs < 0 or msecs > _FOREVER_MS \
            else time.monotonic() + msecs / 1000.0
        return self._wait_ready_read(deadline, False)

    def _wait_ready_read(self, deadline: float | None, drained: bool,
                         direct: bool = False) -> bool:
        """:meth:`waitForReadyRead` until *deadline* (``time.monotonic()``; None: for
        ever), in the calling thread. *drained*: the caller has just found the
        kernel's queue empty, without yielding since, so the first look is skipped
        (a ``recv`` that read before waiting, as gevent's does, then costs one
        system call that finds nothing, not two). *direct*: return True as soon as
        the kernel reports the socket readable, leaving the bytes to the caller's
        own read (``recv`` takes them without the buffer)."""
        if self._arrived != self._reported and self._rbuf.size:
            self._reported = self._arrived
            return True
        state = self._state
        if state is not _CONNECTED and (state is _U or not self._connected_by(deadline)):
            return False
        me = getcurrent()
        holder = self._reader
        if holder is not None and holder is not me:
            raise self._role_taken(holder, "waitForReadyRead()")
        self._reader = me
        try:
            start = self._arrived
            while True:
                if self._arrived != start and self._rbuf.size:
                    self._reported = self._arrived
                    return True
                transport = self._transport
                if self._state is not _CONNECTED or transport is None:
                    return False
                if self._wbuf.size:
                    if self._write_step(transport) < 0:
                        return False
                    self._sent_reported = self._sent
                    if self._transport is not transport or self._state is not _CONNECTED:
                        continue
                if drained:
                    drained = False
                elif not self._reading_paused:
                    got = self._read_step(transport)
                    if got > 0:
                        self._reported = self._arrived
                        return True
                    if got:
                        continue
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._timed_out()
                    return False
                if transport.wait(not self._reading_paused, self._wbuf.size > 0,
                                  remaining) & READ and direct:
                    return True
        finally:
            self._reader = holder

    def waitForBytesWritten(self, msecs: int = 30000) -> bool:
        """Wait until some buffered bytes were handed to the kernel; True then.

        True at once when the hub sent bytes in the background since this was last
        asked (and no ``bytesWritten`` emission reported them): a Qt thread
        without an event loop would find them still buffered and send them here.
        Otherwise False at once when nothing is buffered; loop
        ``while bytesToWrite()`` to drain. Incoming data is read meanwhile
        (``readyRead`` may be emitted). One greenlet at a time may wait for writes.
        """
        deadline = self._deadline(msecs, "QLocalSocket.waitForBytesWritten()")
        if self._sent != self._sent_reported:
            self._sent_reported = self._sent
            return True
        if self._state is _U:
            qt_warning("QAbstractSocket::waitForBytesWritten() is not allowed in "
                       "UnconnectedState")
            return False
        if self._state is not _CONNECTED and not self._connected_by(deadline):
            return False
        if self._transport is None or not self._wbuf.size:
            return False
        me = getcurrent()
        holder = self._writer
        if holder is not None and holder is not me:
            raise self._role_taken(holder, "waitForBytesWritten()")
        self._writer = me
        try:
            start = self._sent
            while True:
                if self._sent != start:
                    self._sent_reported = self._sent
                    return True
                transport = self._transport
                if transport is None:
                    return False
                sent = self._write_step(transport)
                if sent:
                    self._sent_reported = self._sent
                    return sent > 0
                if self._transport is not transport:
                    return False
                reading = self._state is _CONNECTED and not self._reading_paused
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._timed_out()
                    return False
                events = transport.wait(reading, True, remaining)
                if self._transport is not transport:
                    continue
                if events & READ and reading and self._read_step(transport) < 0 \
                        and self._sent == start:
                    return False
        finally:
            self._writer = holder

    def waitForDisconnected(self, msecs: int = 30000) -> bool:
        """Send, read and wait until Unconnected; True once there.

        True even when the disconnect was the peer closing (``PeerClosedError``),
        and at once when the connection ended in the background since this was
        last asked (as a Qt thread without an event loop would find the end of
        stream waiting). At the deadline: ``errorOccurred(SocketTimeoutError)``,
        False, and the socket is left as it was. One greenlet at a time may wait
        for the disconnect.
        """
        deadline = self._deadline(msecs, "QLocalSocket.waitForDisconnected()")
        if self._state is _U:
            if self._gone_unseen:
                self._gone_unseen = False
                return True
            qt_warning("QLocalSocket::waitForDisconnected() is not allowed in UnconnectedState")
            return False
        me = getcurrent()
        holder = self._closer
        if holder is not None and holder is not me:
            raise self._role_taken(holder, "waitForDisconnected()")
        self._closer = me
        try:
            self._connected_by(deadline)
            while True:
                transport = self._transport
                if self._state is _U or transport is None:
                    if self._state is _U:
                        self._gone_unseen = False
                        return True
                    return False
                if self._wbuf.size:
                    self._write_step(transport)
                    self._sent_reported = self._sent
                    if self._transport is not transport:
                        continue
                reading = self._state is _CONNECTED and not self._reading_paused
                if reading:
                    self._read_step(transport)
                    if self._transport is not transport:
                        continue
                remaining = self._remaining(deadline)
                if remaining is not None and remaining <= 0:
                    self._timed_out()
                    return False
                transport.wait(reading, bool(self._wbuf.size), remaining)
        finally:
            self._closer = holder
