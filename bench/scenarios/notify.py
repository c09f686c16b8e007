"""File write to ``notifications/tools/list_changed`` at a connected client, trees of 100 and 10,000.

A real ``skillz-engine serve ROOT`` (watcher on, default debounce) with an SDK ``ClientSession``
whose ``message_handler`` stamps the arrival of ``notifications/tools/list_changed``. Baseline:
watchfiles' own event latency, an ``awatch`` loop in this process on the same root with the
engine's watcher settings (``debounce=50, step=10``). Both observe the *same* write: one sample
= ``perf_counter`` just before rewriting one tool's ``manifest.yaml`` (a new description) to the
client's notification, and to ``awatch`` yielding. Writes are spaced so that each is settled before
the next. The first writes (until both sides have answered once) are the warm-up.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio

from bench.clients import stdio_session
from bench.core import Ctx, Row, judge, reason_of, summary_or_none
from bench.procs import Unavailable, engine_cmd

NAME = "notify"
TITLE = "file write -> tools/list_changed"
TIMEOUT = 10.0
SETTLE = 0.25


class _Stamp:
    def __init__(self) -> None:
        self.t: float | None = None
        self.event = anyio.Event()

    def hit(self) -> None:
        if self.t is None:
            self.t = time.perf_counter()
            self.event.set()

    def reset(self) -> None:
        self.t = None
        self.event = anyio.Event()


def run(ctx: Ctx) -> list[Row]:
    rows = []
    for n in ctx.sizes([100, 10000], [100]):
        ctx.log(f"notify: tree of {n}")
        try:
            rows.append(anyio.run(_one_size, ctx, n))
        except Exception as exc:
            rows.append(
                Row(
                    TITLE,
                    f"{n} entries",
                    "ms",
                    unavailable=reason_of(exc),
                    baseline_name="watchfiles awatch",
                    target="p50 < 150 ms",
                )
            )
    return rows


async def _wait(stamp: _Stamp, timeout: float) -> bool:
    with anyio.move_on_after(timeout):
        await stamp.event.wait()
        return True
    return False


async def _one_size(ctx: Ctx, n: int) -> Row:
    from watchfiles import awatch

    info = ctx.tree(n, "mixed")
    samples = ctx.reps(30, 5)
    targets = [p for p in info.manifests if p.parent.parent.name == "tools"]
    engine, watch = _Stamp(), _Stamp()
    stop = anyio.Event()
    e_lat: list[float] = []
    w_lat: list[float] = []
    missed = {"engine": 0, "watchfiles": 0}

    async def handler(msg: Any) -> None:
        if getattr(msg, "method", None) == "notifications/tools/list_changed":
            engine.hit()

    async def watcher() -> None:
        async for _ in awatch(info.root, debounce=50, step=10, stop_event=stop, yield_on_timeout=False):
            watch.hit()

    counter = 0

    def write(path: Path) -> None:
        nonlocal counter
        counter += 1
        text = path.read_text(encoding="utf-8")
        head, _, rest = text.partition("description: >-\n")
        path.write_text(f"{head}description: >-\n  Edit {counter}.\n{_strip_edit(rest)}", encoding="utf-8")

    t_start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(watcher)
        try:
            async with stdio_session(engine_cmd("serve", str(info.root)), message_handler=handler) as s:
                await s.list_tools()
                ctx.log(f"  engine serving {n} entries after {time.perf_counter() - t_start:.1f} s")
                # warm-up: until both the engine's watcher and awatch have reported a write
                deadline = time.monotonic() + 90
                k = 0
                while True:
                    engine.reset()
                    watch.reset()
                    write(targets[k % len(targets)])
                    k += 1
                    ok_e = await _wait(engine, TIMEOUT)
                    ok_w = await _wait(watch, 1.0)
                    await anyio.sleep(SETTLE)
                    if ok_e and ok_w:
                        break
                    if time.monotonic() > deadline:
                        raise Unavailable("no tools/list_changed within 90 s of writes (no watcher?)")
                for i in range(samples):
                    await anyio.sleep(SETTLE)
                    engine.reset()
                    watch.reset()
                    path = targets[(k + i) % len(targets)]
                    t0 = time.perf_counter()
                    write(path)
                    await _wait(watch, TIMEOUT)
                    await _wait(engine, TIMEOUT)
                    if watch.t is not None:
                        w_lat.append((watch.t - t0) * 1000)
                    else:
                        missed["watchfiles"] += 1
                    if engine.t is not None:
                        e_lat.append((engine.t - t0) * 1000)
                    else:
                        missed["engine"] += 1
        finally:
            stop.set()
            tg.cancel_scope.cancel()
    e = summary_or_none(e_lat)
    row = Row(
        TITLE,
        f"{n} entries",
        "ms",
        e,
        "watchfiles awatch (same write)",
        summary_or_none(w_lat),
        target="p50 < 150 ms",
        notes=f"{samples} writes; missed: {missed}",
        extra={"missed": missed},
    )
    if e is not None:
        row.met = judge(ctx, e.median < 150 and missed["engine"] == 0)
    return row


def _strip_edit(rest: str) -> str:
    """Drop an ``Edit N.`` line an earlier sample put first in the description."""
    first, _, tail = rest.partition("\n")
    return tail if first.strip().startswith("Edit ") else rest
