"""The benchmark driver: ``python -m benchmarks.run [--quick | --scaling] ...``.

Each trial is one implementation on one case: its server and its client run as
separate processes (``python -m benchmarks.impls.X server|client ...``), pinned to
different cores where the machine has two, on a socket in a fresh temporary
directory. The client times itself; both sides report what they moved, and the
trial counts only if every count adds up (see :meth:`benchmarks.cases.Case.check`).
Repetitions are interleaved across implementations (A B C A B C ...), so a burst of
load from elsewhere on the machine hits every implementation alike, and each
ratio to raw gevent is taken between trials of the same repetition.

Results: ``benchmarks/results/<time>-<mode>/`` (every trial as JSON, the tables as
markdown, the charts as PNG). A complete default run also refreshes
``benchmarks/results/latest/`` and ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import cases as _cases
from benchmarks import report
from benchmarks.cases import Case
from benchmarks.impls import BASELINE, BY_KEY, IMPLS, QLSOCK, Impl

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LATEST = RESULTS / "latest"
DOC = ROOT / "docs" / "benchmarks.md"
#: How long one wait inside an implementation may take (its --timeout).
WAIT_TIMEOUT = 20.0
#: How long the server may take to print READY.
READY_TIMEOUT = 30.0
#: Scaling curves are drawn for these unless --only says otherwise.
SCALING_IMPLS = ("qlsock-blocking", "qlsock-signal", "qlsock-stream", "gevent", "c")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="qlsock's benchmark suite: qlsock against raw gevent, asyncio, uvloop, "
                    "PySide6 and C, server and client in separate processes.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="small workloads, two repetitions: a smoke run in under a minute")
    mode.add_argument("--scaling", action="store_true",
                      help="the scaling curves: ping-pong and fan-in at 1..5000 connections, "
                           "bulk at 100 B..1 MiB writes")
    p.add_argument("--reps", type=int, help="repetitions of every trial "
                   "(default: 7; --quick: 2; --scaling: 5)")
    p.add_argument("--only", action="append", metavar="IMPL",
                   help="run only these implementations (repeat, or comma-separate): "
                        + ", ".join(i.key for i in IMPLS))
    p.add_argument("--workloads", metavar="LIST",
                   help="comma-separated subset of: " + ", ".join(_cases.UNITS))
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="where to write this run's results "
                        "(default: benchmarks/results/<time>-<mode>)")
    p.add_argument("--pin", choices=("split", "same", "none"), default="split",
                   help="server and client on two different cores (default), both on one "
                        "core, or wherever the scheduler puts them")
    p.add_argument("--trial-timeout", type=float, default=180.0, metavar="SECONDS",
                   help="a trial still running after this is killed and counted as failed")
    p.add_argument("--no-latest", action="store_true",
                   help="do not refresh benchmarks/results/latest and docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.reps is None:
        args.reps = 2 if args.quick else 5 if args.scaling else 7
    if args.reps < 1:
        p.error("--reps must be >= 1")
    keys = [k for item in args.only or [] for k in item.split(",") if k]
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        p.error(f"unknown implementation(s) {', '.join(unknown)}; "
                f"choose from {', '.join(BY_KEY)}")
    args.only = keys
    if args.workloads:
        args.workloads = [w for w in args.workloads.split(",") if w]
        bad = [w for w in args.workloads if w not in _cases.UNITS]
        if bad:
            p.error(f"unknown workload(s) {', '.join(bad)}")
    return args


# -- one trial ------------------------------------------------------------------------------


def cpus_for(pin: str) -> tuple[int | None, int | None, str]:
    """(server core, client core, what was done) for a pinning mode."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None, None, "not pinned (no sched_setaffinity)"
    if pin == "none":
        return None, None, "not pinned"
    if pin == "same":
        return cpus[0], cpus[0], f"server and client both on core {cpus[0]}"
    if len(cpus) < 2:
        return None, None, f"not pinned (only core {cpus[0]} is available)"
    return cpus[0], cpus[1], f"server on core {cpus[0]}, client on core {cpus[1]}"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.pop("QLSOCK_TEST_MONKEY", None)
    return env


def spawn(impl: Impl, role: str, case: Case, path: str, cpu: int | None,
          stderr: Any) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", f"benchmarks.impls.{impl.module}", role, case.workload,
            "--path", path, *case.args(), "--timeout", str(WAIT_TIMEOUT)]

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return subprocess.Popen(argv, cwd=ROOT, env=child_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=stderr, preexec_fn=pin,
                            start_new_session=True)


