"""Engine data to MCP wire models: the one place the core's shapes become SDK ``mcp.types``.

Rules of the adapter, as far as shapes go:

* the core speaks camelCase dicts (the ``definition()`` of ``ToolDef``, ``ResourceDef``,
  ``ResourceTemplateDef`` and ``PromptDef``; ``ToolResult.to_json()``); they become SDK models with
  ``model_validate``, so a field the SDK knows is checked by the SDK, not here, and the script host
  lists resources with the very same dicts;
* absent optional fields stay absent on the wire, never ``null`` (the ``definition()`` methods);
* a result larger than one client message is cut to fit, with a note (:mod:`skillz_engine.mcp.fit`);
* a tool's result that is not valid MCP is the tool's own failure: an ``isError`` result that says
  why, never a protocol error (:func:`tool_result`); the one exception is a result an imported MCP
  server wrote (``ToolResult.trusted``): it is sent on as the dict it was, without building a model
  for it (the SDK still checks it once on the way out), when its content blocks have known types
  and it fits in one message;
* what is derived from a snapshot is built once per snapshot (:meth:`Snapshot.derived`) and lives
  and dies with it: ``tools/list`` answers are shared by every client reading the same snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp.types as types
from pydantic import ValidationError

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.live.disclosure import visible_tools
from skillz_engine.mcp.fit import MAX_RESULT_BYTES, fit_result, json_size
from skillz_engine.tree.model import PromptDef, ResourceDef, ResourceTemplateDef, ToolResult

CONTENT_TYPES = frozenset({"text", "image", "audio", "resource_link", "resource"})


def tool_result(result: ToolResult) -> types.CallToolResult | dict[str, Any]:
    """The ``tools/call`` answer for ``result``, cut to what a client accepts in one message
    (:mod:`.fit`); a result the SDK rejects becomes an ``isError`` result quoting the tool's text
    and the first few reasons. A trusted result that passes :func:`passthrough` is that dict."""
    if result.trusted:
        raw = passthrough(result)
        if raw is not None:
            return raw
    return fit_result(_validated(result))


def passthrough(result: ToolResult) -> dict[str, Any] | None:
    """An imported server's result as it came, when each content block has a known type and it fits
    in one message; ``None`` sends it the checked way (which explains what is wrong, or cuts it)."""
    if not all(isinstance(b, Mapping) and b.get("type") in CONTENT_TYPES for b in result.content):
        return None
    raw = result.to_json()
    raw["resultType"] = "complete"  # as the SDK's model dumps it (2026-07-28 requires it)
    return raw if json_size(raw) <= MAX_RESULT_BYTES else None


def _validated(result: ToolResult) -> types.CallToolResult:
    try:
        return types.CallToolResult.model_validate(result.to_json())
    except ValidationError as exc:
        text = result.text_content() or "(no text content)"
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        return types.CallToolResult(
            content=[
                types.TextContent(type="text", text=f"{text}\n\n[the tool's result is not valid MCP: {why}]")
            ],
            is_error=True,
        )


def resource(r: ResourceDef) -> types.Resource:
    return types.Resource.model_validate(r.definition())


def template(t: ResourceTemplateDef) -> types.ResourceTemplate:
    return types.ResourceTemplate.model_validate(t.definition())


def prompt(p: PromptDef) -> types.Prompt:
    return types.Prompt.model_validate(p.definition())


def listing_result(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``tools/list`` result as a wire dict: the SDK's own defaults for the envelope (``ttlMs``,
    ``cacheScope``, ``resultType``, which the 2026-07-28 schema requires), then ``tools``."""
    return {**_ENVELOPE, "tools": tools}


_ENVELOPE = {
    k: v
    for k, v in types.ListToolsResult(tools=[])
    .model_dump(by_alias=True, mode="json", exclude_none=True)
    .items()
    if k != "tools"
}


def tool_listing(snap: Snapshot, active: frozenset[str] | None) -> list[dict[str, Any]]:
    """The ``tools`` of the ``tools/list`` answer for a client whose active skills are ``active``
    (see :mod:`skillz_engine.live.disclosure`): one list per active set per snapshot.

    The tools stay the core's camelCase dicts (``ToolDef.definition``), not SDK models, and go on
    the wire as they are (:mod:`skillz_engine.mcp.listing`): a model per tool would be built,
    dumped, validated again and thrown away at every answer (10,000 tools kept ~25 MiB of them).
    Outside ``skills`` mode every client sees the same list, so ``active`` is not part of the key."""
    key = ("mcp.tools/list", active if snap.config.disclosure == "skills" else None)
    return snap.derived(key, lambda: _listing(snap, active))


def _listing(snap: Snapshot, active: frozenset[str] | None) -> list[dict[str, Any]]:
    defs: dict[str, dict[str, Any]] = snap.derived("mcp.tool-definitions", dict)
    out = []
    for t in visible_tools(snap, active):
        d = defs.get(t.name)
        if d is None:
            d = defs[t.name] = t.definition()
        out.append(d)
    return out
