"""``upstream``: imported MCP servers (``kind: mcp-server``).

* A proxied ``tools/call`` over stdio: a client calls ``up_echo`` of ``skillz-engine serve`` whose
  tree imports the bare SDK echo server (``baselines/echo_ll.py``) over stdio, against calling
  that same echo server directly. Both sessions are open at once and calls are interleaved. Target
  (issue 12): at most +0.5 ms at p50.
* Start to the first ``tools/list`` (stdio, raw JSON-RPC as in ``serve``) of a tree of 20 command
  tools plus 5 lazy upstreams (``autostart: false``, their listings kept in the state directory by
  a first start), against the same 20 tools without them. Target: within 1.1x, and no upstream
  process started (counted with psutil at the answer).

* 20 concurrent HTTP clients calling ``up_echo`` of ``skillz-engine serve --transport http``
  through the same stdio upstream, against FastMCP's proxy of it (``baselines/proxy_fastmcp.py``):
  calls per second (rounds as in ``http-load``). Target: at least 1.5x FastMCP. FastMCP is an
  optional baseline (not installable from every package mirror): without it the row says why.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import anyio

from bench.clients import http_session, stdio_session
from bench.core import Ctx, Row, interleave, judge, reason_of, summary_or_none
from bench.procs import (
    BASELINES,
    PY,
    StdioPeer,
    Unavailable,
    baseline_cmd,
    engine_cmd,
    fastmcp_available,
    http_server,
)
from bench.scenarios.http_load import CLIENTS, _burst

NAME = "upstream"
TITLE = "imported MCP server (mcp-server)"
WARMUP = 5
LAZY = 5
TOOLS = 20


def _echo_entry(root: Path, name: str, extra: str = "") -> None:
    d = root / "servers" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.yaml").write_text(
        f"kind: mcp-server\ncommand: {PY}\nargs: [{BASELINES / 'echo_ll.py'}]\nsandbox: none\n{extra}"
    )


def _tools(root: Path) -> None:
    for i in range(TOOLS):
        d = root / "tools" / f"echo-{i}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.yaml").write_text('kind: command\ndescription: Echo\nargv: ["echo", "{{ text }}"]\n')


def run(ctx: Ctx) -> list[Row]:
    return [_call(ctx), _startup(ctx), anyio.run(_load, ctx)]


def _call(ctx: Ctx) -> Row:
    root = ctx.work / "upstream-call"
    _echo_entry(root, "up")
    calls = 20 if ctx.quick else 500
    ctx.log(f"upstream: proxied vs direct call, {calls} calls per side")
    lat: dict[str, list[float]] = {"engine": [], "direct": []}
    failed: dict[str, str] = {}

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            sides = {}
            for name, argv, tool in (
                ("engine", engine_cmd("serve", str(root), "--no-watch"), "up_echo"),
                ("direct", baseline_cmd("echo_ll.py"), "echo"),
            ):
                try:
                    s = await stack.enter_async_context(stdio_session(argv))
                    with anyio.fail_after(60):
                        res = await s.call_tool(tool, {"text": "hi"})
                    if res.is_error:
                        raise Unavailable(f"{tool} answered isError: {res.content}")
                    sides[name] = (s, tool)
                except Exception as exc:
                    failed[name] = reason_of(exc)
            for i in range(WARMUP + calls):
                order = list(sides) if i % 2 else list(reversed(sides))
                for name in order:
                    s, tool = sides[name]
                    t0 = time.perf_counter()
                    with anyio.fail_after(60):
                        await s.call_tool(tool, {"text": "hi"})
                    if i >= WARMUP:
                        lat[name].append((time.perf_counter() - t0) * 1000)

    anyio.run(main)
    row = Row(
        TITLE,
        "proxied tools/call, stdio",
        "ms",
        summary_or_none(lat["engine"]),
        "the same upstream called directly",
        summary_or_none(lat["direct"]),
        target="<= +0.5 ms at p50",
        unavailable=failed.get("engine"),
        baseline_unavailable=failed.get("direct"),
        notes=f"{calls} calls per side, interleaved",
    )
    if row.engine is not None and row.baseline is not None:
        row.extra["p50_overhead_ms"] = row.engine.median - row.baseline.median
        row.met = judge(ctx, row.engine.median - row.baseline.median <= 0.5)
    return row


def _first_list(argv: list[str], started: list[int]) -> float:
    """Milliseconds from spawn to the tools/list answer; the number of child processes of the
    server at that moment goes to ``started``."""
    import psutil

    t0 = time.perf_counter()
    with StdioPeer(argv) as peer:
        peer.initialize()
        peer.request("tools/list", {})
        elapsed = time.perf_counter() - t0
        started.append(len(psutil.Process(peer.pid).children(recursive=True)))
    return elapsed * 1000


def _startup(ctx: Ctx) -> Row:
    with_up, without = ctx.work / "upstream-lazy", ctx.work / "upstream-none"
    _tools(with_up)
    _tools(without)
    lazy = 1 if ctx.quick else LAZY  # the first start lists each one: keep --quick quick
    for i in range(lazy):
        _echo_entry(with_up, f"lazy{i}", "autostart: false\n")
    ctx.log(f"upstream: start with {lazy} lazy upstreams (first start keeps their listings)")
    children: dict[str, list[int]] = {"engine": [], "plain": []}
    prime: list[int] = []
    with contextlib.suppress(Exception):
        _first_list(engine_cmd("serve", str(with_up), "--no-watch"), prime)
    s = interleave(
        ctx.reps(10, 1),
        {
            "engine": lambda: _first_list(
                engine_cmd("serve", str(with_up), "--no-watch"), children["engine"]
            ),
            "plain": lambda: _first_list(engine_cmd("serve", str(without), "--no-watch"), children["plain"]),
        },
        warmup=ctx.warmup,
        log=ctx.log,
    )
    row = Row(
        TITLE,
        f"start to first tools/list, {TOOLS} tools + {lazy} lazy upstreams",
        "ms",
        s.summary("engine"),
        f"the same {TOOLS} tools without upstreams",
        s.summary("plain"),
        target="<= 1.1x, no upstream started",
        unavailable=s.reason("engine"),
        baseline_unavailable=s.reason("plain"),
        extra={"children_at_first_list": children},
    )
    if row.ratio is not None:
        row.met = judge(ctx, row.ratio <= 1.1 and not any(children["engine"]))
    return row


async def _load(ctx: Ctx) -> Row:
    root = ctx.work / "upstream-load"
    _echo_entry(root, "up")
    seconds, rounds = (1.0, 1) if ctx.quick else (3.0, 3)
    ctx.log(f"upstream: {CLIENTS} HTTP clients through the proxy")
    failed: dict[str, str] = {}
    pools: dict[str, tuple[list[Any], str]] = {}
    async with contextlib.AsyncExitStack() as stack:

        async def open_pool(name: str, kind: str, argv: list[str], tool: str) -> None:
            try:
                url, _pid = stack.enter_context(http_server(kind, argv))
                sessions = [await stack.enter_async_context(http_session(url)) for _ in range(CLIENTS)]
                res = await sessions[0].call_tool(tool, {"text": "hi"})
                if res.is_error:
                    raise Unavailable(f"{tool} answered isError: {res.content!r:.300}")
                pools[name] = (sessions, tool)
            except Exception as exc:
                failed[name] = reason_of(exc)

        await open_pool("engine", "engine", engine_cmd("serve", str(root), "--no-watch"), "up_echo")
        reason = fastmcp_available()
        if reason is None:
            await open_pool("fastmcp", "fastmcp", baseline_cmd("proxy_fastmcp.py", "{port}"), "echo")
        else:
            failed["fastmcp"] = reason
        rates: dict[str, list[float]] = {k: [] for k in pools}
        for r in range(rounds + 1):
            for name in list(pools)[r % 2 :] + list(pools)[: r % 2]:
                sessions, tool = pools[name]

                async def call(s: Any, _tool: str = tool) -> Any:
                    return await s.call_tool(_tool, {"text": "hi"})

                try:
                    count, _lats = await _burst(sessions, call, seconds)
                except Exception as exc:
                    failed[name] = reason_of(exc)
                    continue
                if r:
                    rates[name].append(count / seconds)
    row = Row(
        TITLE,
        f"{CLIENTS} HTTP clients through the proxy",
        "calls/s",
        summary_or_none(rates.get("engine", []) if "engine" not in failed else []),
        "FastMCP proxy of the same upstream",
        summary_or_none(rates.get("fastmcp", []) if "fastmcp" not in failed else []),
        target=">= 1.5x FastMCP",
        unavailable=failed.get("engine"),
        baseline_unavailable=failed.get("fastmcp"),
        higher_is_better=True,
        notes=f"{seconds:.0f} s x {rounds} rounds per side",
    )
    if row.ratio is not None:
        row.met = judge(ctx, row.ratio >= 1.5)
    return row
