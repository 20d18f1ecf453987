"""``qlsock.connect()``: a connected socket in one call, or an exception that says why.

The gevent face's counterpart of ``socket.create_connection``: no Qt ceremony
(construct, ``connectToServer``, ``waitForConnected``, check ``error()``).
"""

from __future__ import annotations

import os
import time

from .enums import LocalSocketError, LocalSocketOption, LocalSocketState
from .localsocket import CONNECT_TIMEOUT, QLocalSocket
from .naming import full_server_name
from .socketstyle import socket_error

__all__ = ["connect"]


def connect(name: str | os.PathLike[str], timeout: float | None = None, *,
            abstract: bool = False) -> QLocalSocket:
    """Connect to server *name* and return the connected :class:`QLocalSocket`.

    *name* resolves as ``QLocalSocket.connectToServer`` resolves it (``$TMPDIR/name``,
    or an absolute path; the abstract namespace with *abstract*). *timeout* (seconds;
    None: Qt's 30 s) bounds the wait while the server's backlog is full, and becomes
    the socket's :meth:`~QLocalSocket.settimeout` for the socket-style calls.

    Raises, with the path (or abstract name) in the message and Qt's error code in
    ``exc.qt_error``: :class:`FileNotFoundError` (no server there),
    :class:`ConnectionRefusedError` (a socket file nobody listens on),
    :class:`PermissionError`, :class:`TimeoutError` (the backlog stayed full), or
    :class:`OSError` for anything else. The socket is a context manager that closes it.
    """
    if timeout is not None and (isinstance(timeout, bool) or
                                not isinstance(timeout, (int, float)) or timeout < 0):
        raise ValueError(f"connect(): timeout must be None or a number of seconds >= 0, "
                         f"not {timeout!r}")
    sock = QLocalSocket()
    if abstract:
        sock.setSocketOptions(LocalSocketOption.AbstractNamespaceOption)
    deadline = time.monotonic() + (CONNECT_TIMEOUT if timeout is None else timeout)
    sock.connectToServer(name)
    if sock.state() is LocalSocketState.ConnectingState:
        sock.waitForConnected(max(int((deadline - time.monotonic()) * 1000), 0))
    if sock.state() is not LocalSocketState.ConnectedState:
        code = sock.error()
        text = sock.errorString()
        if sock.state() is LocalSocketState.ConnectingState:
            code = LocalSocketError.SocketTimeoutError
            text = "the server's backlog stayed full"
        sock.abort()
        raise socket_error(code, f"cannot connect{_where(os.fspath(name), abstract, text)}: "
                                 f"{text}")
    sock.settimeout(timeout)
    return sock


def _where(name: str, abstract: bool, text: str) -> str:
    """The message's ``to NAME`` part, with the path NAME resolves to; empty when
    *text* names that already (connectToServer's detail does for every refused
    connect) or there is no name."""
    full = name if abstract or not name or name.startswith("/") else full_server_name(name)
    if not full or (repr(full) if abstract else full) in text:
        return ""
    return f" to {name}" if full == name else f" to {name}, that is {full}"
