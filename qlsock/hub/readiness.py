"""Readiness plumbing shared by stream transports and listening endpoints.

Each watched descriptor has libev io watchers (one for reading; one for writing,
made on first use), a mask of readiness collected in the hub and not yet consumed
(``_pending``), and at most one waiting greenlet. A hub callback either wakes the
waiting greenlet or queues the descriptor on the hub's
:class:`~qlsock.hub.dispatcher.Dispatcher`.

The watcher is left running across a delivery that completes in the same hub
iteration (the common case): stopping and restarting it for every event would
cost two watcher calls per event for nothing. Only when readiness fires again
while the owner is still busy with the previous one (a slot blocks) is the watcher
stopped, so that a level-triggered descriptor never spins the loop; it is started
again once the delivery is over.

Starting a watcher is deferred to the moment the hub is about to poll (the
engine's once-per-iteration reconcile): a ``write()`` followed by ``waitFor*`` or
``flush()`` sends the bytes before the hub runs, and its interest in writability
is withdrawn again before any watcher was started. Stopping one is immediate.
"""

from __future__ import annotations

import _socket
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

from gevent.hub import Waiter
from greenlet import getcurrent

from ..errors import ConcurrentWaitError
from ..interfaces import READ, WRITE

if TYPE_CHECKING:
    from .engine import HubEngine

__all__ = ["Watched"]


