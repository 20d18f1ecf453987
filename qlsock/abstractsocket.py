"""``QAbstractSocket``: the namespace of Qt's socket enums.

Only its enums are used by the local-socket API (``QLocalServer.serverError()``
returns a ``QAbstractSocket.SocketError``); it is not a socket class here.
"""

from __future__ import annotations

from typing import TypeAlias

from .enums import SocketError, SocketState

__all__ = ["QAbstractSocket"]


class QAbstractSocket:
    """Qt's ``QAbstractSocket`` enums: ``SocketError`` and ``SocketState``."""

    SocketError: TypeAlias = SocketError
    SocketState: TypeAlias = SocketState
    # Qt's enum members on the class (QLocalSocket.PeerClosedError), spelled out
    # so type checkers see them as well as the interpreter.
    ConnectionRefusedError = SocketError.ConnectionRefusedError
    RemoteHostClosedError = SocketError.RemoteHostClosedError
    HostNotFoundError = SocketError.HostNotFoundError
    SocketAccessError = SocketError.SocketAccessError
    SocketResourceError = SocketError.SocketResourceError
    SocketTimeoutError = SocketError.SocketTimeoutError
    DatagramTooLargeError = SocketError.DatagramTooLargeError
    NetworkError = SocketError.NetworkError
    AddressInUseError = SocketError.AddressInUseError
    SocketAddressNotAvailableError = SocketError.SocketAddressNotAvailableError
    UnsupportedSocketOperationError = SocketError.UnsupportedSocketOperationError
    UnfinishedSocketOperationError = SocketError.UnfinishedSocketOperationError
    ProxyAuthenticationRequiredError = SocketError.ProxyAuthenticationRequiredError
    SslHandshakeFailedError = SocketError.SslHandshakeFailedError
    ProxyConnectionRefusedError = SocketError.ProxyConnectionRefusedError
    ProxyConnectionClosedError = SocketError.ProxyConnectionClosedError
    ProxyConnectionTimeoutError = SocketError.ProxyConnectionTimeoutError
    ProxyNotFoundError = SocketError.ProxyNotFoundError
    ProxyProtocolError = SocketError.ProxyProtocolError
    OperationError = SocketError.OperationError
    SslInternalError = SocketError.SslInternalError
    SslInvalidUserDataError = SocketError.SslInvalidUserDataError
    TemporaryError = SocketError.TemporaryError
    UnknownSocketError = SocketError.UnknownSocketError
    UnconnectedState = SocketState.UnconnectedState
    HostLookupState = SocketState.HostLookupState
    ConnectingState = SocketState.ConnectingState
    ConnectedState = SocketState.ConnectedState
    BoundState = SocketState.BoundState
    ListeningState = SocketState.ListeningState
    ClosingState = SocketState.ClosingState
