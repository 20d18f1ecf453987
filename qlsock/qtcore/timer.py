"""``QTimer`` on gevent's hub.

A timer is a libev timer of the hub; when it fires, ``timeout`` is emitted from a
greenlet qlsock runs for the hub (never in the hub itself), in the order the timers
fired. Timers that fire in the same loop pass are served in the order of their
deadlines, as Qt's timer list does. The hub holds a timer weakly, as it holds sockets:
a running ``QTimer`` nobody references (and that has no parent) stops, as an
unreferenced PySide6 one is deleted.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any

from ..hub import current_engine
from ..iodevice import coerce_size
from ..qobject import QObject
from ..signals import BoundSignal, Signal
from .namespace import Qt

__all__ = ["QTimer"]


class QTimer(QObject):
    """Qt's ``QTimer``: single-shot or repeating, in milliseconds, on the hub."""

    #: ``timeout()``: the interval has passed.
    timeout = Signal()

    # Qt::TimerType values, accepted and kept (the hub's clock is the same for all).
    PreciseTimer = Qt.PreciseTimer
    CoarseTimer = Qt.CoarseTimer
    VeryCoarseTimer = Qt.VeryCoarseTimer

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine = current_engine()
        self._interval = 0
        self._single = False
        self._timer_type = QTimer.CoarseTimer
        self._watcher: Any = None
        self._due = 0.0

    # -- settings ---------------------------------------------------------------------

    def interval(self) -> int:
        return self._interval

    def setInterval(self, msec: int) -> None:
        """Set the interval in ms; a running timer restarts with it, as in Qt."""
        msec = coerce_size(msec, "QTimer.setInterval()")
        self._interval = max(msec, 0)
        if self.isActive():
            self.start()

    def isSingleShot(self) -> bool:
        return self._single

    def setSingleShot(self, singleShot: bool) -> None:
        self._single = bool(singleShot)

    def timerType(self) -> Qt.TimerType:
        return self._timer_type

    def setTimerType(self, atype: int) -> None:
        self._timer_type = Qt.TimerType(coerce_size(atype, "QTimer.setTimerType()"))

    def isActive(self) -> bool:
        return self._watcher is not None

    def timerId(self) -> int:
        """A positive id while active, -1 otherwise (Qt's contract, not its numbers)."""
        if self._watcher is None:
            return -1
        return (id(self._watcher) & 0x7FFFFFFF) or 1

    def remainingTime(self) -> int:
        """Milliseconds until the next timeout; 0 if overdue, -1 when inactive."""
        if self._watcher is None:
            return -1
        return max(round((self._due - time.monotonic()) * 1000), 0)

    # -- running ----------------------------------------------------------------------

    def start(self, msec: int | None = None) -> None:
        """(Re)start with *msec* as the new interval, or the current one."""
        self._engine.check_thread()
        if msec is not None:
            self._interval = max(coerce_size(msec, "QTimer.start()"), 0)
        self._stop_watcher()
        seconds = self._interval / 1000.0
        watcher = self._engine.loop.timer(seconds, 0.0 if self._single else seconds)
        self._watcher = watcher
        self._due = time.monotonic() + seconds
        ref = weakref.ref(self)
        watcher.start(_fired, ref, watcher)

    def stop(self) -> None:
        self._stop_watcher()

    def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.close()

    def _destroy(self) -> None:
        self._stop_watcher()

    def _deliver(self, watcher: Any) -> None:
        if watcher is not self._watcher:
            return  # stopped or restarted since it fired
        if self._single:
            # Inactive inside the slot, as in Qt: the slot may start it again.
            self._stop_watcher()
        else:
            self._due = time.monotonic() + self._interval / 1000.0
        self.timeout.emit()

    # -- single shots -------------------------------------------------------------------

    @staticmethod
    def singleShot(msec: int, *args: Any) -> None:
        """Call a slot once after *msec* ms: ``singleShot(ms, f)``,
        ``singleShot(ms, context, f)`` or ``singleShot(ms, timerType, f)``.

        With a context QObject, nothing is called if the context was deleted
        (``deleteLater``) meanwhile, as in Qt.
        """
        msec = coerce_size(msec, "QTimer.singleShot()")
        if not args or len(args) > 2:
            raise TypeError("QTimer.singleShot(msec, [context or timerType,] slot)")
        slot = args[-1]
        context = args[0] if len(args) == 2 and isinstance(args[0], QObject) else None
        if isinstance(slot, BoundSignal):
            slot = slot.emit
        if not callable(slot):
            raise TypeError(f"QTimer.singleShot(): the slot must be callable, not "
                            f"{type(slot).__name__}")
        engine = current_engine()
        watcher = engine.loop.timer(max(msec, 0) / 1000.0)
        watcher.start(_single_shot, engine, watcher, slot,
                      None if context is None else weakref.ref(context))


def _fired(ref: Callable[[], QTimer | None], watcher: Any) -> None:
    # Runs in the hub: the slots run in a greenlet of qlsock's own.
    timer = ref()
    if timer is None:
        watcher.close()
        return
    timer._engine.spawn(timer._deliver, watcher)


def _single_shot(engine: Any, watcher: Any, slot: Callable[[], Any],
                 context: Callable[[], QObject | None] | None) -> None:
    watcher.close()
    if context is not None:
        obj = context()
        if obj is None or obj._deleted:
            return
    engine.spawn(slot)
