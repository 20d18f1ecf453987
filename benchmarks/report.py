"""Tables, targets and charts from a run's trials, and ``docs/benchmarks.md``.

Every number printed is a median over repetitions. The spread is half the range
(max - min) / 2 as a percentage of the median. A ratio is taken between trials of
the same repetition (which ran one after the other), and the median of those
per-repetition ratios is reported: a burst of load from elsewhere then moves both
sides of a ratio instead of one.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.cases import Case
from benchmarks.impls import BASELINE, BY_KEY, IMPLS, JUDGED, QLSOCK, Impl

Trials = Sequence[dict[str, Any]]

#: Issue 14's targets for every judged qlsock style, as ratios to raw gevent in the
#: same run.
TARGETS: dict[str, tuple[str, float]] = {
    "pingpong": (">=", 1.00),
    "bulk": (">=", 1.00),
    "accept": (">=", 1.00),
    "fanin": (">=", 1.00),
    "idle": ("<=", 1.00),
}
#: Where one style's target is higher than the rest's.
STYLE_TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("qlsock-signal", "fanin"): (">=", 1.50),
}
#: qlsock should also beat these on every workload.
RIVALS = ("pyside6", "asyncio")


def target(style: str, workload: str) -> tuple[str, float] | None:
    """The (operator, limit) *style* is held to on *workload*, or None."""
    if style not in JUDGED:
        return None
    return STYLE_TARGETS.get((style, workload)) or TARGETS.get(workload)


def targets_text() -> str:
    """The targets in words, for the tables' captions."""
    parts = [f"{w} {op.replace('>=', '≥').replace('<=', '≤')} {limit:.2f}"
             for w, (op, limit) in TARGETS.items()]
    parts += [f"{w} {op.replace('>=', '≥')} {limit:.2f} for {BY_KEY[s].label}"
              for (s, w), (op, limit) in STYLE_TARGETS.items()]
    return ", ".join(parts)


def _values(trials: Trials, impl: str, case: Case) -> dict[int, float]:
    return {t["rep"]: t["value"] for t in trials
            if t["impl"] == impl and t["case"] == case.label and t["ok"]}


def _failed(trials: Trials, impl: str, case: Case) -> int:
    return sum(1 for t in trials if t["impl"] == impl and t["case"] == case.label
               and not t["ok"])


def median_spread(values: Sequence[float]) -> tuple[float, float] | None:
    if not values:
        return None
    med = statistics.median(values)
    spread = (max(values) - min(values)) / 2 / med * 100 if med else 0.0
    return med, spread


def ratios(trials: Trials, impl: str, other: str, case: Case) -> list[float]:
    """impl / other, per repetition in which both succeeded."""
    a, b = _values(trials, impl, case), _values(trials, other, case)
    return [a[r] / b[r] for r in sorted(a) if b.get(r)]


def _num(case: Case, value: float) -> str:
    if case.workload == "idle":
        return f"{value:,.2f}"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _cell(trials: Trials, impl: str, case: Case) -> str:
    vals = _values(trials, impl, case)
    failed = _failed(trials, impl, case)
    ms = median_spread(list(vals.values()))
    if ms is None:
        return "FAILED" if failed else "-"
    text = _num(case, ms[0]) + (f" ±{ms[1]:.0f}%" if len(vals) > 1 else "")
    return text + (f" ({failed} failed)" if failed else "")


def cpu_per_op(trial: dict[str, Any]) -> float | None:
    """Server + client CPU seconds per operation, in µs (None for idle or old trials)."""
    client, server = trial.get("client") or {}, trial.get("server") or {}
    if not trial["ok"] or trial["workload"] == "idle" or "cpu_seconds" not in client \
            or "cpu_seconds" not in server or not client.get("ops"):
        return None
    return (client["cpu_seconds"] + server["cpu_seconds"]) / client["ops"] * 1e6


