"""Qt's enumerations, with Qt's names and numeric values.

Every enum is an :class:`enum.IntEnum` or :class:`enum.IntFlag`, so values compare
equal to the integers Qt uses (``QLocalSocket.PeerClosedError == 1``) and to the
aliases in other enums that share a value
(``QAbstractSocket.RemoteHostClosedError == QLocalSocket.PeerClosedError``), as in
PySide6.

``repr()`` and ``str()`` give the qualified Qt spelling, the way Qt's ``qDebug``
prints them: ``QLocalSocket.ConnectionRefusedError``, and
``QIODevice.ReadOnly|QIODevice.Text`` for combined flags.
"""

from __future__ import annotations

import enum
from typing import TypeAlias

__all__ = [
    "LocalServerSocketOption",
    "LocalSocketError",
    "LocalSocketOption",
    "LocalSocketState",
    "OpenModeFlag",
    "QIODeviceBase",
    "SocketError",
    "SocketState",
]


class _QtEnum(enum.IntEnum):
    """An IntEnum whose repr is ``Owner.Member`` (Qt's qDebug spelling)."""

    _qt_owner: str

    def __repr__(self) -> str:
        return f"{type(self)._qt_owner}.{self.name}"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)


class _QtFlag(enum.IntFlag):
    """An IntFlag whose repr is ``Owner.A|Owner.B`` (Qt's qDebug spelling)."""

    _qt_owner: str

    def __repr__(self) -> str:
        owner = type(self)._qt_owner
        if self.name is not None and "|" not in self.name:
            return f"{owner}.{self.name}"
        names = [m.name for m in type(self) if m.value and (m.value & self.value) == m.value
                 and bin(m.value).count("1") == 1]
        if not names:
            return f"{owner}.{type(self)(0).name}"
        return "|".join(f"{owner}.{n}" for n in names)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)


class SocketError(_QtEnum):
    """``QAbstractSocket::SocketError``; the type of ``QLocalServer.serverError()``."""

    ConnectionRefusedError = 0
    RemoteHostClosedError = 1
    HostNotFoundError = 2
    SocketAccessError = 3
    SocketResourceError = 4
    SocketTimeoutError = 5
    DatagramTooLargeError = 6
    NetworkError = 7
    AddressInUseError = 8
    SocketAddressNotAvailableError = 9
    UnsupportedSocketOperationError = 10
    UnfinishedSocketOperationError = 11
    ProxyAuthenticationRequiredError = 12
    SslHandshakeFailedError = 13
    ProxyConnectionRefusedError = 14
    ProxyConnectionClosedError = 15
    ProxyConnectionTimeoutError = 16
    ProxyNotFoundError = 17
    ProxyProtocolError = 18
    OperationError = 19
    SslInternalError = 20
    SslInvalidUserDataError = 21
    TemporaryError = 22
    UnknownSocketError = -1


class SocketState(_QtEnum):
    """``QAbstractSocket::SocketState``."""

    UnconnectedState = 0
    HostLookupState = 1
    ConnectingState = 2
    ConnectedState = 3
    BoundState = 4
    ListeningState = 5
    ClosingState = 6


class LocalSocketError(_QtEnum):
    """``QLocalSocket::LocalSocketError``: aliases of :class:`SocketError` values."""

    ConnectionRefusedError = 0
    PeerClosedError = 1
    ServerNotFoundError = 2
    SocketAccessError = 3
    SocketResourceError = 4
    SocketTimeoutError = 5
    DatagramTooLargeError = 6
    ConnectionError = 7
    UnsupportedSocketOperationError = 10
    OperationError = 19
    UnknownSocketError = -1


class LocalSocketState(_QtEnum):
    """``QLocalSocket::LocalSocketState`` (the matching ``SocketState`` values)."""

    UnconnectedState = 0
    ConnectingState = 2
    ConnectedState = 3
    ClosingState = 6


class OpenModeFlag(_QtFlag):
    """``QIODeviceBase::OpenModeFlag``."""

    NotOpen = 0x0
    ReadOnly = 0x1
    WriteOnly = 0x2
    ReadWrite = 0x3
    Append = 0x4
    Truncate = 0x8
    Text = 0x10
    Unbuffered = 0x20
    NewOnly = 0x40
    ExistingOnly = 0x80


class LocalSocketOption(_QtFlag):
    """``QLocalSocket::SocketOption`` (Qt 6.2)."""

    NoOptions = 0x0
    AbstractNamespaceOption = 0x1


class LocalServerSocketOption(_QtFlag):
    """``QLocalServer::SocketOption``."""

    NoOptions = 0x0
    UserAccessOption = 0x1
    GroupAccessOption = 0x2
    OtherAccessOption = 0x4
    WorldAccessOption = 0x7
    AbstractNamespaceOption = 0x8


SocketError._qt_owner = "QAbstractSocket"
SocketState._qt_owner = "QAbstractSocket"
LocalSocketError._qt_owner = "QLocalSocket"
LocalSocketState._qt_owner = "QLocalSocket"
OpenModeFlag._qt_owner = "QIODevice"
LocalSocketOption._qt_owner = "QLocalSocket"
LocalServerSocketOption._qt_owner = "QLocalServer"


class QIODeviceBase:
    """``QIODeviceBase``: the open-mode members that QIODevice, QDataStream and
    QTextStream share in Qt (``QIODevice.ReadOnly``, ``QDataStream.WriteOnly``...),
    spelled out so that type checkers see them as well as the interpreter."""

    OpenModeFlag: TypeAlias = OpenModeFlag
    OpenMode: TypeAlias = OpenModeFlag
    NotOpen = OpenModeFlag.NotOpen
    ReadOnly = OpenModeFlag.ReadOnly
    WriteOnly = OpenModeFlag.WriteOnly
    ReadWrite = OpenModeFlag.ReadWrite
    Append = OpenModeFlag.Append
    Truncate = OpenModeFlag.Truncate
    Text = OpenModeFlag.Text
    Unbuffered = OpenModeFlag.Unbuffered
    NewOnly = OpenModeFlag.NewOnly
    ExistingOnly = OpenModeFlag.ExistingOnly