class Watched:
    """A non-blocking descriptor whose readiness the hub reports."""

    __slots__ = (
        "__weakref__",
        "_active",
        "_callback",
        "_delivering",
        "_dispatcher",
        "_engine",
        "_interest",
        "_owed",
        "_pending",
        "_queued",
        "_rw",
        "_sock",
        "_timed",
        "_timer",
        "_timer_due",
        "_waiter",
        "_ww",
        "closed",
    )

    def __init__(self, engine: HubEngine, sock: _socket.socket) -> None:
        self._sock = sock
        self._engine = engine
        self._dispatcher = engine.dispatcher
        # A watcher per direction, each with a fixed mask: changing one watcher's
        # mask makes libev re-register the descriptor (a system call). The write
        # watcher is made when first needed: a socket whose writes the kernel
        # always takes at once never needs one, nor a listener.
        # The stubs lack the watchers' ``active`` flag; they are typed loosely.
        self._rw: Any = engine.loop.io(sock.fileno(), READ)
        self._ww: Any = None
        # What the watchers are started for now (0: both stopped).
        self._active = 0
        self._callback: Callable[[int], Any] | None = None
        self._interest = 0
        self._pending = 0
        self._waiter: Waiter[Any] | None = None
        self._queued = False
        self._delivering = False
        # True while queued for the engine's reconcile (see _set_interest).
        self._owed = False
        # The timeout timer, kept between waits (see _wait); when it expires at
        # the latest (time.monotonic()); True while a wait is timed by it.
        self._timer: Any = None
        self._timer_due = 0.0
        self._timed = False
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
        self._active = 0
        if self._timer is not None:
            self._timer.close()
        waiter = self._waiter
        if waiter is not None:
            self._engine.loop.run_callback(waiter.switch, None)
        self._sock.close()

    def _set_interest(self, read: bool, write: bool) -> None:
        mask = (READ if read else 0) | (WRITE if write else 0)
        self._interest = mask
        active = self._active
        if mask == active or self._queued or self._delivering or self.closed:
            return
        if mask & ~active:
            dispatcher = self._dispatcher
            if mask & WRITE and dispatcher.delivering and self._waiter is None \
                    and getcurrent() is dispatcher.worker:
                # Written from a slot the dispatcher runs (a reply to a new
                # connection, a broadcast): flush it in this same pass, as if the
                # hub had found the socket writable, rather than a loop iteration
                # later. A full kernel buffer makes that delivery start the watcher.
                self._pending |= WRITE
                self._queued = True
                dispatcher.queue.append(self)
                return
            # Watching for more: left to the engine's reconcile, just before the
            # hub polls. Interest that is withdrawn before then (the bytes left
            # inside waitFor*/flush) never costs a watcher start and stop.
            if not self._owed:
                self._owed = True
                deferred = self._engine.deferred
                if not deferred:
                    self._engine.loop.run_callback(self._engine.reconcile)
                deferred.append(self.reconcile)
        elif self._waiter is None:
            # A parked wait keeps what it watches (its exit restores the interest).
            self._apply(mask)

    def reconcile(self) -> None:
        """Start the watchers the interest needs (called in the hub, before it polls)."""
        self._owed = False
        mask = self._interest
        if mask == self._active or self._queued or self._delivering or self.closed:
            return
        if self._waiter is not None:
            # A parked wait must not hide readiness another greenlet now needs (a
            # write queued from elsewhere while a handler waits to read): watch for
            # it too; the woken wait serves it, and its exit restores the interest.
            if mask & ~self._active:
                self._apply(self._active | mask)
            return
        self._apply(mask)

    def _apply(self, mask: int) -> None:
        """Watch for *mask* (0: stop watching); callers skip it when unchanged."""
        changed = mask ^ self._active
        self._active = mask
        if changed & READ:
            if mask & READ:
                self._rw.start(self._fire, READ)
            else:
                self._rw.stop()
        if changed & WRITE:
            ww = self._ww
            if mask & WRITE:
                if ww is None:
                    ww = self._ww = self._engine.loop.io(self._sock.fileno(), WRITE)
                ww.start(self._fire, WRITE)
            else:
                ww.stop()

    def _fire(self, events: int) -> None:
        # Runs in the hub: bookkeeping only.
        self._pending |= events
        waiter = self._waiter
        if waiter is not None:
            waiter.switch(None)
        elif self._queued or self._delivering:
            # The owner has not finished with earlier readiness (a slot is
            # blocked): stop watching until it has, or the loop would spin.
            self._apply(0)
        else:
            self._queued = True
            dispatcher = self._dispatcher
            if dispatcher.parked:
                # Dispatcher.schedule(), inlined for its common case: one call
                # less per event.
                dispatcher.queue.append(self)
                dispatcher.parked = False
                dispatcher.run_callback(dispatcher.resume)
            else:
                dispatcher.schedule(self)

    def deliver(self) -> None:
        """Hand collected readiness to the owner (called by the dispatcher)."""
        self._queued = False
        events = self._pending
        if events and not self.closed and self._callback is not None:
            self._pending = 0
            self._delivering = True
            try:
                self._callback(events)
            finally:
                self._delivering = False
        if self._interest != self._active and self._waiter is None and not self.closed:
            self._apply(self._interest)

    def _wait(self, read: bool, write: bool, timeout: float | None) -> int:
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
        mask = (READ if read else 0) | (WRITE if write else 0)
        waiter: Waiter[Any] = Waiter()
        self._waiter = waiter
        timer = None
        try:
            if mask != self._active:
                self._apply(mask)
            if timeout is not None:
                # One timer serves many waits: it is left running, unreferenced
                # (it keeps no hub alive), after a wait ends, and a later wait
                # whose deadline is no earlier than its expiry reuses it. Expiring
                # early only wakes the waitFor* loop, which checks its deadline
                # and waits again; a timer made, started and closed per wait
                # cost more than that rare extra turn.
                timeout = max(timeout, 0.0)
                due = monotonic() + timeout
                timer = self._timer
                if timer is None or self._timer_due > due or not timer.active:
                    if timer is not None:
                        timer.close()
                    timer = self._timer = self._engine.loop.timer(timeout)
                    timer.start(self._expired)
                    self._timer_due = due
                else:
                    timer.ref = True
                self._timed = True
            waiter.get()
        finally:
            self._waiter = None
            if timer is not None:
                self._timed = False
                timer.ref = False
            if not self.closed:
                # Straight to the background interest: a watcher that is wanted
                # both during and after the wait is never stopped and restarted.
                want = 0 if self._queued or self._delivering else self._interest
                if want != self._active:
                    self._apply(want)
        events = self._pending
        self._pending = 0
        return events

    def _expired(self) -> None:
        # Runs in the hub. The timer may outlive the wait it was started for:
        # it ends only a wait that it times.
        waiter = self._waiter
        if waiter is not None and self._timed:
            waiter.switch(None)

    def _what(self) -> str:
        return "descriptor"
