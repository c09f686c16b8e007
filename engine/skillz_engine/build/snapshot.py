"""The immutable snapshot: everything a request reads, from start to end, in one object.

A snapshot is built whole by :mod:`skillz_engine.build.compile` and then only read. The live registry
swaps one reference to move from snapshot *n* to *n+1*; a request captures the reference once at
entry, so no reader ever sees a half-built registry.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, cast

from skillz_engine.tree.config import Config
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.model import (
    Compiled,
    EntrySpec,
    PromptDef,
    ResourceDef,
    ResourceTemplateDef,
    ToolDef,
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Builtins:
    """The built-in tools and resources a snapshot carries besides its entries.

    Handed to the tree as data by whoever opens it (:func:`skillz_engine.builtins.catalog`), so
    the build layer depends on no built-in. ``writers`` are the tools that write into the tree.
    """

    tools: tuple[ToolDef, ...] = ()
    resources: tuple[ResourceDef, ...] = ()
    templates: tuple[ResourceTemplateDef, ...] = ()
    writers: frozenset[str] = frozenset()
    prompts: tuple[PromptDef, ...] = ()

    def tools_for(self, config: Config) -> list[ToolDef]:
        """The tools ``config`` switches on: ``builtins.enabled`` / ``builtins.disabled``, and no
        writer when the tree is read-only."""
        enabled = config.get("builtins", "enabled")
        disabled = set(config.get("builtins", "disabled", default=()) or ())
        return [
            t
            for t in self.tools
            if (enabled is None or t.name in enabled)
            and t.name not in disabled
            and not (config.read_only and t.name in self.writers)
        ]


@dataclass(frozen=True, slots=True)
class Snapshot:
    generation: int
    roots: tuple[Path, ...]
    config: Config
    entries: Mapping[str, Compiled] = field(
        default_factory=lambda: _EMPTY
    )  # EntrySpec.key -> compiled (ok or stale)
    specs: Mapping[str, EntrySpec] = field(
        default_factory=lambda: _EMPTY
    )  # every valid entry, disabled ones included
    tools: Mapping[str, ToolDef] = field(default_factory=lambda: _EMPTY)
    prompts: Mapping[str, PromptDef] = field(default_factory=lambda: _EMPTY)
    resources: Mapping[str, ResourceDef] = field(default_factory=lambda: _EMPTY)
    templates: tuple[ResourceTemplateDef, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    state_dir: Path | None = None
    builtins: Builtins = field(default_factory=Builtins, compare=False, repr=False)  # the catalog it drew on
    stateful: tuple[str, ...] = ()  # keys of the entries with a stop hook (what a swap may retire)
    created: float = field(default_factory=time.time)
    # data derived from this snapshot (listings, indexes, graphs): see derived(); never compared,
    # and a dataclasses.replace() copy starts empty
    _derived: dict[Hashable, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()`` computed once for this snapshot: it lives and dies with the snapshot.

        Snapshots are immutable, so anything computed from one stays true for as long as it is
        read. Two threads racing on a new key may both compute it; the values are equal.
        """
        try:
            return cast("T", self._derived[key])
        except KeyError:
            value = self._derived[key] = make()
            return value

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def stale(self) -> tuple[str, ...]:
        return tuple(k for k, c in self.entries.items() if c.state == "stale")

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Tool names close to ``name`` (for "did you mean" messages)."""
        return difflib.get_close_matches(name, list(self.tools), n=n, cutoff=0.5)

    def find_template(self, uri: str) -> tuple[ResourceTemplateDef, Mapping[str, str]] | None:
        for t in self.templates:
            m = t.match(uri)
            if m is not None:
                return t, m
        return None

    def entry_tools(self) -> list[ToolDef]:
        """Tools that come from entries (not built-ins), in listing order."""
        return [t for t in self.tools.values() if t.entry is not None]

    def skills(self) -> list[EntrySpec]:
        return [s for s in self.specs.values() if s.kind == "skill"]
