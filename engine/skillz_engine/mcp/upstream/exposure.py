"""An upstream's listing as served definitions: namespace, include/exclude and per-tool overrides.

Tools are served as ``<namespace>_<tool>`` (Skillz's form; ``namespace`` defaults to the entry's
directory name) and prompts likewise; resources and templates keep their URIs (a URI names the
thing itself, so it is not renamed) and get the namespace in their display name. Whatever the
upstream declared (``inputSchema``, ``outputSchema``, ``annotations``, ``icons``, ``title``,
``_meta``) passes through as it is; an override replaces only the keys it sets, and fixed
``arguments`` are removed from the served schema and always sent.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.mcp.upstream.connection import Upstream
from skillz_engine.mcp.upstream.listing import Listing
from skillz_engine.tree.model import (
    Args,
    EntrySpec,
    PromptArgument,
    PromptDef,
    ResourceDef,
    ResourceTemplateDef,
    ToolDef,
    ToolResult,
)
from skillz_engine.tree.records import read_record
from skillz_engine.tree.specs import McpServerSpec, McpToolOverride


def namespace_of(spec: EntrySpec) -> str:
    return spec.record_as(McpServerSpec).namespace or spec.name


def selected(r: McpServerSpec, name: str) -> bool:
    """Whether ``include``/``exclude`` (globs over upstream names) let ``name`` through."""
    if r.include is not None and not any(fnmatch.fnmatchcase(name, p) for p in r.include):
        return False
    return not any(fnmatch.fnmatchcase(name, p) for p in r.exclude)


def _without(schema: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with the ``fixed`` arguments taken out of ``properties`` and ``required``."""
    out = dict(schema)
    if fixed and isinstance(out.get("properties"), Mapping):
        out["properties"] = {k: v for k, v in out["properties"].items() if k not in fixed}
        if isinstance(out.get("required"), list):
            out["required"] = [k for k in out["required"] if k not in fixed]
    return out


def tools(spec: EntrySpec, up: Upstream, listing: Listing) -> tuple[ToolDef, ...]:
    r = spec.record_as(McpServerSpec)
    ns = namespace_of(spec)
    out = []
    for t in listing.tools:
        name = str(t.get("name", ""))
        if not name or not selected(r, name):
            continue
        o = read_record(McpToolOverride, r.tools.get(name) or {})
        if o.hidden:
            continue
        served = o.name or f"{ns}_{name}"
        out.append(
            ToolDef(
                name=served,
                description=o.description if o.description is not None else str(t.get("description") or ""),
                input_schema=_without(t.get("inputSchema") or {"type": "object"}, o.arguments),
                invoke=_invoker(up, name, o.arguments),
                title=o.title if o.title is not None else t.get("title"),
                output_schema=t.get("outputSchema"),
                annotations=o.annotations if o.annotations is not None else t.get("annotations"),
                icons=t.get("icons"),
                tags=r.tags,
                meta=t.get("_meta"),
            )
        )
    return tuple(out)


def _invoker(up: Upstream, name: str, fixed: Mapping[str, Any]) -> Callable[[Args, CallContext], Any]:
    async def invoke(arguments: Args, ctx: CallContext) -> ToolResult:
        return await up.call_tool(name, {**arguments, **fixed}, ctx)

    return invoke


def prompts(spec: EntrySpec, up: Upstream, listing: Listing) -> tuple[PromptDef, ...]:
    ns = namespace_of(spec)
    out = []
    for p in listing.prompts:
        name = str(p.get("name", ""))
        if not name:
            continue

        async def render(arguments: Args, ctx: Any, _name: str = name) -> list[dict[str, Any]]:
            return await up.get_prompt(_name, arguments)

        args = tuple(
            PromptArgument(str(a.get("name", "")), a.get("description"), bool(a.get("required", False)))
            for a in p.get("arguments") or ()
            if isinstance(a, Mapping)
        )
        out.append(
            PromptDef(
                name=f"{ns}_{name}",
                description=str(p.get("description") or ""),
                arguments=args,
                render=render,
                title=p.get("title"),
                icons=p.get("icons"),
            )
        )
    return tuple(out)


def resources(spec: EntrySpec, up: Upstream, listing: Listing) -> tuple[ResourceDef, ...]:
    ns = namespace_of(spec)
    out = []
    for res in listing.resources:
        uri = str(res.get("uri", ""))
        if not uri:
            continue

        async def read(snapshot: Any, _uri: str = uri) -> list[dict[str, Any]]:
            return await up.read_resource(_uri)

        out.append(
            ResourceDef(
                uri=uri,
                name=f"{ns}_{res.get('name') or uri}",
                read=read,
                title=res.get("title"),
                description=res.get("description"),
                mime_type=res.get("mimeType"),
                size=res.get("size"),
                icons=res.get("icons"),
                meta=res.get("_meta"),
                digest=f"{uri}#{up.versions.get(uri, 0)}",  # a resources/updated upstream changes it
            )
        )
    return tuple(out)


def _matcher(template: str) -> Callable[[str], Mapping[str, str] | None]:
    """A matcher for an RFC 6570 template's simple (``{x}``) and reserved (``{+x}``) variables."""
    pattern = ""
    for part in re.split(r"(\{[^{}]*\})", template):
        if part.startswith("{") and part.endswith("}"):
            expr = part[1:-1]
            reserved = expr.startswith("+")
            names = [n for n in expr.lstrip("+").split(",") if re.fullmatch(r"\w+", n)]
            for i, n in enumerate(names):
                pattern += ("," if i else "") + f"(?P<{n}>{'.+' if reserved else '[^/?#,]+'})"
        else:
            pattern += re.escape(part)
    regex = re.compile(pattern)

    def match(uri: str) -> Mapping[str, str] | None:
        m = regex.fullmatch(uri)
        return m.groupdict() if m else None

    return match


def templates(spec: EntrySpec, up: Upstream, listing: Listing) -> tuple[ResourceTemplateDef, ...]:
    ns = namespace_of(spec)
    out = []
    for t in listing.templates:
        tpl = str(t.get("uriTemplate", ""))
        if not tpl:
            continue

        async def read(uri: str, values: Mapping[str, str], snapshot: Any) -> list[dict[str, Any]]:
            return await up.read_resource(uri)

        try:
            match = _matcher(tpl)
        except re.error:  # a template we cannot match is still listed; reads will not find it
            match = _never
        out.append(
            ResourceTemplateDef(
                uri_template=tpl,
                name=f"{ns}_{t.get('name') or tpl}",
                match=match,
                read=read,
                title=t.get("title"),
                description=t.get("description"),
                mime_type=t.get("mimeType"),
                icons=t.get("icons"),
            )
        )
    return tuple(out)


def _never(uri: str) -> Mapping[str, str] | None:
    return None
