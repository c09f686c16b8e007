"""``skillz-engine list``: what the server would expose, without serving or running anything.

parse (roots) -> build (an engine that compiles once: no git fetch, nothing started) -> execute
(print the snapshot as a table, or as JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from skillz_engine.cli.roots import read_roots
from skillz_engine.errors import ExitCode

if TYPE_CHECKING:
    from skillz_engine.build.snapshot import Snapshot


def run(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.engine import Engine, EngineOptions

    async def look() -> Snapshot:
        async with Engine.open(read_roots(args.roots, "list"), EngineOptions(live=False)) as engine:
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
    """One aligned table (rich) of every tool, prompt, resource and template, then the problems.

    On a terminal it fits the window; piped, rows stay one line each (wide, descriptions cut with
    an ellipsis) so ``grep`` and ``awk`` keep working.
    """
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 200, highlight=False, soft_wrap=False)
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    grid.add_column("name", no_wrap=True)
    grid.add_column("kind", no_wrap=True)
    grid.add_column("description", no_wrap=True, overflow="ellipsis", max_width=100)
    for t in listing["tools"]:
        grid.add_row(t["name"], t["kind"], _one_line(t.get("description")))
    for p in listing["prompts"]:
        grid.add_row(p["name"], "prompt", _one_line(p.get("description")))
    for r in listing["resources"]:
        grid.add_row(r["uri"], "resource", _one_line(r.get("name")))
    for t in listing["resourceTemplates"]:
        grid.add_row(t["uriTemplate"], "template", _one_line(t.get("name")))
    with console.capture() as captured:
        console.print(grid)
    out.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    counts = (
        f"{_n(len(listing['tools']), 'tool')}, {_n(len(listing['prompts']), 'prompt')}, "
        f"{_n(len(listing['resources']) + len(listing['resourceTemplates']), 'resource')}"
    )
    console.print(counts)
    if snap.diagnostics:
        from skillz_engine.cli.report import lines

        warnings = len(snap.diagnostics) - len(snap.errors)
        console.print(
            f"{_n(len(snap.errors), 'error')}, {_n(warnings, 'warning')} "
            "(the entries with errors are not listed):"
        )
        out.flush()
        lines(snap.diagnostics, out)


def _one_line(value: object) -> str:
    return " ".join(str(value or "").split())


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
