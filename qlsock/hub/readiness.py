"""Readiness plumbing shared by stream transports and listening endpoints.

Each watched descriptor has libev io watchers (one for reading; one for writing,
made on first use), a mask of readiness collected in the hub for background
delivery and not yet consumed (``_pending``), and the greenlets waiting on it. A hub
callback wakes the waiting greenlets whose mask covers what fired, and queues the
rest of the readiness for the hub's :class:`~qlsock.hub.dispatcher.Dispatcher`.

Several greenlets may wait at once (an owner decides who may: a socket allows one
reader, one writer and one disconnect-waiter). Deliveries may overlap: while one
greenlet is suspended in the owner's callback (a slot that blocks), readiness that
fires again is delivered again from another greenlet, so that reading, writing and
accepting go on as in a Qt slot that runs a nested event loop; the owner keeps its
own signals from nesting. Readiness is always consumed by a delivery or a waiter
(a read, a write, an accept) or dropped from the interest, so a level-triggered
watcher never spins the loop.

Starting a watcher is deferred to the moment the hub is about to poll (the
engine's once-per-iteration reconcile): a ``write()`` followed by ``waitFor*`` or
``flush()`` sends the bytes before the hub runs, and its interest in writability
is withdrawn again before any watcher was started. Stopping one is immediate.
"""

from __future__ import annotations

import _socket
import weakref
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

from gevent.hub import Waiter
from greenlet import getcurrent

from ..interfaces import READ, WRITE

if TYPE_CHECKING:
    from .engine import HubEngine

__all__ = ["Watched"]


class _Wait:
    """One greenlet waiting on a descriptor: what it waits for, until when."""

    __slots__ = ("deadline", "events", "mask", "waiter")

    def __init__(self, mask: int, deadline: float | None) -> None:
        self.mask = mask
        self.deadline = deadline
        self.events = 0
        self.waiter: Waiter[Any] = Waiter()


