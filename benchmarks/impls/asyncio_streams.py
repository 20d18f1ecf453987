"""asyncio streams: ``start_unix_server`` / ``open_unix_connection``, a task per
connection, ``write`` + ``drain`` and ``read`` / ``readexactly``.

:mod:`benchmarks.impls.asyncio_uvloop` runs this same code on uvloop's loop.
"""

from __future__ import annotations

import asyncio
import time
from argparse import Namespace
from collections.abc import Callable
from typing import Any

from benchmarks import common
from benchmarks.common import ACK, GO, RECV_SIZE, fail

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(path: str) -> Streams:
    return await asyncio.open_unix_connection(path)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


# -- server -------------------------------------------------------------------------------


async def server(args: Namespace) -> None:
    done = asyncio.Event()
    stats = {"bytes": 0, "closed": 0, "accepted": 0}
    expected_closes = {"pingpong": args.conns, "fanin": args.conns, "bulk": 1,
                       "accept": args.conns, "idle": args.warm + args.conns}[args.workload]
    conns: list[asyncio.StreamWriter] = []
    meter = common.IdleMeter(args.warm, args.conns)
    errors: list[BaseException] = []

    def closed() -> None:
        stats["closed"] += 1
        if stats["closed"] == expected_closes:
            done.set()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        moved = 0
        if args.workload == "idle":
            conns.append(writer)
            turn = meter.on_ready()
            for i in turn or ():
                conns[i].write(GO)
        while True:
            data = await reader.read(RECV_SIZE)
            if not data:
                break
            writer.write(data)
            await writer.drain()
            moved += len(data)
        writer.close()
        stats["bytes"] += moved
        closed()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        checker = common.BulkChecker(args.size, args.total)
        while not checker.done:
            data = await reader.read(RECV_SIZE)
            if not data:
                fail(f"bulk: connection closed after {checker.count} bytes")
            checker.feed(data)
        writer.write(ACK.pack(checker.count))
        await writer.drain()
        if await reader.read(1):
            fail("bulk: data after the end")
        writer.close()
        stats["bytes"] += checker.count
        closed()

    async def one_byte(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = stats["accepted"] - 1
        writer.write(common.accept_byte(index))
        await close(writer)
        stats["bytes"] += 1
        closed()

    handler: Callable[..., Any] = {"bulk": sink, "accept": one_byte}.get(args.workload, echo)

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats["accepted"] += 1
        try:
            await handler(reader, writer)
        except Exception as exc:
            errors.append(exc)
            done.set()

    srv = await asyncio.start_unix_server(on_connection, args.path, backlog=common.BACKLOG)
    common.ready()
    try:
        await asyncio.wait_for(done.wait(), args.timeout * 4)
    except asyncio.TimeoutError:
        fail(f"server: only {stats['closed']} of {expected_closes} connections ended in time")
    if errors:
        raise errors[0]
    srv.close()
    extra = meter.result() if args.workload == "idle" else {}
    common.report(**stats, **extra)


# -- client -------------------------------------------------------------------------------


async def client(args: Namespace) -> None:
    perf = time.perf_counter
    w = args.workload
    if w in ("pingpong", "fanin"):
        msgs = common.messages(args.size)
        per = args.rounds // args.conns
        size = args.size

        async def converse(streams: Streams, c: int, start: int, count: int) -> None:
            reader, writer = streams
            for i in range(start, start + count):
                msg = msgs[common.message_index(c, i)]
                writer.write(msg)
                await writer.drain()
                common.check_echo(await reader.readexactly(size), msg, c)

        if w == "pingpong":
            conns = [await connect(args.path) for _ in range(args.conns)]
            for c, streams in enumerate(conns):
                await converse(streams, c, -1, 1)  # warm-up, before the clock
            t0 = common.clock()
            await asyncio.gather(*(converse(s, c, 0, per) for c, s in enumerate(conns)))
            elapsed = perf() - t0
            for _, writer in conns:
                writer.close()
        else:
            async def visit(c: int) -> None:
                streams = await connect(args.path)
                await converse(streams, c, 0, per)
                await close(streams[1])

            t0 = common.clock()
            await asyncio.gather(*(visit(c) for c in range(args.conns)))
            elapsed = perf() - t0
        common.report(ops=per * args.conns, bytes=per * args.conns * size, seconds=elapsed)
    elif w == "bulk":
        _, writes = common.bulk_pattern(args.size)
        count = args.total // args.size
        k = len(writes)
        reader, writer = await connect(args.path)
        t0 = common.clock()
        for i in range(count):
            writer.write(writes[i % k])
            await writer.drain()
        common.check_ack(await reader.readexactly(ACK.size), args.total)
        elapsed = perf() - t0
        await close(writer)
        common.report(ops=count, bytes=args.total, seconds=elapsed)
    elif w == "accept":
        t0 = common.clock()
        for i in range(args.conns):
            reader, writer = await connect(args.path)
            data = await reader.read()  # to the end of stream
            if data != common.accept_byte(i):
                fail(f"accept: connection {i} got {data!r}")
            await close(writer)
        elapsed = perf() - t0
        common.report(ops=args.conns, bytes=args.conns, seconds=elapsed)
    elif w == "idle":
        t0 = common.clock()
        conns = [await connect(args.path) for _ in range(args.warm)]
        for reader, _ in conns:
            if await reader.readexactly(1) != GO:
                fail("idle: no go byte")
        idle = [await connect(args.path) for _ in range(args.conns)]
        for reader, _ in idle:
            if await reader.readexactly(1) != GO:
                fail("idle: no go byte")
        elapsed = perf() - t0
        for _, writer in conns + idle:
            writer.close()
        common.report(ops=args.warm + args.conns, bytes=args.warm + args.conns,
                      seconds=elapsed)


async def main_async(args: Namespace) -> None:
    try:
        await asyncio.wait_for((server if args.role == "server" else client)(args),
                               args.timeout * 5)
    except asyncio.TimeoutError:
        fail("timed out")
    except asyncio.IncompleteReadError as exc:
        fail(f"connection closed early: {exc}")


def run(args: Namespace, loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    loop = loop_factory()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(main_async(args))


def main(args: Namespace) -> None:
    run(args, asyncio.new_event_loop)


if __name__ == "__main__":
    common.run_main(main)
