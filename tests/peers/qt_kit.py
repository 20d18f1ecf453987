"""Porting-kit scenarios written once against QtCore's API, for PySide6 and for qlsock.

Each scenario takes a QtCore module (``PySide6.QtCore`` or ``qlsock.QtCore``) and
returns what it observed as plain data. Timer scenarios run the module's event loop
(``QCoreApplication.exec()``) and record the order of events and, loosely, when they
happened; the caller compares orders exactly and times within a tolerance.

``python tests/peers/qt_kit.py`` runs every scenario on PySide6 (offscreen) and prints
one JSON object; ``tests/test_qt_kit.py`` runs them on qlsock and compares.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def object_tree(qc: Any, app: Any) -> dict[str, Any]:
    """Names, parents, children, findChildren, blockSignals, tr."""
    log: list[Any] = []
    root = qc.QObject()
    root.setObjectName("root")
    root.objectNameChanged.connect(lambda name: log.append(["nameChanged", name]))
    root.setObjectName("root2")
    root.setObjectName("root2")  # no change, no signal
    a = qc.QObject(root)
    a.setObjectName("a")
    b = qc.QObject(root)
    b.setObjectName("b")
    c = qc.QObject(a)
    c.setObjectName("c")
    tree = {
        "children": [o.objectName() for o in root.children()],
        "find": [o.objectName() for o in root.findChildren(qc.QObject)],
        "findNamed": (root.findChild(qc.QObject, "c") or qc.QObject()).objectName(),
        "parentOfC": c.parent().objectName(),
    }
    b.setParent(a)
    tree["afterReparent"] = [o.objectName() for o in root.children()]
    tree["childrenOfA"] = [o.objectName() for o in a.children()]
    was = root.blockSignals(True)
    root.setObjectName("blocked")
    tree["blockedWas"] = was
    tree["blocked"] = root.signalsBlocked()
    root.blockSignals(False)
    root.setObjectName("unblocked")
    tree["tr"] = qc.QObject.tr("hello")
    tree["log"] = log
    return tree


def delete_later(qc: Any, app: Any) -> dict[str, Any]:
    """deleteLater: nothing at once; on the next loop pass, destroyed, children first."""
    log: list[str] = []
    parent = qc.QObject()
    parent.setObjectName("parent")
    child = qc.QObject(parent)
    child.setObjectName("child")
    parent.destroyed.connect(lambda *_: log.append("parent destroyed"))
    child.destroyed.connect(lambda *_: log.append("child destroyed"))
    parent.deleteLater()
    log.append("after deleteLater")
    qc.QTimer.singleShot(50, app.quit)
    app.exec()
    return {"log": log}


#: When each timer event of :func:`timers` is due (ms after the start), in order; at
#: least 10 ms apart, so that the order is the deadlines' order on a busy machine too.
TIMER_PLAN = [("static20", 20), ("tA", 30), ("rep", 50), ("tB", 70), ("static80", 80),
              ("rep", 100), ("tC", 120), ("rep", 150), ("restarted", 170), ("rep", 200)]


def timers(qc: Any, app: Any) -> dict[str, Any]:
    """Single-shot and repeating timers: order of timeouts, isActive inside the slot,
    restart, stop, the static singleShot, the inactive timer's answers."""
    log: list[Any] = []
    start = time.monotonic()
    keep: list[Any] = []

    def stamp(what: str, **extra: Any) -> None:
        log.append([what, (time.monotonic() - start) * 1000, extra])

    for name, ms in (("tC", 120), ("tA", 30), ("tB", 70)):
        t = qc.QTimer()
        t.setTimerType(qc.Qt.PreciseTimer)
        t.setSingleShot(True)
        t.timeout.connect(lambda name=name, t=t: stamp(name, active=t.isActive()))
        t.start(ms)
        keep.append(t)
    rep = qc.QTimer()
    rep.setTimerType(qc.Qt.PreciseTimer)
    rep.setInterval(50)
    count = [0]

    def tick() -> None:
        count[0] += 1
        stamp("rep", active=rep.isActive(), n=count[0])
        if count[0] == 4:
            rep.stop()

    rep.timeout.connect(tick)
    rep.start()
    keep.append(rep)
    qc.QTimer.singleShot(20, lambda: stamp("static20"))
    qc.QTimer.singleShot(80, lambda: stamp("static80"))
    restart = qc.QTimer()
    restart.setSingleShot(True)
    restart.timeout.connect(lambda: stamp("restarted"))
    restart.start(5)
    restart.start(170)  # restarting moves the deadline
    keep.append(restart)
    stopped = qc.QTimer()
    stopped.timeout.connect(lambda: stamp("never"))
    stopped.start(10)
    stopped.stop()
    keep.append(stopped)
    idle = qc.QTimer()
    info = {"inactiveRemaining": idle.remainingTime(), "inactiveId": idle.timerId(),
            "defaultInterval": idle.interval(), "singleShotDefault": idle.isSingleShot()}
    qc.QTimer.singleShot(260, app.quit)
    code = app.exec()
    return {"log": log, "code": code, **info}


