"""The benchmark registry: every benchmark in bench/ adds its figures to one table (`make bench`).

A benchmark is a function registered with ``@benchmark("name")``. It receives a ``Run`` (the
scale, the database it runs on, an ``as_of`` the seed data ends at) and returns ``Figure``s:
one measured figure each, with the baseline measured in the same run, and a target. The
runner (bench/run.py) prints them as one table, writes it as JSON and exits non-zero when a
target is missed at 100k or 1m. See bench/README.md, "Adding a benchmark".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

# Registered benchmarks in registration order: name -> (function, scales it runs at).
BENCHMARKS: dict[str, tuple[Callable[[Run], list[Figure]], tuple[str, ...]]] = {}
SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}


@dataclass(frozen=True)
class Run:
    scale: str
    customers: int
    as_of: datetime
    database_url: str
    options: dict = field(default_factory=dict)


@dataclass
class Figure:
    """One row of the table.

    ``target`` is one of:
      ("ratio<=", x): figure / baseline at most x (lower is better, e.g. a pass against its SQL limit);
      ("ratio>=", x): figure / baseline at least x (higher is better, e.g. writes/s against the old code);
      ("<=", x) / (">=", x): the figure itself against an absolute bound (ms, rows/s, MiB);
      None: reported, no target.
    """

    job: str
    figure: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: tuple[str, float] | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.figure / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        kind, bound = self.target
        value = self.ratio if kind.startswith("ratio") else self.figure
        if value is None:
            return False
        return value <= bound if kind.endswith("<=") else value >= bound

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        kind, bound = self.target
        if kind.startswith("ratio"):
            return f"ratio {kind[-2:]} {bound:g}"
        return f"{kind} {bound:g} {self.unit}"

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio, "met": self.met, "target_text": self.target_text}


def benchmark(name: str, *, scales: tuple[str, ...] = tuple(SCALES)):
    """Register ``fn(run) -> list[Figure]`` under ``name`` for the given scales."""

    def register(fn: Callable[[Run], list[Figure]]) -> Callable[[Run], list[Figure]]:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} registered twice")
        BENCHMARKS[name] = (fn, scales)
        return fn

    return register


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
