"""qlsock in blocking style: one greenlet per connection, ``waitFor*`` calls.

Mirrors :mod:`benchmarks.impls.gevent_raw` call for call: ``recv`` becomes
``waitForReadyRead`` + ``readAll``, ``sendall`` becomes ``write`` + the ``waitFor*``
that follows it (or ``waitForBytesWritten`` until nothing is left to write).
"""

from __future__ import annotations

import time
from argparse import Namespace
from typing import Any

import gevent
from gevent.event import Event

from benchmarks import common
from benchmarks.common import ACK, GO, fail
from qlsock import QLocalServer, QLocalSocket

UNCONNECTED = QLocalSocket.LocalSocketState.UnconnectedState


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def read_exact(sock: QLocalSocket, n: int, timeout: int) -> bytes:
    while sock.bytesAvailable() < n:
        if not sock.waitForReadyRead(timeout):
            fail(f"waitForReadyRead: {sock.errorString()} "
                 f"({sock.bytesAvailable()} of {n} bytes)")
    return sock.read(n)


def write_all(sock: QLocalSocket, data: bytes, timeout: int) -> None:
    """``write`` then wait until the kernel took everything (gevent's ``sendall``)."""
    sock.write(data)
    while sock.bytesToWrite():
        if not sock.waitForBytesWritten(timeout):
            fail(f"waitForBytesWritten: {sock.errorString()}")


def connect(path: str, timeout: int) -> QLocalSocket:
    sock = QLocalSocket()
    sock.connectToServer(path)
    if not sock.waitForConnected(timeout):
        fail(f"connectToServer: {sock.errorString()}")
    return sock


# -- server -------------------------------------------------------------------------------


def server(args: Namespace) -> None:
    timeout = ms(args.timeout)
    srv = QLocalServer()
    srv.setListenBacklogSize(common.BACKLOG)
    if not srv.listen(args.path):
        fail(f"listen: {srv.errorString()}")
    done = Event()
    stats = {"bytes": 0, "closed": 0, "accepted": 0}
    expected_closes = {"pingpong": args.conns, "fanin": args.conns, "bulk": 1,
                       "accept": args.conns, "idle": args.warm + args.conns}[args.workload]
    conns: list[QLocalSocket] = []
    meter = common.IdleMeter(args.warm, args.conns)
    errors: list[BaseException] = []

    def guarded(fn: Any, *a: Any) -> None:
        try:
            fn(*a)
        except Exception as exc:
            errors.append(exc)
            done.set()

    def closed() -> None:
        stats["closed"] += 1
        if stats["closed"] == expected_closes:
            done.set()

    def echo(conn: QLocalSocket) -> None:
        moved = 0
        if args.workload == "idle":
            turn = meter.on_ready()
            for i in turn or ():
                conns[i].write(GO)
                conns[i].flush()
        while True:
            if not conn.bytesAvailable() and not conn.waitForReadyRead(-1):
                break
            data = conn.readAll()
            conn.write(data)  # sent by the next waitForReadyRead
            moved += len(data)
        conn.close()
        stats["bytes"] += moved
        closed()

    def sink(conn: QLocalSocket) -> None:
        checker = common.BulkChecker(args.size, args.total)
        while not checker.done:
            if not conn.bytesAvailable() and not conn.waitForReadyRead(timeout):
                fail(f"bulk: {conn.errorString()} after {checker.count} bytes")
            checker.feed(conn.readAll())
        write_all(conn, ACK.pack(checker.count), timeout)
        if not conn.waitForDisconnected(timeout) or conn.bytesAvailable():
            fail("bulk: data after the end, or no end")
        conn.close()
        stats["bytes"] += checker.count
        closed()

    def one_byte(conn: QLocalSocket, index: int) -> None:
        conn.write(common.accept_byte(index))
        conn.disconnectFromServer()
        if conn.state() != UNCONNECTED and not conn.waitForDisconnected(timeout):
            fail(f"accept: waitForDisconnected: {conn.errorString()}")
        conn.close()
        stats["bytes"] += 1
        closed()

    def acceptor() -> None:
        while True:
            srv.waitForNewConnection(-1)
            while (conn := srv.nextPendingConnection()) is not None:
                index = stats["accepted"]
                stats["accepted"] += 1
                if args.workload == "bulk":
                    gevent.spawn(guarded, sink, conn)
                elif args.workload == "accept":
                    gevent.spawn(guarded, one_byte, conn, index)
                elif args.workload == "idle":
                    conns.append(conn)
                    gevent.spawn(guarded, echo, conn)
                else:
                    gevent.spawn(guarded, echo, conn)

    accepting = gevent.spawn(guarded, acceptor)
    common.ready()
    if not done.wait(args.timeout * 4):
        fail(f"server: only {stats['closed']} of {expected_closes} connections ended in time")
    if errors:
        raise errors[0]
    accepting.kill()
    srv.close()
    extra = meter.result() if args.workload == "idle" else {}
    common.report(**stats, **extra)