def exec_and_exit(qc: Any, app: Any) -> dict[str, Any]:
    """exec() returns exit()'s code; aboutToQuit before it returns; exec() again works."""
    log: list[Any] = []
    app.aboutToQuit.connect(lambda: log.append("aboutToQuit"))
    qc.QTimer.singleShot(10, lambda: app.exit(3))
    log.append(["first", app.exec()])
    qc.QTimer.singleShot(10, qc.QCoreApplication.quit)
    log.append(["second", app.exec()])
    log.append(["instance", qc.QCoreApplication.instance() is app])
    log.append(["pid", qc.QCoreApplication.applicationPid() == os.getpid()])
    return {"log": log}


def sender(qc: Any, app: Any) -> dict[str, Any]:
    """QObject.sender(): the emitter inside a bound-method slot (and what it calls), None
    outside it, in a direct call and for slots that are lambdas; the chained signal's
    owner; a receiver's sender while its slot emits to another; a timer's timeout."""
    log: list[Any] = []

    def name(obj: Any) -> Any:
        return None if obj is None else obj.objectName()

    class Emitter(qc.QObject):
        fired = qc.Signal(int)

    class Listener(qc.QObject):
        relay = qc.Signal(int)

        def on_fired(self, n: int) -> None:
            log.append(["slot", n, name(self.sender())])
            self.helper(n)
            self.relay.emit(n)

        def helper(self, n: int) -> None:
            log.append(["called by the slot", n, name(self.sender())])

        def on_relay(self, n: int) -> None:
            log.append(["relayed", n, name(self.sender()), name(first.sender())])

        def on_timeout(self) -> None:
            log.append(["timeout", name(self.sender())])
            app.quit()

    a, b, first, second = Emitter(), Emitter(), Listener(), Listener()
    for obj, text in ((a, "a"), (b, "b"), (first, "first"), (second, "second")):
        obj.setObjectName(text)
    a.fired.connect(first.on_fired)
    b.fired.connect(first.on_fired)
    a.fired.emit(1)
    b.fired.emit(2)
    log.append(["after the slots", name(first.sender())])
    first.on_fired(3)
    b.fired.connect(lambda n: log.append(["lambda", n, name(first.sender())]))
    first.relay.connect(second.on_relay)
    a.fired.disconnect(first.on_fired)
    a.fired.connect(b.fired)
    a.fired.emit(4)
    timer = qc.QTimer()
    timer.setObjectName("timer")
    timer.setSingleShot(True)
    timer.timeout.connect(first.on_timeout)
    timer.start(0)
    app.exec()
    return {"log": log}


def disconnect_during_emission(qc: Any, app: Any) -> dict[str, Any]:
    """A slot disconnects a later slot and connects a new one during an emission: the
    disconnected slot is not called any more, the new one waits for the next."""
    log: list[str] = []

    class Emitter(qc.QObject):
        fired = qc.Signal()

    e = Emitter()

    def late() -> None:
        log.append("late")

    def added() -> None:
        log.append("added")

    def first() -> None:
        log.append("first")
        e.fired.disconnect(late)
        e.fired.connect(added)

    e.fired.connect(first)
    e.fired.connect(late)
    e.fired.emit()
    log.append("|")
    e.fired.disconnect(first)
    e.fired.emit()
    return {"log": log}


SCENARIOS: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    f.__name__: f for f in (object_tree, delete_later, timers, exec_and_exit, sender,
                            disconnect_during_emission)
}


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore

    app = QtCore.QCoreApplication([])
    results = {name: json.loads(json.dumps(f(QtCore, app))) for name, f in SCENARIOS.items()}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
