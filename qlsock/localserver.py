"""``QLocalServer`` on the engine contracts (``qlocalserver*.cpp`` semantics).

The hub accepts in the background while the pending queue has room
(``maxPendingConnections``, a hard cap here; Qt overshoots it by up to two). Each
accepted descriptor goes through the overridable :meth:`QLocalServer.incomingConnection`
hook, which wraps it in a :class:`~qlsock.QLocalSocket` and queues it with
:meth:`QLocalServer.addPendingConnection`; ``newConnection`` is emitted after the
socket is queued, from a greenlet (never from the hub).
"""

from __future__ import annotations

import _socket
import os
import sys
import time
from collections import deque
from collections.abc import Iterable
from logging import DEBUG
from typing import Any, TypeAlias

from greenlet import getcurrent
from zope.interface import implementer

from ._log import logger, qt_warning
from .credentials import admit, allowed_uids
from .enums import (
    LocalServerSocketOption,
    LocalSocketState,
    OpenModeFlag,
    SocketError,
)
from .errors import ConcurrentWaitError
from .hub import current_engine
from .hub.listener import AcceptBackoff
from .interfaces import IListeningEndpoint, ILocalServer, ITimer
from .iodevice import coerce_size
from .localsocket import QLocalSocket, timeout_seconds
from .naming import (
    ABSTRACT_SUPPORTED,
    coerce_name,
    full_server_name,
    names_from_address,
)
from .qobject import QObject
from .signals import Signal, emit_if_connected
from .socketfile import RECLAIM_TIMEOUT, Bound, ListenError, bind

__all__ = ["QLocalServer"]

#: How many connections one hub wake-up accepts before letting others run.
MAX_ACCEPT = 100


