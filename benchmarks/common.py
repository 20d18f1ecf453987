"""What every Python implementation module shares: arguments, payloads, checks, output.

An implementation module is run as ``python -m benchmarks.impls.X ROLE WORKLOAD
--path P [--conns N] [--rounds R] [--size S] [--total T] [--warm W]``.

The line protocol on stdout:

* the server prints ``READY`` once it listens (the driver starts the client then);
* both print one ``RESULT <json>`` line when done and exit 0;
* anything wrong (a byte that differs, a count that does not add up, a timeout)
  exits non-zero with the reason on stderr: the driver records a failed trial.

Workloads (``N`` connections, ``R`` round trips in all, shared as ``R / N`` each):

``pingpong``  N connections made and warmed up (one round trip each) before the clock;
              then all N converse at once, one ``S``-byte message in flight each, until
              R round trips are done (Qt's ``tst_bench_qlocalsocket::pingPong``).
``fanin``     N clients arrive at once, inside the clock: each connects, makes R / N
              round trips of ``S`` bytes, and disconnects.
``bulk``      one connection; the client writes T bytes in ``S``-byte writes; the server
              checks every byte against the pattern and answers with an 8-byte count.
``accept``    N connections, one after another: the server accepts, writes one byte
              (the connection's index mod 251) and closes; the client checks the byte
              and the end of stream.
``idle``      W warm-up connections, then N more that stay idle; the server reports its
              RSS growth per idle connection (after ``gc.collect()``).

Every echoed message is compared with the one sent; the server reports the bytes it
moved, and the driver checks both sides' counts against the parameters.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import random
import resource
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

WORKLOADS = ("pingpong", "bulk", "accept", "fanin", "idle")
#: Every server listens with this backlog (Linux caps it at net.core.somaxconn).
BACKLOG = 4096
#: Every reader asks the kernel for at most this much at a time (qlsock's own size).
RECV_SIZE = 65536
#: A hung trial dies here rather than in the driver's timeout, with a reason.
DEFAULT_TIMEOUT = 120.0
#: The byte the server sends idle connections once it has measured them.
GO = b"G"
ACK = struct.Struct("!Q")


class BenchFailure(Exception):
    """A check failed: the trial is reported as failed with this message."""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("role", choices=("server", "client"))
    p.add_argument("workload", choices=WORKLOADS)
    p.add_argument("--path", required=True, help="socket path (absolute)")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--rounds", type=int, default=1000, help="round trips in all")
    p.add_argument("--size", type=int, default=64, help="message or write size, bytes")
    p.add_argument("--total", type=int, default=1 << 20, help="bulk: bytes in all")
    p.add_argument("--warm", type=int, default=100, help="idle: warm-up connections")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="seconds any single wait may take")
    args = p.parse_args(argv)
    if args.conns < 1 or args.size < 1 or args.warm < 1:
        p.error("--conns, --size and --warm must be >= 1")
    if args.workload in ("pingpong", "fanin") and args.rounds % args.conns:
        p.error("--rounds must be a multiple of --conns")
    if args.workload == "bulk" and args.total % args.size:
        p.error("--total must be a multiple of --size")
    return args


def guarded_slot(fn: Callable[..., Any], on_error: Callable[[BaseException], None]
                 ) -> Callable[..., Any]:
    """*fn* as a slot: given only the signal arguments it takes, its exception
    passed to *on_error* (Qt and qlsock would only log it).

    The arity comes from the code object, not ``inspect.signature``: slots are made
    per connection, and the harness must not add cost to connection set-up.
    """
    code = fn.__code__
    n: int | None = None if code.co_flags & inspect.CO_VARARGS else \
        code.co_argcount - len(fn.__defaults__ or ())

    def slot(*args: Any) -> None:
        try:
            fn(*args[:n])
        except Exception as exc:
            on_error(exc)

    return slot


def fail(message: str) -> NoReturn:
    raise BenchFailure(message)


_cpu_mark = [0.0]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ready() -> None:
    """Tell the driver the server listens; its CPU time is counted from here."""
    _cpu_mark[0] = _cpu()
    print("READY", flush=True)


def clock() -> float:
    """Start the client's clock: ``time.perf_counter()``, and CPU time from here."""
    _cpu_mark[0] = _cpu()
    return time.perf_counter()


def report(**result: Any) -> None:
    """The RESULT line; ``cpu_seconds`` is this process's user + system time since
    :func:`ready` (server) or :func:`clock` (client)."""
    result.setdefault("cpu_seconds", round(_cpu() - _cpu_mark[0], 6))
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)