# -- client -------------------------------------------------------------------------------


def client(args: Namespace) -> None:
    perf = time.perf_counter
    timeout = ms(args.timeout)
    w = args.workload
    if w in ("pingpong", "fanin"):
        msgs = common.messages(args.size)
        per = args.rounds // args.conns
        size = args.size

        def converse(sock: QLocalSocket, c: int, start: int, count: int) -> None:
            for i in range(start, start + count):
                msg = msgs[common.message_index(c, i)]
                sock.write(msg)  # sent by waitForReadyRead
                common.check_echo(read_exact(sock, size, timeout), msg, c)

        if w == "pingpong":
            socks = [connect(args.path, timeout) for _ in range(args.conns)]
            for c, sock in enumerate(socks):
                converse(sock, c, -1, 1)  # warm-up, before the clock
            t0 = common.clock()
            gevent.joinall([gevent.spawn(converse, s, c, 0, per) for c, s in enumerate(socks)],
                           raise_error=True)
            elapsed = perf() - t0
            for sock in socks:
                sock.abort()
        else:
            def visit(c: int) -> None:
                sock = connect(args.path, timeout)
                converse(sock, c, 0, per)
                sock.disconnectFromServer()

            t0 = common.clock()
            gevent.joinall([gevent.spawn(visit, c) for c in range(args.conns)],
                           raise_error=True)
            elapsed = perf() - t0
        common.report(ops=per * args.conns, bytes=per * args.conns * size, seconds=elapsed)
    elif w == "bulk":
        _, writes = common.bulk_pattern(args.size)
        count = args.total // args.size
        k = len(writes)
        sock = connect(args.path, timeout)
        t0 = common.clock()
        for i in range(count):
            write_all(sock, writes[i % k], timeout)
        common.check_ack(read_exact(sock, ACK.size, timeout), args.total)
        elapsed = perf() - t0
        sock.disconnectFromServer()
        common.report(ops=count, bytes=args.total, seconds=elapsed)
    elif w == "accept":
        t0 = common.clock()
        for i in range(args.conns):
            sock = connect(args.path, timeout)
            if not sock.waitForDisconnected(timeout):
                fail(f"accept: connection {i}: {sock.errorString()}")
            data = sock.readAll()
            if data != common.accept_byte(i):
                fail(f"accept: connection {i} got {data!r}")
            sock.close()
        elapsed = perf() - t0
        common.report(ops=args.conns, bytes=args.conns, seconds=elapsed)
    elif w == "idle":
        t0 = common.clock()
        socks = [connect(args.path, timeout) for _ in range(args.warm)]
        for sock in socks:
            if read_exact(sock, 1, timeout) != GO:
                fail("idle: no go byte")
        idle = [connect(args.path, timeout) for _ in range(args.conns)]
        for sock in idle:
            if read_exact(sock, 1, timeout) != GO:
                fail("idle: no go byte")
        elapsed = perf() - t0
        for sock in socks + idle:
            sock.abort()
        common.report(ops=args.warm + args.conns, bytes=args.warm + args.conns,
                      seconds=elapsed)


def main(args: Namespace) -> None:
    with gevent.Timeout(args.timeout * 5, common.BenchFailure("timed out")):
        (server if args.role == "server" else client)(args)


if __name__ == "__main__":
    common.run_main(main)
