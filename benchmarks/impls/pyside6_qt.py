"""PySide6's own QLocalServer / QLocalSocket (real Qt), in a ``QCoreApplication``.

The server is written in signal style (``newConnection`` and ``readyRead`` slots, the
event loop); so are the clients that juggle many connections (ping-pong, fan-in,
idle). Bulk and accept clients use Qt's blocking ``waitFor*`` calls, its fastest way
to drive a single connection. ``read()`` gives a ``QByteArray``; the echo server
hands it straight back to ``write()``, checks copy it out with ``.data()``.
"""

from __future__ import annotations

import os
import time
from argparse import Namespace
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from benchmarks import common
from benchmarks.common import ACK, GO, fail

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before the QCoreApplication

State = QLocalSocket.LocalSocketState


class Loop:
    """The application's event loop; the first failure in a slot ends it."""

    def __init__(self, timeout: float) -> None:
        self.app = QCoreApplication.instance() or QCoreApplication([])
        self.error: BaseException | None = None
        self.timeout = timeout

    def slot(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return common.guarded_slot(fn, self._failed)

    def _failed(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.app.exit(1)

    def quit(self) -> None:
        self.app.exit(0)

    def exec(self, what: str) -> None:
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: self.app.exit(3))
        timer.start(int(self.timeout * 1000))
        code = self.app.exec()
        timer.stop()
        if self.error is not None:
            raise self.error
        if code == 3:
            fail(f"{what} did not finish in {self.timeout:.0f} s")
        if code:
            fail(f"{what}: event loop exited with {code}")


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def read_exact(sock: QLocalSocket, n: int, timeout: int) -> bytes:
    while sock.bytesAvailable() < n:
        if not sock.waitForReadyRead(timeout):
            fail(f"waitForReadyRead: {sock.errorString()}")
    return sock.read(n).data()


def connect_blocking(path: str, timeout: int) -> QLocalSocket:
    sock = QLocalSocket()
    sock.connectToServer(path)
    if not sock.waitForConnected(timeout):
        fail(f"connectToServer: {sock.errorString()}")
    return sock


# -- server -------------------------------------------------------------------------------


def server(args: Namespace) -> None:
    loop = Loop(args.timeout * 4)
    srv = QLocalServer()
    srv.setListenBacklogSize(common.BACKLOG)
    if not srv.listen(args.path):
        fail(f"listen: {srv.errorString()}")
    stats = {"bytes": 0, "closed": 0, "accepted": 0}
    expected_closes = {"pingpong": args.conns, "fanin": args.conns, "bulk": 1,
                       "accept": args.conns, "idle": args.warm + args.conns}[args.workload]
    conns: list[QLocalSocket] = []
    meter = common.IdleMeter(args.warm, args.conns)

    def closed(conn: QLocalSocket) -> None:
        conn.deleteLater()
        stats["closed"] += 1
        if stats["closed"] == expected_closes:
            loop.quit()

    def serve_echo(conn: QLocalSocket) -> None:
        def on_ready_read() -> None:
            data = conn.readAll()
            conn.write(data)
            stats["bytes"] += data.size()

        conn.readyRead.connect(loop.slot(on_ready_read))
        conn.disconnected.connect(loop.slot(lambda: closed(conn)))

    def serve_sink(conn: QLocalSocket) -> None:
        checker = common.BulkChecker(args.size, args.total)

        def on_ready_read() -> None:
            checker.feed(conn.readAll().data())
            if checker.done:
                conn.write(ACK.pack(checker.count))

        def on_disconnected() -> None:
            if not checker.done or conn.bytesAvailable():
                fail(f"bulk: disconnected after {checker.count} bytes")
            stats["bytes"] += checker.count
            closed(conn)

        conn.readyRead.connect(loop.slot(on_ready_read))
        conn.disconnected.connect(loop.slot(on_disconnected))

    def serve_one_byte(conn: QLocalSocket, index: int) -> None:
        conn.disconnected.connect(loop.slot(lambda: closed(conn)))
        conn.write(common.accept_byte(index))
        stats["bytes"] += 1
        conn.disconnectFromServer()

    def on_new_connection() -> None:
        while srv.hasPendingConnections():
            conn = srv.nextPendingConnection()
            index = stats["accepted"]
            stats["accepted"] += 1
            if args.workload == "bulk":
                serve_sink(conn)
            elif args.workload == "accept":
                serve_one_byte(conn, index)
            else:
                serve_echo(conn)
            if args.workload == "idle":
                conns.append(conn)
                turn = meter.on_ready()
                for i in turn or ():
                    conns[i].write(GO)
                    conns[i].flush()

    srv.newConnection.connect(loop.slot(on_new_connection))
    common.ready()
    loop.exec("server")
    srv.close()
    extra = meter.result() if args.workload == "idle" else {}
    common.report(**stats, **extra)


# -- client -------------------------------------------------------------------------------


def client(args: Namespace) -> None:
    perf = time.perf_counter
    w = args.workload
    timeout = ms(args.timeout)
    loop = Loop(args.timeout * 4)
    if w in ("pingpong", "fanin"):
        msgs = common.messages(args.size)
        per = args.rounds // args.conns
        size = args.size
        left = [args.conns]

        def finished() -> None:
            left[0] -= 1
            if not left[0]:
                loop.quit()

        def converse(sock: QLocalSocket, c: int, count: int, then: Callable[[], None]) -> None:
            state = [0]

            def on_ready_read() -> None:
                if sock.bytesAvailable() < size:
                    return
                i = state[0]
                msg = msgs[common.message_index(c, i)]
                common.check_echo(sock.read(size).data(), msg, c)
                if sock.bytesAvailable():
                    fail(f"connection {c}: more bytes than were sent")
                i += 1
                state[0] = i
                if i < count:
                    sock.write(msgs[common.message_index(c, i)])
                else:
                    sock.readyRead.disconnect()
                    then()

            sock.readyRead.connect(loop.slot(on_ready_read))
            sock.write(msgs[common.message_index(c, 0)])

        if w == "pingpong":
            socks = [connect_blocking(args.path, timeout) for _ in range(args.conns)]
            for c, sock in enumerate(socks):  # warm-up, before the clock
                msg = msgs[common.message_index(c, -1)]
                sock.write(msg)
                common.check_echo(read_exact(sock, size, timeout), msg, c)
            t0 = common.clock()
            for c, sock in enumerate(socks):
                converse(sock, c, per, finished)
            loop.exec("ping-pong")
            elapsed = perf() - t0
            for sock in socks:
                sock.abort()
        else:
            keep: list[QLocalSocket] = []

            def visit(c: int) -> None:
                sock = QLocalSocket()
                keep.append(sock)
                sock.disconnected.connect(loop.slot(finished))
                sock.connected.connect(loop.slot(
                    lambda: converse(sock, c, per, sock.disconnectFromServer)))
                sock.errorOccurred.connect(loop.slot(
                    lambda: fail(f"connection {c}: {sock.errorString()}")))
                sock.connectToServer(args.path)

            t0 = common.clock()
            for c in range(args.conns):
                visit(c)
            loop.exec("fan-in")
            elapsed = perf() - t0
        common.report(ops=per * args.conns, bytes=per * args.conns * size, seconds=elapsed)
    elif w == "bulk":
        _, writes = common.bulk_pattern(args.size)
        count = args.total // args.size
        k = len(writes)
        sock = connect_blocking(args.path, timeout)
        t0 = common.clock()
        for i in range(count):
            sock.write(writes[i % k])
            while sock.bytesToWrite():
                if not sock.waitForBytesWritten(timeout):
                    fail(f"waitForBytesWritten: {sock.errorString()}")
        common.check_ack(read_exact(sock, ACK.size, timeout), args.total)
        elapsed = perf() - t0
        sock.disconnectFromServer()
        common.report(ops=count, bytes=args.total, seconds=elapsed)
    elif w == "accept":
        t0 = common.clock()
        for i in range(args.conns):
            sock = connect_blocking(args.path, timeout)
            if sock.state() != State.UnconnectedState and not sock.waitForDisconnected(timeout):
                fail(f"accept: connection {i}: {sock.errorString()}")
            data = sock.readAll().data()
            if data != common.accept_byte(i):
                fail(f"accept: connection {i} got {data!r}")
            sock.close()
        elapsed = perf() - t0
        common.report(ops=args.conns, bytes=args.conns, seconds=elapsed)
    elif w == "idle":
        all_socks: list[QLocalSocket] = []
        waiting = [0]

        def open_batch(n: int) -> None:
            waiting[0] = n
            for _ in range(n):
                sock = QLocalSocket()
                all_socks.append(sock)

                def on_ready_read(sock: QLocalSocket = sock) -> None:
                    if sock.read(1).data() != GO or sock.bytesAvailable():
                        fail("idle: not the go byte")
                    waiting[0] -= 1
                    if not waiting[0]:
                        loop.quit()

                sock.readyRead.connect(loop.slot(on_ready_read))
                sock.connectToServer(args.path)
                if not sock.waitForConnected(timeout):
                    fail(f"idle: connectToServer: {sock.errorString()}")

        t0 = common.clock()
        open_batch(args.warm)
        loop.exec("idle warm-up")
        open_batch(args.conns)
        loop.exec("idle")
        elapsed = perf() - t0
        for sock in all_socks:
            sock.abort()
        common.report(ops=len(all_socks), bytes=len(all_socks), seconds=elapsed)


def main(args: Namespace) -> None:
    (server if args.role == "server" else client)(args)


if __name__ == "__main__":
    common.run_main(main)