@implementer(ILocalServer)
class QLocalServer(QObject):
    """A local server with Qt's ``QLocalServer`` API, cooperative under gevent."""

    SocketOption: TypeAlias = LocalServerSocketOption
    # Qt's enum members on the class (QLocalSocket.PeerClosedError), spelled out
    # so type checkers see them as well as the interpreter.
    NoOptions = LocalServerSocketOption.NoOptions
    UserAccessOption = LocalServerSocketOption.UserAccessOption
    GroupAccessOption = LocalServerSocketOption.GroupAccessOption
    OtherAccessOption = LocalServerSocketOption.OtherAccessOption
    WorldAccessOption = LocalServerSocketOption.WorldAccessOption
    AbstractNamespaceOption = LocalServerSocketOption.AbstractNamespaceOption

    newConnection = Signal()

    #: The hub holds servers and sockets weakly. The connections this server accepted
    #: (its children) live as long as it does while they are connected, even with no
    #: other reference, and leave its children when their connection ends.
    _releases_ended_children = True

    def __init__(self, parent: QObject | None = None) -> None:
        QObject.__init__(self, parent)
        self._engine = current_engine()
        self._endpoint: IListeningEndpoint | None = None
        # The descriptor being handed to incomingConnection() (-1: none).
        self._accepted_fd = -1
        self._server_name = ""
        self._full_server_name = ""
        self._error = SocketError.UnknownSocketError
        self._error_string = ""
        self._max_pending = 30
        self._backlog = 50
        self._options = LocalServerSocketOption.NoOptions
        self._pending: deque[QLocalSocket] = deque()
        # The socket file this server created, removed (if still its own) on close.
        self._bound: Bound | None = None
        self._backoff = AcceptBackoff()
        self._retry: ITimer | None = None
        self._allowed_uids: frozenset[int] | None = None
        # The greenlet in waitForNewConnection (one at a time).
        self._accepter: Any = None

    def __repr__(self) -> str:
        return f"<QLocalServer {self._full_server_name!r} listening={self.isListening()}>"

    def __del__(self) -> None:
        # Nobody references the server any more (the hub holds it weakly): stop
        # listening and remove the socket file, as Qt's destructor does.
        endpoint = getattr(self, "_endpoint", None)
        if endpoint is not None:
            try:
                if not sys.is_finalizing():  # at exit, it was referenced all along
                    # As asyncio's "Task was destroyed but it is pending!": a server
                    # held only by its own slots goes at some cyclic collection, so
                    # clients suddenly find no server, and nothing else would say why.
                    logger.warning(
                        "QLocalServer %s was garbage-collected while listening: it is "
                        "closed now and its socket file removed. Keep a reference to it "
                        "(in a variable, an attribute, or by giving it a parent) for as "
                        "long as it should serve, and close() it when done",
                        self._listening_on())
                self._engine.release(_release_listener, endpoint, self._bound, self._retry)
            except Exception:  # interpreter shutdown: nothing to close with
                pass

    def _listening_on(self) -> str:
        """Where the server listens, for messages: the path, or what it is instead."""
        full = self._full_server_name
        if not full:
            return "on an unnamed socket"
        if ABSTRACT_SUPPORTED and self._options & LocalServerSocketOption.AbstractNamespaceOption:
            return f"on the abstract name {full!r}"
        return f"at {full}"

    def __enter__(self) -> QLocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- simple getters and setters --------------------------------------------------------

    def isListening(self) -> bool:
        return self._endpoint is not None

    def serverName(self) -> str:
        return self._server_name

    def fullServerName(self) -> str:
        return self._full_server_name

    def serverError(self) -> SocketError:
        return self._error

    def errorString(self) -> str:
        return self._error_string

    def socketDescriptor(self) -> int:
        endpoint = self._endpoint
        return -1 if endpoint is None else endpoint.fileno()

    def maxPendingConnections(self) -> int:
        return self._max_pending

    def setMaxPendingConnections(self, numConnections: int) -> None:
        """Cap the queue of accepted, not yet taken connections (default 30).

        While the queue is full the server stops accepting; further clients wait
        in the kernel's backlog (on Unix they already count as connected).
        """
        value = coerce_size(numConnections, "QLocalServer.setMaxPendingConnections()")
        if value < 0:
            raise ValueError(f"setMaxPendingConnections(): the limit must be >= 0, not {value}")
        self._engine.check_thread()
        self._max_pending = value
        self._update_accepting()

    def listenBacklogSize(self) -> int:
        """The ``listen(2)`` backlog the next ``listen()`` asks for (Qt's default: 50)."""
        return self._backlog

    def setListenBacklogSize(self, size: int) -> None:
        """The ``listen(2)`` backlog used by the next :meth:`listen` (default 50)."""
        value = coerce_size(size, "QLocalServer.setListenBacklogSize()")
        if value < 0:
            raise ValueError(f"setListenBacklogSize(): the size must be >= 0, not {value}")
        self._backlog = value

    def allowedUids(self) -> frozenset[int] | None:
        """The user ids allowed to connect, or None (everyone the file mode lets in)."""
        return self._allowed_uids

    def setAllowedUids(self, uids: Iterable[int] | None) -> None:
        """Refuse clients whose user id is not in *uids* (not in Qt; Linux).

        Each accepted connection's ``SO_PEERCRED`` uid is checked before the
        socket is made: a refused client is closed at once (it sees the peer close
        the connection), a warning naming its pid and uid is logged, and
        ``incomingConnection``/``newConnection`` never see it. ``None`` (the
        default) turns the policy off. Unlike file modes, this also holds for
        abstract-namespace servers, which have no file to protect.
        """
        self._allowed_uids = allowed_uids(uids, "setAllowedUids()")

    def socketOptions(self) -> LocalServerSocketOption:
        """The ``SocketOption`` flags (access modes, abstract namespace) ``listen()`` uses."""
        return self._options

    def setSocketOptions(self, options: Any) -> None:
        """Store ``SocketOption`` flags; read by the next :meth:`listen`.

        Access options set the socket file's mode exactly (user 0700, group 0070,
        other 0007, OR'ed), applied atomically. ``AbstractNamespaceOption`` (Linux)
        binds ``b"\\0" + name`` with no file; access options are then ignored.
        """
        bits = coerce_size(options, "QLocalServer.setSocketOptions()")
        if bits < 0 or bits & ~0xF:
            raise ValueError(f"{bits:#x} is not a combination of QLocalServer.SocketOption")
        self._options = LocalServerSocketOption(bits)

    def _set_error(self, code: SocketError, text: str) -> None:
        self._error = code
        self._error_string = text

    # -- listening ----------------------------------------------------------------------------

    def listen(self, name: Any, *, reclaim_stale: bool = False,
               reclaim_timeout: float | None = RECLAIM_TIMEOUT) -> bool:
        """Listen on *name* (a server name, or an already listening descriptor).

        A relative name lives in ``$TMPDIR`` (else ``/tmp``); an absolute one is
        used as given. On failure ``serverError()`` and ``errorString()`` say why;
        ``errorString()`` starts with Qt's text and adds, in parentheses, what
        exactly was wrong and what to do. When the name is taken, it says whether
        a server is live there or the file is stale.

        The socket file appears atomically, already listening and with the mode the
        access options ask for, and never replaces an existing file (Qt's access
        options rename over whatever is there). ``reclaim_stale=True`` (not in Qt)
        removes a *stale* socket file left by a server that died, and listens: it
        probes first and never touches a live server's file or a non-socket (see
        :mod:`qlsock.socketfile`). While another process reclaims the same name this
        waits for it, cooperatively, at most *reclaim_timeout* seconds (then
        ``AddressInUseError``).
        """
        if isinstance(name, int) and not isinstance(name, bool):
            return self._listen_descriptor(name)
        # PySide6 takes None for an empty QString: a name error, not a TypeError.
        name = "" if name is None else coerce_name(name, "QLocalServer.listen()")
        self._engine.check_thread()
        if self.isListening():
            qt_warning("QLocalServer::listen() called when already listening")
            return False
        try:
            bound = bind(name, self._options, self._backlog, reclaim_stale=reclaim_stale,
                         reclaim_timeout=reclaim_timeout)
        except ListenError as exc:
            self._listen_failed(exc.error, f"QLocalServer::listen: {exc}")
            return False
        endpoint = self._engine.adopt_listener(bound.sock.detach())
        self._bound = bound
        self._server_name, self._full_server_name = name, bound.full_server_name
        self._start(endpoint)
        logger.debug("QLocalServer %s: listening", bound.full_server_name)
        return True

    def _listen_descriptor(self, fd: int) -> bool:
        self._engine.check_thread()
        if self.isListening():
            qt_warning("QLocalServer::listen() called when already listening")
            return False
        problem = _not_listenable(fd)
        if problem:
            # Qt adopts any number and "listens" on nothing; refuse, as
            # setSocketDescriptor() does, and leave the descriptor to the caller.
            self._listen_failed(SocketError.UnsupportedSocketOperationError,
                                "QLocalServer::listen: The socket operation is not "
                                f"supported ({problem})")
            return False
        endpoint = self._engine.adopt_listener(fd)
        server, full, abstract = names_from_address(endpoint.address)
        if abstract is not None:
            flag = LocalServerSocketOption.AbstractNamespaceOption
            self._options = (self._options | flag) if abstract else (self._options & ~flag)
        self._server_name, self._full_server_name = server, full
        self._bound = None
        self._start(endpoint)
        return True

    def _start(self, endpoint: IListeningEndpoint) -> None:
        # Qt keeps a previous listen()'s error after a later success; a listening
        # server reporting a stale error helps nobody, so it is cleared here.
        self._error = SocketError.UnknownSocketError
        self._error_string = ""
        self._endpoint = endpoint
        self._backoff.succeeded()
        endpoint.start(self._on_acceptable)
        self._update_accepting()

    def _listen_failed(self, code: SocketError, text: str) -> None:
        self._set_error(code, text)
        self._server_name = self._full_server_name = ""

    # -- accepting ------------------------------------------------------------------------------

    def _update_accepting(self) -> None:
        endpoint = self._endpoint
        if endpoint is not None:
            endpoint.set_interest(self._retry is None and len(self._pending) < self._max_pending)

    def _on_acceptable(self, events: int) -> None:
        endpoint = self._endpoint
        for _ in range(MAX_ACCEPT):
            if self._endpoint is not endpoint or endpoint is None \
                    or len(self._pending) >= self._max_pending:
                break
            fd = self._accept_one(endpoint)
            if fd is None:
                break
            self._take(fd)
        self._update_accepting()

    def _take(self, fd: int) -> bool:
        """Hand accepted *fd* to :meth:`incomingConnection` unless the uid policy
        refuses it; False if refused."""
        if self._allowed_uids is not None and \
                not admit(fd, self._allowed_uids, f"QLocalServer {self._full_server_name}"):
            return False
        if logger.isEnabledFor(DEBUG):
            logger.debug("QLocalServer %s: accepted fd %d", self._full_server_name, fd)
        self._accepted_fd = fd
        try:
            self.incomingConnection(fd)
        finally:
            self._accepted_fd = -1
        return True

    def _accept_one(self, endpoint: IListeningEndpoint) -> int | None:
        try:
            fd = endpoint.accept()
        except OSError as exc:
            delay = self._backoff.failed(exc, f"QLocalServer {self._full_server_name}")
            if self._retry is None:
                self._retry = self._engine.call_later(delay, self._resume_accepting)
                self._update_accepting()
            return None
        self._backoff.succeeded()
        return fd

    def _resume_accepting(self) -> None:
        self._retry = None
        self._update_accepting()

    def incomingConnection(self, socketDescriptor: int) -> None:
        """Wrap an accepted descriptor in a connected :class:`QLocalSocket` and queue it.

        Override to change what is made of a new connection; an override that does
        not call :meth:`addPendingConnection` queues nothing and emits nothing, and
        owns the descriptor.
        """
        socket = QLocalSocket(self)
        endpoint = self._endpoint
        # The descriptor this server is handing over right now needs none of
        # setSocketDescriptor()'s checks and look-ups: the engine knows it.
        transport = None
        if endpoint is not None and socketDescriptor == self._accepted_fd:
            transport = self._engine.adopt_accepted(socketDescriptor, endpoint)
        if transport is None:
            socket.setSocketDescriptor(socketDescriptor, LocalSocketState.ConnectedState,
                                       OpenModeFlag.ReadWrite)
        else:
            bound = self._bound
            if bound is None or bound.abstract:
                socket._adopt_accepted(transport)
            else:
                socket._adopt_accepted(transport, os.fsencode(bound.full_server_name))
        self.addPendingConnection(socket)

    def addPendingConnection(self, socket: QLocalSocket) -> None:
        """Queue *socket* for :meth:`nextPendingConnection` and emit ``newConnection``."""
        if not isinstance(socket, QLocalSocket):
            raise TypeError(
                f"addPendingConnection() takes a QLocalSocket, not {type(socket).__name__}"
            )
        self._pending.append(socket)
        # A server that only waits never needs the BoundSignal made.
        emit_if_connected(self, "newConnection")

    def hasPendingConnections(self) -> bool:
        return bool(self._pending)

    def nextPendingConnection(self) -> QLocalSocket | None:
        """The oldest queued connection, or None; accepting resumes if it paused."""
        self._engine.check_thread()
        if not self._pending:
            return None
        socket = self._pending.popleft()
        self._update_accepting()
        return socket

    def waitForNewConnection(self, msec: int = 0) -> tuple[bool, bool]:
        """Wait up to *msec* ms (-1: forever) for a connection: ``(pending, timedOut)``.

        Returns ``(False, False)`` at once when not listening, and ``(True, False)``
        at once when a connection is already queued (Qt/Unix would wait out the
        full timeout and then report ``timedOut``; the hub may have accepted in the
        background, so waiting would only stall). Otherwise it accepts one
        connection, ignoring ``maxPendingConnections``.
        """
        timeout = timeout_seconds(msec, "QLocalServer.waitForNewConnection()")
        self._engine.check_thread()
        endpoint = self._endpoint
        if endpoint is None:
            return (False, False)
        if self._pending:
            return (True, False)
        me = getcurrent()
        holder = self._accepter
        if holder is not None and holder is not me:
            raise ConcurrentWaitError(
                f"another greenlet ({holder!r}) is already in waitForNewConnection() on "
                "this server; one greenlet may wait for connections at a time (connect "
                "newConnection instead to serve from several)")
        self._accepter = me
        try:
            return self._wait_for_connection(endpoint, timeout)
        finally:
            self._accepter = holder

    def _wait_for_connection(self, endpoint: IListeningEndpoint,
                             timeout: float | None) -> tuple[bool, bool]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            fd = self._accept_one(endpoint)
            if fd is not None and self._take(fd):
                return (bool(self._pending), False)
            if self._endpoint is not endpoint:
                return (False, False)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return (bool(self._pending), True)
            if self._retry is not None:
                delay = self._backoff.delay
                self._engine.sleep(delay if remaining is None else min(delay, remaining))
            else:
                endpoint.wait(remaining)
            if self._endpoint is not endpoint:
                return (False, False)
            if self._pending:
                return (True, False)

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening: abort queued connections, close, remove the socket file.

        Only the file this server created is removed, checked by device and inode,
        and only by the process that created it: a successor's socket at the same
        path is never deleted (Qt removes whatever is at the path), nor is the
        parent's when a forked child closes its copy. Sockets already taken with
        :meth:`nextPendingConnection` are unaffected.
        """
        self._engine.check_thread()
        endpoint = self._endpoint
        if endpoint is None:
            return
        self._endpoint = None
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        pending, self._pending = self._pending, deque()
        for socket in pending:
            socket.abort()
        endpoint.close()
        bound, self._bound = self._bound, None
        if bound is not None:
            bound.release()
        logger.debug("QLocalServer %s: closed (%d pending connections aborted)",
                     self._full_server_name, len(pending))
        self._server_name = self._full_server_name = ""
        self._error = SocketError.UnknownSocketError
        self._error_string = ""

    def _destroy(self) -> None:
        self.close()

    @staticmethod
    def removeServer(name: Any) -> bool:
        """Delete the socket file of *name*, whatever it is; True if nothing is left.

        .. caution:: This removes a *live* server's socket as readily as a stale
           one: the running server keeps listening but can no longer be reached.
           Use it only when you know the server is gone.
        """
        # None is PySide6's empty QString; an empty name names no file.
        name = "" if name is None else coerce_name(name, "QLocalServer.removeServer()")
        if not name:
            return False
        full = full_server_name(name)
        if not os.path.exists(full):
            return True
        try:
            os.unlink(full)
        except OSError:
            return False
        return True


def _release_listener(endpoint: IListeningEndpoint, bound: Bound | None,
                      retry: ITimer | None) -> None:
    if retry is not None:
        retry.cancel()
    endpoint.close()
    if bound is not None:
        bound.release()


def _not_listenable(fd: int) -> str:
    """Why descriptor *fd* cannot be listened on, or "" if it can; *fd* is not touched.

    A local stream socket that is not listening is accepted, as Qt accepts it (its
    own test listens on a socketpair end to get an unnamed server); a warning says
    it will never accept.
    """
    if not 0 <= fd <= 2**31 - 1:
        return f"{fd} is not a file descriptor"
    try:
        sock = _socket.socket(fileno=fd)
    except OSError as exc:
        return f"descriptor {fd}: {exc.strerror}"
    try:
        if sock.family != _socket.AF_UNIX or sock.type != _socket.SOCK_STREAM:
            return (f"descriptor {fd} is not a local stream socket (family {sock.family}, "
                    f"type {sock.type}); QLocalServer listens on AF_UNIX SOCK_STREAM sockets")
        if not sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ACCEPTCONN):
            logger.warning("QLocalServer::listen: descriptor %d is not listening, so no "
                           "connection will ever be accepted on it (call listen() on it "
                           "first)", fd)
    finally:
        sock.detach()
    return ""