def _cpu_cell(trials: Trials, impl: str, case: Case) -> str:
    vals = [v for t in trials if t["impl"] == impl and t["case"] == case.label
            and (v := cpu_per_op(t)) is not None]
    if not vals:
        return "-"
    med = statistics.median(vals)
    return f"{med:,.1f}" if med < 1000 else f"{med:,.0f}"


def _verdict(op: str, limit: float, value: float) -> str:
    ok = value >= limit if op == ">=" else value <= limit
    return "PASS" if ok else "MISS"


def _ratio_cell(trials: Trials, impl: str, case: Case) -> str:
    rs = ratios(trials, impl, BASELINE, case)
    if not rs:
        return "-"
    med = statistics.median(rs)
    text = f"{med:.2f}" if med >= 0.1 else f"{med:.3f}"
    goal = target(impl, case.workload)
    if goal is not None:
        op, limit = goal
        if text == f"{limit:.2f}":
            text = f"{med:.3f}"
        text += f" {_verdict(op, limit, med)}"
    return text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _column(case: Case) -> str:
    return f"{case.label} ({case.unit})"


def targets(cases: Sequence[Case], impls: Sequence[Impl], trials: Trials
            ) -> tuple[str, int, int]:
    """The PASS/MISS table for the qlsock rows: (markdown, passed, checked)."""
    present = {i.key for i in impls}
    styles = [k for k in JUDGED if k in present]
    rows: list[list[str]] = []
    passed = checked = 0

    def check(style: str, other: str, case: Case, op: str, limit: float, times: bool) -> str:
        nonlocal passed, checked
        rs = ratios(trials, style, other, case)
        if not rs:
            return "n/a"
        med = statistics.median(rs)
        verdict = (_verdict if op in (">=", "<=") else _verdict_strict)(op, limit, med)
        checked += 1
        passed += verdict == "PASS"
        shown = f"{med:.2f}"
        if shown == f"{limit:.2f}":
            shown = f"{med:.3f}"
        return f"{shown}{'x' if times else ''} {verdict}"

    for case in cases:
        goals = {s: target(s, case.workload) for s in styles}
        if not any(goals.values()):
            continue
        if BASELINE in present:
            limits = sorted({f"{op.replace('>=', '≥').replace('<=', '≤')} {limit:.2f}"
                             for g in goals.values() if g for op, limit in [g]})
            rows.append([case.label, " or ".join(limits) + " x raw gevent",
                         *(check(s, BASELINE, case, g[0], g[1], False) if g else "n/a"
                           for s, g in goals.items())])
        for rival in RIVALS:
            if rival not in present:
                continue
            lower = case.lower_is_better
            what = f"{'below' if lower else 'ahead of'} {BY_KEY[rival].label}"
            rows.append([case.label, what,
                         *(check(s, rival, case, "<" if lower else ">", 1.0, True)
                           if goals[s] else "n/a" for s in styles)])
    if not rows or not styles:
        return "", 0, 0
    header = ["workload", "target (median of per-repetition ratios)",
              *(BY_KEY[s].label for s in styles)]
    return _table(header, rows), passed, checked