def run_main(main: Any, argv: list[str] | None = None) -> None:
    """Run ``main(args)``; a :class:`BenchFailure` exits 1 with its reason."""
    args = parse(argv)
    raise_nofile()
    try:
        main(args)
    except BenchFailure as exc:
        print(f"{args.role} {args.workload}: FAILED: {exc}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: thousands of sockets and greenlets, or a Qt
    # application, take long to destroy and nothing is left to report.
    os._exit(0)


def raise_nofile() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit (5000 connections need 5000+ fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


# -- payloads --------------------------------------------------------------------------

_POOL = 1021  # prime: message i of connection c is pool[(c * 7 + i) % 1021]


def messages(size: int) -> list[bytes]:
    """Distinct pseudo-random messages, so a stale or misrouted echo cannot pass."""
    rng = random.Random(0x51C0 + size)
    return [rng.randbytes(size) for _ in range(_POOL)]


def message_index(conn: int, i: int) -> int:
    return (conn * 7 + i) % _POOL


def bulk_pattern(size: int) -> tuple[bytes, list[bytes]]:
    """The bulk stream's period and the writes that cover it, for *size*-byte writes.

    The stream repeats with a period of k writes (k >= 4, about 1 MiB or more), so a
    dropped, repeated or reordered write shifts what the reader sees.
    """
    k = max(4, -(-(1 << 20) // size))
    pattern = random.Random(0xB01C + size).randbytes(size * k)
    return pattern, [pattern[i * size:(i + 1) * size] for i in range(k)]


class BulkChecker:
    """Checks received bytes against the bulk pattern without copying them."""

    __slots__ = ("count", "pattern", "period", "total")

    def __init__(self, size: int, total: int) -> None:
        self.pattern, _ = bulk_pattern(size)
        self.period = len(self.pattern)
        self.total = total
        self.count = 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if self.count + n > self.total:
            fail(f"bulk: received {self.count + n} bytes, more than the {self.total} sent")
        off = self.count % self.period
        if off + n <= self.period:
            if not self.pattern.startswith(data, off):
                fail(f"bulk: wrong bytes in {n} bytes at stream offset {self.count}")
        else:
            view = memoryview(data)
            pos = 0
            while pos < n:
                off = (self.count + pos) % self.period
                take = min(n - pos, self.period - off)
                if not self.pattern.startswith(view[pos:pos + take], off):
                    fail(f"bulk: wrong bytes at stream offset {self.count + pos}")
                pos += take
        self.count += n

    @property
    def done(self) -> bool:
        return self.count == self.total


def check_ack(data: bytes, total: int) -> None:
    if len(data) != ACK.size or ACK.unpack(data)[0] != total:
        fail(f"bulk: the server acknowledged {data!r}, not {total} bytes")


def accept_byte(index: int) -> bytes:
    return bytes((index % 251,))


def check_echo(got: bytes, want: bytes, conn: int) -> None:
    if got != want:
        fail(f"connection {conn}: echo differs from the message sent "
             f"({len(got)} bytes back for {len(want)})")


# -- memory --------------------------------------------------------------------------


def rss_kib() -> int:
    """This process's resident set (VmRSS), in KiB, after a full collection."""
    gc.collect()
    gc.collect()
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    fail("no VmRSS in /proc/self/status")


class IdleMeter:
    """The server half of ``idle``: RSS at W connections and at W + N.

    Each connection's handler calls :meth:`on_ready` once it is set up (a slot
    connected, or a greenlet or task about to wait for data); RSS is read when the
    W-th and the (W + N)-th are ready, so a handler that was spawned but never ran
    is not mistaken for a cheap one.
    """

    def __init__(self, warm: int, conns: int) -> None:
        self.warm = warm
        self.conns = conns
        self.ready = 0
        self.rss: list[int] = []

    def on_ready(self) -> range | None:
        """Count a ready connection; at a checkpoint measure and return which
        connections (by accept order) are now to be sent :data:`GO`."""
        self.ready += 1
        if self.ready == self.warm:
            self.rss.append(rss_kib())
            return range(self.warm)
        if self.ready == self.warm + self.conns:
            self.rss.append(rss_kib())
            return range(self.warm, self.warm + self.conns)
        return None

    def result(self) -> dict[str, Any]:
        if len(self.rss) != 2:
            fail(f"idle: measured {len(self.rss)} times, not twice")
        before, after = self.rss
        return {"rss_warm_kib": before, "rss_kib": after, "conns": self.ready,
                "kib_per_conn": (after - before) / self.conns}
