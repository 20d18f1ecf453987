"""The porting kit: what Qt programs that use local sockets use of QtCore, on the hub.

Each class lives in a module of its own; :mod:`qlsock.QtCore` is the face programs
import from (``from qlsock.QtCore import QTimer``), as they did from ``PySide6.QtCore``.
"""

from .bytearray import QByteArray
from .datastream import QDataStream
from .stringconverter import QStringConverter
from .textstream import QTextStream

__all__ = ["QByteArray", "QDataStream", "QStringConverter", "QTextStream"]