def issue_verdict(cases: Sequence[Case], impls: Sequence[Impl], trials: Trials
                  ) -> tuple[str, int, int]:
    """Issue 14's rule, per workload: (markdown, met, checked).

    Every judged style (signal, and the gevent style of ``serve()``) must meet its
    target against raw gevent and beat each rival present in the run.
    """
    present = {i.key for i in impls}
    styles = [k for k in JUDGED if k in present]
    if BASELINE not in present or not styles:
        return "", 0, 0
    rows: list[list[str]] = []
    met = checked = 0
    for case in cases:
        lower = case.lower_is_better
        verdicts: list[str] = []
        detail: list[str] = []
        for style in styles:
            goal = target(style, case.workload)
            rs = ratios(trials, style, BASELINE, case)
            if goal is None or not rs:
                continue
            op, limit = goal
            med = statistics.median(rs)
            verdicts.append(_verdict(op, limit, med))
            part = f"{BY_KEY[style].label} {med:.2f} (target {limit:.2f})"
            for rival in RIVALS:
                against = ratios(trials, style, rival, case) if rival in present else []
                if against:
                    vs = statistics.median(against)
                    verdicts.append(_verdict_strict("<" if lower else ">", 1.0, vs))
                    part += f", {vs:.2f}x {BY_KEY[rival].label}"
            detail.append(part)
        if not verdicts:
            continue
        ok = all(v == "PASS" for v in verdicts)
        checked += 1
        met += ok
        rows.append([case.label, "; ".join(detail), "MET" if ok else "MISSED"])
    header = ["workload", "each style vs raw gevent (target), and vs the rivals", "verdict"]
    return _table(header, rows), met, checked


def _verdict_strict(op: str, limit: float, value: float) -> str:
    return "PASS" if (value > limit if op == ">" else value < limit) else "MISS"


def _run_line(run: dict[str, Any], mode: bool) -> str:
    """The line that says when, where and on which commit a run was made."""
    env = run["environment"]
    kind = f", mode `{run['mode']}`" if mode else ""
    return (f"Run: {run['finished']}{kind}, {run['reps']} repetitions interleaved across "
            f"implementations, {run['elapsed_seconds']} s. qlsock {env['commit']}; Python "
            f"{env['python']}; {env['cpu']}, {env['cores']} cores; {env['pinning']}.")


def bench_markdown(cases: Sequence[Case], impls: Sequence[Impl], trials: Trials,
                   run: dict[str, Any]) -> str:
    out = [
        _run_line(run, mode=True),
        "",
        "**Medians** (± half the range over repetitions, as % of the median):",
        "",
        _table(["implementation", *(_column(c) for c in cases)],
               [[i.label, *(_cell(trials, i.key, c) for c in cases)] for i in impls]),
    ]
    if any(i.key == BASELINE for i in impls):
        out += [
            "",
            "**Ratios to raw gevent** (median of per-repetition ratios; above 1 is faster, "
            "except idle memory, where above 1 is more memory). The judged qlsock styles' "
            f"cells are marked against the targets ({targets_text()}):",
            "",
            _table(["implementation", *(c.label for c in cases)],
                   [[i.label, *(_ratio_cell(trials, i.key, c) for c in cases)]
                    for i in impls]),
        ]
    cpu_cases = [c for c in cases if c.workload != "idle"]
    if cpu_cases:
        out += [
            "",
            "**CPU time per operation**, server + client, µs (median; an operation is a round "
            "trip, a write or a connection). Less sensitive than the rates to how long the "
            "other core takes to wake up, so steadier on a busy or virtual machine:",
            "",
            _table(["implementation", *(c.label for c in cpu_cases)],
                   [[i.label, *(_cpu_cell(trials, i.key, c) for c in cpu_cases)]
                    for i in impls]),
        ]
    verdict, met, judged = issue_verdict(cases, impls, trials)
    if verdict:
        out += ["", f"**The issue's targets**: {met} of {judged} workloads met. Per workload, "
                "each judged qlsock style against its target and against the rivals:",
                "", verdict]
    table, passed, checked = targets(cases, impls, trials)
    if table:
        out += ["", f"**Each style against each target**: {passed} of {checked} met "
                "(a miss does not fail the run).", "", table]
    chart = text_chart(cases, impls, trials)
    if chart:
        out += ["", "**The ratios as a chart** (median of per-repetition ratios):", "",
                chart.rstrip()]
    failures = [t for t in trials if not t["ok"]]
    if failures:
        out += ["", f"**Failed trials** ({len(failures)}):", ""]
        out += [f"- {t['case']}, rep {t['rep']}, {t['impl']}: {t['error'][:500]}"
                for t in failures]
    return "\n".join(out) + "\n"


