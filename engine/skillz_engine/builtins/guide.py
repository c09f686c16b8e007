"""Built-in resources: the live guide, the diagnostics, and one description per tool."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.state.cluster import cluster_of
from skillz_engine.state.redislink import link_for
from skillz_engine.tree.model import ResourceDef, ResourceTemplateDef

GUIDE_URI = "skillz://guide"
DIAGNOSTICS_URI = "skillz://diagnostics"
TOOL_TEMPLATE = "skillz://tools/{name}"
_TOOL_URI = re.compile(r"skillz://tools/([^/?#]+)")


@functools.cache
def _guide_template() -> Any:
    from importlib import resources

    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False
    )
    text = resources.files("skillz_engine").joinpath("templates/guide.md.j2").read_text(encoding="utf-8")
    return env.from_string(text)


def render_guide(snapshot: Snapshot) -> str:
    tools = list(snapshot.tools.values())
    by_kind: dict[str, list[Any]] = {}
    for t in tools:
        by_kind.setdefault(t.kind, []).append(t)
    return str(
        _guide_template().render(
            server=snapshot.config.server_name,
            generation=snapshot.generation,
            tools=tools,
            by_kind=by_kind,
            prompts=list(snapshot.prompts.values()),
            resources=[r for r in snapshot.resources.values() if not r.uri.startswith("skillz://")],
            templates=[t for t in snapshot.templates if not t.uri_template.startswith("skillz://")],
            skills=snapshot.skills(),
            bundles=[s for s in snapshot.specs.values() if s.kind == "bundle"],
            errors=len(snapshot.errors),
            warnings=len(snapshot.diagnostics) - len(snapshot.errors),
            stale=snapshot.stale,
            disclosure=snapshot.config.disclosure,
        )
    )


def diagnostics_payload(snapshot: Snapshot) -> dict[str, Any]:
    """The tree's problems; a replica's also its link to the cluster's Redis (``cluster``), so an
    outage shows here as loudly as a broken manifest."""
    out: dict[str, Any] = {
        "generation": snapshot.generation,
        "errors": len(snapshot.errors),
        "warnings": len(snapshot.diagnostics) - len(snapshot.errors),
        "stale": [snapshot.entries[k].spec.name for k in snapshot.stale],
        "diagnostics": [d.to_json() for d in snapshot.diagnostics],
    }
    cluster = cluster_of(snapshot.config)
    if cluster is not None:
        out["cluster"] = link_for(cluster).status()
    return out


def tool_payload(snapshot: Snapshot, name: str) -> dict[str, Any] | None:
    t = snapshot.tools.get(name)
    if t is None:
        return None
    out = t.definition()
    out["kind"] = t.kind
    if t.owner:
        out["skill"] = t.owner
    if t.entry:
        spec = snapshot.specs.get(t.entry)
        if spec is not None:
            out["manifest"] = spec.display
            out["stale"] = snapshot.entries[t.entry].state == "stale"
    return out


async def _read_guide(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [{"uri": GUIDE_URI, "mimeType": "text/markdown", "text": render_guide(snapshot)}]


async def _read_diagnostics(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [
        {
            "uri": DIAGNOSTICS_URI,
            "mimeType": "application/json",
            "text": json.dumps(diagnostics_payload(snapshot), indent=2),
        }
    ]


def _match_tool(uri: str) -> Mapping[str, str] | None:
    m = _TOOL_URI.fullmatch(uri)
    return {"name": m.group(1)} if m else None


async def _read_tool(uri: str, variables: Mapping[str, str], snapshot: Snapshot) -> list[dict[str, Any]]:
    payload = tool_payload(snapshot, variables["name"])
    if payload is None:
        raise KeyError(f"no tool named {variables['name']!r}")
    return [{"uri": uri, "mimeType": "application/json", "text": json.dumps(payload, indent=2)}]


def builtin_resources() -> list[ResourceDef]:
    return [
        ResourceDef(
            GUIDE_URI,
            "guide",
            _read_guide,
            title="Guide to this server",
            description="What this server serves right now and how to extend it (rendered live).",
            mime_type="text/markdown",
            digest="builtin:guide",
        ),
        ResourceDef(
            DIAGNOSTICS_URI,
            "diagnostics",
            _read_diagnostics,
            title="Diagnostics",
            description="Problems found in the tree: file, line, column, code, message, hint.",
            mime_type="application/json",
            digest="builtin:diagnostics",
        ),
    ]


def builtin_templates() -> list[ResourceTemplateDef]:
    return [
        ResourceTemplateDef(
            TOOL_TEMPLATE,
            "tool",
            _match_tool,
            _read_tool,
            complete=None,
            title="Tool definition",
            description="One tool's full definition: schema, annotations, kind and manifest.",
            mime_type="application/json",
            digest="builtin:tools",
        )
    ]
