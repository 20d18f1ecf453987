"""What is measured: the headline cases, the quick ones and the scaling curves.

A case is one workload with its parameters. :meth:`Case.check` holds a finished
trial to the counts the parameters imply, on both sides, and :meth:`Case.value`
turns it into the number reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

KIB = 1024
MIB = 1024 * 1024
GIB = 1024 * MIB

UNITS = {"pingpong": "rt/s", "fanin": "rt/s", "bulk": "MB/s", "accept": "conn/s",
         "idle": "KiB/conn"}
#: Idle memory is the one number where less is better.
LOWER_IS_BETTER = frozenset({"idle"})


@dataclass(frozen=True)
class Case:
    workload: str
    label: str
    conns: int = 1
    rounds: int = 0
    size: int = 64
    total: int = 0
    warm: int = 100
    series: str = ""  #: the scaling curve this point belongs to
    x: int = 0  #: its position on that curve (connections, or bytes per write)

    @property
    def unit(self) -> str:
        return UNITS[self.workload]

    @property
    def lower_is_better(self) -> bool:
        return self.workload in LOWER_IS_BETTER

    def args(self) -> list[str]:
        w = self.workload
        if w in ("pingpong", "fanin"):
            return ["--conns", str(self.conns), "--rounds", str(self.rounds),
                    "--size", str(self.size)]
        if w == "bulk":
            return ["--size", str(self.size), "--total", str(self.total)]
        if w == "accept":
            return ["--conns", str(self.conns)]
        return ["--conns", str(self.conns), "--warm", str(self.warm)]

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("label", "series", "x")}

    def check(self, client: dict[str, Any], server: dict[str, Any]) -> str:
        """Why the trial's counts are wrong, or "" when both sides add up."""
        w = self.workload
        if w in ("pingpong", "fanin"):
            warmup = self.conns if w == "pingpong" else 0
            want = {"client ops": self.rounds, "client bytes": self.rounds * self.size,
                    "server bytes": (self.rounds + warmup) * self.size,
                    "server accepted": self.conns, "server closed": self.conns}
        elif w == "bulk":
            want = {"client ops": self.total // self.size, "client bytes": self.total,
                    "server bytes": self.total, "server accepted": 1, "server closed": 1}
        elif w == "accept":
            want = {"client ops": self.conns, "client bytes": self.conns,
                    "server bytes": self.conns, "server accepted": self.conns,
                    "server closed": self.conns}
        else:
            n = self.conns + self.warm
            want = {"client ops": n, "server accepted": n, "server closed": n,
                    "server conns": n}
        got = {"client ops": client.get("ops"), "client bytes": client.get("bytes"),
               "server bytes": server.get("bytes"), "server accepted": server.get("accepted"),
               "server closed": server.get("closed"), "server conns": server.get("conns")}
        wrong = [f"{k} {got[k]} != {v}" for k, v in want.items() if got[k] != v]
        if not wrong and w != "idle" and not client.get("seconds", 0) > 0:
            wrong.append("no elapsed time")
        return "; ".join(wrong)

    def value(self, client: dict[str, Any], server: dict[str, Any]) -> float:
        w = self.workload
        if w == "idle":
            return float(server["kib_per_conn"])
        if w == "bulk":
            return client["bytes"] / client["seconds"] / 1e6
        return client["ops"] / client["seconds"]


def headline(quick: bool) -> list[Case]:
    """The five workloads of the main table."""
    if quick:
        return [
            Case("pingpong", "ping-pong 64 B", rounds=4000),
            Case("bulk", "bulk 64 KiB writes", size=64 * KIB, total=256 * MIB),
            Case("accept", "accept + 1 B + close", conns=1000),
            Case("fanin", "fan-in 200 x 100", conns=200, rounds=200 * 20),
            Case("idle", "idle memory", conns=2000, warm=100),
        ]
    return [
        Case("pingpong", "ping-pong 64 B", rounds=20000),
        Case("bulk", "bulk 64 KiB writes", size=64 * KIB, total=4 * GIB),
        Case("accept", "accept + 1 B + close", conns=5000),
        Case("fanin", "fan-in 200 x 100", conns=200, rounds=200 * 100),
        Case("idle", "idle memory", conns=2000, warm=100),
    ]


#: Scaling: N connections share a fixed total of round trips (Qt's benchmark).
SCALING_CONNS = (1, 10, 100, 1000, 5000)
SCALING_ROUNDS = 20000
SCALING_SIZES = (100, 1 * KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, 1 * MIB)


def bulk_total(size: int) -> int:
    """Bytes for one bulk trial: 1 GiB, or 100,000 writes if that is less."""
    return size * min(GIB // size, 100_000)


def scaling() -> list[Case]:
    cases = []
    for n in SCALING_CONNS:
        cases.append(Case("pingpong", f"ping-pong, {n} connections", conns=n,
                          rounds=SCALING_ROUNDS, series="pingpong", x=n))
    for n in SCALING_CONNS:
        cases.append(Case("fanin", f"fan-in, {n} clients", conns=n, rounds=SCALING_ROUNDS,
                          series="fanin", x=n))
    for size in SCALING_SIZES:
        cases.append(Case("bulk", f"bulk, {size:,} B writes", size=size,
                          total=bulk_total(size), series="bulk", x=size))
    return cases
