"""The contracts qlsock is built on (zope.interface).

Two layers:

* **The public contracts**, which the Qt-shaped classes provide: :class:`ISignal`,
  :class:`IIODevice`, :class:`ILocalSocket`, :class:`ILocalServer`. Their docstrings
  state Qt's semantics and, under "Differs from Qt", ours.
* **The engine contracts** beneath them: :class:`IEngine` (one per gevent hub, i.e. per
  OS thread), the :class:`IStreamTransport` it gives a connected socket and the
  :class:`IListeningEndpoint` it gives a listening server. ``qlsock.hub`` implements
  them on gevent's hub. The public classes are written against these contracts only;
  they never touch gevent.

Every implementer is checked with ``zope.interface.verify`` in the tests, both the
class and live objects.

The engine rule that everything else relies on: engine callbacks that run in the hub
do only non-blocking bookkeeping; the callbacks an engine makes into its owners
(``start(callback)``) run in ordinary greenlets, so the owner may emit signals whose
slots block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import Attribute, Interface

__all__ = [
    "READ",
    "WRITE",
    "IEngine",
    "IIODevice",
    "IListeningEndpoint",
    "ILocalServer",
    "ILocalSocket",
    "ISignal",
    "IStreamTransport",
    "ITimer",
]

#: Readiness bit: the descriptor is readable (data, EOF or an error to collect).
READ = 1
#: Readiness bit: the descriptor is writable.
WRITE = 2


class ISignal(Interface):
    """A Qt signal bound to one object."""

    def connect(slot: Callable[..., Any], type: object = None) -> bool:  # noqa: A002
        """Call *slot* on every emission, after the slots connected before it.

        *slot* may take fewer positional arguments than the signal carries; it gets
        the leading ones. *type* (a Qt ``ConnectionType``) is accepted and ignored:
        every connection is direct. Returns True. Raises TypeError for a
        non-callable.
        """

    def disconnect(slot: Callable[..., Any] | None = None) -> bool:
        """Remove *slot*, or every slot when None. False if it was not connected."""

    def emit(*args: Any) -> None:
        """Call every slot with *args* in the current greenlet.

        A slot's exception is logged (with traceback) to the ``qlsock`` logger and
        does not stop the other slots or the emitter.
        """

    def receivers() -> int:
        """The number of connected slots."""


class IIODevice(Interface):
    """Qt's ``QIODevice`` as a sequential byte stream (the part sockets use).

    Reads never block: they return what is buffered. ``bytes`` in and out.
    """

    readyRead = Attribute("ISignal(): new data arrived; once per arrival, never nested")
    bytesWritten = Attribute("ISignal(int): bytes handed to the kernel; never nested")
    aboutToClose = Attribute("ISignal(): emitted by close() before anything is released")
    readChannelFinished = Attribute("ISignal(): the input stream ended")

    def open(mode: Any) -> bool:
        """Open the device with *mode* (``QIODevice.OpenModeFlag``); True on success."""

    def close() -> None:
        """Emit ``aboutToClose``, then close: read buffers are dropped."""

    def isOpen() -> bool:
        """True while the device is open (``openMode() != NotOpen``)."""

    def isReadable() -> bool:
        """True if open with ``ReadOnly`` in the mode."""

    def isWritable() -> bool:
        """True if open with ``WriteOnly`` in the mode."""

    def openMode() -> Any:
        """The ``QIODevice.OpenModeFlag`` the device was opened with."""

    def isSequential() -> bool:
        """True: a socket is a sequential device."""

    def isTextModeEnabled() -> bool:
        """True if the ``Text`` flag is set."""

    def setTextModeEnabled(enabled: bool) -> None:
        """Set or clear the ``Text`` flag."""

    def errorString() -> str:
        """A human-readable description of the last error."""

    def read(maxlen: int) -> bytes:
        """Up to *maxlen* buffered bytes; ``b""`` when none (never waits)."""

    def readAll() -> bytes:
        """Every buffered byte."""

    def readLine(maxlen: int = 0) -> bytes:
        """Bytes up to and including the first ``\\n``; at most ``maxlen - 1`` if > 0."""

    def peek(maxlen: int) -> bytes:
        """Like ``read`` but leaves the bytes in the buffer."""

    def getChar() -> tuple[bool, bytes]:
        """``(True, b"x")`` for the next byte, or ``(False, b"")``."""

    def putChar(char: Any) -> bool:
        """Write one byte; True on success."""

    def ungetChar(char: Any) -> None:
        """Push one byte back to the front of the read buffer."""

    def skip(maxSize: int) -> int:
        """Discard up to *maxSize* buffered bytes; the count, or -1 at end of stream."""

    def atEnd() -> bool:
        """True when nothing is buffered (not an end-of-stream test for sockets)."""

    def canReadLine() -> bool:
        """True when a whole line is buffered."""

    def bytesAvailable() -> int:
        """Bytes buffered for reading (not counting bytes still in the kernel)."""

    def bytesToWrite() -> int:
        """Bytes buffered for writing, not yet handed to the kernel."""

    def write(data: Any) -> int:
        """Buffer *data* for sending; the count, or -1 if the device cannot write."""

    def readData(maxlen: int) -> bytes:
        """The raw read primitive: up to *maxlen* buffered bytes."""

    def writeData(data: bytes) -> int:
        """The raw write primitive: buffer *data*; the count or -1."""

    def waitForReadyRead(msecs: int = 30000) -> bool:
        """Wait for new data; True once some arrived (``-1`` waits forever)."""

    def waitForBytesWritten(msecs: int = 30000) -> bool:
        """Wait until buffered bytes were written; True once some were."""


class ILocalSocket(IIODevice):
    """Qt's ``QLocalSocket``: one end of a local (``AF_UNIX``) stream connection."""

    connected = Attribute("ISignal(): the connection is established and open")
    disconnected = Attribute("ISignal(): the connection ended (after readChannelFinished)")
    errorOccurred = Attribute("ISignal(LocalSocketError): an error happened")
    error = Attribute("The ``error()`` getter, and the Qt 5 alias of ``errorOccurred``")
    stateChanged = Attribute("ISignal(LocalSocketState): the state changed")

    def connectToServer(name: Any = None, openMode: Any = None) -> None:
        """Connect to *name* (or the name set by ``setServerName``).

        Connecting on Unix completes (or fails) before this returns, with
        ``stateChanged``, ``connected`` or ``errorOccurred`` emitted inside.
        """

    def setServerName(name: Any) -> None:
        """Set the name used by ``connectToServer()`` (only while unconnected)."""

    def serverName() -> str:
        """The name given, or the server's name for an accepted socket."""

    def fullServerName() -> str:
        """The resolved path (or abstract name) of the connected server."""

    def disconnectFromServer() -> None:
        """Close after the write buffer drains (Closing, then Unconnected)."""

    def abort() -> None:
        """Close at once, dropping unsent data, and close the device."""

    def flush() -> bool:
        """Write as much as possible without waiting; True if any byte was written."""

    def state() -> Any:
        """The ``LocalSocketState``."""

    def isValid() -> bool:
        """True while the socket has a usable connection (see the semantics doc)."""

    def readBufferSize() -> int:
        """The read-buffer limit in bytes; 0 is unlimited."""

    def setReadBufferSize(size: int) -> None:
        """Limit buffering; when full, reading from the kernel pauses (nothing lost)."""

    def setSocketDescriptor(socketDescriptor: int, socketState: Any = None,
                            openMode: Any = None) -> bool:
        """Adopt a connected descriptor; True on success."""

    def socketDescriptor() -> int:
        """The descriptor, or -1 when not connected."""

    def waitForConnected(msecs: int = 30000) -> bool:
        """True once connected; False on timeout or failure."""

    def waitForDisconnected(msecs: int = 30000) -> bool:
        """Flush, read and wait until Unconnected; True once there."""


