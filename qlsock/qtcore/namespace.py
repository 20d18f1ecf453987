"""The ``Qt`` namespace, as far as the kit's classes take its values.

Programs pass ``Qt.QueuedConnection`` to ``connect()`` and ``Qt.PreciseTimer`` to
``QTimer.setTimerType()``; the values are Qt's. qlsock connections are always direct
(a slot runs in the greenlet that emits) and every timer runs on the hub's clock, so
both are accepted and kept, with no effect (see docs/porting.md).
"""

from __future__ import annotations

import enum

__all__ = ["Qt"]


class Qt:
    """Qt's namespace of enums (the members the kit's classes take)."""

    class ConnectionType(enum.IntEnum):
        AutoConnection = 0
        DirectConnection = 1
        QueuedConnection = 2
        BlockingQueuedConnection = 3
        UniqueConnection = 0x80
        SingleShotConnection = 0x100

    class TimerType(enum.IntEnum):
        PreciseTimer = 0
        CoarseTimer = 1
        VeryCoarseTimer = 2

    AutoConnection = ConnectionType.AutoConnection
    DirectConnection = ConnectionType.DirectConnection
    QueuedConnection = ConnectionType.QueuedConnection
    BlockingQueuedConnection = ConnectionType.BlockingQueuedConnection
    UniqueConnection = ConnectionType.UniqueConnection
    SingleShotConnection = ConnectionType.SingleShotConnection
    PreciseTimer = TimerType.PreciseTimer
    CoarseTimer = TimerType.CoarseTimer
    VeryCoarseTimer = TimerType.VeryCoarseTimer
