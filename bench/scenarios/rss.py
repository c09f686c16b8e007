"""RSS of a serving process with 10,000 tools vs the bare SDK server.

Engine: ``skillz-engine serve ROOT`` (watcher on, as served by default) on a tree of 10,000 command
tools. After ``initialize`` and one ``tools/list`` answer (all tools materialised), the process's
RSS (and USS, its private memory) is read with psutil. Baselines: the bare low-level SDK server with
one tool, and FastMCP with the same 10,000 tools registered in code (for information).
"""

from __future__ import annotations

import time

from bench.core import Ctx, Row, interleave
from bench.procs import PY, StdioPeer, Unavailable, baseline_cmd, engine_cmd, fastmcp_available, rss_mib
from bench.trees import fastmcp_module

NAME = "rss"
TITLE = "RSS while serving"


def measure(argv: list[str], expect: int, uss: dict[str, list[float]], side: str) -> float:
    with StdioPeer(argv) as peer:
        peer.initialize()
        tools = peer.request("tools/list", {})["tools"]
        if len(tools) < expect:
            raise Unavailable(f"tools/list returned {len(tools)} tools, expected {expect}")
        time.sleep(0.3)  # let the watcher and any lazy start-up work settle
        rss, u = rss_mib(peer.pid)
    if u is not None:
        uss.setdefault(side, []).append(u)
    return rss


def run(ctx: Ctx) -> list[Row]:
    n = 100 if ctx.quick else 10000
    info = ctx.tree(n, "tools")
    fm_reason = fastmcp_available()
    fm_path = fastmcp_module(ctx.work / f"fastmcp_{n}.py", n) if fm_reason is None else None
    uss: dict[str, list[float]] = {}

    def fast() -> float:
        if fm_path is None:
            raise Unavailable(str(fm_reason))
        return measure([PY, str(fm_path)], n, uss, "fastmcp")

    ctx.log(f"rss: {n} tools")
    s = interleave(
        ctx.reps(2, 1),
        {
            "engine": lambda: measure(engine_cmd("serve", str(info.root)), n, uss, "engine"),
            "bare": lambda: measure(baseline_cmd("echo_ll.py"), 1, uss, "bare"),
            "fastmcp": fast,
        },
        warmup=ctx.warmup,
        log=ctx.log,
        rounds_for={"fastmcp": {ctx.warmup}},
    )  # FastMCP: > 1 min per start
    size = f"{n} tools"
    # the warm-up round is discarded here too (FastMCP runs in one measured round only)
    uss = {k: v if k == "fastmcp" else v[ctx.warmup :] for k, v in uss.items()}
    extra = {"uss_mib": uss}
    med = {k: sorted(v)[len(v) // 2] for k, v in uss.items() if v}
    note = "USS (private memory): " + ", ".join(f"{k} {v:.0f} MiB" for k, v in med.items()) if med else ""
    return [
        Row(
            TITLE,
            size,
            "MiB",
            s.summary("engine"),
            "bare SDK server, 1 tool",
            s.summary("bare"),
            unavailable=s.reason("engine"),
            baseline_unavailable=s.reason("bare"),
            extra=extra,
            notes=note,
        ),
        Row(
            TITLE,
            size,
            "MiB",
            s.summary("engine"),
            f"FastMCP, {n} tools in code",
            s.summary("fastmcp"),
            unavailable=s.reason("engine"),
            baseline_unavailable=s.reason("fastmcp"),
            extra=extra,
        ),
    ]
