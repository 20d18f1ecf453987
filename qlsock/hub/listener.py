"""The listening endpoint: a bound, listening ``AF_UNIX`` descriptor on the hub."""

from __future__ import annotations

import _socket
import errno
from typing import TYPE_CHECKING

from zope.interface import implementer

from .._log import logger
from ..interfaces import IListeningEndpoint
from .readiness import Watched
from .transport import address_bytes

if TYPE_CHECKING:
    from .engine import HubEngine

__all__ = ["BENIGN_ACCEPT_ERRNOS", "CAPACITY_ACCEPT_ERRNOS", "AcceptBackoff",
           "ListeningEndpoint"]

#: accept(2) errors that mean "no connection for you right now", not a failure.
#: Qt's listener is blocking and closes itself on any accept error; a
#: non-blocking one must not (a documented difference).
BENIGN_ACCEPT_ERRNOS = frozenset(
    {errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED, errno.EINTR, errno.EPROTO}
)
#: accept(2) errors that mean the process or system is out of a resource.
CAPACITY_ACCEPT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class AcceptBackoff:
    """The accept-error policy both servers (QLocalServer, LocalStreamServer) share.

    Benign errors (:data:`BENIGN_ACCEPT_ERRNOS`) never get here. Any other error,
    out of descriptors or memory above all, pauses accepting for a delay that
    doubles from 10 ms to 1 s while the failures go on and is reset by the next
    accepted connection; each failure is one WARNING record on the ``qlsock``
    logger, with no traceback. The server never closes itself.
    """

    __slots__ = ("delay",)

    MIN_DELAY = 0.01
    MAX_DELAY = 1.0

    def __init__(self) -> None:
        self.delay = 0.0

    def failed(self, exc: OSError, server: str) -> float:
        """Log *exc* for *server* and return how long to pause accepting."""
        self.delay = min(max(self.delay * 2, self.MIN_DELAY), self.MAX_DELAY)
        kind = "is out of a resource" if exc.errno in CAPACITY_ACCEPT_ERRNOS else "failed"
        logger.warning(
            "%s: accept() %s: %s; the server keeps listening and retries in %.2f s",
            server, kind, exc.strerror or exc, self.delay,
        )
        return self.delay

    def succeeded(self) -> None:
        self.delay = 0.0


@implementer(IListeningEndpoint)
class ListeningEndpoint(Watched):
    """A listening socket whose acceptability the hub reports."""

    __slots__ = ("accepted_fd", "accepted_peer", "address")

    def __init__(self, engine: HubEngine, sock: _socket.socket) -> None:
        super().__init__(engine, sock)
        # The last accepted descriptor (-1: none, or already adopted) and the
        # peer address accept() gave with it, for HubEngine.adopt_accepted().
        self.accepted_fd = -1
        self.accepted_peer: object = ""
        try:
            self.address = address_bytes(sock.getsockname())
        except OSError:
            self.address = b""

    def set_interest(self, accept: bool) -> None:
        self._set_interest(accept, False)

    def wait(self, timeout: float | None) -> bool:
        return bool(self._wait(True, False, timeout))

    def accept(self) -> int | None:
        try:
            # The private accept returns the bare descriptor: the caller wraps it
            # itself, so building a socket object here would be wasted work.
            fd, peer = self._sock._accept()  # type: ignore[attr-defined]
        except OSError as exc:
            if exc.errno in BENIGN_ACCEPT_ERRNOS:
                return None
            raise
        self.accepted_fd = fd
        self.accepted_peer = peer
        return int(fd)

    def _what(self) -> str:
        return "server"
