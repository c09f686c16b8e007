"""50 HTTP sessions x 200 calls: errors, latency and memory of one server under sustained load.

One ``skillz-engine serve --transport http`` process (a 10-tool tree plus the echo tools); 50 SDK
``ClientSession`` s over Streamable HTTP, each with its own connection pool, all open at once, each
making 200 ``tools/call`` of ``echo-cmd`` (a process per call) back to back: 10,000 calls. Every
call that raises, times out or returns ``isError`` or the wrong text is an error. The server's RSS
is read after the sessions are open and before the first call, and again after the last call (and
after the sessions closed), so a leak per call or per session shows as growth. There is no
baseline: the question is whether the engine holds up (no errors, a flat p99, flat memory), not how
it compares. ``--quick``: 5 sessions x 10 calls.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from bench.clients import http_session, result_text
from bench.core import Ctx, Row, reason_of, summary_or_none
from bench.procs import engine_cmd, http_server, rss_mib

NAME = "load"
TITLE = "HTTP load: sessions x calls"
CALL_TIMEOUT = 120.0  # seconds; a call slower than this counts as an error


def run(ctx: Ctx) -> list[Row]:
    sessions, calls = (5, 10) if ctx.quick else (50, 200)
    ctx.log(f"load: {sessions} sessions x {calls} calls")
    try:
        return anyio.run(_measure, ctx, sessions, calls)
    except Exception as exc:
        return [Row(TITLE, f"{sessions} x {calls}", "ms", unavailable=reason_of(exc))]


@dataclass
class LoadRun:
    """What ``n_sessions`` sessions calling one tool ``n_calls`` times each did to a server."""

    lats: list[float] = field(default_factory=list)  # ms per answered call
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    rss_before: float = 0.0
    rss_after: float = 0.0
    total: int = 0

    def extra(self) -> dict[str, Any]:
        wall, total = self.wall, self.total
        return {
            "calls": total,
            "errors": len(self.errors),
            "first_errors": sorted(set(self.errors))[:5],
            "wall_s": round(wall, 2),
            "calls_per_s": round(total / wall, 1) if wall else None,
            "rss_before_mib": round(self.rss_before, 1),
            "rss_after_mib": round(self.rss_after, 1),
        }


async def sessions_load(
    root: Path, tool: str, n_sessions: int, n_calls: int, *, warm: bool = False
) -> LoadRun:
    """``serve --transport http`` on ``root``; ``n_sessions`` sessions open at once, each calling
    ``tool`` with a distinct text ``n_calls`` times back to back. RSS is read once the sessions are
    open (after one warm-up call when ``warm``: a tool whose first call starts a process it keeps)
    and again after the sessions closed."""
    out = LoadRun(total=n_sessions * n_calls)
    with http_server("engine", engine_cmd("serve", str(root), "--no-watch")) as (url, pid):
        async with contextlib.AsyncExitStack() as stack:
            pool = [await stack.enter_async_context(http_session(url)) for _ in range(n_sessions)]
            if warm:
                await pool[0].call_tool(tool, {"text": "warm"})
            out.rss_before, _ = rss_mib(pid)

            async def client(i: int, s: Any) -> None:
                for j in range(n_calls):
                    text = f"s{i}c{j}"
                    c0 = time.perf_counter()
                    try:
                        with anyio.fail_after(CALL_TIMEOUT):
                            res = await s.call_tool(tool, {"text": text})
                    except Exception as exc:
                        out.errors.append(reason_of(exc))
                        continue
                    out.lats.append((time.perf_counter() - c0) * 1000)
                    if res.is_error or result_text(res).strip() != text:
                        out.errors.append(f"wrong result: {result_text(res)[:200]!r}")

            t0 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for i, s in enumerate(pool):
                    tg.start_soon(client, i, s)
            out.wall = time.perf_counter() - t0
        out.rss_after, _ = rss_mib(pid)
    return out


async def _measure(ctx: Ctx, n_sessions: int, n_calls: int) -> list[Row]:
    info = ctx.tree(10, "tools", echo=True)
    size = f"{n_sessions} sessions x {n_calls} calls"
    run = await sessions_load(info.root, "echo-cmd", n_sessions, n_calls)
    rss_before, rss_after, errors, total = run.rss_before, run.rss_after, run.errors, run.total
    rss = f"RSS {rss_before:.1f} -> {rss_after:.1f} MiB"
    ctx.log(f"  {total} calls in {run.wall:.1f} s, {len(errors)} errors, {rss}")
    extra = run.extra()
    notes = f"echo-cmd, a process per call; {len(errors)} errors of {total}"
    return [
        Row(TITLE, f"{size}: latency", "ms", summary_or_none(run.lats), notes=notes, extra=extra),
        Row(TITLE, f"{size}: errors", "calls", summary_or_none([len(errors)]), notes=notes, extra=extra),
        Row(TITLE, f"{size}: server RSS before", "MiB", summary_or_none([rss_before]), extra=extra),
        Row(TITLE, f"{size}: server RSS after", "MiB", summary_or_none([rss_after]), extra=extra),
    ]
