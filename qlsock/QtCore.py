"""``from qlsock.QtCore import ...`` in place of ``from PySide6.QtCore import ...``.

The part of QtCore that programs using local sockets use beside them (see
docs/porting.md): :class:`QObject`, ``Signal``/``Slot`` (and PyQt's ``pyqtSignal``/
``pyqtSlot``), :class:`QTimer` and :class:`QCoreApplication` on gevent's hub,
:class:`QIODevice`, :class:`QDataStream`, :class:`QTextStream` and :class:`QByteArray`.

Importing anything else of QtCore raises an ImportError that names it and points to
the porting guide, rather than a bare "cannot import name".
"""

from __future__ import annotations

import dis
import sys
from typing import Any

from .iodevice import QIODevice
from .qobject import QObject
from .qtcore.application import QCoreApplication
from .qtcore.namespace import Qt
from .qtcore.timer import QTimer
from .signals import Signal, Slot

pyqtSignal = Signal
pyqtSlot = Slot

__all__ = [
    "QCoreApplication",
    "QIODevice",
    "QObject",
    "QTimer",
    "Qt",
    "Signal",
    "Slot",
    "pyqtSignal",
    "pyqtSlot",
]

_OPTIONAL = {
    "QByteArray": ("qtcore.bytearray", "QByteArray"),
    "QDataStream": ("qtcore.datastream", "QDataStream"),
    "QStringConverter": ("qtcore.stringconverter", "QStringConverter"),
    "QTextStream": ("qtcore.textstream", "QTextStream"),
}


_IMPORT_FROM = dis.opmap["IMPORT_FROM"]


def missing(module: str, name: str, text: str) -> Exception:
    """What asking *module* for a *name* it lacks raises: an ImportError that says so in
    a ``from ... import`` statement, and an AttributeError for ``getattr``/``hasattr``
    (so that compatibility checks answer False, as for any module)."""
    caller = sys._getframe(2)
    if caller.f_code.co_code[caller.f_lasti] == _IMPORT_FROM:
        return ImportError(text, name=module)
    return AttributeError(text)


def __getattr__(name: str) -> Any:
    if name in _OPTIONAL:
        from importlib import import_module

        module, attr = _OPTIONAL[name]
        value = getattr(import_module(f"{__package__}.{module}"), attr)
        globals()[name] = value
        return value
    if not name.startswith("__"):
        raise missing(__name__, name,
                      f"qlsock.QtCore has no {name}: the porting kit covers what programs that "
                      "use local sockets use of QtCore "
                      f"({', '.join(sorted(__all__ + list(_OPTIONAL)))}); see docs/porting.md "
                      "for what is covered and how to replace the rest")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
