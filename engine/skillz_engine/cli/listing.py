"""``skillz-engine list``: what the server would expose, without serving or running anything.

parse (roots) -> build (an engine that compiles once: no git fetch, nothing started) -> execute
(print the snapshot as a table, or as JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from skillz_engine.cli.roots import roots_of
from skillz_engine.errors import ExitCode

if TYPE_CHECKING:
    from skillz_engine.build.snapshot import Snapshot


def run(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.engine import Engine, EngineOptions

    async def look() -> Snapshot:
        async with Engine.open(roots_of(args.roots), EngineOptions(live=False)) as engine:
            return engine.snapshot

    snap = anyio.run(look)
    listing = describe(snap)
    if args.json:
        json.dump({**listing, "errors": len(snap.errors)}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        table(snap, listing, sys.stdout)
    return ExitCode.OK


def describe(snap: Snapshot) -> dict[str, list[dict[str, Any]]]:
    """Tools, prompts, resources and templates of ``snap``, as ``list --json`` prints them."""
    return {
        "tools": [
            {**t.definition(), "kind": t.kind, **({"skill": t.owner} if t.owner else {})}
            for t in snap.tools.values()
        ],
        "prompts": [
            {"name": p.name, "description": p.description, "arguments": [a.name for a in p.arguments]}
            for p in snap.prompts.values()
        ],
        "resources": [
            {"uri": r.uri, "name": r.name, "mimeType": r.mime_type} for r in snap.resources.values()
        ],
        "resourceTemplates": [{"uriTemplate": t.uri_template, "name": t.name} for t in snap.templates],
    }


def table(snap: Snapshot, listing: dict[str, list[dict[str, Any]]], out: TextIO) -> None:
    tools, prompts = listing["tools"], listing["prompts"]
    resources, templates = listing["resources"], listing["resourceTemplates"]
    width = max([len(t["name"]) for t in tools] + [4])
    out.write(f"tools ({len(tools)}):\n")
    for t in tools:
        desc = " ".join(str(t.get("description", "")).split())
        out.write(f"  {t['name']:<{width}}  {t['kind']:<8} {desc[:90]}\n")
    if prompts:
        out.write(f"prompts ({len(prompts)}):\n")
        for p in prompts:
            out.write(f"  {p['name']:<{width}}  {' '.join(str(p['description']).split())[:90]}\n")
    if resources or templates:
        out.write(f"resources ({len(resources)} + {len(templates)} templates):\n")
        for r in resources:
            out.write(f"  {r['uri']}\n")
        for t in templates:
            out.write(f"  {t['uriTemplate']}\n")
    if snap.diagnostics:
        out.write(
            f"{len(snap.errors)} errors, {len(snap.diagnostics) - len(snap.errors)} warnings: "
            "run `skillz-engine validate` for details\n"
        )
