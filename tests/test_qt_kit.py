"""The porting kit's QObject, QTimer and QCoreApplication, beside PySide6's.

``tests/peers/qt_kit.py`` holds scenarios written once against QtCore's API; they run
on PySide6 6.11 in a child process and on ``qlsock.QtCore`` here. Object trees, signal
order and exit codes must be the same. Timers are compared by the order of their
timeouts, which must be the order of their deadlines (planned at least 10 ms apart),
and qlsock's timeouts are checked against the hub's clock: never early, and late by no
more than a busy machine explains.
"""

from __future__ import annotations

import json
import os
from typing import Any

import gevent
import pytest
from gevent.event import Event

from qlsock import QtCore

from .peers import qt_kit
from .peers.process import pyside6_observations
from .support import qtry, send_now

#: How late a timeout may be on a loaded 2-core machine (ms).
LATE_MS = 40


@pytest.fixture(scope="module")
def qt() -> dict[str, Any]:
    """What PySide6 observed, scenario by scenario (one child process for all)."""
    return pyside6_observations("qt_kit.py")


@pytest.fixture
def app() -> Any:
    application = QtCore.QCoreApplication.instance() or QtCore.QCoreApplication([])
    yield application
    application.shutdown()


def run(name: str, app: Any) -> Any:
    return json.loads(json.dumps(qt_kit.SCENARIOS[name](QtCore, app)))


@pytest.mark.parametrize("name", ["object_tree", "delete_later", "exec_and_exit", "sender",
                                  "disconnect_during_emission"])
def test_same_as_pyside6(qt: dict[str, Any], app: Any, name: str) -> None:
    assert run(name, app) == qt[name]


def test_timers_fire_in_deadline_order_as_in_pyside6(qt: dict[str, Any], app: Any) -> None:
    mine = run("timers", app)
    theirs = qt["timers"]
    plan = [name for name, _ in qt_kit.TIMER_PLAN]
    assert [e[0] for e in theirs["log"]] == plan
    assert [e[0] for e in mine["log"]] == plan
    assert [e[2] for e in mine["log"]] == [e[2] for e in theirs["log"]]
    for (name, due), (_, at, _) in zip(qt_kit.TIMER_PLAN, mine["log"], strict=True):
        assert due - 1 <= at <= due + LATE_MS, (name, due, at)
    drop = ("log",)
    assert {k: v for k, v in mine.items() if k not in drop} == \
        {k: v for k, v in theirs.items() if k not in drop}


def test_remaining_time_counts_down_on_the_hubs_clock(app: Any) -> None:
    timer = QtCore.QTimer()
    timer.setSingleShot(True)
    timer.start(200)
    first = timer.remainingTime()
    QtCore.QTimer.singleShot(50, app.quit)
    app.exec()
    later = timer.remainingTime()
    assert 190 <= first <= 200
    assert 0 < later <= first - 45
    assert timer.isActive()
    timer.stop()
    assert timer.remainingTime() == -1


def test_an_unreferenced_running_timer_stops(app: Any) -> None:
    """As an unreferenced PySide6 timer is deleted: the hub holds timers weakly."""
    fired: list[int] = []

    def start() -> None:
        timer = QtCore.QTimer()
        timer.timeout.connect(lambda: fired.append(1))
        timer.start(10)

    start()
    QtCore.QTimer.singleShot(60, app.quit)
    app.exec()
    assert fired == []


def test_a_parent_keeps_its_timer_running(app: Any) -> None:
    owner = QtCore.QObject()
    fired: list[int] = []
    timer = QtCore.QTimer(owner)
    timer.timeout.connect(lambda: fired.append(1))
    timer.start(10)
    del timer
    QtCore.QTimer.singleShot(60, app.quit)
    app.exec()
    assert len(fired) >= 3


def test_single_shot_with_a_deleted_context_does_nothing(app: Any) -> None:
    context = QtCore.QObject()
    fired: list[int] = []
    QtCore.QTimer.singleShot(20, context, lambda: fired.append(1))
    context.deleteLater()
    QtCore.QTimer.singleShot(60, app.quit)
    app.exec()
    assert fired == []


