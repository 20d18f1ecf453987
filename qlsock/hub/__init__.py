"""The gevent hub engine: qlsock's I/O backend.

One :class:`~qlsock.hub.engine.HubEngine` per gevent hub, that is per OS thread,
created on first use. It implements :class:`qlsock.interfaces.IEngine`; its transports
and endpoints implement :class:`~qlsock.interfaces.IStreamTransport` and
:class:`~qlsock.interfaces.IListeningEndpoint`.
"""

from __future__ import annotations

import weakref

from gevent import get_hub

from .engine import HubEngine

__all__ = ["HubEngine", "current_engine"]

_engines: weakref.WeakKeyDictionary[object, HubEngine] = weakref.WeakKeyDictionary()


def current_engine() -> HubEngine:
    """The engine of the calling thread's hub, created on first use."""
    hub = get_hub()
    engine = _engines.get(hub)
    if engine is None:
        engine = _engines[hub] = HubEngine(hub)
    return engine
