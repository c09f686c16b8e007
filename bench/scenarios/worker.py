"""Persistent script workers (issue 16): a Python jsonrpc echo with ``worker`` against FastMCP and
against the same echo run once per call.

One tree: the call scenarios' echo tools plus ``echo-worker`` (the jsonrpc echo as a loop, with
``worker: {max: 4}``). Three measurements, engine and baselines in the same run:

- ``tools/call`` over stdio (SDK ``ClientSession``, calls interleaved round-robin, one per side per
  round, the first rounds a warm-up): ``echo-worker`` vs FastMCP's in-process ``echo`` (target
  at most 1.3x) and vs the engine's one-shot ``echo-jsonrpc`` (target at least 10x faster: a ratio
  of 0.1 or less);
- 20 HTTP clients calling back to back (as ``http-load``): ``echo-worker`` calls/s vs FastMCP's
  ``echo`` (target at least 1.0x), and the built-in ``search_tools`` on the same server as a
  reference (the HTTP layer's own ceiling, no worker involved);
- 50 HTTP sessions x 200 calls of ``echo-worker`` (as ``load``): errors (target 0), latency p99
  (target under 250 ms), and the server's RSS before and after (target: flat, within 10%). The
  ``load`` scenario runs the same load on ``echo-cmd``, for comparison.

``--quick``: 10 stdio calls, 5 HTTP clients for 0.5 s x 1 round, 5 sessions x 10 calls; no verdicts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from bench.clients import http_session, result_text, stdio_session
from bench.core import Ctx, Row, judge, reason_of, summary_or_none
from bench.procs import baseline_cmd, engine_cmd, fastmcp_available, http_server
from bench.scenarios.http_load import _burst
from bench.scenarios.load import sessions_load
from bench.trees import ECHO_SCHEMA, add_echo_tools

NAME = "worker"
TITLE = "worker script tool"
WARMUP = 5
CLIENTS = 20

WORKER_ECHO = """\
import json, sys
for line in sys.stdin:
    req = json.loads(line)
    text = str(req["params"]["arguments"].get("text", ""))
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": text}) + "\\n")
    sys.stdout.flush()