class ILocalServer(Interface):
    """Qt's ``QLocalServer``: accepts local connections on a name."""

    newConnection = Attribute("ISignal(): a connection was queued")

    def listen(name: Any, *, reclaim_stale: bool = False,
               reclaim_timeout: float | None = 5.0) -> bool:
        """Listen on *name* (or a listening descriptor); True on success, else see
        ``serverError()``. ``reclaim_stale`` removes a stale socket file first."""

    def close() -> None:
        """Stop listening, drop pending connections and remove the socket file."""

    def isListening() -> bool:
        """True while listening."""

    def serverName() -> str:
        """The name given to ``listen``."""

    def fullServerName() -> str:
        """The resolved path (or abstract name)."""

    def errorString() -> str:
        """The last error's text ("" when none)."""

    def serverError() -> Any:
        """The last error as a ``QAbstractSocket.SocketError``."""

    def hasPendingConnections() -> bool:
        """True when an accepted connection waits in the queue."""

    def nextPendingConnection() -> Any:
        """The oldest queued connection as a connected ``QLocalSocket``, or None."""

    def maxPendingConnections() -> int:
        """How many accepted connections may wait in the queue (default 30)."""

    def setMaxPendingConnections(numConnections: int) -> None:
        """Set the queue limit; accepting pauses while the queue is full."""

    def waitForNewConnection(msec: int = 0) -> tuple[bool, bool]:
        """Wait for a connection: ``(pending, timedOut)``."""

    def socketDescriptor() -> int:
        """The listening descriptor, or -1."""

    def incomingConnection(socketDescriptor: int) -> None:
        """Hook: wrap an accepted descriptor and queue it (overridable)."""

    def addPendingConnection(socket: Any) -> None:
        """Queue *socket* and emit ``newConnection``."""


