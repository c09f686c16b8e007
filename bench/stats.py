"""Summaries of samples: median, percentiles (nearest rank), spread."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(xs: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, ``p`` in [0, 100]; NaN for no samples."""
    if not xs:
        return math.nan
    s = sorted(xs)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p95: float
    p99: float
    min: float
    max: float
    iqr: float  # p75 - p25: the spread the table shows

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(xs: Sequence[float]) -> Summary:
    if not xs:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan, nan)
    return Summary(
        n=len(xs),
        median=statistics.median(xs),
        p95=percentile(xs, 95),
        p99=percentile(xs, 99),
        min=min(xs),
        max=max(xs),
        iqr=percentile(xs, 75) - percentile(xs, 25),
    )
