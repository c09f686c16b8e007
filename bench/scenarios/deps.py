"""A script tool with pip ``dependencies``: its first call installs, later calls must not.

One tree, served over stdio (SDK ``ClientSession``): ``echo-deps`` (``kind: script``, plain
protocol, Python, ``dependencies.pip: [six]``, imports six) and ``echo-nodeps`` (the same script
without dependencies or the import). The state dir is fresh, so the first call of ``echo-deps``
creates the environment (uv when installed; PyPI must be reachable, else the rows say "not
available"). Row 1: that first call against a call of ``echo-nodeps``. Row 2: the calls after
it, interleaved round-robin with ``echo-nodeps``: the target is "no install work", i.e. a ratio
near 1 (the venv's python starts like the base one).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio

from bench.clients import result_text, stdio_session
from bench.core import Ctx, Row, judge, reason_of, summary_or_none
from bench.procs import engine_cmd

NAME = "deps"
TITLE = "script with pip dependencies"
WARMUP = 3

SCRIPT = "import json, sys{extra}\nprint(json.loads(sys.stdin.read())['text'])\n"
MANIFEST = "kind: script\ndescription: echo\nentry: main.py\nprotocol: plain\n{deps}"


def _tree(root: Path) -> Path:
    for name, deps, extra in (
        ("echo-deps", "dependencies:\n  pip: [six]\n", ", six"),
        ("echo-nodeps", "", ""),
    ):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.yaml").write_text(MANIFEST.format(deps=deps))
        (d / "main.py").write_text(SCRIPT.format(extra=extra))
    return root


def run(ctx: Ctx) -> list[Row]:
    root = _tree(ctx.work / f"tree-deps-{time.time_ns()}")
    calls = 10 if ctx.quick else 100
    ctx.log(f"deps: first call installs, then {calls} calls per side")
    rows: list[Row] = anyio.run(_measure, root, calls)
    later = rows[-1]
    if later.ratio is not None:
        later.met = judge(ctx, later.ratio <= 1.3)
    return rows


async def _measure(root: Path, calls: int) -> list[Row]:
    first: list[float] = []
    base_first: list[float] = []
    lat: dict[str, list[float]] = {"echo-deps": [], "echo-nodeps": []}
    failed: str | None = None
    try:
        async with stdio_session(engine_cmd("serve", str(root), "--no-watch")) as s:

            async def call(tool: str) -> float:
                t0 = time.perf_counter()
                with anyio.fail_after(600):
                    res: Any = await s.call_tool(tool, {"text": "hi"})
                took = (time.perf_counter() - t0) * 1000
                if getattr(res, "isError", False) or result_text(res).strip() != "hi":
                    raise RuntimeError(f"{tool} returned {result_text(res)[:300]!r}")
                return took

            base_first.append(await call("echo-nodeps"))
            first.append(await call("echo-deps"))
            order = ["echo-deps", "echo-nodeps"]
            for i in range(WARMUP + calls):
                for tool in order[i % 2 :] + order[: i % 2]:
                    took = await call(tool)
                    if i >= WARMUP:
                        lat[tool].append(took)
    except Exception as exc:
        failed = reason_of(exc)
    return [
        Row(TITLE, "first call (installs the env)", "ms", summary_or_none(first), "call without dependencies",
            summary_or_none(base_first), unavailable=failed,
            baseline_unavailable=None if base_first else failed, notes="fresh state dir; uv cache as found"),
        Row(TITLE, "later calls", "ms", summary_or_none(lat["echo-deps"]), "call without dependencies",
            summary_or_none(lat["echo-nodeps"]), target="no install work: ratio <= 1.3",
            unavailable=failed, baseline_unavailable=None if lat["echo-nodeps"] else failed,
            notes=f"{calls} calls per side, interleaved; the deps script also imports six"),
    ]  # fmt: skip
