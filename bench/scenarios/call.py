"""``tools/call`` round trip over stdio and Streamable HTTP.

Engine tools (one tree): ``echo-cmd`` (``kind: command``, ``argv: ["echo", "{{ text }}"]``),
``echo-plain`` and ``echo-jsonrpc`` (``kind: script``, Python, both protocols) and ``echo-pipeline``
(``kind: pipeline``, one step calling ``echo-cmd``): every call starts a process, which is what
these kinds do. (wasm joins when its runtime lands.) Baselines: the same echo in the bare low-level SDK server
and in FastMCP (in-process functions). All sessions are open at once (SDK ``ClientSession``,
2025-11-25 handshake) and calls are interleaved round-robin, one ``call_tool("...", {"text": "hi"})``
per side per round; the first rounds are the warm-up. Median, p95 and p99 per side.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from bench.clients import http_session, result_text, stdio_session
from bench.core import Ctx, Row, reason_of, summary_or_none
from bench.procs import baseline_cmd, engine_cmd, fastmcp_available, http_server

NAME = "call"
TITLE = "tools/call round trip"
WARMUP = 5


def run(ctx: Ctx) -> list[Row]:
    info = ctx.tree(10, "tools", echo=True)
    calls = 20 if ctx.quick else 200
    rows: list[Row] = []
    for transport in ("stdio", "http"):
        ctx.log(f"call: {transport}, {calls} calls per side")
        rows += anyio.run(_transport, ctx, transport, str(info.root), calls)
    return rows


ENGINE_TOOLS = {
    "command": "echo-cmd",
    "script-plain": "echo-plain",
    "script-jsonrpc": "echo-jsonrpc",
    "pipeline": "echo-pipeline",  # one command step: the pipeline's own cost over `command`
}


async def _transport(ctx: Ctx, transport: str, root: str, calls: int) -> list[Row]:
    failed: dict[str, str] = {}
    lat: dict[str, list[float]] = {}
    async with contextlib.AsyncExitStack() as stack:
        sessions: dict[str, Any] = {}

        async def open_side(name: str, opener: Callable[[], Any]) -> None:
            try:
                sessions[name] = await stack.enter_async_context(opener())
            except Exception as exc:
                failed[name] = reason_of(exc)

        def stdio_or_http(kind: str, argv: list[str]) -> Callable[[], Any]:
            if transport == "stdio":
                return lambda: stdio_session(argv)

            @contextlib.asynccontextmanager
            async def both() -> Any:
                with http_server(kind, argv) as (url, _pid):
                    async with http_session(url) as s:
                        yield s

            return both

        http = transport == "http"
        argvs = {
            "engine": engine_cmd("serve", root, "--no-watch"),
            "bare": baseline_cmd("echo_ll.py", *(["--http", "{port}"] if http else [])),
            "fastmcp": baseline_cmd("echo_fastmcp.py", *(["{port}"] if http else [])),
        }
        fm = fastmcp_available()
        if fm is not None:
            failed["fastmcp"] = fm
        for name, argv in argvs.items():
            if name not in failed:
                await open_side(name, stdio_or_http(name, argv))

        sides: dict[str, Callable[[], Awaitable[Any]]] = {}
        if "engine" in sessions:
            served = {t.name for t in (await sessions["engine"].list_tools()).tools}
            for variant, tool in ENGINE_TOOLS.items():
                if tool not in served:
                    failed[variant] = f"the engine does not serve {tool!r} (runtime missing or rejected)"
                    continue
                sides[variant] = _caller(sessions["engine"], tool)
        else:
            for variant in ENGINE_TOOLS:
                failed[variant] = failed.get("engine", "the engine did not start")
        for name in ("bare", "fastmcp"):
            if name in sessions:
                sides[name] = _caller(sessions[name], "echo")

        for name, call in list(sides.items()):  # one checked call each: right answer or not available
            try:
                with anyio.fail_after(60):
                    res = await call()
                text = result_text(res).strip()
                if getattr(res, "is_error", False) or text != "hi":
                    flag = getattr(res, "is_error", None)
                    raise RuntimeError(f"echo returned {text[:200]!r} (isError={flag})")
            except Exception as exc:
                failed[name] = reason_of(exc)
                del sides[name]

        order = list(sides)
        lat = {k: [] for k in order}
        for i in range(WARMUP + calls):
            rot = i % max(1, len(order))
            for name in order[rot:] + order[:rot]:
                t0 = time.perf_counter()
                with anyio.fail_after(60):
                    await sides[name]()
                if i >= WARMUP:
                    lat[name].append((time.perf_counter() - t0) * 1000)

    rows = []
    for variant in ENGINE_TOOLS:
        for base, label in (("bare", "bare SDK echo"), ("fastmcp", "FastMCP echo")):
            rows.append(
                Row(
                    TITLE,
                    f"{transport}, {variant}",
                    "ms",
                    summary_or_none(lat.get(variant, [])),
                    label,
                    summary_or_none(lat.get(base, [])),
                    unavailable=failed.get(variant),
                    baseline_unavailable=failed.get(base),
                    notes=f"{calls} calls per side; the engine starts a process per call",
                )
            )
    return rows


def _caller(session: Any, tool: str) -> Callable[[], Awaitable[Any]]:
    async def call() -> Any:
        return await session.call_tool(tool, {"text": "hi"})

    return call
