"""``list_tools``, ``search_tools`` and ``call_tool``: the whole snapshot through three tools.

Ranking is BM25 over each tool's name (weighted), title, description, tags and the text of its
owning skill (name, description, the start of its instructions). The index (with postings, so a
query only scores the tools that hold one of its words) is built once per snapshot and cached.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.tree.model import Args, ToolDef, ToolResult

_TOKEN = re.compile(r"[a-z0-9]+")
_K1, _B = 1.2, 0.75


def tokens(text: str) -> list[str]:
    out = []
    for raw in re.split(r"[^A-Za-z0-9]+", text):
        # split camelCase and snake_case pieces
        for part in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", raw):
            out.extend(_TOKEN.findall(part.lower()))
    return out


class Bm25:
    """Okapi BM25 over bag-of-words documents, with postings so a query only touches the
    documents that hold one of its terms."""

    def __init__(self, docs: list[dict[str, int]] | list[Counter[str]]) -> None:
        self.docs = docs
        self.n = len(docs)
        lengths = [sum(d.values()) for d in docs]
        avg = (sum(lengths) / len(lengths)) if lengths else 1.0
        # per document: the length part of the BM25 denominator, computed once
        self.norm = [_K1 * (1 - _B + _B * n / avg) for n in lengths]
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for i, d in enumerate(docs):
            for term, tf in d.items():
                self.postings.setdefault(term, []).append((i, tf))

    def scores(self, terms: list[str]) -> dict[int, float]:
        out: dict[int, float] = {}
        for term in set(terms):
            posting = self.postings.get(term)
            if not posting:
                continue
            df = len(posting)
            idf = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
            norm = self.norm
            for i, tf in posting:
                out[i] = out.get(i, 0.0) + idf * tf * (_K1 + 1) / (tf + norm[i])
        return out

    def top(self, terms: list[str], limit: int) -> list[tuple[int, float]]:
        ranked = sorted(self.scores(terms).items(), key=lambda x: (-x[1], x[0]))
        return [(i, s) for i, s in ranked[: max(1, limit)] if s > 0]


@dataclass(frozen=True, slots=True)
class _Index:
    names: tuple[str, ...]
    bm25: Bm25
    lowered: tuple[str, ...]  # the names in lower case, for the substring boost of every search


SKILL_TEXT_CHARS = 1000  # of an owning skill's body that counts for its tools


_DOCS: dict[tuple[str, str, str | None, int], Counter[str]] = {}  # per tool definition, across snapshots
_TEXTS: dict[str, list[str]] = {}  # per skill fingerprint, across snapshots
MAX_MEMO = 100_000


def _document(t: ToolDef, skill_text: Mapping[str, list[str]]) -> Counter[str]:
    owner_text = skill_text.get(t.owner) if t.owner else None
    key = (t.name, t.digest, t.owner, id(owner_text))
    hit = _DOCS.get(key) if t.digest else None
    if hit is not None:
        return hit
    c: Counter[str] = Counter()
    for tok in tokens(t.name):
        c[tok] += 3
    c.update(tokens(t.title or ""))
    c.update(tokens(t.description))
    for tag in t.tags:
        for tok in tokens(tag):
            c[tok] += 2
    if t.owner:
        c.update(owner_text or tokens(t.owner))
    if t.digest:
        if len(_DOCS) > MAX_MEMO:
            _DOCS.clear()
        _DOCS[key] = c
    return c


def _skill_texts(snapshot: Snapshot) -> dict[str, list[str]]:
    """Per skill: the words of its name, description and the start of its instructions (kept
    across snapshots by the skill's fingerprint, so an edit re-reads only what changed)."""
    out: dict[str, list[str]] = {}
    for spec in snapshot.specs.values():
        if spec.kind == "skill" and spec.name not in out:
            words = _TEXTS.get(spec.fingerprint)
            if words is None:
                words = tokens(f"{spec.name} {spec.description} {(spec.body or '')[:SKILL_TEXT_CHARS]}")
                if len(_TEXTS) > MAX_MEMO:
                    _TEXTS.clear()
                    _DOCS.clear()  # its keys name texts by identity
                _TEXTS[spec.fingerprint] = words
            out[spec.name] = words
    return out


def index_of(snapshot: Snapshot) -> _Index:
    """The BM25 index of one snapshot, built once and kept with it (:meth:`Snapshot.derived`)."""

    def build() -> _Index:
        tools = list(snapshot.tools.values())
        texts = _skill_texts(snapshot) if any(t.owner for t in tools) else {}
        names = tuple(t.name for t in tools)
        return _Index(names, Bm25([_document(t, texts) for t in tools]), tuple(n.lower() for n in names))

    return snapshot.derived((__name__, "index"), build)


STOP_WORDS = frozenset(
    {"a", "an", "the", "of", "for", "to", "in", "on", "and", "or", "with", "from", "by", "is", "it"}
    | {"this", "that", "my", "me", "i", "you", "your", "do", "how"}
)


def query_terms(query: str) -> list[str]:
    """The words of a query, without English filler words (unless it holds nothing else)."""
    words = tokens(query)
    kept = [w for w in words if w not in STOP_WORDS]
    return kept or words


def search(snapshot: Snapshot, query: str, limit: int = 10) -> list[tuple[ToolDef, float]]:
    idx = index_of(snapshot)
    scores = idx.bm25.scores(query_terms(query))
    needle = query.strip().lower()
    if needle:
        for i, name in enumerate(idx.lowered):
            if needle in name:
                scores[i] = scores.get(i, 0.0) + 2.0
    ranked = sorted(((s, idx.names[i]) for i, s in scores.items() if s > 0), key=lambda x: (-x[0], x[1]))
    return [(snapshot.tools[name], round(score, 4)) for score, name in ranked[: max(1, limit)]]


def _json_result(payload: Any) -> ToolResult:
    # one line, not indented: `indent` makes json use its pure-Python encoder, which was a third of
    # a search_tools call's server time; the text is shorter for the model to read, too
    return ToolResult.text(json.dumps(payload, ensure_ascii=False), structured=payload)


async def _list_tools(args: Args, ctx: CallContext) -> ToolResult:
    snap = ctx.snapshot
    tools = [
        {
            "name": t.name,
            "title": t.title,
            "description": t.description,
            "kind": t.kind,
            **({"skill": t.owner} if t.owner else {}),
        }
        for t in snap.tools.values()
    ]
    return _json_result({"generation": snap.generation, "count": len(tools), "tools": tools})


async def _search_tools(args: Args, ctx: CallContext) -> ToolResult:
    query = str(args.get("query") or "")
    limit = int(args.get("limit") or 10)
    hits = search(ctx.snapshot, query, limit)
    results = [
        {
            "name": t.name,
            "score": s,
            "description": t.description,
            "inputSchema": dict(t.input_schema),
            **({"title": t.title} if t.title else {}),
            **({"skill": t.owner} if t.owner else {}),
        }
        for t, s in hits
    ]
    return _json_result({"query": query, "results": results})


async def _call_tool(args: Args, ctx: CallContext) -> ToolResult:
    name = args.get("tool_name") or args.get("name")
    if not isinstance(name, str) or not name:
        return ToolResult.error("call_tool needs `tool_name` (the tool to run) and `arguments`")
    arguments = args.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            return ToolResult.error(f"`arguments` is a string but not JSON: {exc}")
    if name == "call_tool":
        return ToolResult.error("call_tool cannot call itself")
    if name not in ctx.snapshot.tools:
        sugg = ctx.snapshot.suggest(name)
        hint = f" Did you mean: {', '.join(sugg)}?" if sugg else " Use search_tools to find one."
        return ToolResult.error(f"unknown tool {name!r}.{hint}")
    return await ctx.call_tool(name, arguments)


_RO = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}

