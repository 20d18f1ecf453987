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
from .activation import ActivationError, listen_activated, listen_fd, listen_fds
from .client import connect
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
from .qobject import QObject
from .signals import BoundSignal, Signal, Slot
from .singleinstance import SingleInstance, SingleInstanceError
from .socketfile import ListenError, Probe, ServerStatus, probe, remove_stale
from .socketstyle import IncompleteReadError, MessageTooLargeError
from .streamserver import LocalStreamServer, serve

__all__ = [
    "ActivationError",
    "BoundSignal",
    "ConcurrentWaitError",
    "IncompleteReadError",
    "ListenError",
    "LocalServerSocketOption",
    "LocalSocketError",
    "LocalSocketOption",
    "LocalSocketState",
    "LocalStreamServer",
    "MessageTooLargeError",
    "OpenModeFlag",
    "Probe",
    "QAbstractSocket",
    "QIODevice",
    "QLocalServer",
    "QLocalSocket",
    "QObject",
    "ServerStatus",
    "Signal",
    "SingleInstance",
    "SingleInstanceError",
    "Slot",
    "SocketError",
    "SocketState",
    "WrongThreadError",
    "__version__",
    "connect",
    "listen_activated",
    "listen_fd",
    "listen_fds",
    "logger",
    "probe",
    "remove_stale",
    "serve",
]
