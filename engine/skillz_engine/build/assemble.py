"""Assemble a :class:`Snapshot` from a tree's entry results: stale reuse, built-ins, unique names,
and the checks that span entries (references that must resolve, bundle cycles).

A pure function of its arguments: the built-ins arrive as data (:class:`Builtins`), like the
entry results, so assembling depends on nothing above the build layer."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from skillz_engine.build.compiler import EntryResult
from skillz_engine.build.snapshot import Builtins, Snapshot
from skillz_engine.tree.config import Config
from skillz_engine.tree.diagnostics import Diagnostic, Severity, sort_key
from skillz_engine.tree.model import (
    Compiled,
    EntrySpec,
    PromptDef,
    ResourceDef,
    ResourceTemplateDef,
    ToolDef,
)
from skillz_engine.tree.parse import JsonPath
from skillz_engine.tree.specs import BundleSpec
from skillz_engine.tree.validate import did_you_mean


def _name_path(spec: EntrySpec) -> JsonPath:
    return ("name",) if spec.record.name is not None else ()


def assemble(
    results: Iterable[EntryResult],
    *,
    generation: int,
    roots: tuple[Path, ...],
    config: Config,
    state_dir: Path | None = None,
    diagnostics: Iterable[Diagnostic] = (),
    builtins: Builtins | None = None,
    previous: Snapshot | None = None,
) -> Snapshot:
    """The snapshot of ``results`` (in listing order) beside ``builtins``.

    ``diagnostics`` are the tree's own (configuration, scan, sources). With ``previous`` (serve's
    lenient mode), an entry that no longer compiles keeps its version from ``previous``, stale.
    """
    builtins = builtins or Builtins()
    diags: list[Diagnostic] = list(diagnostics)
    entries: dict[str, Compiled] = {}
    specs: dict[str, EntrySpec] = {}
    stateful: list[str] = []
    for r in results:
        key = r.found.key
        diags.extend(r.diagnostics)
        if r.compiled is not None:
            entries[key] = r.compiled
            if r.compiled.stop is not None:
                stateful.append(key)
            specs[key] = r.compiled.spec
            continue
        if r.spec is not None:
            specs[key] = r.spec
        if previous is not None and key in previous.entries:
            old = previous.entries[key]
            entries[key] = dataclasses.replace(old, state="stale")
            if old.stop is not None:
                stateful.append(key)
            specs[key] = old.spec
            diags.append(
                Diagnostic(
                    r.found.primary.as_posix() if not r.diagnostics else r.diagnostics[0].path,
                    1,
                    1,
                    "SKZ010",
                    Severity.WARNING,
                    f"{old.spec.kind} {old.spec.name!r} has errors; serving its last good version",
                    hint="Fix the errors above; the entry reloads as soon as it validates.",
                )
            )

    tools: dict[str, ToolDef] = {t.name: t for t in builtins.tools_for(config)}
    prompts: dict[str, PromptDef] = {p.name: p for p in builtins.prompts}
    resources: dict[str, ResourceDef] = {r.uri: r for r in builtins.resources}
    templates: list[ResourceTemplateDef] = list(builtins.templates)
    template_names = {t.uri_template for t in templates}
    where: dict[tuple[str, str], EntrySpec] = {}

    def dup(kind: str, name: str, spec: EntrySpec) -> None:
        first = where.get((kind, name))
        origin = f"{first.display}" if first is not None else "a built-in"
        diags.append(
            spec.diag(
                _name_path(spec),
                "SKZ207",
                f"{kind} {name!r} is already defined by {origin}; this one is not served",
                hint="Rename one of the two directories (MCP names must be unique).",
            )
        )

    for c in entries.values():
        spec = c.spec
        if not spec.enabled:
            continue
        for t in c.tools:
            if t.name in tools:
                dup("tool", t.name, spec)
                continue
            tools[t.name] = t
            where[("tool", t.name)] = spec
        for p in c.prompts:
            if p.name in prompts:
                dup("prompt", p.name, spec)
                continue
            prompts[p.name] = p
            where[("prompt", p.name)] = spec
        for res in c.resources:
            if res.uri in resources:
                dup("resource", res.uri, spec)
                continue
            resources[res.uri] = res
            where[("resource", res.uri)] = spec
        for tm in c.templates:
            if tm.uri_template in template_names:
                dup("resource template", tm.uri_template, spec)
                continue
            templates.append(tm)
            template_names.add(tm.uri_template)

    diags.extend(_references(specs, tools))
    unique = sorted(set(diags), key=sort_key)
    return Snapshot(
        generation=generation,
        roots=roots,
        config=config,
        entries=MappingProxyType(entries),
        specs=MappingProxyType(specs),
        tools=MappingProxyType(tools),
        prompts=MappingProxyType(prompts),
        resources=MappingProxyType(resources),
        templates=tuple(templates),
        diagnostics=tuple(unique),
        state_dir=state_dir,
        builtins=builtins,
        stateful=tuple(stateful),
    )


def _references(specs: Mapping[str, EntrySpec], tools: Mapping[str, ToolDef]) -> list[Diagnostic]:
    """References between entries that must resolve, and bundle cycles."""
    out: list[Diagnostic] = []
    # only the few entries that name other entries, and the kinds they can name, cost anything
    referring = [s for s in specs.values() if s.refs]
    pools: dict[str, dict[str, EntrySpec]] = {"skill": {}, "bundle": {}, "service": {}}
    for s in specs.values():
        pool = pools.get(s.kind)
        if pool is not None:
            pool.setdefault(s.name, s)  # listing order: the root given first wins
    bundles = pools["bundle"]
    codes = {"skill": "SKZ301", "bundle": "SKZ302", "service": "SKZ303", "tool": "SKZ304"}
    for s in referring:
        for ref in s.refs:
            pool_of: Mapping[str, Any] = tools if ref.what == "tool" else pools[ref.what]
            if ref.name not in pool_of:
                code = "SKZ302" if s.kind == "bundle" else codes[ref.what]
                hint = did_you_mean(ref.name, pool_of) or f"Create the {ref.what} or remove the reference."
                out.append(s.diag(ref.path, code, f"{ref.what} {ref.name!r} does not exist", hint))
            if ref.what == "tool" and ref.name == s.name:
                out.append(
                    s.diag(
                        ref.path,
                        "SKZ305",
                        f"pipeline {s.name!r} calls itself",
                        "Remove the recursive step.",
                    )
                )

    # bundle cycles: depth-first over @references
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for i, ref in enumerate(bundles[name].record_as(BundleSpec).skills):
            if not (isinstance(ref, str) and ref.startswith("@")) or ref[1:] not in bundles:
                continue
            nxt = ref[1:]
            if state.get(nxt) == 1:
                cycle = " -> ".join([*trail[trail.index(nxt) :], nxt]) if nxt in trail else nxt
                out.append(
                    bundles[name].diag(
                        ("skills", i),
                        "SKZ305",
                        f"bundle cycle: {cycle}",
                        "Remove one of the @references that close the loop.",
                    )
                )
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[name] = 2

    for b in sorted(bundles):
        if b not in state:
            visit(b, [b])
    return out