class ITimer(Interface):
    """A one-shot timer made by :meth:`IEngine.call_later`."""

    def cancel() -> None:
        """Stop the timer if it has not fired."""


class IStreamTransport(Interface):
    """A connected, non-blocking stream descriptor watched by the engine."""

    closed = Attribute("True once close() was called")

    def fileno() -> int:
        """The descriptor."""

    def start(callback: Callable[[int], Any]) -> None:
        """Deliver readiness to *callback(events)* in a greenlet (never in the hub).

        *events* is a mask of :data:`READ` and :data:`WRITE`. A bound method's
        object is held weakly: the engine never keeps an owner alive, and once it
        is collected nothing more is delivered. Deliveries may overlap: readiness
        that fires while *callback* is suspended (a slot blocks) is delivered again
        from another greenlet, so the owner must keep its own signals from nesting.
        Readiness a waiting greenlet covers goes to that greenlet instead.
        """

    def set_interest(read: bool, write: bool) -> None:
        """Which readiness to deliver in the background."""

    def deliver_writable() -> None:
        """Deliver writability to the callback soon, as if the hub had found the
        descriptor writable (called in the hub): the usual outcome for bytes just
        queued, with no watcher started for it. Should the kernel take only part,
        the owner's interest in writability then starts one."""

    def wait(read: bool, write: bool, timeout: float | None) -> int:
        """Block the calling greenlet until ready or *timeout* seconds (None: forever).

        Returns the readiness that woke it (0 on timeout, on :meth:`wake` and on
        close). Any number of greenlets may wait at once, each for its own mask:
        readiness wakes every one whose mask it meets (who may wait at once is the
        owner's rule, see ConcurrentWaitError).
        """

    def wake() -> None:
        """Wake every waiting greenlet (with 0) so that it looks at its owner again.

        Called from a greenlet when the owner's state changed in a way the kernel
        will not report again (another greenlet read the bytes a reader waits for).
        """

    def recv(size: int) -> bytes:
        """Up to *size* bytes; ``b""`` at end of stream; BlockingIOError when none."""

    def send(buffers: Sequence[bytes | bytearray | memoryview]) -> int:
        """Send from the list of buffers without blocking; the count sent.

        Raises BlockingIOError when nothing could be sent, OSError on failure. Never
        raises SIGPIPE (``MSG_NOSIGNAL``).
        """

    def sockname() -> bytes:
        """The local address (bytes; ``b""`` when unnamed)."""

    def peername() -> bytes:
        """The peer's address (bytes; ``b""`` when unnamed)."""

    def close() -> None:
        """Stop watching and close the descriptor; a waiting greenlet wakes with 0."""


