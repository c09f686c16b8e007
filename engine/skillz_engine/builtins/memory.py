"""``memory``: the model's own key-value memory, in the store scripts use (:mod:`skillz_engine.state.memory`).

``memory(action, key?, value?, ttl?, namespace?)``, ``action`` one of ``get``, ``set`` (or Skillz's
``store``), ``list``, ``delete``, ``clear`` (one key, or without a key every key of the namespace)
and ``stats``; Skillz's ``tool_name`` is accepted as the namespace. Answers are Skillz's shapes as
JSON (``{value}``, ``{success: true}``, ``{keys}``, ``{deleted}``, ``{cleared}``, ``{namespace,
keys, bytes}``), also as ``structuredContent``; a refused operation is an ``isError`` result.

Whose memory: a client's call uses the namespace it names, :data:`MODEL_NAMESPACE` by default (a
tool's name reads what that tool's scripts stored). A nested call, made by a tool's code
(:attr:`CallContext.caller`), is bound to that tool's own namespace, as its ``memory/*`` requests
are: naming another one is refused, so tools cannot read or edit each other's memory.
"""

from __future__ import annotations

import json
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.state.memories import memory_for
from skillz_engine.state.memory import MemoryRefused, MemoryStore, check_ttl
from skillz_engine.state.redislink import ClusterUnavailable
from skillz_engine.tree.model import Args, ToolDef, ToolResult

MODEL_NAMESPACE = "model"
ACTIONS = ("get", "set", "store", "list", "delete", "clear", "stats")


def namespace_of(args: Args, ctx: CallContext) -> str:
    """The namespace a call may use: the caller's own for a nested call, else what it names."""
    named = args.get("namespace", args.get("tool_name"))
    if named is not None and (not isinstance(named, str) or not named):
        raise MemoryRefused("namespace must be a non-empty string")
    if ctx.caller is not None:
        if named is not None and named != ctx.caller:
            raise MemoryRefused(
                f"a call from tool {ctx.caller!r} uses its own memory namespace; {named!r} is another "
                "tool's (tools cannot read each other's memory)"
            )
        return ctx.caller
    return named or MODEL_NAMESPACE


def _key(args: Args) -> str:
    key = args.get("key")
    return key if isinstance(key, str) else ""


def _act(store: MemoryStore, action: Any, ns: str, args: Args) -> dict[str, Any]:
    if action == "get":
        return {"value": store.get(ns, _key(args))[1]}
    if action in ("set", "store"):
        if "value" not in args:
            raise MemoryRefused(f"{action} needs a `value`")
        store.set(ns, _key(args), args["value"], check_ttl(args.get("ttl")))
        return {"success": True}
    if action == "list":
        return {"keys": store.keys(ns)}
    if action == "delete" or (action == "clear" and args.get("key") is not None):
        return {"deleted": store.delete(ns, _key(args))}
    if action == "clear":
        keys = store.keys(ns)
        return {"cleared": sum(store.delete(ns, k) for k in keys)}
    if action == "stats":
        keys = store.keys(ns)
        size = 0
        for k in keys:
            found, value = store.get(ns, k)
            size += len(json.dumps(value, ensure_ascii=False).encode()) if found else 0
        return {"namespace": ns, "keys": len(keys), "bytes": size}
    raise MemoryRefused(f"unknown action {action!r}; use {', '.join(ACTIONS)}")


async def memory(args: Args, ctx: CallContext) -> ToolResult:
    snap = ctx.snapshot
    state = snap.state_dir or (ctx.engine.state_dir if ctx.engine is not None else None)
    if state is None:
        return ToolResult.error("memory: this server has no state directory to keep memory in")
    try:
        ns = namespace_of(args, ctx)
        out = _act(memory_for(snap.config, state), args.get("action"), ns, args)
    except (MemoryRefused, ClusterUnavailable) as exc:
        return ToolResult.error(f"memory: {exc}")
    return ToolResult.text(json.dumps(out, ensure_ascii=False), structured=out)


MEMORY = ToolDef(
    name="memory",
    title="Memory",
    description=(
        "Remember JSON values across calls and sessions: action set or store (key, value, optional ttl "
        "in seconds), get (key), list, delete (key), clear (a key, or without one every key), stats. "
        "Values live in the namespace 'model' unless you name another; a tool's name as namespace "
        "shows what that tool's scripts remembered."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": list(ACTIONS)},
            "key": {"type": "string", "description": "The key (get, set, delete)."},
            "value": {"description": "Any JSON value (set)."},
            "ttl": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "Seconds until the key expires (set).",
            },
            "namespace": {"type": "string", "description": "Default 'model'; a tool's name for its memory."},
            "tool_name": {"type": "string", "description": "Skillz's name for `namespace`."},
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
    digest="builtin:memory:2",
)
