"""``QAbstractSocket``: the namespace of Qt's socket enums.

Only its enums are used by the local-socket API (``QLocalServer.serverError()``
returns a ``QAbstractSocket.SocketError``); it is not a socket class here.
"""

from __future__ import annotations

from typing import TypeAlias

from .enums import SocketError, SocketState, export_members

__all__ = ["QAbstractSocket"]


class QAbstractSocket:
    """Qt's ``QAbstractSocket`` enums: ``SocketError`` and ``SocketState``."""

    SocketError: TypeAlias = SocketError
    SocketState: TypeAlias = SocketState
    export_members(locals(), SocketError, SocketState)