class IListeningEndpoint(Interface):
    """A bound, listening, non-blocking descriptor watched by the engine."""

    closed = Attribute("True once close() was called")
    address = Attribute("The bound address (bytes)")

    def fileno() -> int:
        """The descriptor."""

    def start(callback: Callable[[int], Any]) -> None:
        """Deliver acceptability to *callback(events)* in a greenlet (as above)."""

    def set_interest(accept: bool) -> None:
        """Whether to deliver acceptability in the background."""

    def wait(timeout: float | None) -> bool:
        """Block the calling greenlet until acceptable or timeout; True if ready."""

    def accept() -> int | None:
        """A new connected descriptor (int), or None when nothing is pending.

        Benign errors (EAGAIN, ECONNABORTED, EINTR, EPROTO) count as "nothing yet";
        resource errors (EMFILE, ENFILE, ENOBUFS, ENOMEM) are raised as OSError.
        """

    def close() -> None:
        """Stop watching and close the descriptor."""


class IEngine(Interface):
    """The I/O engine of one gevent hub (one OS thread)."""

    def check_thread() -> None:
        """Raise WrongThreadError unless called from this engine's OS thread."""

    def connect(address: bytes) -> IStreamTransport:
        """Connect a new non-blocking stream socket to *address* (bytes).

        Returns an IStreamTransport. Raises OSError with the errno of ``connect(2)``
        (BlockingIOError when the server's backlog is full).
        """

    def adopt_stream(fd: int) -> IStreamTransport:
        """Take ownership of a connected descriptor; an IStreamTransport."""

    def adopt_accepted(fd: int, endpoint: IListeningEndpoint) -> IStreamTransport | None:
        """Take ownership of *fd* if *endpoint* has just accepted it, else None.

        What :meth:`adopt_stream` asks the kernel is already known for a descriptor
        fresh from ``accept()`` (its type, its peer's address, close-on-exec), so
        the server's default ``incomingConnection`` wraps it without asking again.
        """

    def wrap_accepted(fd: int, local: bytes, peer: object) -> IStreamTransport:
        """Take ownership of *fd*, which ``accept()`` has just returned, with *peer*,
        on a listener bound to *local* (bytes): :meth:`adopt_accepted` for a server
        that accepts through its own listener (``LocalStreamServer``)."""

    def adopt_listener(fd: int) -> IListeningEndpoint:
        """Take ownership of a bound, listening descriptor; an IListeningEndpoint.

        Binding is not the engine's job: :mod:`qlsock.socketfile` owns the socket
        file (naming, access modes, stale files) and hands the engine a descriptor.
        """

    def call_later(seconds: float, callback: Callable[[], Any]) -> ITimer:
        """Run non-blocking *callback()* in the hub after *seconds*; an ITimer."""

    def spawn(function: Callable[..., Any], *args: Any) -> Any:
        """Run *function(*args)* in a new greenlet of this hub; whatever escapes it
        is reported as gevent reports a failed greenlet."""

    def release(closer: Callable[..., Any], *args: Any) -> None:
        """Run *closer(*args)* for an object being collected, in this engine's
        thread (at once when called from it): finalizers may run anywhere."""

    def release_stream(transport: IStreamTransport, wbuf: Any) -> None:
        """Close the transport of a socket nobody references once the bytes queued
        in *wbuf* (a WriteBuffer) have left, or a time limit passed."""

    def sleep(seconds: float) -> None:
        """Yield the calling greenlet for *seconds*."""