# -- charts -----------------------------------------------------------------------------------

#: The text chart's scale: characters for a ratio of 1.0.
BAR_UNIT = 24


def text_chart(cases: Sequence[Case], impls: Sequence[Impl], trials: Trials) -> str:
    """The ratios to raw gevent as bars of text (a fenced block): the chart for places
    that show no images, such as a package index's page of the README."""
    if BASELINE not in {i.key for i in impls}:
        return ""
    shown = [i for i in impls if i.key != BASELINE]
    width = max(len(i.label) for i in shown)
    lines: list[str] = []
    for case in cases:
        lines.append(f"{case.label} (ratio to raw gevent, |: 1.0"
                     f"{'; lower is better' if case.lower_is_better else ''})")
        for impl in shown:
            rs = ratios(trials, impl.key, BASELINE, case)
            if not rs:
                continue
            med = statistics.median(rs)
            length = max(1, round(min(med, 2.0) * BAR_UNIT))
            bar = "█" * length
            if length > BAR_UNIT:
                bar = bar[:BAR_UNIT] + "|" + bar[BAR_UNIT:]
            else:
                bar = bar.ljust(BAR_UNIT) + "|"
            more = "…" if med > 2.0 else ""
            lines.append(f"  {impl.label:<{width}}  {bar}{more} {med:.2f}")
        lines.append("")
    return "```text\n" + "\n".join(lines).rstrip() + "\n```\n"



def _color(cmap: Any, impl: Impl) -> Any:
    """One colour per implementation, the same in every chart."""
    return cmap(IMPLS.index(impl))


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


#: The ratio chart's lower edge.
FLOOR = 0.1


