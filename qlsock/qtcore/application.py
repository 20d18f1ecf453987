"""``QCoreApplication``: ``exec()`` runs gevent's hub until ``quit()`` or ``exit()``.

gevent's hub is the event loop, and it runs whenever a greenlet waits, so an
application object is not needed to make qlsock work; this one exists so that a Qt
program's ``app = QCoreApplication(sys.argv)`` ... ``sys.exit(app.exec())`` ports by its
import. ``exec()`` blocks the calling greenlet (the program's main one) while the hub
serves everything else, until ``quit()``/``exit(code)`` is called from a slot or
another greenlet; it then returns the code. Unlike ``gevent.wait()``, it does not return
when nothing is left to do: a Qt event loop waits for ever.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import gevent
from gevent.event import Event

from ..hub import current_engine
from ..qobject import QObject
from ..signals import Signal

__all__ = ["QCoreApplication"]

#: How long the timer that keeps an ``exec()`` with nothing else to do alive sleeps.
_FOREVER = 365 * 24 * 3600.0


class QCoreApplication(QObject):
    """Qt's ``QCoreApplication``, as far as headless local-socket programs use it."""

    #: ``aboutToQuit()``: ``exec()`` is about to return.
    aboutToQuit = Signal()

    _instance: QCoreApplication | None = None
    _application_name = ""
    _organization_name = ""
    _organization_domain = ""
    _application_version = ""

    def __init__(self, argv: Sequence[str] | None = None) -> None:
        if QCoreApplication._instance is not None:
            raise RuntimeError("a QCoreApplication already exists (Qt allows one per "
                               "process: use QCoreApplication.instance())")
        super().__init__()
        self._argv = list(sys.argv if argv is None else argv)
        if self._argv and not QCoreApplication._application_name:
            QCoreApplication._application_name = os.path.basename(self._argv[0])
        self._engine = current_engine()
        self._finished: Event | None = None
        self._code = 0
        QCoreApplication._instance = self

    @staticmethod
    def instance() -> QCoreApplication | None:
        return QCoreApplication._instance

    def exec(self) -> int:
        """Run until ``quit()``/``exit()``; the exit code."""
        if self._finished is not None:
            raise RuntimeError("QCoreApplication.exec() is already running")
        finished = self._finished = Event()
        self._code = 0
        keepalive = self._engine.loop.timer(_FOREVER, _FOREVER)
        keepalive.start(_nothing)
        try:
            finished.wait()
            self.aboutToQuit.emit()
        finally:
            keepalive.close()
            self._finished = None
        return self._code

    exec_ = exec  # noqa: A003 (Qt 5 spelling)

    def exit(self, returnCode: int = 0) -> None:
        """Make ``exec()`` return *returnCode* (nothing happens if it is not running)."""
        self._code = int(returnCode)
        if self._finished is not None:
            self._finished.set()

    @staticmethod
    def quit() -> None:
        """``exit(0)`` on the application (a static slot, as in Qt)."""
        app = QCoreApplication._instance
        if app is not None:
            app.exit(0)

    @staticmethod
    def processEvents(*args: Any) -> None:
        """Let the hub run what is ready (one cooperative yield)."""
        gevent.sleep(0)

    @staticmethod
    def applicationPid() -> int:
        return os.getpid()

    @staticmethod
    def arguments() -> list[str]:
        app = QCoreApplication._instance
        return list(app._argv) if app is not None else list(sys.argv)

    @staticmethod
    def applicationName() -> str:
        return QCoreApplication._application_name

    @staticmethod
    def setApplicationName(name: str) -> None:
        QCoreApplication._application_name = name

    @staticmethod
    def applicationVersion() -> str:
        return QCoreApplication._application_version

    @staticmethod
    def setApplicationVersion(version: str) -> None:
        QCoreApplication._application_version = version

    @staticmethod
    def organizationName() -> str:
        return QCoreApplication._organization_name

    @staticmethod
    def setOrganizationName(name: str) -> None:
        QCoreApplication._organization_name = name

    @staticmethod
    def organizationDomain() -> str:
        return QCoreApplication._organization_domain

    @staticmethod
    def setOrganizationDomain(domain: str) -> None:
        QCoreApplication._organization_domain = domain

    def _destroy(self) -> None:
        if QCoreApplication._instance is self:
            QCoreApplication._instance = None

    def shutdown(self) -> None:
        """Forget this application so that another may be made (PySide6's name)."""
        self.exit(0)
        self._destroy()


def _nothing() -> None:
    """The keep-alive timer's callback: it only keeps the loop from running dry."""