def test_a_raising_timeout_slot_is_reported_and_the_timer_goes_on(
        app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import gevent

    seen: list[type] = []
    monkeypatch.setattr(gevent.get_hub(), "handle_error",
                        lambda context, kind, value, tb: seen.append(kind))
    ticks: list[int] = []
    timer = QtCore.QTimer()

    def tick() -> None:
        ticks.append(1)
        raise gevent.Timeout()

    timer.timeout.connect(tick)
    timer.start(10)
    QtCore.QTimer.singleShot(65, app.quit)
    app.exec()
    assert len(ticks) >= 3
    assert seen[:3] == [gevent.Timeout] * 3


def test_names_outside_the_kit_raise_an_import_error_that_says_so() -> None:
    with pytest.raises(ImportError, match=r"porting\.md"):
        from qlsock.QtCore import QSettings  # noqa: F401
    with pytest.raises(ImportError, match="local sockets only"):
        from qlsock.QtNetwork import QTcpSocket  # noqa: F401
    with pytest.raises(AttributeError):
        QtCore.__wrapped__  # noqa: B018
    with pytest.raises(ImportError, match="has no Property"):
        from qlsock.QtCore import Property  # noqa: F401
    # Compatibility checks answer as for any module.
    assert not hasattr(QtCore, "QThread")
    assert getattr(QtCore, "QSettings", None) is None
    from qlsock import QtNetwork

    assert not hasattr(QtNetwork, "QTcpSocket")


def test_pyqt_spellings() -> None:
    assert QtCore.pyqtSignal is QtCore.Signal
    assert QtCore.pyqtSlot is QtCore.Slot

    class Sender(QtCore.QObject):
        changed = QtCore.pyqtSignal(int)

        @QtCore.pyqtSlot(int)
        def on_changed(self, value: int) -> None:
            self.seen = value

        @QtCore.Slot
        def bare(self) -> None:
            self.bare_called = True

    sender = Sender()
    sender.changed.connect(sender.on_changed)
    sender.changed.connect(sender.bare)
    sender.changed.emit(4)
    assert sender.seen == 4
    assert sender.bare_called


def test_delete_later_closes_sockets_and_servers(app: Any, tmpdir_env: str) -> None:
    """deleteLater on a server closes it (its file goes) and aborts its children, as
    Qt's destructors do; destroyed is emitted for each."""
    from qlsock.QtNetwork import QLocalServer, QLocalSocket

    server = QLocalServer()
    assert server.listen("gone")
    client = QLocalSocket()
    client.connectToServer("gone")
    assert server.waitForNewConnection(2000) == (True, False)
    accepted = server.nextPendingConnection()
    assert accepted is not None
    assert accepted.parent() is server
    destroyed: list[str] = []
    server.destroyed.connect(lambda *_: destroyed.append("server"))
    accepted.destroyed.connect(lambda *_: destroyed.append("socket"))
    server.deleteLater()
    assert server.isListening()  # not yet: on a later pass of the hub
    QtCore.QTimer.singleShot(50, app.quit)
    app.exec()
    assert destroyed == ["server", "socket"]
    assert not server.isListening()
    assert not os.path.exists(os.path.join(tmpdir_env, "gone"))
    assert accepted.state() == QLocalSocket.UnconnectedState
    assert client.waitForDisconnected(2000)


class Watcher(QtCore.QObject):
    """A receiver whose slots note ``sender()``; ``hold`` makes readyRead slots block."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []
        self.hold: dict[Any, Event] = {}

    def on_new_connection(self) -> None:
        self.seen.append(("newConnection", self.sender()))

    def on_ready_read(self) -> None:
        sock = self.sender()
        self.seen.append(("readyRead", sock))
        if sock in self.hold:
            self.hold[sock].wait()
            self.seen.append(("readyRead, after blocking", self.sender()))
        sock.readAll()

    def on_disconnected(self) -> None:
        self.seen.append(("disconnected", self.sender()))


def test_sender_is_the_socket_or_server_inside_a_slot_and_none_outside(
        tmpdir_env: str) -> None:
    """Signals the hub delivers (newConnection, readyRead, a peer's disconnect): sender()
    is the emitting server or socket inside the receiver's slot, None outside it."""
    from qlsock.QtNetwork import QLocalServer, QLocalSocket

    watcher = Watcher()
    server = QLocalServer()
    assert server.listen("senders")
    server.newConnection.connect(watcher.on_new_connection)
    client = QLocalSocket()
    client.disconnected.connect(watcher.on_disconnected)
    client.connectToServer("senders")
    assert qtry(lambda: watcher.seen)
    conn = server.nextPendingConnection()
    assert conn is not None
    conn.readyRead.connect(watcher.on_ready_read)
    send_now(client, b"x")
    assert qtry(lambda: len(watcher.seen) == 2)
    conn.disconnectFromServer()
    assert qtry(lambda: len(watcher.seen) == 3)
    assert watcher.seen == [("newConnection", server), ("readyRead", conn),
                            ("disconnected", client)]
    assert watcher.sender() is None
    watcher.on_disconnected()  # called directly: no sender
    assert watcher.seen[-1] == ("disconnected", None)
    server.close()


def test_sender_stays_right_while_slots_block_and_other_deliveries_interleave(
        tmpdir_env: str) -> None:
    """Two connections' readyRead slots on one receiver, each blocked in its own delivery
    greenlet while the other runs: each still sees its own socket as sender(), and the
    test's greenlet sees None meanwhile."""
    from qlsock.QtNetwork import QLocalServer, QLocalSocket

    watcher = Watcher()
    server = QLocalServer()
    assert server.listen("interleaved")
    clients, conns = [], []
    for _ in range(2):
        client = QLocalSocket()
        client.connectToServer("interleaved")
        assert server.waitForNewConnection(2000) == (True, False)
        conn = server.nextPendingConnection()
        assert conn is not None
        conn.readyRead.connect(watcher.on_ready_read)
        watcher.hold[conn] = Event()
        clients.append(client)
        conns.append(conn)
    first, second = conns
    send_now(clients[0], b"1")
    assert qtry(lambda: watcher.seen == [("readyRead", first)])
    send_now(clients[1], b"2")
    assert qtry(lambda: len(watcher.seen) == 2)
    assert watcher.sender() is None  # both slots are blocked, in other greenlets
    watcher.hold[first].set()
    assert qtry(lambda: len(watcher.seen) == 3)
    watcher.hold[second].set()
    assert qtry(lambda: len(watcher.seen) == 4)
    assert watcher.seen == [("readyRead", first), ("readyRead", second),
                            ("readyRead, after blocking", first),
                            ("readyRead, after blocking", second)]
    gevent.sleep(0)
    assert watcher.sender() is None
    server.close()
