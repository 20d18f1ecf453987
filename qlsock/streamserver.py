"""Greenlet-per-client local servers, on gevent's own server machinery.

:class:`LocalStreamServer` is a :class:`gevent.baseserver.BaseServer`: gevent's accept
loop (``max_accept`` per wake-up, back-off from ``min_delay`` to ``max_delay`` after an
accept error, ``fatal_errors`` close it), its spawn policy (``spawn=`` a
:class:`gevent.pool.Pool`, an int for ``Pool(n)``, ``"default"`` for unbounded
:meth:`gevent.Greenlet.spawn`, or a spawner such as :func:`gevent.spawn_raw`;
accepting pauses while the pool is full and resumes when a handler ends), and its
lifecycle (``start``, ``serve_forever``, ``stop``, ``close``, context manager). What it
adds, and where it differs from gevent's ``StreamServer``:

* **Qt's names and options.** The listener is a server name resolved as
  ``QLocalServer.listen`` resolves it (``$TMPDIR/name``, an absolute path, or Linux's
  abstract namespace with ``AbstractNamespaceOption``), bound with Qt's access options
  applied atomically (:func:`qlsock.socketfile.bind`); ``close()`` removes the socket
  file only if it is still the one this server bound. An already listening socket or
  descriptor is adopted as ``QLocalServer.listen(descriptor)`` does (the file is then
  left alone), and :meth:`LocalStreamServer.from_activation` takes one from systemd.
* **The handler gets a connected** :class:`~qlsock.QLocalSocket` (``handle(sock)``), not
  ``(socket, address)``, created inside the handler's own greenlet.
* **A graceful end.** When the handler returns, or ends by any exception (a
  ``gevent.Timeout`` and a ``kill()`` included) other than the server's own
  :meth:`~LocalStreamServer.stop` killing it, the connection is closed with
  ``disconnectFromServer()``: what the handler wrote still reaches the peer, and
  the handler's greenlet (its pool slot) lasts until it has (a peer that never reads
  holds it until ``idle_timeout`` or :meth:`~LocalStreamServer.stop` ends the
  drain). gevent closes the socket when the handler returns, which the kernel drains
  the same way.
* **A graceful** :meth:`~LocalStreamServer.stop`. gevent's kills the handlers after the
  timeout; this one disconnects them first, so queued writes drain, and kills only
  what is left after that.
* **An idle timeout per connection** (``idle_timeout``), see :class:`LocalStreamServer`.
* ``spawn=None`` (gevent: run the handler in the hub) is refused: a handler blocks, and
  blocking in the hub would stall every connection.
"""

from __future__ import annotations

import _socket
import inspect
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import gevent
from gevent.baseserver import BaseServer
from gevent.event import Event
from gevent.pool import Pool
from greenlet import getcurrent, greenlet

from ._log import logger
from .activation import ActivationError, check_listening, listen_fd
from .credentials import admit
from .credentials import allowed_uids as allowed_uids_of
from .enums import LocalServerSocketOption, LocalSocketState
from .hub.listener import BENIGN_ACCEPT_ERRNOS, AcceptBackoff
from .hub.report import report_failure
from .hub.transport import address_bytes
from .localsocket import QLocalSocket
from .naming import coerce_name, names_from_address
from .socketfile import Bound, bind

if TYPE_CHECKING:
    from typing_extensions import Self

    # The stubs make BaseServer generic in the handler's arguments; at run time it
    # is a plain class.
    _BaseServer = BaseServer[Any]
else:
    _BaseServer = BaseServer

__all__ = ["Handler", "LocalStreamServer", "Spawn", "serve"]

#: A connection handler: called with the connected socket, in its own greenlet.
Handler = Callable[[QLocalSocket], object]
#: What ``spawn=`` accepts, as in gevent (``None`` excepted).
Spawn = Pool | int | Callable[..., Any] | Literal["default"]

_S = TypeVar("_S", bound="LocalStreamServer")
_CONNECTED = LocalSocketState.ConnectedState
_CLOSING = LocalSocketState.ClosingState
_UNCONNECTED = LocalSocketState.UnconnectedState