def read_until_ready(proc: subprocess.Popen[bytes], deadline: float) -> tuple[bool, bytes]:
    """Read the server's stdout until its READY line (or EOF, or the deadline)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"READY\n" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return False, seen
            chunk = os.read(fd, 65536)
            if not chunk:
                return False, seen
            seen += chunk
    return True, seen


def result_line(out: bytes) -> dict[str, Any] | None:
    for line in reversed(out.decode(errors="replace").splitlines()):
        if line.startswith("RESULT "):
            parsed: dict[str, Any] = json.loads(line[7:])
            return parsed
    return None


def kill(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def tail(path: Path, limit: int = 1500) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return text[-limit:]


def run_trial(impl: Impl, case: Case, rep: int, pin: str, trial_timeout: float
              ) -> dict[str, Any]:
    server_cpu, client_cpu, _ = cpus_for(pin)
    record: dict[str, Any] = {
        "impl": impl.key, "workload": case.workload, "case": case.label,
        "series": case.series, "x": case.x, "params": case.params(), "rep": rep,
        "unit": case.unit, "ok": False, "value": None, "error": "",
        "started": _dt.datetime.now().isoformat(timespec="seconds"),
        "load_before": os.getloadavg()[0],
    }
    tmp = Path(tempfile.mkdtemp(prefix="qlb", dir="/tmp" if os.path.isdir("/tmp") else None))
    path = str(tmp / "s")
    server = client = None
    t0 = time.monotonic()
    deadline = t0 + trial_timeout
    try:
        with open(tmp / "server.err", "wb") as s_err, open(tmp / "client.err", "wb") as c_err:
            server = spawn(impl, "server", case, path, server_cpu, s_err)
            ok, early = read_until_ready(server, min(deadline, t0 + READY_TIMEOUT))
            if not ok:
                kill(server)
                record["error"] = ("the server never printed READY: "
                                   + (tail(tmp / "server.err") or early.decode(errors="replace")
                                      or f"exit code {server.returncode}"))
                return record
            client = spawn(impl, "client", case, path, client_cpu, c_err)
            try:
                c_out, _ = client.communicate(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                record["error"] = f"timed out after {trial_timeout:.0f} s (client still running)"
                return record
            try:
                s_out, _ = server.communicate(timeout=max(min(deadline - time.monotonic(), 30), 5))
            except subprocess.TimeoutExpired:
                record["error"] = "the server did not finish after the client had"
                return record
            s_out = early + s_out
        c_res, s_res = result_line(c_out), result_line(s_out)
        record["client"], record["server"] = c_res, s_res
        record["client_exit"], record["server_exit"] = client.returncode, server.returncode
        problems = []
        if client.returncode or c_res is None:
            problems.append(f"client exit {client.returncode}: "
                            f"{tail(tmp / 'client.err') or 'no RESULT line'}")
        if server.returncode or s_res is None:
            problems.append(f"server exit {server.returncode}: "
                            f"{tail(tmp / 'server.err') or 'no RESULT line'}")
        if not problems:
            assert c_res is not None
            assert s_res is not None
            wrong = case.check(c_res, s_res)
            if wrong:
                problems.append(f"counts do not add up: {wrong}")
            else:
                record["value"] = case.value(c_res, s_res)
                record["ok"] = True
        record["error"] = " | ".join(problems)
        return record
    finally:
        kill(client)
        kill(server)
        record["wall_seconds"] = round(time.monotonic() - t0, 3)
        record["load_after"] = os.getloadavg()[0]
        shutil.rmtree(tmp, ignore_errors=True)


# -- the run ---------------------------------------------------------------------------------


def available(impls: list[Impl]) -> tuple[list[Impl], list[str]]:
    keep, notes = [], []
    for impl in impls:
        if impl.needs and importlib.util.find_spec(impl.needs) is None:
            notes.append(f"{impl.key}: skipped ({impl.needs} is not installed; "
                         "`pip install -e '.[test,bench]'`)")
            continue
        if impl.key == "c":
            from benchmarks.impls import c_native
            try:
                c_native.build()
            except RuntimeError as exc:
                notes.append(f"c: skipped ({exc})")
                continue
        keep.append(impl)
    return keep, notes


def environment(pin: str) -> dict[str, Any]:
    def version(module: str) -> str:
        try:
            from importlib.metadata import version as v
            return v(module)
        except Exception:
            return "-"

    def git(*a: str) -> str:
        out = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    cpu = "-"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from benchmarks.impls import c_native
    try:
        cc = c_native.compiler_version(c_native.compiler())
    except RuntimeError:
        cc = "-"
    return {
        "python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
        "cores": os.cpu_count(), "pinning": cpus_for(pin)[2],
        "commit": git("rev-parse", "--short", "HEAD") + (" (modified)" if git(
            "status", "--porcelain", "--", "qlsock") else ""),
        "versions": {m: version(m) for m in ("qlsock", "gevent", "greenlet", "uvloop",
                                             "PySide6-Essentials", "matplotlib")},
        "cc": cc,
    }


def fmt_value(case: Case, value: float) -> str:
    return f"{value:,.1f}" if case.workload == "idle" else f"{value:,.0f}"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    mode = "scaling" if args.scaling else "quick" if args.quick else "bench"
    all_cases = _cases.scaling() if args.scaling else _cases.headline(args.quick)
    if args.workloads:
        all_cases = [c for c in all_cases if c.workload in args.workloads]
    wanted = [BY_KEY[k] for k in args.only] if args.only else [
        BY_KEY[k] for k in SCALING_IMPLS] if args.scaling else list(IMPLS)
    wanted = [i for i in IMPLS if i in wanted]  # keep the canonical order
    impls, notes = available(wanted)
    for note in notes:
        print(note)
    if not impls or not all_cases:
        print("nothing to run")
        return 2
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or RESULTS / f"{stamp}-{mode}"
    out.mkdir(parents=True, exist_ok=True)
    env = environment(args.pin)
    total = len(all_cases) * args.reps * len(impls)
    print(f"{mode}: {len(all_cases)} cases x {args.reps} reps x {len(impls)} implementations "
          f"= {total} trials; {env['pinning']}; qlsock {env['commit']}")
    trials: list[dict[str, Any]] = []
    started = time.monotonic()
    n = 0
    width = max(len(i.key) for i in impls)
    for case in all_cases:
        for rep in range(1, args.reps + 1):
            for impl in impls:
                n += 1
                rec = run_trial(impl, case, rep, args.pin, args.trial_timeout)
                trials.append(rec)
                shown = (f"{fmt_value(case, rec['value'])} {case.unit}" if rec["ok"]
                         else f"FAILED: {rec['error'][:300]}")
                print(f"[{n:>3}/{total}] {case.label:<28} rep {rep}/{args.reps}  "
                      f"{impl.key:<{width}}  {shown}  ({rec['wall_seconds']:.1f} s)",
                      flush=True)
    elapsed = time.monotonic() - started
    run_info = {"mode": mode, "reps": args.reps, "impls": [i.key for i in impls],
                "baseline": BASELINE, "qlsock": list(QLSOCK), "elapsed_seconds": round(elapsed),
                "finished": _dt.datetime.now().isoformat(timespec="seconds"),
                "environment": env, "notes": notes}
    (out / "trials.json").write_text(
        json.dumps({"run": run_info, "trials": trials}, separators=(",", ":")) + "\n")
    if args.scaling:
        text = report.scaling_markdown(all_cases, impls, trials, run_info)
        (out / "scaling.md").write_text(text)
        chart = report.scaling_chart(all_cases, impls, trials, out / "scaling.png")
        names = {"trials.json": "scaling.json", "scaling.md": "scaling.md",
                 "scaling.png": "scaling.png"}
    else:
        text = report.bench_markdown(all_cases, impls, trials, run_info)
        (out / "bench.md").write_text(text)
        chart = report.ratio_chart(all_cases, impls, trials, out / "ratios.png")
        names = {"trials.json": "bench.json", "bench.md": "bench.md", "ratios.png": "ratios.png"}
    print()
    print(text)
    if chart:
        print(f"chart: {chart}")
    print(f"every trial: {out / 'trials.json'}  ({elapsed:.0f} s in all)")
    complete = not (args.quick or args.only or args.workloads or args.out or args.no_latest)
    if complete:
        LATEST.mkdir(parents=True, exist_ok=True)
        for src, dst in names.items():
            if (out / src).exists():
                shutil.copyfile(out / src, LATEST / dst)
        report.write_doc(DOC, LATEST)
        print(f"refreshed {LATEST.relative_to(ROOT)}/ and {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
