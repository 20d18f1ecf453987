"""Delivery of readiness from the hub to owners, in greenlets.

Hub callbacks must not run user code, yet a socket's owner emits signals whose slots
may block. The dispatcher is the bridge: an io watcher's hub callback only queues its
transport here; a worker greenlet drains the queue and calls each owner. One worker
serves every ready descriptor of a hub wake-up, so a thousand readable sockets cost
one greenlet switch, not a thousand. Between wake-ups the worker stays parked, so
no greenlet is created per event.

If a slot blocks (it waits for data, sleeps, writes to a full pipe), the worker is
suspended in the middle of a delivery. The next item queued from the hub then starts
a fresh worker, so one blocking slot never stalls the other sockets, nor the blocked
slot's own socket or server: its next readiness is delivered by the fresh worker (the
owner keeps its signals from nesting). Items queued already (several descriptors
ready in one wake-up, a reply a slot wrote before it blocked) are handed over too: a
worker that delivers while items wait behind it leaves a hub callback that starts a
fresh worker if it finds it still in the middle of that delivery. A suspended worker
that resumes finishes its own delivery and exits.

Workers are :class:`DeliveryGreenlet` instances. Nobody but qlsock waits on them, so
whatever a slot lets escape in one (a ``gevent.Timeout``, a ``kill()``) is reported and
swallowed there instead of ending the worker (see :mod:`qlsock.signals`); should
anything still end one, the dispatcher forgets it and the next item starts another.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from gevent import get_hub
from greenlet import getcurrent, greenlet

from .report import report_failure

__all__ = ["DeliveryGreenlet", "Dispatcher", "spawn_delivery"]


class DeliveryGreenlet(greenlet):
    """A greenlet of qlsock's own that runs user code on the hub's behalf."""


class Deliverable(Protocol):
    def deliver(self) -> None: ...


def spawn_delivery(hub: Any, function: Callable[..., Any], *args: Any) -> DeliveryGreenlet:
    """Run *function(*args)* in a new :class:`DeliveryGreenlet` on the next loop pass."""

    def run() -> None:
        try:
            function(*args)
        except BaseException:
            report_failure(function, *sys.exc_info())

    runner = DeliveryGreenlet(run, parent=hub)
    hub.loop.run_callback(runner.switch)
    return runner


class Dispatcher:
    """Per-hub queue of ready watchers and the worker greenlet that serves it."""

    __slots__ = ("_hub", "delivering", "parked", "queue", "resume", "run_callback",
                 "watching", "worker")

    def __init__(self, hub: Any = None) -> None:
        self._hub = hub if hub is not None else get_hub()
        self.queue: deque[Deliverable] = deque()
        self.worker: greenlet | None = None
        # True while the worker waits, idle, for the next item. The hub callbacks
        # that queue readiness wake it themselves in this common case:
        # ``run_callback(resume)`` after putting the item in the queue.
        self.parked = False
        self.resume: Any = None
        self.run_callback = self._hub.loop.run_callback
        self.delivering = False
        # True while a rescue() callback is queued in the hub.
        self.watching = False

    def schedule(self, item: Deliverable) -> None:
        """Queue *item* for delivery (called in the hub)."""
        self.queue.append(item)
        worker = self.worker
        if self.parked and worker is not None:
            self.parked = False
            self.run_callback(self.resume)
        elif worker is None or self.delivering:
            # No worker yet, or the current one is suspended inside a slot.
            self._new_worker()

    def watch(self) -> None:
        """Make sure the items queued behind the current delivery are not held up
        should it block (called from the worker, before or while delivering)."""
        if not self.watching:
            self.watching = True
            self.run_callback(self._rescue)

    def _rescue(self) -> None:
        # Runs in the hub. Only a worker that yielded in the middle of a delivery
        # lets the hub run this before it parks.
        self.watching = False
        if self.delivering and self.queue:
            self._new_worker()

    def _new_worker(self) -> None:
        self.delivering = False
        self.parked = False
        worker = self.worker = DeliveryGreenlet(self._run, parent=self._hub)
        self.resume = worker.switch
        self.run_callback(worker.switch)

    def _run(self) -> None:
        me = getcurrent()
        queue = self.queue
        hub = self._hub
        try:
            while self.worker is me:
                while queue and self.worker is me:
                    item = queue.popleft()
                    if queue:
                        self.watch()
                    self.delivering = True
                    try:
                        item.deliver()
                    except BaseException:
                        report_failure("qlsock: delivering I/O readiness", *sys.exc_info())
                    finally:
                        if self.worker is me:
                            self.delivering = False
                if self.worker is not me:
                    return
                self.parked = True
                hub.switch()
        finally:
            # Thrown out of its park (killed, or collected with its hub): forget it,
            # and let a fresh worker serve what is already queued.
            if self.worker is me:
                self.worker = None
                self.parked = self.delivering = False
                if queue and not getattr(hub, "dead", False) and hub.loop is not None:
                    self._new_worker()