class _Connection:
    """One accepted connection, from ``accept()`` to the end of its handler greenlet.

    Accepting is the hot path of a stream server: nothing here is made that only
    :meth:`LocalStreamServer.stop` needs. Its Events are made when a stop waits.
    """

    __slots__ = ("ended", "fd", "finished", "greenlet", "handle", "killed", "last_active",
                 "moved", "peer", "sock", "started", "timer")

    def __init__(self, fd: int, peer: object, handle: Handler) -> None:
        # Owned here until the handler's socket adopts it, -1 afterwards; never
        # closed twice, since the number may already belong to someone else.
        self.fd = fd
        #: The peer's address as accept() gave it (names the socket without asking).
        self.peer = peer
        self.handle = handle
        self.sock: QLocalSocket | None = None
        self.greenlet: greenlet | None = None
        self.started = False
        #: stop() gave up on the handler and killed it: no graceful close then.
        self.killed = False
        #: The handler greenlet has ended, or will never run.
        self.finished = False
        #: Set when finished, for a stop() waiting (made by :meth:`finished_event`).
        self.ended: Event | None = None
        self.last_active = time.monotonic()
        #: The socket's byte counts (received, sent) when activity was last seen.
        self.moved = (0, 0)
        self.timer: Any = None

    def finished_event(self) -> Event:
        """An Event set once the handler has ended (at once if it has)."""
        if self.ended is None:
            self.ended = Event()
            if self.finished:
                self.ended.set()
        return self.ended

    def settled_event(self) -> Event:
        """An Event set once the socket is unconnected or the handler has ended."""
        event = Event()
        sock = self.sock
        if self.finished or sock is None or sock.state() is _UNCONNECTED:
            event.set()
        else:
            sock.disconnected.connect(event.set)
            self.finished_event().rawlink(lambda _: event.set())
        return event

    def touch(self) -> None:
        self.last_active = time.monotonic()

    def notice_traffic(self) -> None:
        """Count the socket active now if bytes moved since the last look.

        The idle timeout watches the socket's byte counters rather than connecting
        slots: a slot of the server's own would report the bytes to nobody, and
        the handler's next ``waitForReadyRead`` must still find them new.
        """
        sock = self.sock
        if sock is not None:
            moved = (sock._arrived, sock._sent)
            if moved != self.moved:
                self.moved = moved
                self.touch()

    def discard_fd(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def stop_timer(self) -> None:
        timer, self.timer = self.timer, None
        if timer is not None:
            timer.close()

    def finish(self) -> None:
        self.discard_fd()
        self.stop_timer()
        self.finished = True
        if self.ended is not None:
            self.ended.set()


class LocalStreamServer(_BaseServer):
    """Serve each local connection in its own greenlet: ``handle(sock)``.

    *listener* is a server name (``str`` or ``os.PathLike``), bound when the server
    starts, or an already listening ``AF_UNIX`` stream socket (a socket object or a
    descriptor; ``ValueError`` if it is anything else), which the server then owns and
    closes, leaving its socket file alone. *options* (``QLocalServer.SocketOption``
    flags; default ``NoOptions``), *backlog* (default 50, as ``QLocalServer``) and
    *reclaim_stale* (remove a stale socket file first, never a live server's) apply to
    names only; with a socket they raise ``TypeError``, as gevent's ``backlog`` does.
    *handle* may also be a ``handle(self, sock)`` method of a subclass. *spawn* is as
    in gevent (see the module docstring), ``None`` excepted.

    ``start()`` (and ``serve_forever()``, and entering a ``with`` block, which starts
    the server, where gevent's does not) raises :class:`qlsock.socketfile.ListenError`
    (an ``OSError`` whose ``error`` is Qt's ``SocketError``) when the name cannot be
    bound.

    *idle_timeout* (seconds, default None: never) closes a connection on which no
    byte was received or sent for that long (looked at every quarter of it, so it is
    closed at most a quarter late): it is closed with ``disconnectFromServer()``,
    so queued writes may still drain, and aborted if the drain then makes no
    progress for another *idle_timeout*. The handler notices as with any disconnect:
    its ``waitFor*`` calls return False, ``state()`` is ``UnconnectedState`` and
    ``errorString()`` says the connection was idle. The handler's greenlet is not
    killed (a handler blocked on something other than its socket keeps running until
    it returns or :meth:`stop` kills it); a handler that hangs on its socket wakes up.

    *allowed_uids* (not in gevent or Qt; Linux) refuses clients whose ``SO_PEERCRED``
    user id is not in the set, as ``QLocalServer.setAllowedUids()`` does: the refused
    client is closed (it reads end-of-file) and logged, and the handler never sees it.
    """

    #: Seconds :meth:`stop` lets queued writes drain once the connections of the
    #: handlers still running were disconnected (step 3 of a stop).
    drain_timeout: float = 1.0
    #: Seconds :meth:`stop` waits for killed handlers to exit (step 4).
    kill_timeout: float = 1.0

    socket: Any

    def __init__(
        self,
        listener: str | os.PathLike[str] | int | _socket.socket,
        handle: Handler | None = None,
        spawn: Spawn = "default",
        *,
        options: LocalServerSocketOption | int | None = None,
        backlog: int | None = None,
        reclaim_stale: bool = False,
        idle_timeout: float | None = None,
        allowed_uids: Iterable[int] | None = None,
    ) -> None:
        named = isinstance(listener, (str, os.PathLike))
        if not named and (options is not None or backlog is not None or reclaim_stale):
            raise TypeError("options, backlog and reclaim_stale apply to a server name, "
                            "not to an already listening socket")
        if idle_timeout is not None and not idle_timeout > 0:
            raise ValueError(f"idle_timeout must be a positive number of seconds or None, "
                             f"not {idle_timeout!r}")
        self._options = LocalServerSocketOption(int(options or 0))
        self._backlog = 50 if backlog is None else backlog
        self._reclaim_stale = reclaim_stale
        self._idle_timeout = idle_timeout
        self._allowed_uids = allowed_uids_of(allowed_uids, "LocalStreamServer(allowed_uids=)")
        self._name = ""
        self._bound: Bound | None = None
        self._server_name = ""
        self._full_server_name = ""
        # The listener's own address, and what names accepted sockets in its
        # place (see QLocalSocket._adopt_accepted): found once, not per client.
        self._local_address = b""
        self._own_address = b""
        self._connections: set[_Connection] = set()
        self._stopping: Event | None = None
        self._backoff = AcceptBackoff()
        super().__init__(cast(Any, listener), cast(Any, handle), cast(Any, spawn))

    @classmethod
    def from_activation(
        cls: type[_S],
        which: int | str = 0,
        handle: Handler | None = None,
        spawn: Spawn = "default",
        *,
        idle_timeout: float | None = None,
        allowed_uids: Iterable[int] | None = None,
        unset_environment: bool = False,
    ) -> _S:
        """A server on the systemd-passed listener at index *which*, or named *which*.

        The descriptor is picked and checked by :func:`qlsock.activation.listen_fd`
        (which raises :class:`qlsock.activation.ActivationError` if there is none or it
        is not a listening ``AF_UNIX`` stream socket). Closing the server closes it and
        leaves the socket file to the service manager.
        """
        fd = listen_fd(which, unset_environment=unset_environment)
        return cls(fd, handle, spawn, idle_timeout=idle_timeout, allowed_uids=allowed_uids)

    # -- gevent's hooks ---------------------------------------------------------------

    def set_listener(self, listener: object) -> None:
        if isinstance(listener, (str, os.PathLike)):
            self._name = coerce_name(listener, "LocalStreamServer()")
            self.family = _socket.AF_UNIX
            self.address = self._name
            return
        if isinstance(listener, int) and not isinstance(listener, bool):
            _check_listening(listener, f"descriptor {listener}")
            os.set_inheritable(listener, False)
            raw = _socket.socket(fileno=listener)
        elif hasattr(listener, "fileno"):
            raw = _unwrap(listener)
            _check_listening(raw.fileno(), f"the socket {listener!r}")
        else:
            raise TypeError("LocalStreamServer() listens on a server name (str), a "
                            "listening socket or its descriptor, "
                            f"not {type(listener).__name__}")
        raw.setblocking(False)
        self.family = _socket.AF_UNIX
        self.socket = raw
        self._adopted_names(raw)

    def set_spawn(self, spawn: Any) -> None:
        if spawn is None:
            raise TypeError("spawn=None would run each handler in the hub, where it "
                            "cannot block; pass a Pool, an int, 'default' or a spawner")
        super().set_spawn(spawn)
        pool = self.pool
        if pool is not None and hasattr(pool, "full"):
            pool_full = pool.full
            self._pool_was_full = False

            def full() -> bool:
                # BaseServer asks when a client is waiting to be accepted: say once
                # per episode that it waits for a free handler, not forever silently.
                now = bool(pool_full())
                if now and not self._pool_was_full:
                    logger.warning(
                        "LocalStreamServer %s: all %s handlers are busy; new clients wait "
                        "in the listen backlog until one finishes", self.address,
                        getattr(pool, "size", "?"))
                self._pool_was_full = now
                return now

            self.full = full  # type: ignore[method-assign]

    def set_handle(self, handle: Any) -> None:
        if handle is not None and callable(handle):
            _check_handler(handle)
        super().set_handle(handle)
        # gevent spawns self._handle; the user's handler is called from there.
        self._handle = self._serve_connection

    def init_socket(self) -> None:
        if hasattr(self, "socket"):
            return
        bound = bind(self._name, self._options, self._backlog,
                     reclaim_stale=self._reclaim_stale)
        self._bound = bound
        self.socket = _unwrap(bound.sock)
        self._server_name = bound.server_name
        self._full_server_name = self.address = bound.full_server_name
        self._local_address = _own_address(self.socket)
        if not bound.abstract:
            self._own_address = os.fsencode(bound.full_server_name)

    def do_read(self) -> tuple[_Connection] | None:
        # Runs in the hub: accept and register only.
        try:
            fd, peer = self.socket._accept()
        except OSError as exc:
            if exc.errno in BENIGN_ACCEPT_ERRNOS:
                return None
            # QLocalServer's policy (one warning per back-off, no traceback, never
            # closes), in place of BaseServer's traceback per retry.
            delay = self._backoff.failed(exc, f"LocalStreamServer {self.address}")
            self.stop_accepting()
            self._timer = timer = self.loop.timer(delay)
            timer.start(self._resume_accepting)
            return None
        self._backoff.succeeded()
        conn = _Connection(fd, peer, self.handle)
        self._connections.add(conn)
        return (conn,)

    def _resume_accepting(self) -> None:
        if self.started:
            self.start_accepting()

    def do_close(self, *args: Any) -> None:
        conn: _Connection = args[0]
        conn.finish()
        self._connections.discard(conn)

    # -- names ----------------------------------------------------------------------------

    def serverName(self) -> str:
        """The name listened on (``QLocalServer.serverName()``); empty when not listening."""
        return self._server_name

    def fullServerName(self) -> str:
        """The socket's path, or the abstract name; empty when not listening."""
        return self._full_server_name

    def _adopted_names(self, raw: _socket.socket) -> None:
        address = self._local_address = _own_address(raw)
        server, full, _ = names_from_address(address)
        self._server_name, self._full_server_name = server, full
        self.address = full

    # -- one connection -------------------------------------------------------------------

    def _serve_connection(self, conn: _Connection) -> None:
        """The greenlet of one connection: adopt, handle, close gracefully."""
        conn.started = True
        conn.greenlet = getcurrent()
        fd, conn.fd = conn.fd, -1
        if fd < 0:
            return  # stop() gave up on it before this greenlet ran
        if self._allowed_uids is not None and \
                not admit(fd, self._allowed_uids, f"LocalStreamServer {self.address}"):
            return
        sock = QLocalSocket()
        try:
            # accept() vouches for the descriptor and gave the peer's address:
            # none of setSocketDescriptor()'s checks and look-ups are needed.
            transport = sock._engine.wrap_accepted(fd, self._local_address, conn.peer)
        except OSError as exc:
            os.close(fd)
            logger.error("LocalStreamServer %s: cannot adopt an accepted connection: %s",
                         self.address, exc)
            return
        sock._adopt_accepted(transport, self._own_address)
        conn.sock = sock
        if self._idle_timeout is not None:
            self._arm_idle(conn, self._idle_timeout)
        try:
            try:
                conn.handle(sock)
            except BaseException:
                if conn.killed:
                    raise
                # Reported as gevent reports a failed greenlet (and logged), then
                # the graceful close, whatever ended the handler: a Timeout that
                # escaped it must not cost the peer the reply already written.
                report_failure(f"LocalStreamServer {self.address}: the handler "
                               f"{conn.handle!r} (its connection is closed gracefully "
                               "and the server keeps serving)", *sys.exc_info())
            if sock.state() is _CONNECTED:
                sock.disconnectFromServer()
            if sock.state() is not _UNCONNECTED:
                sock.waitForDisconnected(-1)
        finally:
            # Only when stop() killed it or the drain failed to end cleanly.
            if sock.state() is not _UNCONNECTED:
                sock.abort()

    def _arm_idle(self, conn: _Connection, delay: float) -> None:
        # Traffic is noticed when the timer fires: looking a few times per period
        # bounds how late an idle connection is closed (at most a quarter period).
        timeout = self._idle_timeout
        if timeout is not None:
            delay = min(delay, timeout / 4)
        timer = self.loop.timer(max(delay, 0.0))
        conn.timer = timer
        timer.start(self._idle_check, conn)

    def _idle_check(self, conn: _Connection) -> None:
        # Runs in the hub: re-arm, or hand the closing to a greenlet (it emits
        # signals, so user slots run).
        conn.stop_timer()
        if conn.finished or self._idle_timeout is None:
            return
        conn.notice_traffic()
        remaining = conn.last_active + self._idle_timeout - time.monotonic()
        if remaining > 0:
            self._arm_idle(conn, remaining)
        else:
            gevent.spawn(self._idle_expired, conn)

    def _idle_expired(self, conn: _Connection) -> None:
        sock, idle = conn.sock, self._idle_timeout
        if sock is None or idle is None or conn.finished:
            return
        conn.notice_traffic()
        if time.monotonic() - conn.last_active < idle:
            self._arm_idle(conn, idle)
            return
        state = sock.state()
        if state is _CONNECTED:
            logger.info("LocalStreamServer %s: closing a connection idle for %.3g s",
                        self.address, idle)
            self._disconnect(sock, f"LocalStreamServer: no byte was received or sent "
                                   f"for {idle:g} s (idle_timeout); the connection "
                                   "was closed")
            if sock.state() is not _UNCONNECTED:
                conn.touch()
                self._arm_idle(conn, idle)
        elif state is _CLOSING:
            logger.info("LocalStreamServer %s: aborting a connection whose queued writes "
                        "made no progress for %.3g s", self.address, idle)
            sock.abort()

    @staticmethod
    def _disconnect(sock: QLocalSocket, why: str) -> None:
        sock.setErrorString(why)
        sock.disconnectFromServer()

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if not self.started:
            self.start()
        return self

    def close(self) -> None:
        """Stop accepting and close the listener; running handlers are not touched.

        The socket file is removed first (so new clients find no server rather than a
        refusing one), and only if it is still the file this server bound: never an
        adopted socket's, never a successor's.
        """
        bound, self._bound = getattr(self, "_bound", None), None
        if bound is not None:
            bound.release()
        try:
            super().close()
        finally:
            if bound is not None:
                bound.sock.close()
            self._server_name = self._full_server_name = ""

    def stop(self, timeout: float | None = None) -> None:
        """Stop serving, gracefully: drain, then disconnect, then kill.

        1. Stop accepting and close the listener (:meth:`close`); connections still
           waiting in the kernel's backlog are dropped.
        2. Wait up to *timeout* seconds (default :attr:`stop_timeout`, 1 s as in
           gevent) for the running handlers to return and their connections to drain.
        3. ``disconnectFromServer()`` every connection still open (``errorString()``
           says the server is stopping): a handler waiting on its socket wakes up,
           and queued writes get up to :attr:`drain_timeout` seconds to reach the peer.
        4. ``abort()`` what is still connected and kill the handlers still running
           (``GreenletExit``), waiting up to :attr:`kill_timeout` for them to exit.

        So ``stop()`` returns within *timeout* + ``drain_timeout`` + ``kill_timeout``,
        sooner when everything finishes. A handler that finishes in time is never
        killed. Unlike gevent's, this also covers handlers spawned without a pool,
        and kills only this server's handlers, not everything in a shared pool. Called
        from a handler, it neither waits for nor kills that handler. A second call
        while a stop is in progress waits for it.
        """
        if self._stopping is not None:
            self._stopping.wait()
            return
        self._stopping = Event()
        try:
            self.close()
            self._wind_down(self.stop_timeout if timeout is None else timeout)
        finally:
            self._stopping.set()

    def _wind_down(self, timeout: float) -> None:
        me = getcurrent()
        conns = [c for c in self._connections if c.greenlet is not me]
        if not conns:
            return
        gevent.wait([c.finished_event() for c in conns], timeout=timeout)
        left = [c for c in conns if not c.finished]
        if not left:
            return
        for conn in left:
            sock = conn.sock
            if not conn.started:
                conn.finish()
                self._connections.discard(conn)
            elif sock is not None and sock.state() is _CONNECTED:
                self._disconnect(sock, "LocalStreamServer: the server is stopping; "
                                       "the connection was closed")
        gevent.wait([c.settled_event() for c in left], timeout=self.drain_timeout)
        for conn in left:
            sock = conn.sock
            if sock is not None and sock.state() is not _UNCONNECTED:
                sock.abort()
            runner = conn.greenlet
            if runner is not None and not runner.dead:
                conn.killed = True
                gevent.kill(runner)
        gevent.wait([c.finished_event() for c in left], timeout=self.kill_timeout)


def _check_handler(handle: Callable[..., Any]) -> None:
    """Refuse, when the server is made, a handler that cannot take one socket.

    gevent's StreamServer calls ``handle(socket, address)``; this server calls
    ``handle(sock)`` (a local peer has no useful address). A handler written for
    gevent would otherwise fail on the first client, far from its cause.
    """
    try:
        inspect.signature(handle).bind(None)
    except TypeError:
        raise TypeError(
            f"the handler {handle!r} must take one argument, the connected QLocalSocket: "
            "LocalStreamServer calls handle(sock), not gevent's handle(socket, address)"
        ) from None
    except ValueError:
        pass  # no signature to read (a builtin): let the first call tell


def _own_address(raw: _socket.socket) -> bytes:
    try:
        return address_bytes(raw.getsockname())
    except OSError:
        return b""


def _check_listening(fd: int, what: str) -> None:
    try:
        check_listening(fd, what)
    except ActivationError as exc:
        raise ValueError(str(exc)) from None


def _unwrap(sock: Any) -> _socket.socket:
    """The C-level socket under a gevent (monkey-patched) socket object, as gevent's
    StreamServer does: readiness is already known when accepting, so gevent's
    cooperative wrapper would only add a layer."""
    while hasattr(sock, "_sock"):
        sock = sock._sock
    return cast(_socket.socket, sock)


def serve(
    name: str | os.PathLike[str],
    handle: Handler,
    spawn: Spawn = "default",
    *,
    options: LocalServerSocketOption | int | None = None,
    backlog: int | None = None,
    reclaim_stale: bool = False,
    idle_timeout: float | None = None,
    allowed_uids: Iterable[int] | None = None,
) -> LocalStreamServer:
    """Start a :class:`LocalStreamServer` on *name* and return it, already accepting.

    Like ``asyncio.start_unix_server`` (and gevent's ``start()``), it does not block:
    the hub serves in the background while the caller goes on. Block with
    ``server.serve_forever()``, or use it as a context manager
    (``with serve("echo", handle) as server: ...``), which stops it gracefully on
    leaving. The options are :class:`LocalStreamServer`'s; *spawn* defaults, as for
    gevent's ``StreamServer``, to a greenlet per client with no limit (give a
    ``Pool`` or an int to bound it; a full pool is logged). Raises
    :class:`qlsock.socketfile.ListenError` when the name cannot be bound.
    """
    server = LocalStreamServer(name, handle, spawn, options=options, backlog=backlog,
                               reclaim_stale=reclaim_stale, idle_timeout=idle_timeout,
                               allowed_uids=allowed_uids)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server
