"""qlsock: Qt's ``QLocalServer`` and ``QLocalSocket`` on gevent's hub.

Code written against PySide6/PyQt's local sockets ports by changing the import::

    from qlsock import QLocalServer, QLocalSocket, QAbstractSocket, QIODevice

Every blocking call (``waitForNewConnection``, ``waitFor*``) yields only the calling
greenlet; signals are delivered in greenlets, never in the hub.
"""

from __future__ import annotations

from ._log import logger
from ._version import __version__
from .abstractsocket import QAbstractSocket
from .enums import (
    LocalServerSocketOption,
    LocalSocketError,
    LocalSocketOption,
    LocalSocketState,
    OpenModeFlag,
    SocketError,
    SocketState,
)
from .errors import ConcurrentWaitError, WrongThreadError
from .iodevice import QIODevice
from .localserver import QLocalServer
from .localsocket import QLocalSocket
from .signals import BoundSignal, Signal
from .socketfile import ListenError, Probe, ServerStatus, probe, remove_stale

__all__ = [
    "BoundSignal",
    "ConcurrentWaitError",
    "ListenError",
    "LocalServerSocketOption",
    "LocalSocketError",
    "LocalSocketOption",
    "LocalSocketState",
    "OpenModeFlag",
    "Probe",
    "QAbstractSocket",
    "QIODevice",
    "QLocalServer",
    "QLocalSocket",
    "ServerStatus",
    "Signal",
    "SocketError",
    "SocketState",
    "WrongThreadError",
    "__version__",
    "logger",
    "probe",
    "remove_stale",
]
