"""What changed between two snapshots, in the terms clients are told about."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from skillz_engine.snapshot import Snapshot


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


def diff(old: Snapshot | None, new: Snapshot) -> Delta:
    if old is None:
        return Delta(0, new.generation, frozenset(Change), frozenset(), frozenset(new.entries))
    lists: set[Change] = set()
    if [(n, t.digest) for n, t in old.tools.items()] != [(n, t.digest) for n, t in new.tools.items()]:
        lists.add(Change.TOOLS)
    if [(n, p.digest) for n, p in old.prompts.items()] != [(n, p.digest) for n, p in new.prompts.items()]:
        lists.add(Change.PROMPTS)
    if list(old.resources) != list(new.resources) or [t.uri_template for t in old.templates] != [
        t.uri_template for t in new.templates
    ]:
        lists.add(Change.RESOURCES)
    updated = {
        uri
        for uri, r in new.resources.items()
        if uri in old.resources and old.resources[uri].digest != r.digest
    }
    diags_changed = old.diagnostics != new.diagnostics
    if diags_changed:
        updated.add("skillz://diagnostics")
    if lists or diags_changed or updated:
        updated.add("skillz://guide")
    added = frozenset(new.entries.keys() - old.entries.keys())
    removed = frozenset(old.entries.keys() - new.entries.keys())
    changed = frozenset(
        k for k in new.entries.keys() & old.entries.keys() if new.entries[k] is not old.entries[k]
    )
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
