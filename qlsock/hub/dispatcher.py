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

    __slots__ = ("_delivering", "_hub", "_parked", "_queue", "_worker")

    def __init__(self, hub: Any = None) -> None:
        self._hub = hub if hub is not None else get_hub()
        self._queue: deque[Deliverable] = deque()
        self._worker: greenlet | None = None
        # True while the worker waits, idle, for the next item.
        self._parked = False
        self._delivering = False

    def schedule(self, item: Deliverable) -> None:
        """Queue *item* for delivery (called in the hub)."""
        self._queue.append(item)
        worker = self._worker
        if self._parked and worker is not None:
            self._parked = False
            self._hub.loop.run_callback(worker.switch)
        elif worker is None or self._delivering:
            # No worker yet, or the current one is suspended inside a slot.
            self._delivering = False
            worker = self._worker = greenlet(self._run, parent=self._hub)
            self._hub.loop.run_callback(worker.switch)

    def _run(self) -> None:
        me = getcurrent()
        queue = self._queue
        hub = self._hub
        while self._worker is me:
            while queue and self._worker is me:
                item = queue.popleft()
                self._delivering = True
                try:
                    item.deliver()
                except Exception:
                    logger.exception("qlsock: internal error while delivering I/O readiness")
                finally:
                    if self._worker is me:
                        self._delivering = False
            if self._worker is not me:
                return
            self._parked = True
            hub.switch()
