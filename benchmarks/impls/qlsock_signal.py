"""qlsock in signal style: ``newConnection``, ``readyRead``, ``bytesWritten`` and
``disconnected`` slots, as a Qt program is written; the hub replaces ``app.exec()``.

Slots only ``write()``; the bytes leave when the hub next runs, as in Qt where they
leave when control returns to the event loop. The main greenlet only waits for the
end (a gevent ``Event``), as ``app.exec()`` would.
"""

from __future__ import annotations

import time
from argparse import Namespace
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event

from benchmarks import common
from benchmarks.common import ACK, GO, fail
from qlsock import QLocalServer, QLocalSocket


class Loop:
    """``app.exec()`` / ``app.quit()``: the first failure in a slot ends the loop."""

    def __init__(self) -> None:
        self.done = Event()
        self.error: BaseException | None = None

    def quit(self) -> None:
        self.done.set()

    def slot(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return common.guarded_slot(fn, self._failed)

    def _failed(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.done.set()

    def exec(self, timeout: float, what: str) -> None:
        if not self.done.wait(timeout):
            fail(f"{what} did not finish in {timeout:.0f} s")
        if self.error is not None:
            raise self.error


# -- server -------------------------------------------------------------------------------


def server(args: Namespace) -> None:
    srv = QLocalServer()
    srv.setListenBacklogSize(common.BACKLOG)
    if not srv.listen(args.path):
        fail(f"listen: {srv.errorString()}")
    loop = Loop()
    stats = {"bytes": 0, "closed": 0, "accepted": 0}
    expected_closes = {"pingpong": args.conns, "fanin": args.conns, "bulk": 1,
                       "accept": args.conns, "idle": args.warm + args.conns}[args.workload]
    conns: list[QLocalSocket] = []
    meter = common.IdleMeter(args.warm, args.conns)

    def closed() -> None:
        stats["closed"] += 1
        if stats["closed"] == expected_closes:
            loop.quit()

    def serve_echo(conn: QLocalSocket) -> None:
        def on_ready_read() -> None:
            data = conn.readAll()
            conn.write(data)
            stats["bytes"] += len(data)

        conn.readyRead.connect(loop.slot(on_ready_read))
        conn.disconnected.connect(loop.slot(closed))

    def serve_sink(conn: QLocalSocket) -> None:
        checker = common.BulkChecker(args.size, args.total)

        def on_ready_read() -> None:
            checker.feed(conn.readAll())
            if checker.done:
                conn.write(ACK.pack(checker.count))

        def on_disconnected() -> None:
            if not checker.done or conn.bytesAvailable():
                fail(f"bulk: disconnected after {checker.count} bytes")
            stats["bytes"] += checker.count
            closed()

        conn.readyRead.connect(loop.slot(on_ready_read))
        conn.disconnected.connect(loop.slot(on_disconnected))

    def serve_one_byte(conn: QLocalSocket, index: int) -> None:
        conn.disconnected.connect(loop.slot(closed))
        conn.write(common.accept_byte(index))
        stats["bytes"] += 1
        conn.disconnectFromServer()  # closes once the byte has left

    def on_new_connection() -> None:
        while (conn := srv.nextPendingConnection()) is not None:
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
                if turn is not None:
                    for i in turn:
                        conns[i].write(GO)

    srv.newConnection.connect(loop.slot(on_new_connection))
    common.ready()
    loop.exec(args.timeout * 4, "server")
    srv.close()
    extra = meter.result() if args.workload == "idle" else {}
    common.report(**stats, **extra)


# -- client -------------------------------------------------------------------------------


def client(args: Namespace) -> None:
    perf = time.perf_counter
    w = args.workload
    loop = Loop()
    timeout = args.timeout * 4
    if w in ("pingpong", "fanin"):
        msgs = common.messages(args.size)
        per = args.rounds // args.conns
        size = args.size
        left = [args.conns]

        def finished() -> None:
            left[0] -= 1
            if not left[0]:
                loop.quit()

        def converse(sock: QLocalSocket, c: int, start: int, count: int,
                     then: Callable[[], None]) -> None:
            """Send message *start*; each complete echo is checked and answered with
            the next message, *count* in all; then ``then()``."""
            state = [start]

            def on_ready_read() -> None:
                if sock.bytesAvailable() < size:
                    return
                i = state[0]
                msg = msgs[common.message_index(c, i)]
                common.check_echo(sock.read(size), msg, c)
                if sock.bytesAvailable():
                    fail(f"connection {c}: more bytes than were sent")
                i += 1
                state[0] = i
                if i < start + count:
                    sock.write(msgs[common.message_index(c, i)])
                else:
                    sock.readyRead.disconnect()
                    then()

            sock.readyRead.connect(loop.slot(on_ready_read))
            sock.write(msgs[common.message_index(c, start)])

        if w == "pingpong":
            socks = [QLocalSocket() for _ in range(args.conns)]
            for sock in socks:
                sock.connectToServer(args.path)
                if not sock.waitForConnected(0):
                    fail(f"connectToServer: {sock.errorString()}")
            # Warm-up: one round trip each, before the clock.
            for c, sock in enumerate(socks):
                converse(sock, c, -1, 1, finished)
            loop.exec(timeout, "warm-up")
            left[0] = args.conns
            loop.done.clear()
            t0 = common.clock()
            for c, sock in enumerate(socks):
                converse(sock, c, 0, per, finished)
            loop.exec(timeout, "ping-pong")
            elapsed = perf() - t0
            for sock in socks:
                sock.abort()
        else:
            # Held for the whole run, as a program holds what it uses: a socket
            # referenced only by its own slots' closures is closed when the cyclic
            # collector finds it (docs/semantics.md, "Lifetimes").
            visitors: list[QLocalSocket] = []

            def visit(c: int) -> None:
                sock = QLocalSocket()
                visitors.append(sock)
                sock.disconnected.connect(loop.slot(finished))
                sock.connected.connect(
                    loop.slot(lambda: converse(sock, c, 0, per, sock.disconnectFromServer)))
                sock.errorOccurred.connect(
                    loop.slot(lambda: fail(f"connection {c}: {sock.errorString()}")))
                sock.connectToServer(args.path)

            t0 = common.clock()
            for c in range(args.conns):
                visit(c)
            loop.exec(timeout, "fan-in")
            elapsed = perf() - t0
        common.report(ops=per * args.conns, bytes=per * args.conns * size, seconds=elapsed)
    elif w == "bulk":
        _, writes = common.bulk_pattern(args.size)
        count = args.total // args.size
        k = len(writes)
        high = max(args.size, common.RECV_SIZE)  # asyncio's default high-water mark
        sock = QLocalSocket()
        sock.connectToServer(args.path)
        if not sock.waitForConnected(0):
            fail(f"connectToServer: {sock.errorString()}")
        sent = [0]

        def top_up() -> None:
            # Keep the write buffer at least *high* bytes full until all is written.
            i = sent[0]
            while i < count and sock.bytesToWrite() < high:
                sock.write(writes[i % k])
                i += 1
            sent[0] = i

        def on_ready_read() -> None:
            if sock.bytesAvailable() >= ACK.size:
                if sent[0] != count or sock.bytesToWrite():
                    fail("bulk: acknowledged before everything was sent")
                common.check_ack(sock.read(ACK.size), args.total)
                loop.quit()

        sock.bytesWritten.connect(loop.slot(top_up))
        sock.readyRead.connect(loop.slot(on_ready_read))
        t0 = common.clock()
        top_up()
        loop.exec(timeout, "bulk")
        elapsed = perf() - t0
        sock.disconnectFromServer()
        common.report(ops=count, bytes=args.total, seconds=elapsed)
    elif w == "accept":
        index = [0]
        current: list[QLocalSocket] = []  # held, as in fan-in

        def next_connection() -> None:
            i = index[0]
            if i == args.conns:
                loop.quit()
                return
            sock = QLocalSocket()
            current[:] = [sock]

            def on_disconnected() -> None:
                data = sock.readAll()
                if data != common.accept_byte(i):
                    fail(f"accept: connection {i} got {data!r}")
                sock.close()
                index[0] = i + 1
                next_connection()

            sock.disconnected.connect(loop.slot(on_disconnected))
            sock.connectToServer(args.path)
            if sock.state() == QLocalSocket.UnconnectedState:
                fail(f"accept: connectToServer: {sock.errorString()}")

        t0 = common.clock()
        next_connection()
        loop.exec(timeout, "accept")
        elapsed = perf() - t0
        if index[0] != args.conns:
            fail(f"accept: {index[0]} of {args.conns} connections")
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
                    if sock.read(1) != GO or sock.bytesAvailable():
                        fail("idle: not the go byte")
                    waiting[0] -= 1
                    if not waiting[0]:
                        loop.quit()

                sock.readyRead.connect(loop.slot(on_ready_read))
                sock.connectToServer(args.path)
                if sock.state() != QLocalSocket.ConnectedState:
                    fail(f"idle: connectToServer: {sock.errorString()}")

        t0 = common.clock()
        open_batch(args.warm)
        loop.exec(timeout, "idle warm-up")
        loop.done.clear()
        open_batch(args.conns)
        loop.exec(timeout, "idle")
        elapsed = perf() - t0
        for sock in all_socks:
            sock.abort()
        common.report(ops=len(all_socks), bytes=len(all_socks), seconds=elapsed)


def main(args: Namespace) -> None:
    with gevent.Timeout(args.timeout * 5, common.BenchFailure("timed out")):
        (server if args.role == "server" else client)(args)


if __name__ == "__main__":
    common.run_main(main)
