"""Raw gevent: ``gevent.socket`` AF_UNIX sockets, one greenlet per connection.

The baseline every ratio is taken against. The qlsock modules mirror this one call
for call, so a ratio measures what qlsock's layer costs over the bare hub.
"""

from __future__ import annotations

import socket as _stdsocket
import time
from argparse import Namespace
from typing import Any

import gevent
from gevent import socket
from gevent.event import Event

from benchmarks import common
from benchmarks.common import ACK, GO, RECV_SIZE, fail


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = sock.recv(n)
    if len(data) == n:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        if not data:
            fail(f"connection closed after {got} of {n} bytes")
        data = sock.recv(n - got)
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def connect(path: str) -> socket.socket:
    sock = socket.socket(_stdsocket.AF_UNIX, _stdsocket.SOCK_STREAM)
    sock.connect(path)
    return sock


# -- server -------------------------------------------------------------------------------


def server(args: Namespace) -> None:
    listener = socket.socket(_stdsocket.AF_UNIX, _stdsocket.SOCK_STREAM)
    listener.bind(args.path)
    listener.listen(common.BACKLOG)
    done = Event()
    stats = {"bytes": 0, "closed": 0, "accepted": 0}
    expected_closes = {"pingpong": args.conns, "fanin": args.conns, "bulk": 1,
                       "accept": args.conns, "idle": args.warm + args.conns}[args.workload]
    conns: list[socket.socket] = []
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

    def echo(conn: socket.socket) -> None:
        moved = 0
        if args.workload == "idle":
            turn = meter.on_ready()
            for i in turn or ():
                conns[i].sendall(GO)
        while True:
            data = conn.recv(RECV_SIZE)
            if not data:
                break
            conn.sendall(data)
            moved += len(data)
        conn.close()
        stats["bytes"] += moved
        closed()

    def sink(conn: socket.socket) -> None:
        checker = common.BulkChecker(args.size, args.total)
        while not checker.done:
            data = conn.recv(RECV_SIZE)
            if not data:
                fail(f"bulk: connection closed after {checker.count} bytes")
            checker.feed(data)
        conn.sendall(ACK.pack(checker.count))
        if conn.recv(1):
            fail("bulk: data after the end")
        conn.close()
        stats["bytes"] += checker.count
        closed()

    def one_byte(conn: socket.socket, index: int) -> None:
        conn.sendall(common.accept_byte(index))
        conn.close()
        stats["bytes"] += 1
        closed()

    def acceptor() -> None:
        while True:
            conn, _ = listener.accept()
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
    listener.close()
    extra = meter.result() if args.workload == "idle" else {}
    common.report(**stats, **extra)


# -- client -------------------------------------------------------------------------------


def client(args: Namespace) -> None:
    perf = time.perf_counter
    w = args.workload
    if w in ("pingpong", "fanin"):
        msgs = common.messages(args.size)
        per = args.rounds // args.conns
        size = args.size

        def converse(sock: socket.socket, c: int, start: int, count: int) -> None:
            for i in range(start, start + count):
                msg = msgs[common.message_index(c, i)]
                sock.sendall(msg)
                common.check_echo(recv_exact(sock, size), msg, c)

        if w == "pingpong":
            socks = [connect(args.path) for _ in range(args.conns)]
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
                sock = connect(args.path)
                converse(sock, c, 0, per)
                sock.close()

            t0 = common.clock()
            gevent.joinall([gevent.spawn(visit, c) for c in range(args.conns)],
                           raise_error=True)
            elapsed = perf() - t0
        common.report(ops=per * args.conns, bytes=per * args.conns * size, seconds=elapsed)
    elif w == "bulk":
        _, writes = common.bulk_pattern(args.size)
        count = args.total // args.size
        k = len(writes)
        sock = connect(args.path)
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
            sock = connect(args.path)
            data = sock.recv(16)
            if data != common.accept_byte(i) or sock.recv(16):
                fail(f"accept: connection {i} got {data!r} and no end of stream")
            sock.close()
        elapsed = perf() - t0
        common.report(ops=args.conns, bytes=args.conns, seconds=elapsed)
    elif w == "idle":
        t0 = common.clock()
        socks = [connect(args.path) for _ in range(args.warm)]
        for sock in socks:
            if recv_exact(sock, 1) != GO:
                fail("idle: no go byte")
        idle = [connect(args.path) for _ in range(args.conns)]
        for sock in idle:
            if recv_exact(sock, 1) != GO:
                fail("idle: no go byte")
        elapsed = perf() - t0
        for sock in socks + idle:
            sock.close()
        common.report(ops=args.warm + args.conns, bytes=args.warm + args.conns,
                      seconds=elapsed)


def main(args: Namespace) -> None:
    with gevent.Timeout(args.timeout * 5, common.BenchFailure("timed out")):
        (server if args.role == "server" else client)(args)


if __name__ == "__main__":
    common.run_main(main)
