"""The stream transport: a connected ``AF_UNIX`` descriptor on gevent's hub."""

from __future__ import annotations

import _socket
import operator
import os
import socket as _stdsocket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from ..interfaces import IStreamTransport
from .readiness import Watched

if TYPE_CHECKING:
    from .engine import HubEngine

__all__ = ["StreamTransport", "address_bytes"]

_NOSIGNAL = getattr(_stdsocket, "MSG_NOSIGNAL", 0)


def address_bytes(address: Any) -> bytes:
    """An ``AF_UNIX`` address as bytes (Python gives ``str`` for paths)."""
    if isinstance(address, str):
        return os.fsencode(address)
    if isinstance(address, bytes):
        return address
    return b""


@implementer(IStreamTransport)
class StreamTransport(Watched):
    """A connected, non-blocking stream socket watched by the hub.

    The ``_socket.socket`` underneath is CPython's own C socket, never gevent's
    cooperative wrapper, so monkey patching does not change it; all waiting goes
    through the watchers in :class:`~qlsock.hub.readiness.Watched`.
    """

    __slots__ = ("_local", "_peer")

    if TYPE_CHECKING:
        def recv(self, size: int) -> bytes: ...
    else:
        # ``transport.recv`` is the C socket's own method, fetched by a C getter:
        # reads are the hottest call, and a Python method here would add a frame.
        recv = property(operator.attrgetter("_sock.recv"))

    def __init__(self, engine: HubEngine, sock: _socket.socket,
                 local: bytes | None = None, peer: bytes | None = None) -> None:
        super().__init__(engine, sock)
        # Addresses already known (an accepted connection's): no system call.
        self._local = local
        self._peer = peer

    if TYPE_CHECKING:
        def set_interest(self, read: bool, write: bool) -> None: ...
        def wait(self, read: bool, write: bool, timeout: float | None) -> int: ...
    else:
        # The shared implementations themselves, not wrappers: both are called
        # on every write and wait.
        set_interest = Watched._set_interest
        wait = Watched._wait

    def send(self, buffers: Sequence[bytes | bytearray | memoryview]) -> int:
        if len(buffers) == 1:
            return self._sock.send(buffers[0], _NOSIGNAL)
        return self._sock.sendmsg(buffers, (), _NOSIGNAL)

    def sockname(self) -> bytes:
        if self._local is not None:
            return self._local
        try:
            return address_bytes(self._sock.getsockname())
        except OSError:
            return b""

    def peername(self) -> bytes:
        if self._peer is not None:
            return self._peer
        try:
            return address_bytes(self._sock.getpeername())
        except OSError:
            return b""

    def _what(self) -> str:
        return "socket"
