"""``serve``: start to the first ``tools/list`` answer over stdio, 1 / 1,000 / 10,000 tools.

One sample = ``perf_counter`` from just before spawning the server to the ``tools/list`` answer,
driven with raw JSON-RPC lines over the pipes (``initialize``, ``notifications/initialized``,
``tools/list``), so no client library sits in the measurement. Engine:
``skillz-engine serve ROOT --no-watch`` on a tree of N command tools, as a restart (the spec cache
in the tree's ``.skillz/`` is warm: the target row) and as a first start (a fresh ``--state-dir``
each time: no cache). Baselines: the bare low-level
SDK server with one tool (``baselines/echo_ll.py``), and FastMCP with the same N tools registered
in code (a generated module of ``@mcp.tool`` functions).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time

from bench.core import Ctx, Row, interleave, judge
from bench.procs import PY, StdioPeer, Unavailable, baseline_cmd, engine_cmd, fastmcp_available
from bench.trees import fastmcp_module

NAME = "serve"
TITLE = "serve: start to first tools/list (stdio)"


def startup(argv: list[str], expect_tools: int, proc_stats: dict[str, list[float]] | None = None) -> float:
    """Milliseconds from spawn to the tools/list answer; the child's CPU time and RSS at that
    moment go to ``proc_stats``."""
    t0 = time.perf_counter()
    with StdioPeer(argv) as peer:
        peer.initialize()
        tools = peer.request("tools/list", {})["tools"]
        elapsed = time.perf_counter() - t0
        if proc_stats is not None:
            with contextlib.suppress(Exception):
                import psutil

                p = psutil.Process(peer.pid)
                cpu = p.cpu_times()
                proc_stats.setdefault("cpu_ms", []).append((cpu.user + cpu.system) * 1000)
                proc_stats.setdefault("rss_mib", []).append(p.memory_info().rss / 2**20)
    if len(tools) < expect_tools:
        raise Unavailable(f"tools/list returned {len(tools)} tools, expected at least {expect_tools}")
    return elapsed * 1000


def run(ctx: Ctx) -> list[Row]:
    return [r for n in ctx.sizes([1, 1000, 10000], [1, 100]) for r in _one_size(ctx, n)]


def _one_size(ctx: Ctx, n: int) -> list[Row]:
    info = ctx.tree(n, "tools")
    fm_reason = fastmcp_available()
    fm_path = fastmcp_module(ctx.work / f"fastmcp_{n}.py", n) if fm_reason is None else None

    stats: dict[str, dict[str, list[float]]] = {"engine": {}, "cold": {}, "bare": {}, "fastmcp": {}}

    def engine() -> float:  # a restart: the tree's spec cache (.skillz/cache) is warm
        return startup(engine_cmd("serve", str(info.root), "--no-watch"), n, stats["engine"])

    def cold() -> float:  # a first start: a fresh state dir, so no spec cache
        state = tempfile.mkdtemp(prefix="state-", dir=ctx.work)
        try:
            argv = engine_cmd("serve", str(info.root), "--no-watch", "--state-dir", state)
            return startup(argv, n, stats["cold"])
        finally:
            shutil.rmtree(state, ignore_errors=True)

    def bare() -> float:
        return startup(baseline_cmd("echo_ll.py"), 1, stats["bare"])

    def fast() -> float:
        if fm_path is None:
            raise Unavailable(str(fm_reason))
        return startup([PY, str(fm_path)], n, stats["fastmcp"])

    ctx.log(f"serve: {n} tools")
    reps = ctx.reps(5 if n <= 1000 else 3, 1)
    # FastMCP needs over a minute to register 10,000 tools here: one measured start only
    limit = {"fastmcp": {ctx.warmup}} if n > 1000 else None
    s = interleave(
        reps,
        {"engine": engine, "cold": cold, "bare": bare, "fastmcp": fast},
        warmup=ctx.warmup,
        log=ctx.log,
        rounds_for=limit,
    )
    e = s.summary("engine")
    size = f"{n} tool{'s' if n != 1 else ''}"
    cold_row = Row(
        TITLE,
        f"{size}, first start (no spec cache)",
        "ms",
        s.summary("cold"),
        "bare SDK server, 1 tool",
        s.summary("bare"),
        unavailable=s.reason("cold"),
        baseline_unavailable=s.reason("bare"),
        notes="a fresh --state-dir per start: parse and validate every manifest",
    )
    extra = {"process_at_first_tools_list": stats}
    vs_bare = Row(
        TITLE,
        size,
        "ms",
        e,
        "bare SDK server, 1 tool",
        s.summary("bare"),
        unavailable=s.reason("engine"),
        baseline_unavailable=s.reason("bare"),
        extra=extra,
    )
    if n == 1000:
        vs_bare.target = "<= 1.3x bare SDK"
        if vs_bare.ratio is not None:
            vs_bare.met = judge(ctx, vs_bare.ratio <= 1.3)
    vs_fast = Row(
        TITLE,
        size,
        "ms",
        e,
        f"FastMCP, {n} tools in code",
        s.summary("fastmcp"),
        unavailable=s.reason("engine"),
        baseline_unavailable=s.reason("fastmcp"),
        extra=extra,
        notes="FastMCP: one measured start at this size (over a minute each)" if limit else "",
    )
    return [vs_bare, cold_row, vs_fast]
