"""Engine data to MCP wire models: the one place the core's shapes become SDK ``mcp.types``.

Rules of the adapter, as far as shapes go:

* the core speaks camelCase dicts (``ToolDef.definition()``, ``ToolResult.to_json()``); they become
  SDK models with ``model_validate``, so a field the SDK knows is checked by the SDK, not here;
* absent optional fields stay absent on the wire (:func:`compact`), never ``null``;
* a tool's result that is not valid MCP is the tool's own failure: an ``isError`` result that says
  why, never a protocol error (:func:`tool_result`);
* models derived from a snapshot are built once per snapshot (:meth:`Snapshot.derived`) and live
  and die with it: ``tools/list`` answers are shared by every client reading the same snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import mcp.types as types
from pydantic import ValidationError

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.live.disclosure import visible_tools
from skillz_engine.tree.model import PromptDef, ResourceDef, ResourceTemplateDef, ToolResult


def compact(**fields: Any) -> dict[str, Any]:
    """``fields`` without the ones that are ``None``."""
    return {k: v for k, v in fields.items() if v is not None}


def icons(items: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    return [dict(i) for i in items] if items else None


def tool_result(result: ToolResult) -> types.CallToolResult:
    """The ``tools/call`` answer for ``result``; a result the SDK rejects becomes an ``isError``
    result quoting the tool's text and the first few reasons."""
    payload = result.to_json()
    if result.meta:
        payload["_meta"] = dict(result.meta)
    try:
        return types.CallToolResult.model_validate(payload)
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
    d = compact(uri=r.uri, name=r.name, title=r.title, description=r.description, mimeType=r.mime_type)
    meta = dict(r.meta) if r.meta else None
    return types.Resource.model_validate(compact(**d, size=r.size, icons=icons(r.icons), _meta=meta))


def template(t: ResourceTemplateDef) -> types.ResourceTemplate:
    d = compact(uriTemplate=t.uri_template, name=t.name, title=t.title, description=t.description)
    return types.ResourceTemplate.model_validate(compact(**d, mimeType=t.mime_type, icons=icons(t.icons)))


def prompt(p: PromptDef) -> types.Prompt:
    args = [compact(name=a.name, description=a.description, required=a.required) for a in p.arguments]
    d = compact(name=p.name, title=p.title, description=p.description or None, icons=icons(p.icons))
    return types.Prompt.model_validate({**d, "arguments": args})


def tool_listing(snap: Snapshot, active: frozenset[str] | None) -> list[types.Tool]:
    """The ``tools/list`` answer for a client whose active skills are ``active`` (see
    :mod:`skillz_engine.live.disclosure`): one model per tool per snapshot, one list per active set.

    Outside ``skills`` mode every client sees the same list, so ``active`` is not part of the key."""
    key = ("mcp.tools/list", active if snap.config.disclosure == "skills" else None)
    return snap.derived(key, lambda: _listing(snap, active))


def _listing(snap: Snapshot, active: frozenset[str] | None) -> list[types.Tool]:
    models: dict[str, types.Tool] = snap.derived("mcp.tool-models", dict)
    out = []
    for t in visible_tools(snap, active):
        m = models.get(t.name)
        if m is None:
            m = models[t.name] = types.Tool.model_validate(t.definition())
        out.append(m)
    return out
