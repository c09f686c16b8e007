"""A five-tool composition done by ``execute_code`` against the same five calls made by a client.

In process, a real ``mcp.Client`` (2026-07-28) of a served tree of five ``protocol: plain`` Python
tools: ``make-doc`` (a text of 300 lines), ``upper``, ``word-count``, ``top-words`` and ``report``,
each fed the previous one's output. The client side makes the five ``tools/call`` requests itself
(what a model does without code mode: every intermediate result passes through it); the engine
side sends one ``execute_code`` whose program makes the same five calls and returns the report.
Measured: the wall time of the composition, the round trips, and the bytes sent to the model (the
JSON of every result the client receives) and from it (the JSON of every request's arguments).
Both sides must end with the same report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio

from bench.core import Ctx, Row, reason_of, summary_or_none

NAME = "codemode"
TITLE = "five-tool composition: execute_code vs five client calls"

PLAIN = "kind: script\ndescription: {d}\nentry: main.py\nprotocol: plain\ninputSchema: {{type: object}}\n"
TOOLS = {
    "make-doc": ("A text of n lines", "words = 'alpha beta gamma delta epsilon zeta eta theta'.split()\n"
                 "print('\\n'.join(' '.join(words[(i + j) % 8] for j in range(9)) for i in range(a['n'])))"),
    "upper": ("Upper-cases text", "print(a['text'].upper())"),
    "word-count": ("Counts words", "print(json.dumps({'words': len(a['text'].split())}))"),
    "top-words": ("The k most frequent words", "import collections\n"
                  "print(json.dumps(collections.Counter(a['text'].split()).most_common(a['k'])))"),
    "report": ("A one-line report", "print(f\"{a['words']} words, top: {a['top'][0][0]}\")"),
}  # fmt: skip
CODE = """doc = tools.make_doc(n=300)
shout = tools.upper(text=doc)
count = tools.word_count(text=shout)
top = tools.top_words(text=shout, k=3)
result = tools.report(words=count["words"], top=top)
"""


def _tree(root: Path) -> Path:
    for name, (description, body) in TOOLS.items():
        entry = root / "tools" / name
        entry.mkdir(parents=True, exist_ok=True)
        (entry / "manifest.yaml").write_text(PLAIN.format(d=description), encoding="utf-8")
        source = f"import json, sys\na = json.load(sys.stdin)\n{body}\n"
        (entry / "main.py").write_text(source, encoding="utf-8")
    return root


def run(ctx: Ctx) -> list[Row]:
    ctx.log("codemode: five-tool composition")
    try:
        return anyio.run(_measure, ctx)
    except Exception as exc:
        reason = reason_of(exc)
        return [Row(TITLE, "5 tools", unit, unavailable=reason, baseline_name="five client calls",
                    baseline_unavailable=reason) for unit in ("ms", "bytes")]  # fmt: skip


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


async def _measure(ctx: Ctx) -> list[Row]:
    from mcp import Client

    from skillz_engine.engine import Engine, EngineOptions
    from skillz_engine.mcp.server import build_server

    root = _tree(ctx.work / "codemode-tree")
    times: dict[str, list[float]] = {"code": [], "client": []}
    sent: dict[str, int] = {}
    received: dict[str, int] = {}
    trips: dict[str, int] = {}
    reports: dict[str, Any] = {}
    async with Engine.open([root], EngineOptions(watch=False)) as engine:
        server = build_server(engine)
        try:
            async with Client(server.server, mode="2026-07-28") as c:

                async def call(side: str, name: str, args: dict[str, Any]) -> Any:
                    res = await c.call_tool(name, args)
                    if res.is_error:
                        raise RuntimeError(f"{name} failed: {res.model_dump_json()[:500]}")
                    trips[side] += 1
                    received[side] += _size(res.model_dump(mode="json", by_alias=True, exclude_none=True))
                    sent[side] += _size(args)
                    return res.structured_content if res.structured_content is not None else res.content

                def text(value: Any) -> str:
                    return str(value[0].text)

                async def by_client() -> Any:
                    doc = text(await call("client", "make-doc", {"n": 300}))
                    shout = text(await call("client", "upper", {"text": doc}))
                    count = json.loads(text(await call("client", "word-count", {"text": shout})))
                    top = json.loads(text(await call("client", "top-words", {"text": shout, "k": 3})))
                    return text(await call("client", "report", {"words": count["words"], "top": top}))

                async def by_code() -> Any:
                    out = await call("code", "execute_code", {"code": CODE})
                    return out["result"]

                sides = {"client": by_client, "code": by_code}
                for r in range(ctx.reps(10, 2) + ctx.warmup):
                    for side in ("client", "code") if r % 2 else ("code", "client"):
                        trips[side] = sent[side] = received[side] = 0
                        t0 = time.perf_counter()
                        reports[side] = await sides[side]()
                        if r >= ctx.warmup:
                            times[side].append((time.perf_counter() - t0) * 1000)
        finally:
            await server.close()
    if reports["code"] != reports["client"]:
        raise RuntimeError(f"the two sides disagree: {reports}")
    notes = (f"round trips: execute_code {trips['code']}, client {trips['client']}; bytes from the model "
             f"(arguments): execute_code {sent['code']}, client {sent['client']}")  # fmt: skip
    extra = {"round_trips": trips, "bytes_to_model": received, "bytes_from_model": sent}
    return [
        Row(TITLE, "5 tools", "ms", summary_or_none(times["code"]), "five client calls",
            summary_or_none(times["client"]), notes=notes, extra=extra),
        Row("five-tool composition: bytes sent to the model", "5 tools", "bytes",
            summary_or_none([received["code"]]), "five client calls", summary_or_none([received["client"]]),
            notes=notes, extra=extra),
    ]  # fmt: skip
