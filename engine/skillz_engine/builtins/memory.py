"""``memory``: the model's own key-value memory, in the store scripts use (:mod:`skillz_engine.state.memory`).

``memory(action: get|set|list|delete, key?, value?, ttl?, namespace?)``. The namespace defaults to
:data:`MODEL_NAMESPACE`; naming a tool's name reads (or edits) what that tool's scripts stored.
Answers are Skillz's shapes as JSON (``{value}``, ``{success: true}``, ``{keys}``, ``{deleted}``),
also as ``structuredContent``; a refused operation is an ``isError`` result saying why.
"""

from __future__ import annotations

import json
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.state.memory import MemoryRefused, check_ttl, memory_for
from skillz_engine.tree.model import Args, ToolDef, ToolResult

MODEL_NAMESPACE = "model"


async def memory(args: Args, ctx: CallContext) -> ToolResult:
    snap = ctx.snapshot
    state = snap.state_dir or (ctx.engine.state_dir if ctx.engine is not None else None)
    if state is None:
        return ToolResult.error("memory: this server has no state directory to keep memory in")
    action = args.get("action")
    ns = args.get("namespace") or MODEL_NAMESPACE
    key = args.get("key")
    try:
        if not isinstance(ns, str):
            raise MemoryRefused("namespace must be a string")
        store = memory_for(snap.config, state)
        out: dict[str, Any]
        if action == "get":
            out = {"value": store.get(ns, key if isinstance(key, str) else "")[1]}
        elif action == "set":
            if "value" not in args:
                raise MemoryRefused("set needs a `value`")
            store.set(ns, key if isinstance(key, str) else "", args["value"], check_ttl(args.get("ttl")))
            out = {"success": True}
        elif action == "list":
            out = {"keys": store.keys(ns)}
        elif action == "delete":
            out = {"deleted": store.delete(ns, key if isinstance(key, str) else "")}
        else:
            raise MemoryRefused(f"unknown action {action!r}; use get, set, list or delete")
    except MemoryRefused as exc:
        return ToolResult.error(f"memory: {exc}")
    return ToolResult.text(json.dumps(out, ensure_ascii=False), structured=out)


MEMORY = ToolDef(
    name="memory",
    title="Memory",
    description=(
        "Remember JSON values across calls and sessions: action set (key, value, optional ttl in "
        "seconds), get (key), list, delete (key). Values live in the namespace 'model' unless you name "
        "another; a tool's name as namespace shows what that tool's scripts remembered."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["get", "set", "list", "delete"]},
            "key": {"type": "string", "description": "The key (get, set, delete)."},
            "value": {"description": "Any JSON value (set)."},
            "ttl": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "Seconds until the key expires (set).",
            },
            "namespace": {"type": "string", "description": "Default 'model'; a tool's name for its memory."},
        },
        "required": ["action"],
        "additionalProperties": False,
    },
    invoke=memory,
    annotations={
        "readOnlyHint": False,
        "destructiveHint": False,
        "idempotentHint": False,
        "openWorldHint": False,
    },
    digest="builtin:memory:1",
)
