"""qlsock's gevent face: ``qlsock.serve()`` with a handler per connection, clients
from ``qlsock.connect()``, socket-style ``recv`` / ``sendall`` / ``recv_exactly``.

This is how a gevent user writes it, and it mirrors :mod:`benchmarks.impls.gevent_raw`
call for call (``listener.accept()`` + ``gevent.spawn`` becomes ``serve()``).
"""

from __future__ import annotations

import time
from argparse import Namespace
from typing import Any

import gevent
from gevent.event import Event

import qlsock
from benchmarks import common
from benchmarks.common import ACK, GO, RECV_SIZE, fail
from qlsock import QLocalSocket


def recv_exact(sock: QLocalSocket, n: int) -> bytes:
    try:
        return sock.recv_exactly(n)
    except qlsock.IncompleteReadError as exc:
        fail(f"connection closed after {len(exc.partial)} of {n} bytes")
        raise


# -- server -------------------------------------------------------------------------------


def server(args: Namespace) -> None:
    done = Event()
    stats = {"bytes": 0, "closed": 0, "accepted": 0}
    expected_closes = {"pingpong": args.conns, "fanin": args.conns, "bulk": 1,
                       "accept": args.conns, "idle": args.warm + args.conns}[args.workload]
    conns: list[QLocalSocket] = []
    meter = common.IdleMeter(args.warm, args.conns)
    errors: list[BaseException] = []

    def closed() -> None:
        stats["closed"] += 1
        if stats["closed"] == expected_closes:
            done.set()

    def echo(conn: QLocalSocket) -> None:
        moved = 0
        if args.workload == "idle":
            conns.append(conn)
            turn = meter.on_ready()
            for i in turn or ():
                conns[i].sendall(GO)
        while True:
            data = conn.recv(RECV_SIZE)
            if not data:
                break
            conn.sendall(data)
            moved += len(data)
        stats["bytes"] += moved
        closed()

    def sink(conn: QLocalSocket) -> None:
        checker = common.BulkChecker(args.size, args.total)
        while not checker.done:
            data = conn.recv(RECV_SIZE)
            if not data:
                fail(f"bulk: connection closed after {checker.count} bytes")
            checker.feed(data)
        conn.sendall(ACK.pack(checker.count))
        if conn.recv(1):
            fail("bulk: data after the end")
        stats["bytes"] += checker.count
        closed()

    def one_byte(conn: QLocalSocket, index: int) -> None:
        conn.sendall(common.accept_byte(index))
        stats["bytes"] += 1
        closed()

    def handle(conn: QLocalSocket) -> None:
        index = stats["accepted"]
        stats["accepted"] += 1
        try:
            if args.workload == "bulk":
                sink(conn)
            elif args.workload == "accept":
                one_byte(conn, index)
            else:
                echo(conn)
        except Exception as exc:
            errors.append(exc)
            done.set()

    srv = qlsock.serve(args.path, handle, backlog=common.BACKLOG)
    common.ready()
    if not done.wait(args.timeout * 4):
        fail(f"server: only {stats['closed']} of {expected_closes} connections ended in time")
    if errors:
        raise errors[0]
    srv.close()
    extra = meter.result() if args.workload == "idle" else {}
    common.report(**stats, **extra)


# -- client -------------------------------------------------------------------------------


def client(args: Namespace) -> None:
    perf = time.perf_counter
    w = args.workload
    timeout = args.timeout
    if w in ("pingpong", "fanin"):
        msgs = common.messages(args.size)
        per = args.rounds // args.conns
        size = args.size

        def converse(sock: QLocalSocket, c: int, start: int, count: int) -> None:
            for i in range(start, start + count):
                msg = msgs[common.message_index(c, i)]
                sock.sendall(msg)
                common.check_echo(recv_exact(sock, size), msg, c)

        if w == "pingpong":
            socks = [qlsock.connect(args.path, timeout) for _ in range(args.conns)]
            for c, sock in enumerate(socks):
                converse(sock, c, -1, 1)  # warm-up, before the clock
            t0 = common.clock()
            gevent.joinall([gevent.spawn(converse, s, c, 0, per) for c, s in enumerate(socks)],
                           raise_error=True)
            elapsed = perf() - t0
            for sock in socks:
                sock.close()
        else:
            def visit(c: int) -> None:
                with qlsock.connect(args.path, timeout) as sock:
                    converse(sock, c, 0, per)

            t0 = common.clock()
            gevent.joinall([gevent.spawn(visit, c) for c in range(args.conns)],
                           raise_error=True)
            elapsed = perf() - t0
        common.report(ops=per * args.conns, bytes=per * args.conns * size, seconds=elapsed)
    elif w == "bulk":
        _, writes = common.bulk_pattern(args.size)
        count = args.total // args.size
        k = len(writes)
        sock = qlsock.connect(args.path, timeout)
        t0 = common.clock()
        for i in range(count):
            sock.sendall(writes[i % k])
        common.check_ack(recv_exact(sock, ACK.size), args.total)
        elapsed = perf() - t0
        sock.close()
        common.report(ops=count, bytes=args.total, seconds=elapsed)
    elif w == "accept":
        t0 = common.clock()
        for i in range(args.conns):
            with qlsock.connect(args.path, timeout) as sock:
                data = sock.recv(16)
                if data != common.accept_byte(i) or sock.recv(16):
                    fail(f"accept: connection {i} got {data!r} and no end of stream")
        elapsed = perf() - t0
        common.report(ops=args.conns, bytes=args.conns, seconds=elapsed)
    elif w == "idle":
        t0 = common.clock()
        socks = [qlsock.connect(args.path, timeout) for _ in range(args.warm)]
        for sock in socks:
            if recv_exact(sock, 1) != GO:
                fail("idle: no go byte")
        idle = [qlsock.connect(args.path, timeout) for _ in range(args.conns)]
        for sock in idle:
            if recv_exact(sock, 1) != GO:
                fail("idle: no go byte")
        elapsed = perf() - t0
        for sock in socks + idle:
            sock.close()
        common.report(ops=args.warm + args.conns, bytes=args.warm + args.conns,
                      seconds=elapsed)


def main(args: Namespace) -> Any:
    with gevent.Timeout(args.timeout * 5, common.BenchFailure("timed out")):
        (server if args.role == "server" else client)(args)


if __name__ == "__main__":
    common.run_main(main)