"""


def worker_tree(work: Path) -> Path:
    root = work / "tree-worker"
    add_echo_tools(root)
    d = root / "tools" / "echo-worker"
    d.mkdir(parents=True, exist_ok=True)
    (d / "echo.py").write_text(WORKER_ECHO, encoding="utf-8")
    (d / "manifest.yaml").write_text(
        "kind: script\ndescription: Echo the text back (a Python script kept running as a worker).\n"
        "interpreter: python3\nentry: echo.py\nworker: {max: 4}\n" + ECHO_SCHEMA,
        encoding="utf-8",
    )
    return root


def run(ctx: Ctx) -> list[Row]:
    root = worker_tree(ctx.work)
    rows: list[Row] = []
    for part in (_stdio, _http_clients, _load):
        try:
            rows += anyio.run(part, ctx, root)
        except Exception as exc:
            rows.append(Row(TITLE, part.__name__.strip("_"), "ms", unavailable=reason_of(exc)))
    return rows


async def _stdio(ctx: Ctx, root: Path) -> list[Row]:
    calls = 10 if ctx.quick else 300
    ctx.log(f"worker: stdio, {calls} calls per side")
    failed: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        engine = await stack.enter_async_context(stdio_session(engine_cmd("serve", str(root), "--no-watch")))
        sides: dict[str, tuple[Any, str]] = {"worker": (engine, "echo-worker")}
        sides["one-shot"] = (engine, "echo-jsonrpc")
        fm = fastmcp_available()
        if fm is None:
            fastmcp = await stack.enter_async_context(stdio_session(baseline_cmd("echo_fastmcp.py")))
            sides["fastmcp"] = (fastmcp, "echo")
        else:
            failed["fastmcp"] = fm
        for name, (session, tool) in sides.items():  # one checked call each
            res = await session.call_tool(tool, {"text": "hi"})
            if res.is_error or result_text(res).strip() != "hi":
                raise RuntimeError(f"{name}: echo returned {result_text(res)[:200]!r}")
        lat: dict[str, list[float]] = {k: [] for k in sides}
        order = list(sides)
        warmup = 1 if ctx.quick else WARMUP
        for i in range(warmup + calls):
            rot = i % len(order)
            for name in order[rot:] + order[:rot]:
                session, tool = sides[name]
                t0 = time.perf_counter()
                with anyio.fail_after(60):
                    await session.call_tool(tool, {"text": "hi"})
                if i >= warmup:
                    lat[name].append((time.perf_counter() - t0) * 1000)
    worker = summary_or_none(lat["worker"])
    fast = summary_or_none(lat.get("fastmcp", []))
    once = summary_or_none(lat["one-shot"])
    vs_fast = worker.median / fast.median if worker and fast and fast.median else None
    vs_once = worker.median / once.median if worker and once and once.median else None
    notes = f"{calls} calls per side, interleaved"
    return [
        Row(TITLE, "stdio tools/call", "ms", worker, "FastMCP echo (in-process)", fast,
            target="1.3x FastMCP at most", met=judge(ctx, vs_fast is not None and vs_fast <= 1.3),
            baseline_unavailable=failed.get("fastmcp"), notes=notes),
        Row(TITLE, "stdio tools/call", "ms", worker, "the same echo, one process per call", once,
            target="10x faster at least (ratio <= 0.1)",
            met=judge(ctx, vs_once is not None and vs_once <= 0.1),
            notes=notes),
    ]  # fmt: skip


async def _http_clients(ctx: Ctx, root: Path) -> list[Row]:
    seconds = 0.5 if ctx.quick else 3.0
    clients = 5 if ctx.quick else CLIENTS
    rounds = ctx.reps(3, 1)
    ctx.log(f"worker: {clients} HTTP clients, {rounds} rounds of {seconds:g} s")
    failed: dict[str, str] = {}
    # the built-in search_tools (in-process) on the same server: the HTTP layer's own ceiling
    tools = {"engine": "echo-worker", "built-in": "search_tools", "fastmcp": "echo"}
    pools: dict[str, list[Any]] = {}
    async with contextlib.AsyncExitStack() as stack:
        servers = {"engine": engine_cmd("serve", str(root), "--no-watch")}
        fm = fastmcp_available()
        if fm is None:
            servers["fastmcp"] = baseline_cmd("echo_fastmcp.py", "{port}")
        else:
            failed["fastmcp"] = fm
        for name, argv in servers.items():
            url, _pid = stack.enter_context(http_server(name, argv))
            pools[name] = [await stack.enter_async_context(http_session(url)) for _ in range(clients)]
        pools["built-in"] = pools["engine"]
        rates: dict[str, list[float]] = {k: [] for k in pools}
        order = list(pools)
        for r in range(rounds + 1):
            for name in order[r % len(order) :] + order[: r % len(order)]:
                count, _ = await _burst(pools[name], _caller(tools[name]), seconds)
                if r:
                    rates[name].append(count / seconds)
    engine = summary_or_none(rates["engine"])
    fast = summary_or_none(rates.get("fastmcp", []))
    ratio = engine.median / fast.median if engine and fast and fast.median else None
    notes = f"{seconds:g} s x {rounds} rounds per side"
    return [
        Row(TITLE, f"{clients} HTTP clients", "calls/s", engine, "FastMCP echo", fast,
            target="1.0x FastMCP at least", met=judge(ctx, ratio is not None and ratio >= 1.0),
            higher_is_better=True, baseline_unavailable=failed.get("fastmcp"),
            notes=f"echo-worker (worker: {{max: 4}}); {notes}"),
        Row(TITLE, f"{clients} HTTP clients, built-in (reference)", "calls/s",
            summary_or_none(rates["built-in"]), "FastMCP echo", fast, higher_is_better=True,
            baseline_unavailable=failed.get("fastmcp"),
            notes=f"search_tools, in-process, on the same server: the HTTP layer without a worker; {notes}"),
    ]  # fmt: skip


def _caller(tool: str) -> Callable[[Any], Awaitable[Any]]:
    async def call(session: Any) -> Any:
        return await session.call_tool(tool, {"text": "hi"})

    return call


async def _load(ctx: Ctx, root: Path) -> list[Row]:
    n_sessions, n_calls = (5, 10) if ctx.quick else (50, 200)
    ctx.log(f"worker: load, {n_sessions} sessions x {n_calls} calls")
    # the first worker starts on the warm-up call, before the RSS is read
    run = await sessions_load(root, "echo-worker", n_sessions, n_calls, warm=True)
    rss_before, rss_after, errors, total = run.rss_before, run.rss_after, run.errors, run.total
    rss = f"RSS {rss_before:.1f} -> {rss_after:.1f} MiB"
    ctx.log(f"  {total} calls in {run.wall:.1f} s, {len(errors)} errors, {rss}")
    size = f"{n_sessions} sessions x {n_calls} calls"
    summary = summary_or_none(run.lats)
    extra = run.extra()
    notes = f"echo-worker; {len(errors)} errors of {total}; {rss}"
    flat = rss_after <= rss_before * 1.1
    return [
        Row(TITLE, f"{size}: latency", "ms", summary, target="p99 < 250 ms",
            met=judge(ctx, summary is not None and summary.p99 < 250), notes=notes, extra=extra),
        Row(TITLE, f"{size}: errors", "calls", summary_or_none([len(errors)]), target="0",
            met=judge(ctx, not errors), notes=notes, extra=extra),
        Row(TITLE, f"{size}: server RSS after / before", "MiB", summary_or_none([rss_after]),
            "RSS before the calls", summary_or_none([rss_before]), target="flat (within 10%)",
            met=judge(ctx, flat), extra=extra),
    ]  # fmt: skip
