"""``from qlsock.QtNetwork import ...`` in place of ``from PySide6.QtNetwork import ...``.

The local-socket classes: :class:`QLocalServer`, :class:`QLocalSocket` and
:class:`QAbstractSocket` (whose enums they use). Anything else of QtNetwork (TCP, UDP,
SSL, HTTP) raises an ImportError that says so.
"""

from __future__ import annotations

from typing import Any

from .abstractsocket import QAbstractSocket
from .localserver import QLocalServer
from .localsocket import QLocalSocket
from .QtCore import missing

__all__ = ["QAbstractSocket", "QLocalServer", "QLocalSocket"]


def __getattr__(name: str) -> Any:
    if not name.startswith("__"):
        raise missing(__name__, name,
                      f"qlsock.QtNetwork has no {name}: qlsock provides Qt's local sockets "
                      "only (QLocalServer, QLocalSocket, QAbstractSocket); see docs/porting.md")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