CORE_TOOLS: tuple[ToolDef, ...] = (
    ToolDef(
        name="list_tools",
        title="List tools",
        description="List every tool this server serves right now (name, title, description, kind).",
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        invoke=_list_tools,
        annotations=_RO,
        digest="builtin:list_tools:1",
    ),
    ToolDef(
        name="search_tools",
        title="Search tools",
        description=(
            "Find tools by what they do. Ranks every tool of the server by name, title, description, "
            "tags and the text of the skill that owns it (BM25) and returns the best matches with their "
            "scores and input schemas; run one with call_tool."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What you want to do, in a few words."},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 100,
                    "default": 10,
                    "description": "How many results at most.",
                },
            },
            "required": ["query"],
        },
        invoke=_search_tools,
        annotations=_RO,
        digest="builtin:search_tools:1",
    ),
    ToolDef(
        name="call_tool",
        title="Call a tool",
        description=(
            "Run any tool of this server by name, including tools added after your tool list was fetched. "
            "Pass `tool_name` and `arguments` (an object matching the tool's input schema)."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "tool_name": {"type": "string", "description": "The tool to run."},
                "name": {"type": "string", "description": "Alias of tool_name."},
                "arguments": {"type": ["object", "string"], "description": "The tool's arguments."},
            },
        },
        invoke=_call_tool,
        annotations={"openWorldHint": True},
        digest="builtin:call_tool:1",
    ),
)
