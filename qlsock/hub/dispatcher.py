"""Delivery of readiness from the hub to owners, in greenlets.

Hub callbacks must not run user code, yet a socket's owner emits signals whose slots
may block. The dispatcher is the bridge: an io watcher's hub callback only queues its
transport here; a worker greenlet drains the queue and calls each owner. One worker
serves every ready descriptor of a hub wake-up, so a thousand readable sockets cost
one greenlet switch, not a thousand. Between wake-ups the worker stays parked, so
no greenlet is created per event.

If a slot blocks (it waits for data, sleeps, writes to a full pipe), the worker is
suspended in the middle of a delivery. The next item queued from the hub then starts
a fresh worker, so one blocking slot never stalls the other sockets. A suspended
worker that resumes finishes its own delivery and exits.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from gevent import get_hub
from greenlet import getcurrent, greenlet

from .._log import logger

__all__ = ["Dispatcher"]


class Deliverable(Protocol):
    def deliver(self) -> None: ...


class Dispatcher:
    """Per-hub queue of ready watchers and the worker greenlet that serves it."""

    __slots__ = ("_hub", "delivering", "parked", "queue", "resume", "run_callback",
                 "worker")

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

    def schedule(self, item: Deliverable) -> None:
        """Queue *item* for delivery (called in the hub)."""
        self.queue.append(item)
        worker = self.worker
        if self.parked and worker is not None:
            self.parked = False
            self.run_callback(self.resume)
        elif worker is None or self.delivering:
            # No worker yet, or the current one is suspended inside a slot.
            self.delivering = False
            worker = self.worker = greenlet(self._run, parent=self._hub)
            self.resume = worker.switch
            self.run_callback(worker.switch)

    def _run(self) -> None:
        me = getcurrent()
        queue = self.queue
        hub = self._hub
        while self.worker is me:
            while queue and self.worker is me:
                item = queue.popleft()
                self.delivering = True
                try:
                    item.deliver()
                except Exception:
                    logger.exception("qlsock: internal error while delivering I/O readiness")
                finally:
                    if self.worker is me:
                        self.delivering = False
            if self.worker is not me:
                return
            self.parked = True
            hub.switch()
