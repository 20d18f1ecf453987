"""The soak: ``python -m benchmarks.soak [--minutes 10] [--clients 8] [--report-every 5]``.

One qlsock echo server process and ``--clients`` client processes of mixed behaviour
(``benchmarks/soak_peers.py``) run for ``--minutes``:

* ``stream``  well-behaved streamers, every echoed byte checked, no loss allowed;
* ``abort``   clients that end conversations mid-stream (``abort()``, ``close()``,
              ``disconnectFromServer()``) with data in flight both ways;
* ``crash``   streamers that this driver SIGKILLs mid-stream every 1-5 s and restarts;
* ``cycle``   short connect / exchange / disconnect cycles in both styles;
* ``hostile`` garbage senders, silent connections, bursts of connections that exhaust
              the server's descriptors, and malformed frames for a SingleInstance
              primary the server also runs, each followed by an honest message that
              must be acknowledged.

Every few seconds it prints the server's descriptor count, RSS and greenlets, the
connections served, the bytes checked and the throughput. It fails (exit 1) if:

* a check failed anywhere (a byte that differs, an echo cut short, a stall: ``FAIL``
  lines), a client other than a killed one exited, or the server died or hung;
* after the warm-up, the server's descriptors beyond its open connections, or its
  greenlets beyond its blocking-style connections, moved by more than a few;
* after the warm-up, its RSS grew: the last samples against the first by more than the
  tolerance while the fitted trend also rises by half of it, or the trend alone rises
  by more than the tolerance;
* once every client has stopped, the server's descriptors or greenlets are not back at
  what they were before the first client.

Otherwise it prints a summary and exits 0. ``make soak`` runs it; ``SOAK_ARGS`` passes
options (``make soak SOAK_ARGS='--minutes 2'``).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("stream", "abort", "crash", "cycle", "hostile")
#: Conversations at once in one client process of each kind.
CONNS = {"stream": 3, "abort": 4, "crash": 3, "cycle": 2, "hostile": 2}
#: A crash client lives this long (seconds, uniform) before it is SIGKILLed.
CRASH_LIFE = (1.0, 5.0)
#: Seconds the server may go without a STAT line, and clients may take to stop.
SERVER_SILENCE = 15.0
STOP_TIMEOUT = 75.0


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.soak",
                                description="qlsock's soak: one echo server, client "
                                            "processes that stream, abort, crash and cycle; "
                                            "fails on descriptor or memory growth or on "
                                            "lost bytes.")
    p.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    p.add_argument("--clients", type=int, default=10,
                   help="client processes, shared out over the kinds stream, abort, crash, "
                        "cycle and hostile in turn (default 10, at least 5)")
    p.add_argument("--report-every", type=float, default=5.0, metavar="SECONDS",
                   help="seconds between progress lines (default 5)")
    p.add_argument("--warmup", type=float, default=None, metavar="SECONDS",
                   help="growth is measured from here (default: a quarter of the run, "
                        "at most 60 s)")
    p.add_argument("--fd-tolerance", type=int, default=4,
                   help="descriptors (beyond open connections) the server may gain")
    p.add_argument("--greenlet-tolerance", type=int, default=5,
                   help="greenlets (beyond blocking-style connections) it may gain")
    p.add_argument("--rss-tolerance", type=float, default=16.0, metavar="MIB",
                   help="RSS growth allowed after the warm-up, in MiB, or 10%% of the "
                        "RSS then if that is more (default 16)")
    p.add_argument("--seed", type=int, default=None, help="seed the clients and kills")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.report_every <= 0:
        p.error("--minutes and --report-every must be positive")
    if args.clients < len(KINDS):
        p.error(f"--clients must be at least {len(KINDS)}, one of each kind")
    if args.warmup is None:
        args.warmup = min(60.0, args.minutes * 60 / 4)
    return args


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    env.pop("QLSOCK_TEST_MONKEY", None)
    return env


class Child:
    """A peer process; a thread forwards its stdout lines to the driver's queue."""

    def __init__(self, name: str, kind: str, argv: list[str], events: queue.Queue[Any],
                 logdir: Path) -> None:
        self.name = name
        self.kind = kind
        self.stderr_path = logdir / f"{name}.stderr"
        self._stderr: IO[bytes] = open(self.stderr_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.soak_peers", *argv], cwd=ROOT,
            env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._stderr, start_new_session=True)
        self.last: dict[str, Any] = {}
        self.done = False
        self.killed = False
        self.ended = False
        self.kill_at = float("inf")
        threading.Thread(target=self._pump, args=(events,), daemon=True).start()

    def _pump(self, events: queue.Queue[Any]) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            events.put((self, raw.decode(errors="replace").rstrip("\n")))
        events.put((self, None))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.killed = True
            self.proc.kill()
        self.proc.wait()

    def terminate(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace").strip()[-limit:]
        except OSError:
            return ""

    def close(self) -> None:
        self._stderr.close()


def fit_slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.events: queue.Queue[Any] = queue.Queue()
        self.tmp = Path(tempfile.mkdtemp(prefix="soak", dir="/tmp"))
        self.path = str(self.tmp / "soak.sock")
        self.children: list[Child] = []
        self.failures: list[str] = []
        self.samples: list[tuple[float, dict[str, Any]]] = []  # (elapsed, server STAT)
        self.server: Child | None = None
        self.started = 0.0
        self.kills = 0
        self.serial = 0

    # -- processes --------------------------------------------------------------------

    def spawn_client(self, kind: str) -> Child:
        self.serial += 1
        seed = self.rng.getrandbits(32)
        child = Child(f"{kind}-{self.serial}", kind,
                      ["client", kind, "--path", self.path, "--conns", str(CONNS[kind]),
                       "--seed", str(seed)], self.events, self.tmp)
        if kind == "crash":
            child.kill_at = time.monotonic() + self.rng.uniform(*CRASH_LIFE)
        self.children.append(child)
        return child

    def fail(self, reason: str) -> None:
        # The server's death explains the clients' failures around it: list it first.
        self.failures.insert(0 if reason.startswith("the server died") else
                             len(self.failures), reason)
        print(f"  FAILURE: {reason}", flush=True)

    def handle(self, child: Child, line: str | None, stopping: bool) -> None:
        if line is None:
            child.ended = True
            child.close()
            if child is self.server:
                if not child.done:
                    tail = child.stderr_tail()
                    self.fail(f"the server died (exit code {child.proc.wait()})"
                              + (f"\n{tail}" if tail else ""))
            elif not child.killed and not (stopping and child.done):
                tail = child.stderr_tail()
                self.fail(f"client {child.name} exited (code {child.proc.wait()}) "
                          "without being asked" + (f"\n{tail}" if tail else ""))
            return
        if line.startswith("STAT "):
            stat = json.loads(line[5:])
            child.last = stat
            if child is self.server:
                self.samples.append((time.monotonic() - self.started, stat))
        elif line.startswith("FAIL "):
            self.fail(f"{child.name}: {line[5:]}")
        elif line == "DONE":
            child.done = True

    def pump(self, until: float, stopping: bool = False) -> None:
        """Handle child output until *until* (monotonic)."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            try:
                child, line = self.events.get(timeout=left)
            except queue.Empty:
                return
            self.handle(child, line, stopping)

    # -- reporting --------------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        keys = ("conns", "conversations", "sent", "verified", "aborted")
        return {k: sum(c.last.get(k, 0) for c in self.children if c is not self.server)
                for k in keys}

    def header(self) -> None:
        print(f"{'time':>6} {'fds':>5} {'open':>5} {'fd-open':>7} {'RSS MiB':>8} "
              f"{'grnlts':>6} {'served':>9} {'conn/s':>7} {'verified MB':>12} "
              f"{'MB/s':>7} {'convers.':>9} {'aborted':>8} {'kills':>6}", flush=True)

    def report(self, previous: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        sample = self.samples[-1][1] if self.samples else {}
        totals = self.totals()
        span = max(now - previous["at"], 1e-9)
        served = sample.get("served", 0)
        rate = (served - previous["served"]) / span
        mbps = (totals["verified"] - previous["verified"]) / span / 1e6
        print(f"{now - self.started:>5.0f}s {sample.get('fds', 0):>5} "
              f"{sample.get('open', 0):>5} {sample.get('fds', 0) - sample.get('open', 0):>7} "
              f"{mib(sample.get('rss_kib', 0)):>8} {sample.get('greenlets', 0):>6} "
              f"{served:>9,} {rate:>7,.0f} {totals['verified'] / 1e6:>12,.1f} {mbps:>7.1f} "
              f"{totals['conversations']:>9,} {totals['aborted']:>8,} {self.kills:>6}",
              flush=True)
        if previous["verified"] == totals["verified"] and previous["at"] > self.started:
            self.fail(f"no bytes verified for {span:.0f} s: the clients are stalled")
        return {"at": now, "served": served, "verified": totals["verified"]}

    # -- the run ----------------------------------------------------------------------

    def run(self) -> int:
        args = self.args
        counts = dict.fromkeys(KINDS, 0)
        for i in range(args.clients):
            counts[KINDS[i % len(KINDS)]] += 1
        self.started = time.monotonic()
        self.server = Child("server", "server", ["server", "--path", self.path],
                            self.events, self.tmp)
        self.children.append(self.server)
        print(f"soak: {args.minutes:g} min, server pid {self.server.proc.pid} on "
              f"{self.path}; {args.clients} client processes ("
              + ", ".join(f"{n} {k}" for k, n in counts.items())
              + f"); warm-up {args.warmup:.0f} s; report every {args.report_every:g} s",
              flush=True)
        # The server's state before any client: the baseline for the final check.
        deadline = time.monotonic() + SERVER_SILENCE
        while not self.samples and time.monotonic() < deadline and not self.failures:
            self.pump(time.monotonic() + 0.2)
        if not self.samples:
            self.fail("the server did not start")
            return self.finish(None)
        baseline = self.samples[-1][1]
        for kind, n in counts.items():
            for _ in range(n):
                self.spawn_client(kind)
        self.header()
        end = self.started + args.minutes * 60
        next_report = time.monotonic() + args.report_every
        previous = {"at": self.started, "served": 0, "verified": 0}
        while time.monotonic() < end and not self.failures:
            now = time.monotonic()
            for child in list(self.children):
                if child.kind == "crash" and not child.killed and now >= child.kill_at:
                    child.kill()
                    self.kills += 1
                    self.spawn_client("crash")
            if self.samples and now - self.started - self.samples[-1][0] > SERVER_SILENCE:
                self.fail(f"the server sent no STAT for {SERVER_SILENCE:.0f} s: hung")
            if now >= next_report:
                previous = self.report(previous)
                next_report += args.report_every
            wake = min([next_report, end, *(c.kill_at for c in self.children
                                             if c.kind == "crash" and not c.killed)])
            self.pump(min(wake, time.monotonic() + 1.0))
        return self.finish(baseline)

    def stop_clients(self) -> None:
        clients = [c for c in self.children if c is not self.server and not c.ended]
        for child in clients:
            if child.kind == "crash":
                child.kill()
            else:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(not c.ended for c in clients) and time.monotonic() < deadline:
            self.pump(min(deadline, time.monotonic() + 0.5), stopping=True)
        for child in clients:
            if not child.ended:
                self.fail(f"client {child.name} did not stop within {STOP_TIMEOUT:.0f} s")
                child.kill()

    def finish(self, baseline: dict[str, Any] | None) -> int:
        try:
            if baseline is not None:
                self.stop_clients()
                self.quiesce(baseline)
                self.check_growth()
            self.stop_server()
        finally:
            for child in self.children:
                child.kill()
                child.close()
        return self.summary()

    def quiesce(self, baseline: dict[str, Any]) -> None:
        """Once every client is gone, the server is back where it started."""
        if self.server is None or self.server.ended:
            return
        stopped = time.monotonic() - self.started
        deadline = time.monotonic() + SERVER_SILENCE
        while time.monotonic() < deadline:
            if self.samples and self.samples[-1][0] > stopped \
                    and self.samples[-1][1]["open"] == 0:
                break
            self.pump(time.monotonic() + 0.5)
        last = self.samples[-1][1] if self.samples else {}
        if last.get("open") != 0:
            self.fail(f"connections still open on the server after every client stopped: "
                      f"{last.get('open')}")
            return
        self.final = last
        for key, tolerance in (("fds", 1), ("greenlets", 2)):
            if abs(last[key] - baseline[key]) > tolerance:
                self.fail(f"after every client stopped the server has {last[key]} {key}; "
                          f"{baseline[key]} before the first client")

    def check_growth(self) -> None:
        args = self.args
        # The samples from the end of the warm-up until the clients were stopped.
        post = [(t, s) for t, s in self.samples if args.warmup <= t <= args.minutes * 60]
        if len(post) < 6:
            print(f"  (only {len(post)} samples after the warm-up: growth not judged)")
            return
        for key, extra, tolerance in (("fds", "open", args.fd_tolerance),
                                      ("greenlets", "blocking_open", args.greenlet_tolerance)):
            values = [s[key] - s[extra] for _, s in post]
            if max(values) - values[0] > tolerance:
                self.fail(f"server {key} beyond its {extra} connections grew from "
                          f"{values[0]} to {max(values)} (last {values[-1]}) after the "
                          f"warm-up; tolerance {tolerance}")
        rss = [(t, s["rss_kib"]) for t, s in post]
        head = statistics.median(v for _, v in rss[:3])
        tail = statistics.median(v for _, v in rss[-3:])
        span = rss[-1][0] - rss[0][0]
        trend = fit_slope(rss) * span
        tolerance = max(args.rss_tolerance * 1024, 0.10 * head)
        self.rss_figures = (head, tail, trend, tolerance, span)
        if (tail - head > tolerance and trend > tolerance / 2) or trend > tolerance:
            self.fail(f"server RSS grew after the warm-up: {mib(head)} -> {mib(tail)} MiB, "
                      f"trend +{mib(trend)} MiB over {span:.0f} s; tolerance "
                      f"{mib(tolerance)} MiB")

    def stop_server(self) -> None:
        server = self.server
        if server is None or server.ended:
            return
        server.done = False
        server.terminate()
        deadline = time.monotonic() + SERVER_SILENCE
        while not server.ended and time.monotonic() < deadline:
            self.pump(min(deadline, time.monotonic() + 0.5), stopping=True)
        if not server.ended:
            self.fail("the server did not stop on SIGTERM")
        elif server.proc.wait() != 0:
            self.fail(f"the server exited with {server.proc.returncode}")

    def summary(self) -> int:
        elapsed = time.monotonic() - self.started
        totals = self.totals()
        server = self.server.last if self.server is not None else {}
        print(f"\nsoak summary after {elapsed:.0f} s:")
        print(f"  server: {server.get('served', 0):,} connections served, "
              f"{server.get('checked', 0) / 1e6:,.1f} MB checked, "
              f"{server.get('echoed', 0) / 1e6:,.1f} MB echoed")
        print(f"  clients: {totals['conns']:,} connections, {totals['conversations']:,} "
              f"conversations, {totals['verified'] / 1e6:,.1f} MB echoed and checked "
              f"({totals['verified'] / 1e6 / max(elapsed, 1e-9):.1f} MB/s), "
              f"{totals['aborted']:,} ended mid-stream, {self.kills} SIGKILLed")
        if self.server is not None:
            log = self.server.stderr_tail(limit=1 << 30)
            print(f"  hostile: {server.get('garbage', 0) / 1e6:,.1f} MB of garbage read and "
                  f"dropped; {server.get('si_messages', 0):,} honest SingleInstance "
                  "messages acknowledged between malformed frames; "
                  f"{log.count('accept() is out of a resource')} accept back-offs "
                  "while bursts exhausted the server's descriptors "
                  f"(peak {max((s['fds'] for _, s in self.samples), default=0)})")
        if self.samples:
            fds = [s["fds"] - s["open"] for _, s in self.samples]
            print(f"  server descriptors beyond open connections: {min(fds)}..{max(fds)}")
        figures = getattr(self, "rss_figures", None)
        if figures is not None:
            head, tail, trend, tolerance, span = figures
            print(f"  server RSS after the warm-up: {mib(head)} -> {mib(tail)} MiB, fitted "
                  f"trend {trend / 1024:+.1f} MiB over {span:.0f} s "
                  f"(tolerance {mib(tolerance)} MiB)")
        final = getattr(self, "final", None)
        if final is not None:
            print(f"  after every client stopped: {final['fds']} descriptors, "
                  f"{final['greenlets']} greenlets, {mib(final['rss_kib'])} MiB RSS")
        if self.failures:
            print(f"\nSOAK FAILED ({len(self.failures)} problems):")
            for reason in self.failures:
                print(f"  - {reason}")
            print(f"logs: {self.tmp}")
            return 1
        print("\nSOAK PASSED")
        for child in self.children:
            child.stderr_path.unlink(missing_ok=True)
        try:
            self.tmp.rmdir()
        except OSError:
            pass
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    soak = Soak(args)
    try:
        return soak.run()
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        for child in soak.children:
            child.kill()
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
