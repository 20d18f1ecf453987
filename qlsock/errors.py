"""Error codes, Qt's error texts, and the one errno table per operation.

Qt reports failures through ``error()``/``serverError()`` and ``errorString()``
rather than exceptions; qlsock does the same for everything Qt reports that way.
Python exceptions are kept for misuse Qt cannot express: a wrong argument type
(:class:`TypeError`), an object used from another OS thread
(:class:`WrongThreadError`), two greenlets waiting on one object at once
(:class:`ConcurrentWaitError`).
"""

from __future__ import annotations

import errno
import os

from gevent.exceptions import ConcurrentObjectUseError

from .enums import LocalSocketError, SocketError

__all__ = [
    "ConcurrentWaitError",
    "WrongThreadError",
    "connect_error",
    "listen_error",
    "local_socket_text",
    "stream_error",
]


class WrongThreadError(RuntimeError):
    """An object was used from an OS thread other than the one that created it.

    Each OS thread has its own gevent hub; a socket or server belongs to the hub of
    the thread that created it (Qt's thread affinity). Create the object in the
    thread that uses it.
    """


class ConcurrentWaitError(RuntimeError, ConcurrentObjectUseError):
    """Two greenlets waited for the same thing on one socket or server at once.

    A socket allows one greenlet in each of ``waitForReadyRead``,
    ``waitForBytesWritten`` and ``waitForDisconnected`` (full duplex), a server one in
    ``waitForNewConnection``; gevent raises its ``ConcurrentObjectUseError`` for two
    readers of one socket likewise, and this is a subclass of it, so code that catches
    gevent's exception catches this one. See docs/semantics.md, "Greenlets".
    """


_LOCAL_TEXT = {
    LocalSocketError.ConnectionRefusedError: "Connection refused",
    LocalSocketError.PeerClosedError: "Remote closed",
    LocalSocketError.ServerNotFoundError: "Invalid name",
    LocalSocketError.SocketAccessError: "Socket access error",
    LocalSocketError.SocketResourceError: "Socket resource error",
    LocalSocketError.SocketTimeoutError: "Socket operation timed out",
    LocalSocketError.DatagramTooLargeError: "Datagram too large",
    LocalSocketError.ConnectionError: "Connection error",
    LocalSocketError.UnsupportedSocketOperationError: "The socket operation is not supported",
    LocalSocketError.OperationError: "Operation not permitted when socket is in this state",
}


def _unknown(err: int) -> str:
    # Qt prints only the number; the system's own message is added so the text
    # says what happened (a documented difference).
    return f"Unknown error {err} ({os.strerror(err)})"


def local_socket_text(code: LocalSocketError, err: int = 0) -> str:
    """Qt's text for a ``LocalSocketError`` (without the ``function:`` prefix)."""
    if code is LocalSocketError.UnknownSocketError:
        return _unknown(err) if err else "Unknown error"
    return _LOCAL_TEXT[code]


def connect_error(err: int) -> LocalSocketError | None:
    """Map a ``connect(2)`` errno as ``QLocalSocketPrivate::_q_connectToSocket`` does.

    Returns ``None`` for EAGAIN (the listen backlog is full: retry later).
    """
    if err in (errno.EAGAIN, errno.EWOULDBLOCK):
        return None
    return _CONNECT.get(err, LocalSocketError.UnknownSocketError)


_CONNECT = {
    errno.EINVAL: LocalSocketError.ConnectionRefusedError,
    errno.ECONNREFUSED: LocalSocketError.ConnectionRefusedError,
    errno.ENOENT: LocalSocketError.ServerNotFoundError,
    errno.EACCES: LocalSocketError.SocketAccessError,
    errno.EPERM: LocalSocketError.SocketAccessError,
    errno.ETIMEDOUT: LocalSocketError.SocketTimeoutError,
}


def stream_error(err: int) -> LocalSocketError:
    """Map an errno from ``send``/``recv`` on a connected socket (Qt's socket engine)."""
    return _STREAM.get(err, LocalSocketError.ConnectionError)


_STREAM = {
    errno.EPIPE: LocalSocketError.PeerClosedError,
    errno.ECONNRESET: LocalSocketError.PeerClosedError,
    errno.ENOTCONN: LocalSocketError.PeerClosedError,
    errno.ENOBUFS: LocalSocketError.SocketResourceError,
    errno.ENOMEM: LocalSocketError.SocketResourceError,
    errno.EACCES: LocalSocketError.SocketAccessError,
    errno.EPERM: LocalSocketError.SocketAccessError,
}


_LISTEN = {
    errno.EACCES: (SocketError.SocketAccessError, "Permission denied"),
    errno.ELOOP: (SocketError.HostNotFoundError, "Name error"),
    errno.ENOENT: (SocketError.HostNotFoundError, "Name error"),
    errno.ENAMETOOLONG: (SocketError.HostNotFoundError, "Name error"),
    errno.EROFS: (SocketError.HostNotFoundError, "Name error"),
    errno.ENOTDIR: (SocketError.HostNotFoundError, "Name error"),
    errno.EADDRINUSE: (SocketError.AddressInUseError, "Address in use"),
}


def listen_error(err: int) -> tuple[SocketError, str]:
    """Map an errno from the server side as ``QLocalServerPrivate::setError`` does."""
    return _LISTEN.get(err, (SocketError.UnknownSocketError, _unknown(err)))
