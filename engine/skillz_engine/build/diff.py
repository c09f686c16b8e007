"""What changed between two snapshots, in the terms clients are told about."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skillz_engine.build.snapshot import Snapshot


class Change(enum.Enum):
    TOOLS = "tools"
    PROMPTS = "prompts"
    RESOURCES = "resources"


@dataclass(frozen=True, slots=True)
class Delta:
    """A frozen event: which lists changed and which resource URIs were updated."""

    old_generation: int
    new_generation: int
    lists: frozenset[Change] = frozenset()
    updated: frozenset[str] = frozenset()
    added_entries: frozenset[str] = frozenset()
    removed_entries: frozenset[str] = frozenset()
    changed_entries: frozenset[str] = frozenset()
    diagnostics_changed: bool = False
    summary: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.lists or self.updated or self.diagnostics_changed)


def _changed_names(old: Snapshot, new: Snapshot, keys: frozenset[str]) -> tuple[set[str], set[str], set[str]]:
    """Tool, prompt and resource names that the entries at ``keys`` had or have."""
    tools: set[str] = set()
    prompts: set[str] = set()
    resources: set[str] = set()
    for key in keys:
        for c in (old.entries.get(key), new.entries.get(key)):
            if c is not None:
                tools.update(t.name for t in c.tools)
                prompts.update(p.name for p in c.prompts)
                resources.update(r.uri for r in c.resources)
                resources.update(t.uri_template for t in c.templates)
    return tools, prompts, resources


def _digest_of(m: Mapping[str, Any], name: str) -> str | None:
    item = m.get(name)
    return None if item is None else str(item.digest)


def diff(old: Snapshot | None, new: Snapshot) -> Delta:
    if old is None:
        return Delta(0, new.generation, frozenset(Change), frozenset(), frozenset(new.entries))
    added = frozenset(new.entries.keys() - old.entries.keys())
    removed = frozenset(old.entries.keys() - new.entries.keys())
    changed = frozenset(k for k, c in new.entries.items() if k in old.entries and c is not old.entries[k])
    lists: set[Change] = set()
    whole = (
        old.config is not new.config
        or len(old.tools) != len(new.tools)
        or len(old.prompts) != len(new.prompts)
        or len(old.resources) != len(new.resources)
        or len(old.templates) != len(new.templates)
    )
    if whole:  # entries appeared or vanished, or the configuration changed: compare everything
        if [(n, t.digest) for n, t in old.tools.items()] != [(n, t.digest) for n, t in new.tools.items()]:
            lists.add(Change.TOOLS)
        if [(n, p.digest) for n, p in old.prompts.items()] != [(n, p.digest) for n, p in new.prompts.items()]:
            lists.add(Change.PROMPTS)
        if list(old.resources) != list(new.resources) or [t.uri_template for t in old.templates] != [
            t.uri_template for t in new.templates
        ]:
            lists.add(Change.RESOURCES)
        uris: Iterable[str] = new.resources
    else:  # same sizes: only what the touched entries define can differ
        tools, prompts, uris_touched = _changed_names(old, new, added | removed | changed)
        if any(_digest_of(old.tools, n) != _digest_of(new.tools, n) for n in tools):
            lists.add(Change.TOOLS)
        if any(_digest_of(old.prompts, n) != _digest_of(new.prompts, n) for n in prompts):
            lists.add(Change.PROMPTS)
        if any((u in old.resources) != (u in new.resources) for u in uris_touched):
            lists.add(Change.RESOURCES)
        uris = uris_touched
    updated = {
        uri
        for uri in uris
        if uri in old.resources
        and uri in new.resources
        and old.resources[uri].digest != new.resources[uri].digest
    }
    diags_changed = old.diagnostics != new.diagnostics
    if diags_changed:
        updated.add("skillz://diagnostics")
    if lists or diags_changed or updated:
        updated.add("skillz://guide")
    summary = tuple(
        [f"+{new.entries[k].spec.kind} {new.entries[k].spec.name}" for k in sorted(added)]
        + [f"-{old.entries[k].spec.kind} {old.entries[k].spec.name}" for k in sorted(removed)]
        + [f"~{new.entries[k].spec.kind} {new.entries[k].spec.name}" for k in sorted(changed)]
    )
    return Delta(
        old.generation,
        new.generation,
        frozenset(lists),
        frozenset(updated),
        added,
        removed,
        changed,
        diags_changed,
        summary,
    )
