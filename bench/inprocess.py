"""In-process call sides for the scenarios that time ``run_tool`` against bare ``subprocess.run``
(``sandbox``, ``spawn``): the engine's side of each tool, one checked call per side, and the
interleaved timing loop, so each scenario states only its tree, its baselines and its rows."""

from __future__ import annotations

import shutil
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from bench.core import reason_of

Side = Callable[[], Awaitable[Any]]


def engine_sides(root: Path, modes: Iterable[str]) -> tuple[Any, dict[str, Side], dict[str, str]]:
    """The compiled snapshot of ``root`` and one side per sandbox mode: ``run_tool`` of the tool
    ``echo-<mode>`` (a mode whose program is missing, or a tool not served, is reported failed)."""
    from skillz_engine.build.compile import Tree
    from skillz_engine.builtins import catalog
    from skillz_engine.runtimes.base import LocalCallContext, run_tool

    tree = Tree([root], builtins=catalog())
    tree.full_scan()
    snap = tree.snapshot()
    failed: dict[str, str] = {}
    sides: dict[str, Side] = {}
    for mode in modes:
        name = f"echo-{mode}"
        if mode != "none" and shutil.which(mode) is None:
            failed[mode] = f"not available: {mode} is not installed"
            continue
        if name not in snap.tools:
            failed[mode] = f"the engine does not serve {name!r}"
            continue

        def engine_call(tool: Any = snap.tools[name], tool_name: str = name) -> Awaitable[Any]:
            return run_tool(tool, {"text": "hi"}, LocalCallContext(snap, tool_name))

        sides[mode] = engine_call
    return snap, sides, failed


async def check_sides(sides: dict[str, Side], failed: dict[str, str], expect: str = "hi") -> None:
    """One checked call per side: a side that does not answer ``expect`` is dropped as failed."""
    for name, call in list(sides.items()):
        try:
            res = await call()
            text = res if isinstance(res, str) else res.text_content()
            if text.strip() != expect or getattr(res, "is_error", False):
                raise RuntimeError(f"echo returned {text[:200]!r}")
        except Exception as exc:
            failed[name] = reason_of(exc)
            del sides[name]


async def time_sides(sides: dict[str, Side], warmup: int, calls: int) -> dict[str, list[float]]:
    """Milliseconds per call of every side, rounds interleaved with who goes first rotating; the
    ``warmup`` rounds are discarded."""
    order = list(sides)
    lat: dict[str, list[float]] = {k: [] for k in order}
    for i in range(warmup + calls):
        rot = i % max(1, len(order))
        for name in order[rot:] + order[:rot]:
            t0 = time.perf_counter()
            await sides[name]()
            if i >= warmup:
                lat[name].append((time.perf_counter() - t0) * 1000)
    return lat