class Watched:
    """A non-blocking descriptor whose readiness the hub reports."""

    __slots__ = (
        "__weakref__",
        "_active",
        "_dispatcher",
        "_engine",
        "_func",
        "_interest",
        "_owed",
        "_owner",
        "_pending",
        "_queued",
        "_rw",
        "_sock",
        "_timer",
        "_timer_due",
        "_waits",
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
        # The owner, held weakly (the hub must not keep an unreferenced socket or
        # server alive), and the function delivery calls on it.
        self._owner: Any = None
        self._func: Callable[[Any, int], Any] | None = None
        self._interest = 0
        self._pending = 0
        # Made by the first wait: most descriptors are never waited on (a list is
        # 56 bytes per connection).
        self._waits: list[_Wait] | None = None
        self._queued = False
        # True while queued for the engine's reconcile (see _set_interest).
        self._owed = False
        # The timeout timer, shared by the timed waits and kept between them (see
        # _wait), and when it expires at the latest (time.monotonic()).
        self._timer: Any = None
        self._timer_due = 0.0
        self.closed = False

    def fileno(self) -> int:
        return -1 if self.closed else self._sock.fileno()

    def start(self, callback: Callable[[int], Any]) -> None:
        owner = getattr(callback, "__self__", None)
        if owner is None:
            self._owner, self._func = None, lambda _owner, events: callback(events)
        else:
            self._owner = weakref.ref(owner)
            self._func = callback.__func__  # type: ignore[attr-defined]

    def close(self) -> None:
        """Stop watching, wake the waiting greenlets, close the descriptor."""
        if self.closed:
            return
        self.closed = True
        try:
            self._rw.close()
            if self._ww is not None:
                self._ww.close()
            self._active = 0
            if self._timer is not None:
                self._timer.close()
            self.wake()
        finally:
            # Also when the hub is gone (an object released after its thread ended).
            self._sock.close()

    def wake(self) -> None:
        """Make every waiting greenlet look again (called from a greenlet)."""
        run_callback = self._engine.loop.run_callback
        for wait in self._waits or ():
            run_callback(wait.waiter.switch, None)

    def deliver_writable(self) -> None:
        # Runs in the hub. A socket's buffered bytes usually all leave in one send:
        # delivering "writable" at once costs no watcher start and stop (two
        # epoll_ctl calls) and no loop iteration; a short send raises the interest.
        if self.closed:
            return
        self._pending |= WRITE
        if not self._queued:
            self._queued = True
            self._dispatcher.schedule(self)

    def _set_interest(self, read: bool, write: bool) -> None:
        mask = (READ if read else 0) | (WRITE if write else 0)
        self._interest = mask
        active = self._active
        if mask == active or self._queued or self.closed:
            return
        if mask & ~active:
            dispatcher = self._dispatcher
            if mask & WRITE and dispatcher.delivering and not self._waits \
                    and getcurrent() is dispatcher.worker:
                # Written from a slot the dispatcher runs (a reply to a new
                # connection, a broadcast): flush it in this same pass, as if the
                # hub had found the socket writable, rather than a loop iteration
                # later. A full kernel buffer makes that delivery start the watcher.
                self._pending |= WRITE
                self._queued = True
                dispatcher.queue.append(self)
                dispatcher.watch()
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
        else:
            want = mask | self._waited() if self._waits else mask
            if want != active:
                self._apply(want)

    def _waited(self) -> int:
        mask = 0
        for wait in self._waits or ():
            mask |= wait.mask
        return mask

    def reconcile(self) -> None:
        """Start the watchers the interest needs (called in the hub, before it polls)."""
        self._owed = False
        mask = self._interest
        if self._waits:
            mask |= self._waited()
        if mask == self._active or self._queued or self.closed:
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
        # Runs in the hub: bookkeeping and switches only.
        waits = self._waits
        if waits:
            rest = events
            if len(waits) == 1:
                wait = waits[0]
                if wait.mask & events:
                    rest &= ~wait.mask
                    wait.events |= events
                    wait.waiter.switch(None)
            else:
                # A woken greenlet may wait again before the next one is woken: the
                # snapshot keeps a new wait from being woken by old readiness.
                for wait in tuple(waits):
                    if wait.mask & events:
                        rest &= ~wait.mask
                        wait.events |= events
                        if wait in waits:
                            wait.waiter.switch(None)
            if not rest & self._interest or self.closed:
                return
            events = rest
        self._pending |= events
        if self._queued:
            return
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
        if events and not self.closed:
            self._pending = 0
            owner = self._owner
            if owner is not None:
                owner = owner()
                if owner is None:
                    return
            self._func(owner, events)  # type: ignore[misc]
        if not self.closed:
            mask = self._interest
            if self._waits:
                mask |= self._waited()
            if mask != self._active:
                self._apply(mask)

    def _wait(self, read: bool, write: bool, timeout: float | None) -> int:
        if self.closed:
            return 0
        mask = (READ if read else 0) | (WRITE if write else 0)
        if timeout is None:
            wait = _Wait(mask, None)
        else:
            timeout = max(timeout, 0.0)
            wait = _Wait(mask, monotonic() + timeout)
        waits = self._waits
        if waits is None:
            waits = self._waits = []
        waits.append(wait)
        timer = None
        try:
            if mask & ~self._active:
                self._apply(self._active | mask)
            if timeout is not None:
                # One timer serves many waits: it is left running, unreferenced
                # (it keeps no hub alive), after a wait ends, and a later wait
                # whose deadline is no earlier than its expiry reuses it. Expiring
                # early only wakes the waitFor* loop, which checks its deadline
                # and waits again; a timer made, started and closed per wait
                # cost more than that rare extra turn.
                due = wait.deadline
                timer = self._timer
                if timer is None or self._timer_due > due or not timer.active:  # type: ignore[operator]
                    if timer is not None:
                        timer.close()
                    timer = self._timer = self._engine.loop.timer(timeout)
                    timer.start(self._expired)
                    self._timer_due = due  # type: ignore[assignment]
                else:
                    timer.ref = True
            wait.waiter.get()
        finally:
            waits.remove(wait)
            if timer is not None:
                # No other timed wait: the timer keeps the hub alive no longer.
                # (A loop: a generator per wait cost more.)
                for other in waits:
                    if other.deadline is not None:
                        break
                else:
                    timer.ref = False
            if not self.closed:
                # Straight to the background interest: a watcher that is wanted
                # both during and after the wait is never stopped and restarted.
                want = self._interest
                if waits:
                    want |= self._waited()
                if want != self._active and not self._queued:
                    self._apply(want)
        return wait.events

    def _expired(self) -> None:
        # Runs in the hub. The timer may outlive the waits it was started for: it
        # wakes the timed waits still there, and each checks its own deadline.
        # A wait woken before its own deadline waits again, with the timer re-armed.
        waits = self._waits or []
        for wait in tuple(waits):
            if wait.deadline is not None and wait in waits:
                wait.waiter.switch(None)

    def _what(self) -> str:
        return "descriptor"
