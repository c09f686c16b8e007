"""One changed entry in a 10,000-entry tree: engine time to rescan, recompile, assemble and swap.

In-process, no watcher: an :class:`~skillz_engine.engine.Engine` over the tree is opened
(a cold compile), then each sample rewrites one tool's ``manifest.yaml`` (new description) and
times ``await engine.apply([path])`` with ``perf_counter`` (the write itself is not timed); every
apply must report the tool list changed. Baseline: the full cold compile of the same tree in the
same process (``Tree(...)``, ``full_scan()``, ``snapshot()``). Rounds interleave one cold compile
with a few applies.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio

from bench.core import Ctx, Row, judge, reason_of, summary_or_none
from bench.procs import Unavailable

NAME = "swap"
TITLE = "one changed entry: rescan+compile+swap"


def run(ctx: Ctx) -> list[Row]:
    n = 100 if ctx.quick else 10000
    ctx.log(f"swap: tree of {n}")
    try:
        return [anyio.run(_measure, ctx, n)]
    except Exception as exc:
        return [
            Row(
                TITLE,
                f"{n} entries",
                "ms",
                unavailable=reason_of(exc),
                baseline_name="full cold compile",
                target="< 50 ms",
            )
        ]


async def _measure(ctx: Ctx, n: int) -> Row:
    from skillz_engine.build.compile import Tree
    from skillz_engine.builtins import catalog
    from skillz_engine.engine import Engine

    info = ctx.tree(n, "mixed")
    targets = [p for p in info.manifests if p.parent.parent.name == "tools"]
    rounds = ctx.reps(4, 1)
    per_round = 8 if not ctx.quick else 3

    def cold() -> float:
        t0 = time.perf_counter()
        tree = Tree([info.root], builtins=catalog(), lenient=True)
        tree.full_scan()
        snap = tree.snapshot()
        elapsed = time.perf_counter() - t0
        if len(snap.tools) < info.tools:
            raise Unavailable(f"cold compile served {len(snap.tools)} tools, expected {info.tools}")
        return elapsed * 1000

    applies: list[float] = []
    colds: list[float] = []
    t0 = time.perf_counter()
    async with Engine.open([info.root]) as engine:
        ctx.log(f"  engine opened in {time.perf_counter() - t0:.1f} s ({len(engine.snapshot.tools)} tools)")
        k = 0
        for r in range(rounds + 1):  # round 0 is the warm-up
            c = cold()
            if r:
                colds.append(c)
            for _ in range(per_round):
                path = targets[k % len(targets)]
                k += 1
                _edit(path, k)
                t = time.perf_counter()
                delta = await engine.apply([path])
                elapsed = (time.perf_counter() - t) * 1000
                if delta is None or "tools" not in {c.value for c in delta.lists}:
                    raise Unavailable(f"apply({path.name}) did not report the tool list changed: {delta}")
                if r:
                    applies.append(elapsed)
            ctx.log(f"  round {r + 1}/{rounds + 1}" + (" (warm-up)" if not r else ""))
    e = summary_or_none(applies)
    row = Row(
        TITLE,
        f"{n} entries",
        "ms",
        e,
        "full cold compile (in-process)",
        summary_or_none(colds),
        target="< 50 ms",
        notes=f"{len(applies)} applies, {len(colds)} cold compiles",
    )
    if e is not None:
        row.met = judge(ctx, e.median < 50)
    return row


def _edit(path: Path, k: int) -> None:
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition("description: >-\n")
    first, _, tail = rest.partition("\n")
    if first.strip().startswith("Edit "):
        rest = tail
    path.write_text(f"{head}{sep}  Edit {k}.\n{rest}", encoding="utf-8")