def ratio_chart(cases: Sequence[Case], impls: Sequence[Impl], trials: Trials,
                path: Path) -> Path | None:
    """Grouped bars: each implementation's ratio to raw gevent, per workload."""
    plt = _pyplot()
    shown = [i for i in impls if i.key != BASELINE]
    if plt is None or not shown or BASELINE not in {i.key for i in impls}:
        return None
    fig, ax = plt.subplots(figsize=(11, 6.2), dpi=110)
    width = 0.8 / len(shown)
    colors = plt.get_cmap("tab10")
    top = 1.5
    for n, impl in enumerate(shown):
        xs, meds, lo, hi = [], [], [], []
        for c, case in enumerate(cases):
            rs = ratios(trials, impl.key, BASELINE, case)
            if not rs:
                continue
            med = statistics.median(rs)
            xs.append(c - 0.4 + width * (n + 0.5))
            meds.append(med)
            lo.append(med - min(rs))
            hi.append(max(rs) - med)
        ax.bar(xs, meds, width * 0.92, label=impl.label, color=_color(colors, impl),
               yerr=[lo, hi], capsize=2, error_kw={"elinewidth": 0.8})
        for x, med, up in zip(xs, meds, hi, strict=True):
            ax.annotate(f"{med:.2f}", (x, max(med + up, FLOOR)), textcoords="offset points",
                        xytext=(0, 3), ha="center", va="bottom", fontsize=7, rotation=90)
        top = max([top, *meds])
    for c, case in enumerate(cases):
        if case.workload in TARGETS:
            limit = max(goal[1] for s in JUDGED if (goal := target(s, case.workload)))
            ax.hlines(limit, c - 0.45, c + 0.45, colors="crimson", linestyles="dashed",
                      linewidth=1.2, label="qlsock target" if c == 0 else None)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    # C's idle memory is ~1% of gevent's: a floor keeps the other bars readable
    # (the number above each bar is its true median).
    ax.set_ylim(FLOOR, top * 2.2)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([c.label + ("\n(lower is better)" if c.lower_is_better else "")
                        for c in cases])
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(plt.FuncFormatter(
        lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
    ax.set_ylabel("ratio to raw gevent (same repetition), log scale")
    ax.set_title("qlsock and the others, relative to raw gevent (1.0); "
                 "bars: median, whiskers: min-max over repetitions")
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


SERIES = {
    "pingpong": ("Ping-pong, 64 B: N connections share 20,000 round trips",
                 "connections", "round trips/s"),
    "fanin": ("Fan-in, 64 B: N clients connect, share 20,000 round trips, disconnect",
              "clients", "round trips/s"),
    "bulk": ("Bulk: one connection, write size varies", "bytes per write", "MB/s"),
}


def scaling_markdown(cases: Sequence[Case], impls: Sequence[Impl], trials: Trials,
                     run: dict[str, Any]) -> str:
    out = [_run_line(run, mode=False)]
    present = {i.key for i in impls}
    ratio_cols = [k for k in QLSOCK if k in present] if BASELINE in present else []
    for series, (title, xlabel, unit) in SERIES.items():
        points = [c for c in cases if c.series == series]
        if not points:
            continue
        header = [xlabel, *(f"{i.label} ({unit})" for i in impls),
                  *(f"{BY_KEY[k].label} / raw gevent" for k in ratio_cols)]
        rows = []
        for case in points:
            ratio_cells = []
            for k in ratio_cols:
                rs = ratios(trials, k, BASELINE, case)
                ratio_cells.append(f"{statistics.median(rs):.2f}" if rs else "-")
            rows.append([f"{case.x:,}", *(_cell(trials, i.key, case) for i in impls),
                         *ratio_cells])
        out += ["", f"**{title}**", "", _table(header, rows)]
    failures = [t for t in trials if not t["ok"]]
    if failures:
        out += ["", f"**Failed trials** ({len(failures)}):", ""]
        out += [f"- {t['case']}, rep {t['rep']}, {t['impl']}: {t['error'][:500]}"
                for t in failures]
    return "\n".join(out) + "\n"


def scaling_chart(cases: Sequence[Case], impls: Sequence[Impl], trials: Trials,
                  path: Path) -> Path | None:
    plt = _pyplot()
    series = [s for s in SERIES if any(c.series == s for c in cases)]
    if plt is None or not series:
        return None
    fig, axes = plt.subplots(1, len(series), figsize=(5.2 * len(series), 4.6), dpi=90,
                             squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, name in zip(axes[0], series, strict=True):
        title, xlabel, unit = SERIES[name]
        points = [c for c in cases if c.series == name]
        for impl in impls:
            xs, meds, lo, hi = [], [], [], []
            for case in points:
                vals = list(_values(trials, impl.key, case).values())
                if vals:
                    xs.append(case.x)
                    meds.append(statistics.median(vals))
                    lo.append(min(vals))
                    hi.append(max(vals))
            if xs:
                ax.plot(xs, meds, marker="o", label=impl.label, color=_color(colors, impl))
                ax.fill_between(xs, lo, hi, color=_color(colors, impl), alpha=0.15)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(unit)
        ax.grid(which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Scaling (median; band: min-max over repetitions)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# -- docs/benchmarks.md ----------------------------------------------------------------------

#: The static part of docs/benchmarks.md: the method, the workloads, the rows.
DOC_HEAD = Path(__file__).with_name("doc_head.md")


def write_doc(doc: Path, latest: Path) -> None:
    parts = [DOC_HEAD.read_text()]
    bench = latest / "bench.md"
    if bench.exists():
        parts += ["\n## Latest results\n\n",
                  "![ratios to raw gevent](../benchmarks/results/latest/ratios.png)\n\n",
                  bench.read_text()]
    scaling = latest / "scaling.md"
    if scaling.exists():
        parts += ["\n## Scaling\n\n",
                  "![scaling curves](../benchmarks/results/latest/scaling.png)\n\n",
                  scaling.read_text()]
    doc.write_text("".join(parts))
