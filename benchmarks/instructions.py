"""Instructions per operation, counted by callgrind: a measure the machine's load
moves far less than it moves the rates.

    python -m benchmarks.instructions [--only IMPL,...] [--workloads pingpong,accept]

The rates of :mod:`benchmarks.run` need a quiet machine; this needs a steadier one
only. Each trial
runs one side (server or client) of an implementation under
``valgrind --tool=callgrind`` against raw gevent's other side, twice, with N and
3N operations; the difference divided by 2N is that side's user-space
instructions per operation, start-up and imports cancelled out. System calls are
not counted (the kernel's share is the same for every Python implementation), so
the ratios here are larger than the CPU-time ratios: they show what the Python
layer costs, which is what a change to qlsock moves. Under valgrind the measured
side runs about fifty times slower, so its peer has always answered when it looks:
one operation per wake-up, the worst case for batching, the same for everyone.

The peer runs at full speed, so whatever delays it (two trials at once, other work
on the machine) makes the measured side find the socket empty more often and wait
more, which costs instructions too. The signal-style server counted alone read
58.1 to 59.4 k per round trip over five runs, beside other work up to 25 % higher; raw
gevent's ping-pong client, which either finds the echo waiting or waits for it,
read 12 k in one run and 21 k in another. Trials therefore run one after another;
compare counts taken the same way, and repeat a surprising one. Needs
``valgrind``; about 20 s a trial.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.impls import BY_KEY

ROOT = Path(__file__).resolve().parent.parent
#: Operations per trial (N; the second run does 3N): round trips or connections.
COUNTS = {"pingpong": ("--rounds", 2000), "accept": ("--conns", 500)}
DEFAULT_IMPLS = ("gevent", "qlsock-signal", "qlsock-stream", "qlsock-blocking")
PEER = "gevent"


def _collected(stderr: str) -> int:
    found = re.search(r"Collected : (\d+)", stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{stderr[-2000:]}")
    return int(found.group(1))


def run_side(impl: str, side: str, workload: str, count: int, workdir: str) -> int:
    """Instructions of *impl*'s *side* for *count* operations (start-up included)."""
    flag, _ = COUNTS[workload]
    path = os.path.join(workdir, f"s{time.monotonic_ns() % 10**9}")
    args = [workload, "--path", path, flag, str(count), "--timeout", "600"]
    modules = {"server": BY_KEY[impl if side == "server" else PEER].module,
               "client": BY_KEY[impl if side == "client" else PEER].module}
    grind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/cg.out"]

    def command(role: str) -> list[str]:
        base = [sys.executable, "-m", f"benchmarks.impls.{modules[role]}", role, *args]
        return grind + base if role == side else base

    server = subprocess.Popen(command("server"), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if "READY" not in line:
            raise RuntimeError(f"{impl} server did not start: {server.stderr.read()[-2000:]}"
                               if server.stderr else "server did not start")
        client = subprocess.run(command("client"), cwd=ROOT, capture_output=True, text=True,
                                timeout=900)
        _, server_err = server.communicate(timeout=900)
    finally:
        if server.poll() is None:
            server.kill()
    if client.returncode or server.returncode:
        raise RuntimeError(f"{impl} {workload} failed:\n{client.stderr[-2000:]}"
                           f"\n{server_err[-2000:]}")
    return _collected(server_err if side == "server" else client.stderr)


def per_op(impl: str, side: str, workload: str, workdir: str) -> float:
    _, n = COUNTS[workload]
    low = run_side(impl, side, workload, n, workdir)
    high = run_side(impl, side, workload, 3 * n, workdir)
    return (high - low) / (2 * n)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(DEFAULT_IMPLS),
                   help="comma-separated implementations (default: %(default)s)")
    p.add_argument("--workloads", default=",".join(COUNTS),
                   help="comma-separated subset of: %(default)s")
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        p.error("valgrind is not installed (Debian: apt-get install valgrind)")
    impls = [i for i in args.only.split(",") if i]
    workloads = [w for w in args.workloads.split(",") if w]
    for name in impls:
        if name not in BY_KEY:
            p.error(f"unknown implementation {name!r}")
    for w in workloads:
        if w not in COUNTS:
            p.error(f"--workloads takes {', '.join(COUNTS)}, not {w!r}")
    print("| workload | side | " + " | ".join(impls) + " |")
    print("|---|---|" + "---:|" * len(impls))
    with tempfile.TemporaryDirectory(prefix="qi", dir="/tmp") as workdir:
        for workload in workloads:
            for side in ("server", "client"):
                counts = {i: per_op(i, side, workload, workdir) for i in impls}
                base = counts.get(PEER)
                cells = [f"{v / 1000:,.1f} k" + (f" ({v / base:.2f}x)" if base else "")
                         for v in counts.values()]
                print(f"| {workload} | {side} | " + " | ".join(cells) + " |", flush=True)
    print("\nUser-space instructions per operation (callgrind), and the multiple of "
          "raw gevent's; lower is better.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
