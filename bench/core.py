"""What every scenario shares: the run context (sizes, repetitions, trees) and the result rows."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Summary, summarize
from bench.trees import TreeInfo, add_echo_tools, make_tree


@dataclass
class Row:
    """One line of the table: the engine against one baseline at one size."""

    scenario: str
    size: str
    unit: str  # "ms", "MiB", "calls/s"
    engine: Summary | None = None
    baseline_name: str | None = None
    baseline: Summary | None = None
    target: str = ""  # human text, e.g. "< 1.5 s and < check-jsonschema"
    met: bool | None = None  # None: no target, or not judged (--quick)
    unavailable: str | None = None  # "not available: <reason>" when the engine side could not run
    baseline_unavailable: str | None = None
    higher_is_better: bool = False
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    scenario_id: str = ""  # the scenario's NAME, filled in by bench.__main__

    @property
    def ratio(self) -> float | None:
        if self.engine is None or self.baseline is None or not self.baseline.median:
            return None
        r = self.engine.median / self.baseline.median
        return None if math.isnan(r) else r

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario_id": self.scenario_id,
            "scenario": self.scenario,
            "size": self.size,
            "unit": self.unit,
            "engine": self.engine.to_json() if self.engine else None,
            "baseline_name": self.baseline_name,
            "baseline": self.baseline.to_json() if self.baseline else None,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "unavailable": self.unavailable,
            "baseline_unavailable": self.baseline_unavailable,
            "higher_is_better": self.higher_is_better,
            "notes": self.notes,
            "extra": self.extra,
        }


@dataclass
class Ctx:
    quick: bool
    work: Path
    log_file: Any = sys.stderr
    _trees: dict[tuple[int, str], TreeInfo] = field(default_factory=dict)

    def reps(self, full: int, quick: int = 2) -> int:
        """Measured repetitions (the warm-up comes on top)."""
        return quick if self.quick else full

    @property
    def warmup(self) -> int:
        """Warm-up rounds of process scenarios (fills the bytecode cache); none in --quick."""
        return 0 if self.quick else 1

    def sizes(self, full: Sequence[int], quick: Sequence[int]) -> list[int]:
        return list(quick if self.quick else full)

    def log(self, msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=self.log_file, flush=True)

    def tree(self, n: int, mix: str = "mixed", echo: bool = False) -> TreeInfo:
        """A generated tree, made once per run and shared (scenarios that edit it keep it valid)."""
        key = (n, mix + ("+echo" if echo else ""))
        if key not in self._trees:
            t0 = time.perf_counter()
            info = make_tree(self.work / f"tree-{mix}-{n}{'-echo' if echo else ''}", n, mix)
            if echo:
                add_echo_tools(info.root)
            self._trees[key] = info
            self.log(f"generated {mix} tree of {n} entries in {time.perf_counter() - t0:.1f} s")
        return self._trees[key]


@dataclass
class Samples:
    values: dict[str, list[float]]
    failed: dict[str, str]  # side -> "not available: ..." reason

    def summary(self, side: str) -> Summary | None:
        if side in self.failed:
            return None
        return summary_or_none(self.values.get(side, []))

    def reason(self, side: str) -> str | None:
        return self.failed.get(side)


def interleave(
    reps: int,
    sides: dict[str, Callable[[], float]],
    warmup: int = 1,
    log: Callable[[str], None] | None = None,
    rounds_for: dict[str, set[int]] | None = None,
) -> Samples:
    """Run every side once per round, ``warmup`` + ``reps`` rounds, rotating who goes first;
    the warm-up rounds are discarded. Each callable returns one sample. A side that raises is
    dropped from later rounds and reported as not available with the error. ``rounds_for``
    limits a side to some rounds (0-based, warm-up included), for baselines too slow to repeat."""
    values: dict[str, list[float]] = {k: [] for k in sides}
    failed: dict[str, str] = {}
    names = list(sides)
    for r in range(warmup + reps):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            if name in failed or (rounds_for and name in rounds_for and r not in rounds_for[name]):
                continue
            try:
                v = sides[name]()
            except Exception as exc:
                failed[name] = reason_of(exc)
                if log:
                    log(f"  {name}: {failed[name]}")
                continue
            if r >= warmup:
                values[name].append(v)
        if log:
            log(f"  round {r + 1}/{warmup + reps}" + (" (warm-up)" if r < warmup else ""))
    return Samples(values, failed)


def reason_of(exc: BaseException) -> str:
    """A one-paragraph "not available" reason for an exception (first lines of its message)."""
    from bench.procs import Unavailable

    if isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
        return reason_of(exc)
    text = str(exc).strip()
    if not isinstance(exc, Unavailable):
        text = f"{type(exc).__name__}: {text}"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " / ".join(lines[:4])[:400]


def judge(ctx: Ctx, ok: bool) -> bool | None:
    """Targets are judged in full runs only (``--quick`` makes no timing claims)."""
    return None if ctx.quick else ok


def summary_or_none(xs: Sequence[float]) -> Summary | None:
    return summarize(xs) if xs else None
