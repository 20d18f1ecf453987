"""The engine of one gevent hub: creates transports and endpoints, owns the dispatcher."""

from __future__ import annotations

import _socket
import os
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any

import gevent
from gevent._hub_local import get_hub_if_exists
from gevent.hub import Hub
from zope.interface import implementer

from ..buffers import WriteBuffer
from ..errors import WrongThreadError
from ..interfaces import IEngine, IListeningEndpoint, IStreamTransport, ITimer
from .dispatcher import Dispatcher, spawn_delivery
from .listener import ListeningEndpoint
from .transport import StreamTransport, address_bytes

__all__ = ["ORPHAN_DRAIN_SECONDS", "HubEngine"]

#: How long the queued writes of a socket that nobody references any more may take
#: to reach its peer before the connection is closed anyway.
ORPHAN_DRAIN_SECONDS = 30.0

_NONBLOCK = getattr(_socket, "SOCK_NONBLOCK", 0)
_FLAGS = _socket.SOCK_STREAM | _NONBLOCK | getattr(_socket, "SOCK_CLOEXEC", 0)


def _stream_socket() -> _socket.socket:
    sock = _socket.socket(_socket.AF_UNIX, _FLAGS)
    if not _NONBLOCK:
        # Where the flag exists (Linux) the socket is born non-blocking, and Python
        # knows it: setblocking() would only repeat it with a system call.
        sock.setblocking(False)
    return sock


@implementer(ITimer)
class _Timer:
    __slots__ = ("_watcher",)

    def __init__(self, engine: HubEngine, seconds: float, callback: Callable[[], Any]) -> None:
        watcher = engine.loop.timer(max(seconds, 0.0))
        self._watcher = watcher

        def fire() -> None:
            watcher.close()
            callback()

        watcher.start(fire)

    def cancel(self) -> None:
        self._watcher.close()


