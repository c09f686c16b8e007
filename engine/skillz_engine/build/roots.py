"""The roots a tree serves: the ones it was opened with, then the git sources mounted after them.

Where sources come from is not the build layer's business: the caller passes a
:class:`SourceProvider` (the engine passes :class:`skillz_engine.state.sources.GitSources`), and
without one a tree serves exactly the roots it was given. :class:`Roots` only keeps the list and
tells the tree which roots came or went when the provider's answer changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from skillz_engine.tree.config import Config
from skillz_engine.tree.diagnostics import Diagnostic


@dataclass(frozen=True, slots=True)
class MountedSources:
    """What a provider serves now: each mounted root with the commit it serves, and the
    diagnostics about the pins (bad ones, moving ones, ones not fetched yet)."""

    roots: Mapping[Path, str] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()


class SourceProvider(Protocol):
    """Extra roots a tree serves after its own (git sources)."""

    def mount(self, config: Config, state_dir: Path) -> MountedSources:
        """The roots to serve now, without touching the network (missing ones are reported)."""
        ...

    def fetch_missing(self, config: Config, state_dir: Path) -> bool:
        """Fetch what :meth:`mount` reported missing (network; blocking: run it in a worker
        thread); returns whether the roots may have changed."""
        ...


@dataclass(frozen=True, slots=True)
class RootChange:
    gone: tuple[Path, ...]  # no longer served, or re-fetched in place: drop their entries
    added: tuple[Path, ...]  # new, or re-fetched in place: scan them


class Roots:
    """The base roots and the mounted source roots after them, in serving order."""

    def __init__(self, base: Iterable[Path], provider: SourceProvider | None = None) -> None:
        self.base = tuple(Path(r).resolve() for r in base)
        self.current = self.base
        self.provider = provider
        self.diagnostics: tuple[Diagnostic, ...] = ()
        self._commits: Mapping[Path, str] = {}

    def remount(self, config: Config, state_dir: Path) -> RootChange | None:
        """Ask the provider again; the roots that changed, or ``None`` when none did."""
        if self.provider is None:
            return None
        mounted = self.provider.mount(config, state_dir)
        self.diagnostics = mounted.diagnostics
        extra = mounted.roots
        roots = tuple(dict.fromkeys((*self.base, *(r for r in extra if r not in self.base))))
        # a root whose clone was re-fetched in place (the same branch again) is read anew
        moved = [r for r, c in extra.items() if r in self.current and self._commits.get(r) != c]
        self._commits = dict(extra)
        if roots == self.current and not moved:
            return None
        change = RootChange(
            gone=tuple(r for r in self.current if r not in roots or r in moved),
            added=tuple(r for r in roots if r not in self.current or r in moved),
        )
        self.current = roots
        return change

    def fetch_missing(self, config: Config, state_dir: Path) -> bool:
        return self.provider is not None and self.provider.fetch_missing(config, state_dir)

    def root_of(self, path: Path) -> Path | None:
        """The served root ``path`` lies in (or is)."""
        for r in self.current:
            if path == r or r in path.parents:
                return r
        return None
