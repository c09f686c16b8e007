"""Skills at scale: 1,000 skills owning 5,000 tools, in process (no transport, no network).

The tree: ``skills/skill-NNNN/SKILL.md`` (a description and a short body of generated words)
with five ``kind: command`` tools nested under each skill's ``tools/``. One
:class:`~skillz_engine.engine.Engine` compiles it per disclosure mode; the numbers are engine
time measured with ``perf_counter`` around the server's own handlers:

* ``tools/list`` in ``search`` mode (only the built-ins are listed) — target < 5 ms; baseline: the
  same handler in ``all`` mode (every tool listed, memoised per snapshot like the engine does).
* ``tools/list`` in ``skills`` mode for a client with 3 skills active (one per-session listing).
* ``search_tools`` (BM25 over names, descriptions, tags and skill text) p50 over varied queries,
  after the per-snapshot index is built once (its build time is reported in the notes) —
  target < 20 ms; baseline: a naive scan (every query word as a substring of every tool's name
  and description).
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio

from bench.core import Ctx, Row, judge, reason_of, summary_or_none

NAME = "skills"
TITLE = "skills: disclosure and search"
TOOLS_PER_SKILL = 5
VERBS = ["parse", "render", "convert", "validate", "summarize", "index", "compress", "sign", "fetch", "merge"]
NOUNS = ["invoice", "pdf", "image", "csv", "email", "calendar", "ticket", "log", "report", "contract"]
AREAS = ["billing", "documents", "media", "data", "mail", "planning", "support", "ops", "finance", "legal"]
QUERIES = [
    "convert a pdf",
    "summarize the support ticket",
    "sign contract",
    "parse csv data",
    "render an image",
    "fetch email from mail",
    "validate invoice billing",
    "merge calendar planning",
    "compress log files",
    "index report",
]


def make_skills(root: Path, skills: int) -> int:
    if (root / ".done").is_file():
        return skills * TOOLS_PER_SKILL
    for i in range(skills):
        area, noun = AREAS[i % len(AREAS)], NOUNS[(i // len(AREAS)) % len(NOUNS)]
        name = f"skill-{i:04d}-{area}"
        d = root / "skills" / name
        (d / "tools").mkdir(parents=True, exist_ok=True)
        (d / "SKILL.md").write_text(
            f"---\nname: {name}\ndescription: Handle {noun} work for {area}. Use when the user mentions "
            f"{noun} files or {area} tasks.\n---\n# {name}\n\nSteps for {area}: read the {noun}, check it, "
            "then call the tools of this skill.\n",
            encoding="utf-8",
        )
        for j in range(TOOLS_PER_SKILL):
            k = i * TOOLS_PER_SKILL + j
            verb = VERBS[k % len(VERBS)]
            tool = d / "tools" / f"{verb}-{noun}-{k:05d}"
            tool.mkdir(exist_ok=True)
            (tool / "manifest.yaml").write_text(
                f"kind: command\ndescription: {verb.capitalize()} a {noun} for {area} work (tool {k}).\n"
                f"tags: [{area}, {noun}]\nargv: [echo, '{{{{ text }}}}']\n"
                "inputSchema:\n  type: object\n  properties:\n    text: {type: string}\n",
                encoding="utf-8",
            )
    (root / ".done").write_text("ok\n")
    return skills * TOOLS_PER_SKILL


def run(ctx: Ctx) -> list[Row]:
    skills = 50 if ctx.quick else 1000
    root = ctx.work / f"skills-{skills}"
    t0 = time.perf_counter()
    tools = make_skills(root, skills)
    ctx.log(f"skills: {skills} skills, {tools} tools generated in {time.perf_counter() - t0:.1f} s")
    try:
        return anyio.run(_measure, ctx, root, skills, tools)
    except Exception as exc:
        reason = reason_of(exc)
        size = f"{skills} skills, {tools} tools"
        return [
            Row(TITLE, f"tools/list search mode, {size}", "ms", unavailable=reason, target="< 5 ms"),
            Row(TITLE, f"search_tools p50, {size}", "ms", unavailable=reason, target="< 20 ms"),
        ]


async def _measure(ctx: Ctx, root: Path, skills: int, tools: int) -> list[Row]:
    from skillz_engine.builtins.search import index_of
    from skillz_engine.engine import Engine, EngineOptions
    from skillz_engine.live.disclosure import active_skills
    from skillz_engine.mcp.fanout import Hub
    from skillz_engine.mcp.handlers import Handlers
    from skillz_engine.mcp.wire import tool_listing
    from skillz_engine.runtimes.base import LocalCallContext, run_tool

    size = f"{skills} skills, {tools} tools"
    reps = ctx.reps(200, 20)
    handlers: dict[str, Any] = {}
    snaps: dict[str, Any] = {}
    trees: dict[str, Any] = {}
    async with AsyncExitStack() as stack:  # the engines stay open while they are measured
        for mode in ("search", "all", "skills"):
            t0 = time.perf_counter()
            engine = await stack.enter_async_context(Engine.open([root], EngineOptions(disclosure=mode)))
            ctx.log(f"skills: {mode} mode compiled in {time.perf_counter() - t0:.1f} s")
            snap = engine.snapshot
            served = sum(1 for t in snap.tools.values() if t.owner)
            if served != tools:
                raise RuntimeError(f"the engine serves {served} skill tools, expected {tools}")
            handlers[mode] = Handlers(engine, Hub())
            snaps[mode] = snap
            trees[mode] = engine.tree

        async def list_ms(mode: str) -> float:
            t0 = time.perf_counter()
            listed = handlers[mode].tool_listing(None)  # search/all modes never read ctx
            elapsed = (time.perf_counter() - t0) * 1000
            if mode == "search" and any(t["name"].startswith("skill-") for t in listed):
                raise RuntimeError("search mode listed a skill tool")
            return elapsed

        lists: dict[str, list[float]] = {"search": [], "all": []}
        for r in range(reps + 1):
            for mode in ("search", "all") if r % 2 else ("all", "search"):
                v = await list_ms(mode)
                if r:
                    lists[mode].append(v)
        # skills mode: one client with 3 skills active (its listing memoised per active set)
        snap = snaps["skills"]
        names = sorted(s.name for s in snap.skills())
        active = active_skills(snap, tuple(names[:3]))
        per_session = []
        for r in range(reps + 1):
            t0 = time.perf_counter()
            listing = tool_listing(snap, active)
            if r:
                per_session.append((time.perf_counter() - t0) * 1000)
        if len(listing) != len([t for t in snap.tools.values() if t.owner is None]) + 3 * TOOLS_PER_SKILL:
            raise RuntimeError("skills mode listed the wrong tools")

        # search_tools: index built once per snapshot, then queries
        snap = snaps["search"]
        t0 = time.perf_counter()
        index_of(snap)
        build_ms = (time.perf_counter() - t0) * 1000
        rebuilt = trees["search"].snapshot(snap)  # the next snapshot (as after an edit): same tools
        t0 = time.perf_counter()
        index_of(rebuilt)
        rebuild_ms = (time.perf_counter() - t0) * 1000
        tool = snap.tools["search_tools"]
        local = LocalCallContext(snap, "search_tools")
        await run_tool(tool, {"query": "warm up", "limit": 10}, local)  # argument validator compiled once
        searches, naive = [], []
        docs = [(t.name.lower(), t.description.lower()) for t in snap.tools.values()]
        for r in range(reps):
            q = QUERIES[r % len(QUERIES)]
            t0 = time.perf_counter()
            res = await run_tool(tool, {"query": q, "limit": 10}, local)
            searches.append((time.perf_counter() - t0) * 1000)
            if res.is_error or not res.structured["results"]:
                raise RuntimeError(f"search_tools found nothing for {q!r}")
            t0 = time.perf_counter()
            words = q.split()
            hits = [n for n, d in docs if any(w in n or w in d for w in words)]
            naive.append((time.perf_counter() - t0) * 1000)
            assert hits
        list_search, list_all = summary_or_none(lists["search"]), summary_or_none(lists["all"])
        search_s = summary_or_none(searches)
        return [
            Row(
                TITLE,
                f"tools/list search mode, {size}",
                "ms",
                list_search,
                "tools/list all mode (memoised)",
                list_all,
                target="< 5 ms",
                met=judge(ctx, list_search is not None and list_search.median < 5),
                notes=f"{reps} calls of the handler; engine time, no transport",
            ),
            Row(
                TITLE,
                f"tools/list skills mode, 3 skills active, {size}",
                "ms",
                summary_or_none(per_session),
                notes="one client's listing, memoised per (snapshot, active skills)",
            ),
            Row(
                TITLE,
                f"search_tools p50, {size}",
                "ms",
                search_s,
                "naive substring scan",
                summary_or_none(naive),
                target="< 20 ms",
                met=judge(ctx, search_s is not None and search_s.median < 20),
                notes=f"{reps} queries through run_tool; index built once per snapshot: {build_ms:.0f} ms "
                f"cold, {rebuild_ms:.0f} ms for the next snapshot (per-tool documents reused)",
            ),
        ]
