"""20 concurrent HTTP clients: calls per second and latency, engine vs FastMCP.

Each side's server runs on a free loopback port; 20 SDK ``ClientSession`` s over Streamable HTTP
(each with its own connection pool, all in this process) call one tool back to back for a fixed
time. Engine sides (one ``skillz-engine serve --transport http --no-auth`` process): the command
tool ``echo-cmd`` (a process per call) and the built-in ``search_tools`` (in-process, like FastMCP's
function). Baseline: FastMCP's ``echo``. Rounds interleave the sides; the first is the warm-up.
Throughput is completed calls / seconds per round (median over rounds); latency is over all calls.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from bench.clients import http_session
from bench.core import Ctx, Row, reason_of, summary_or_none
from bench.procs import baseline_cmd, engine_cmd, fastmcp_available, http_server

NAME = "http-load"
TITLE = "20 concurrent HTTP clients"
CLIENTS = 20


def run(ctx: Ctx) -> list[Row]:
    ctx.log(f"http-load: {CLIENTS} clients")
    return anyio.run(_measure, ctx)


async def _measure(ctx: Ctx) -> list[Row]:
    info = ctx.tree(10, "tools", echo=True)
    seconds = 1.0 if ctx.quick else 3.0
    rounds = ctx.reps(3, 1)
    failed: dict[str, str] = {}
    calls: dict[str, Callable[[Any], Awaitable[Any]]] = {
        "engine command": lambda s: s.call_tool("echo-cmd", {"text": "hi"}),
        "engine built-in": lambda s: s.call_tool("search_tools", {"query": "echo text", "limit": 3}),
        "fastmcp": lambda s: s.call_tool("echo", {"text": "hi"}),
    }
    pools: dict[str, list[Any]] = {}
    async with contextlib.AsyncExitStack() as stack:

        async def open_pool(names: list[str], kind: str, argv: list[str]) -> None:
            try:
                url, _pid = stack.enter_context(http_server(kind, argv))
                sessions = []
                for _ in range(CLIENTS):
                    sessions.append(await stack.enter_async_context(http_session(url)))
                for name in names:
                    res = await calls[name](sessions[0])
                    if getattr(res, "is_error", False):
                        raise RuntimeError(f"{name}: the probe call returned an error: {res.content!r:.300}")
                    pools[name] = sessions
            except Exception as exc:
                for name in names:
                    failed[name] = reason_of(exc)

        await open_pool(
            ["engine command", "engine built-in"], "engine", engine_cmd("serve", str(info.root), "--no-watch")
        )
        fm = fastmcp_available()
        if fm is None:
            await open_pool(["fastmcp"], "fastmcp", baseline_cmd("echo_fastmcp.py", "{port}"))
        else:
            failed["fastmcp"] = fm

        rates: dict[str, list[float]] = {k: [] for k in pools}
        lat: dict[str, list[float]] = {k: [] for k in pools}
        order = list(pools)
        for r in range(rounds + 1):
            rot = r % max(1, len(order))
            for name in order[rot:] + order[:rot]:
                try:
                    count, lats = await _burst(pools[name], calls[name], seconds)
                except Exception as exc:
                    failed[name] = reason_of(exc)
                    continue
                if r:
                    rates[name].append(count / seconds)
                    lat[name].extend(lats)
            ctx.log(f"  round {r + 1}/{rounds + 1}" + (" (warm-up)" if not r else ""))

    rows = []
    base = "FastMCP echo"
    for name in ("engine command", "engine built-in"):
        note = "echo-cmd: a process per call" if name == "engine command" else "search_tools: in-process"
        rows.append(
            Row(
                TITLE,
                f"{CLIENTS} clients, {name}",
                "calls/s",
                summary_or_none(rates.get(name, []) if name not in failed else []),
                base,
                summary_or_none(rates.get("fastmcp", []) if "fastmcp" not in failed else []),
                higher_is_better=True,
                unavailable=failed.get(name),
                baseline_unavailable=failed.get("fastmcp"),
                notes=f"{note}; {seconds:.0f} s x {rounds} rounds per side",
            )
        )
        rows.append(
            Row(
                TITLE,
                f"{CLIENTS} clients, {name}: latency",
                "ms",
                summary_or_none(lat.get(name, []) if name not in failed else []),
                base,
                summary_or_none(lat.get("fastmcp", []) if "fastmcp" not in failed else []),
                unavailable=failed.get(name),
                baseline_unavailable=failed.get("fastmcp"),
                notes=note,
            )
        )
    return rows


async def _burst(
    sessions: list[Any], call: Callable[[Any], Awaitable[Any]], seconds: float
) -> tuple[int, list[float]]:
    """Every session calls back to back until ``seconds`` are over; completed calls + latencies."""
    lats: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(s: Any) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            with anyio.fail_after(60):
                await call(s)
            t1 = time.perf_counter()
            if t1 <= deadline:
                lats.append((t1 - t0) * 1000)

    async with anyio.create_task_group() as tg:
        for s in sessions:
            tg.start_soon(client, s)
    return len(lats), lats
