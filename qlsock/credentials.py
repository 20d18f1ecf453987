"""Who is at the other end of a local socket: ``SO_PEERCRED`` (not in Qt).

The kernel records the peer's process id, user id and group id when the
connection is made (``connect()`` for the server's view, ``listen()`` for the
client's), so they cannot be forged by the peer afterwards. Linux only; other
systems raise :class:`NotImplementedError`.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from typing import NamedTuple

from ._log import logger

__all__ = ["PeerCredentials", "admit", "allowed_uids", "peer_credentials"]

_SO_PEERCRED = getattr(socket, "SO_PEERCRED", None)
_UCRED = struct.Struct("3i")


class PeerCredentials(NamedTuple):
    """The peer's process id, user id and group id when the connection was made."""

    pid: int
    uid: int
    gid: int


def peer_credentials(fd: int) -> PeerCredentials:
    """The credentials of the peer of connected ``AF_UNIX`` descriptor *fd*.

    Raises ``OSError`` if *fd* is not a connected local socket and
    ``NotImplementedError`` where the system has no ``SO_PEERCRED``.
    """
    if _SO_PEERCRED is None:
        raise NotImplementedError("peer credentials need SO_PEERCRED (Linux)")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=fd)
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERCRED, _UCRED.size)
    finally:
        sock.detach()
    return PeerCredentials(*_UCRED.unpack(raw))


def allowed_uids(uids: Iterable[int] | None, what: str) -> frozenset[int] | None:
    """*uids* validated as a set of user ids (None: no policy); *what* names the call."""
    if uids is None:
        return None
    if isinstance(uids, (str, bytes)) or not isinstance(uids, Iterable):
        raise TypeError(f"{what} takes an iterable of ints or None, not {type(uids).__name__}")
    allowed = frozenset(uids)
    for uid in allowed:
        if not isinstance(uid, int) or isinstance(uid, bool) or uid < 0:
            raise ValueError(f"{what}: {uid!r} is not a user id (a non-negative int)")
    return allowed


def admit(fd: int, allowed: frozenset[int], server: str) -> bool:
    """Apply a uid policy to accepted *fd*: True to serve it.

    A refused connection is logged (WARNING, naming *server* and the peer's pid and
    uid) and closed here so that the client reads end-of-file; the caller must not
    use *fd* afterwards.
    """
    try:
        creds = peer_credentials(fd)
    except OSError as exc:
        logger.warning("%s: refused a connection whose credentials cannot be read: %s",
                       server, exc.strerror)
        _close_refused(fd)
        return False
    if creds.uid in allowed:
        return True
    logger.warning("%s: refused a connection from pid %d (uid %d, gid %d): uid not in the "
                   "allowed uids", server, creds.pid, creds.uid, creds.gid)
    _close_refused(fd)
    return False


def _close_refused(fd: int) -> None:
    """Close a refused connection so that the client reads end-of-file.

    Closing a local socket with unread data makes the peer's next read fail with
    ECONNRESET; shutting both directions first stops the client sending more,
    and what it already sent is discarded (a bounded, non-blocking drain).
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=fd)
    try:
        sock.shutdown(socket.SHUT_RDWR)
        sock.setblocking(False)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()
