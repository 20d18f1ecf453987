"""Who is at the other end of a local socket: ``SO_PEERCRED`` (not in Qt).

The kernel records the peer's process id, user id and group id when the
connection is made (``connect()`` for the server's view, ``listen()`` for the
client's), so they cannot be forged by the peer afterwards. Linux only; other
systems raise :class:`NotImplementedError`.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

__all__ = ["PeerCredentials", "peer_credentials"]

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
