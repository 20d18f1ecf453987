"""Readiness plumbing shared by stream transports and listening endpoints.

Each watched descriptor has libev io watchers, a mask of readiness collected in the
hub and not yet consumed (``_pending``), and at most one waiting greenlet. A hub
callback stops the watchers that fired and either wakes the waiting greenlet or
queues the descriptor on the hub's :class:`~qlsock.hub.dispatcher.Dispatcher`.
Watchers stay stopped until the readiness is consumed, so a level-triggered
descriptor never spins the loop while its owner is busy.
"""

from __future__ import annotations

import _socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gevent.hub import Waiter

from ..errors import ConcurrentWaitError
from ..interfaces import READ, WRITE

if TYPE_CHECKING:
    from .engine import HubEngine

__all__ = ["Watched"]


class Watched:
    """A non-blocking descriptor whose readiness the hub reports."""

    __slots__ = (
        "__weakref__",
        "_callback",
        "_delivering",
        "_dispatcher",
        "_engine",
        "_interest",
        "_pending",
        "_queued",
        "_rw",
        "_sock",
        "_waiter",
        "_ww",
        "closed",
    )

    def __init__(self, engine: HubEngine, sock: _socket.socket, *, writable: bool) -> None:
        loop = engine.loop
        fd = sock.fileno()
        self._sock = sock
        self._engine = engine
        self._dispatcher = engine.dispatcher
        # The stubs lack the watchers' ``active`` flag; they are typed loosely.
        self._rw: Any = loop.io(fd, READ)
        self._ww: Any = loop.io(fd, WRITE) if writable else None
        self._callback: Callable[[int], Any] | None = None
        self._interest = 0
        self._pending = 0
        self._waiter: Waiter[Any] | None = None
        self._queued = False
        self._delivering = False
        self.closed = False

    def fileno(self) -> int:
        return -1 if self.closed else self._sock.fileno()

    def start(self, callback: Callable[[int], Any]) -> None:
        self._callback = callback

    def close(self) -> None:
        """Stop watching, wake a waiting greenlet, close the descriptor."""
        if self.closed:
            return
        self.closed = True
        self._rw.close()
        if self._ww is not None:
            self._ww.close()
        waiter = self._waiter
        if waiter is not None:
            self._engine.loop.run_callback(waiter.switch, None)
        self._sock.close()

    def _set_interest(self, mask: int) -> None:
        self._interest = mask
        self._arm()

    def _arm(self) -> None:
        if self._queued or self._delivering or self.closed:
            return
        if self._waiter is not None:
            # A parked wait must not hide readiness another greenlet now needs (a
            # write queued from elsewhere while a handler waits to read): watch for
            # it too; the woken wait serves it, and its exit restores the interest.
            self._watch_also(self._interest)
            return
        self._apply(self._interest)

    def _watch_also(self, mask: int) -> None:
        if mask & READ and not self._rw.active:
            self._rw.start(self._fire, READ)
        ww = self._ww
        if mask & WRITE and ww is not None and not ww.active:
            ww.start(self._fire, WRITE)

    def _apply(self, mask: int) -> None:
        rw = self._rw
        if mask & READ:
            if not rw.active:
                rw.start(self._fire, READ)
        elif rw.active:
            rw.stop()
        ww = self._ww
        if ww is not None:
            if mask & WRITE:
                if not ww.active:
                    ww.start(self._fire, WRITE)
            elif ww.active:
                ww.stop()

    def _fire(self, event: int) -> None:
        # Runs in the hub: bookkeeping only.
        self._pending |= event
        waiter = self._waiter
        if waiter is not None:
            # The waiter runs at once and sets the watchers itself; stopping them
            # here would only make it start them again.
            waiter.switch(None)
            return
        self._apply(0)
        if not self._queued and not self._delivering:
            self._queued = True
            self._dispatcher.schedule(self)

    def deliver(self) -> None:
        """Hand collected readiness to the owner (called by the dispatcher)."""
        self._queued = False
        events = self._pending
        if self.closed or not events or self._callback is None:
            self._arm()
            return
        self._pending = 0
        self._delivering = True
        try:
            self._callback(events)
        finally:
            self._delivering = False
            self._arm()

    def _wait(self, mask: int, timeout: float | None) -> int:
        events = self._pending
        if events:
            self._pending = 0
            return events
        if self.closed:
            return 0
        if self._waiter is not None:
            raise ConcurrentWaitError(
                f"another greenlet is already waiting on this {self._what()}; "
                "only one greenlet may wait on it at a time"
            )
        waiter: Waiter[Any] = Waiter()
        self._waiter = waiter
        timer = None
        try:
            self._apply(mask)
            if timeout is not None:
                timer = self._engine.loop.timer(max(timeout, 0.0))
                timer.start(waiter.switch, None)
            waiter.get()
        finally:
            self._waiter = None
            if timer is not None:
                timer.close()
            if not self.closed:
                # Straight to the background interest: a watcher that is wanted
                # both during and after the wait is never stopped and restarted.
                self._apply(0 if self._queued or self._delivering else self._interest)
        events = self._pending
        self._pending = 0
        return events

    def _what(self) -> str:
        return "descriptor"