@implementer(IEngine)
class HubEngine:
    """I/O for the qlsock objects of one hub (one OS thread)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.loop = hub.loop
        self.dispatcher = Dispatcher(hub)
        self.thread = threading.current_thread()
        self.thread_name = self.thread.name
        self._native_id = threading.get_native_id()
        # What must be settled before the hub next polls (descriptors' watchers
        # to start, sockets whose writes may still be buffered): one hub callback
        # per loop iteration serves them all (see readiness.py). Bound methods, so
        # that a socket and a descriptor can both be queued.
        self.deferred: list[Callable[[], Any]] = []

    def reconcile(self) -> None:
        """Settle what was queued since the last poll (runs in the hub)."""
        deferred = self.deferred
        try:
            # Served in place: what an item queues meanwhile (a socket whose
            # bytes are still buffered raising its interest in writability)
            # joins this same pass, and the list being non-empty keeps it from
            # scheduling another callback.
            for settle in deferred:
                settle()
        finally:
            deferred.clear()

    def check_thread(self) -> None:
        if get_hub_if_exists() is not self.hub:
            raise WrongThreadError(
                "this qlsock object belongs to the gevent hub of thread "
                f"{self.thread_name!r} and was used from another OS thread; each "
                "thread has its own hub, so create the object in the thread that uses it"
            )

    def connect(self, address: bytes) -> StreamTransport:
        sock = _stream_socket()
        try:
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return StreamTransport(self, sock)

    def adopt_stream(self, fd: int) -> StreamTransport:
        sock = _socket.socket(fileno=fd)
        if sock.family != _socket.AF_UNIX or sock.type != _socket.SOCK_STREAM:
            family, kind = sock.family, sock.type
            sock.detach()
            raise ValueError(
                f"descriptor {fd} is not a local stream socket (family {family}, "
                f"type {kind}); QLocalSocket adopts AF_UNIX SOCK_STREAM sockets only"
            )
        sock.setblocking(False)
        os.set_inheritable(fd, False)
        return StreamTransport(self, sock)

    def adopt_accepted(self, fd: int, endpoint: IListeningEndpoint) -> StreamTransport | None:
        """Wrap *fd* if *endpoint* has just accepted it, else None.

        What :meth:`adopt_stream` asks the kernel is known for such a descriptor:
        accept() made it an ``AF_UNIX`` stream socket, close-on-exec (``accept4``
        with ``SOCK_CLOEXEC``), and gave the peer's address; its own address is
        the listener's. Wrapping it therefore costs no ``getsockopt``,
        ``getpeername`` or ``set_inheritable`` call.
        """
        if not isinstance(endpoint, ListeningEndpoint) or endpoint.accepted_fd != fd:
            return None
        endpoint.accepted_fd = -1
        return self.wrap_accepted(fd, endpoint.address, endpoint.accepted_peer)

    def wrap_accepted(self, fd: int, local: bytes, peer: object) -> StreamTransport:
        """Wrap *fd*, which ``accept()`` on a listener bound to *local* has just
        returned with *peer*, trusting what accept() guarantees (see
        :meth:`adopt_accepted`)."""
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
        sock.setblocking(False)
        return StreamTransport(self, sock, local, address_bytes(peer))

    def adopt_listener(self, fd: int) -> ListeningEndpoint:
        sock = _socket.socket(fileno=fd)
        sock.setblocking(False)
        os.set_inheritable(fd, False)
        return ListeningEndpoint(self, sock)

    def call_later(self, seconds: float, callback: Callable[[], Any]) -> _Timer:
        return _Timer(self, seconds, callback)

    def spawn(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run *function(*args)* in a greenlet of qlsock's own (see dispatcher.py):
        a failure is reported, never left to end it silently."""
        return spawn_delivery(self.hub, function, *args)

    def in_thread(self) -> bool:
        """True when called from this engine's OS thread."""
        return get_hub_if_exists() is self.hub

    def release(self, closer: Callable[..., Any], *args: Any) -> None:
        """Run *closer(*args)* for an object being collected, from any thread.

        A finalizer may run in another OS thread (the last reference dropped
        there); the descriptors and watchers it closes belong to this hub.
        """
        if self.in_thread():
            closer(*args)
        elif self.loop is None or not self._thread_alive():
            # The thread has ended: nothing will run its hub again. Its watchers
            # can be closed from here; its descriptors and files must be.
            try:
                closer(*args)
            except Exception:
                pass
        else:
            self.loop.run_callback_threadsafe(closer, *args)

    def _thread_alive(self) -> bool:
        """Whether this engine's OS thread still runs.

        A thread not started by :mod:`threading` (``_thread``, a C library's, any
        thread under monkey patching) has a placeholder object that says it is alive
        for ever; on Linux the kernel's own list of the process's threads is asked.
        """
        if not isinstance(self.thread, threading._DummyThread):
            return self.thread.is_alive()
        return os.path.exists(f"/proc/self/task/{self._native_id}") \
            if os.path.isdir("/proc/self/task") else True

    def release_stream(self, transport: IStreamTransport, wbuf: WriteBuffer) -> None:
        """Close the transport of a socket nobody references, after its queued writes.

        Qt deletes such a socket and drops what it had not sent; here the bytes
        still leave (a graceful close), for at most :data:`ORPHAN_DRAIN_SECONDS`.
        """
        transport.set_interest(False, False)
        if not wbuf.size:
            transport.close()
            return
        spawn_delivery(self.hub, _drain_then_close, transport, wbuf,
                       monotonic() + ORPHAN_DRAIN_SECONDS)

    def sleep(self, seconds: float) -> None:
        gevent.sleep(seconds)




def _drain_then_close(transport: IStreamTransport, wbuf: WriteBuffer, deadline: float) -> None:
    try:
        while wbuf.size and not transport.closed:
            try:
                sent = transport.send(wbuf.chunks if len(wbuf.chunks) <= wbuf.MAX_IOV
                                      else wbuf.head())
            except BlockingIOError:
                sent = 0
            except OSError:
                return
            if sent:
                wbuf.consume(sent)
                continue
            remaining = deadline - monotonic()
            if remaining <= 0:
                return
            transport.wait(False, True, remaining)
    finally:
        transport.close()
