"""Compile a tree: the roots it serves -> found entries -> compiled entries -> one :class:`Snapshot`.

:class:`Tree` is the incremental state of one set of roots, made of pieces with one job each:
:mod:`~skillz_engine.build.settings` (configuration and state directory),
:mod:`~skillz_engine.build.roots` (the roots, git sources mounted by a caller's provider),
:class:`~skillz_engine.build.index.Index` (what was found, each entry's last result),
:class:`~skillz_engine.build.compiler.Compiler` (one entry -> its result),
:mod:`~skillz_engine.build.cache` (specs kept across starts) and
:func:`~skillz_engine.build.assemble.assemble` (results -> snapshot). An entry whose files did not
change is reused as is; :meth:`Tree.rescan` rescans only what the changed paths touch.

The tree knows no runtime, built-in or git: the caller passes ``runtimes`` (default: each kind's
runtime from the kind registry), ``builtins`` (the engine's catalog) and ``sources``.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from skillz_engine.build.assemble import assemble
from skillz_engine.build.cache import SpecCache
from skillz_engine.build.compiler import Compiler, EntryResult
from skillz_engine.build.contract import Runtime, Services
from skillz_engine.build.index import Index
from skillz_engine.build.roots import Roots, SourceProvider
from skillz_engine.build.settings import read_config, state_dir_for
from skillz_engine.build.snapshot import Builtins, Snapshot
from skillz_engine.tree.config import CONFIG_NAMES
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.scan import ignored_name


class Tree:
    """One set of roots, compiled incrementally into snapshots."""

    def __init__(
        self,
        roots: Iterable[Path],
        *,
        lenient: bool = False,
        state_dir: Path | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        runtimes: Mapping[str, Runtime] | None = None,
        cache: bool = False,
        builtins: Builtins | None = None,
        sources: SourceProvider | None = None,
    ) -> None:
        self._roots = Roots(roots, sources)
        self.lenient = lenient
        self.config_overrides = dict(config_overrides or {})
        self.config, self.config_diags = read_config(self._roots.base, self.config_overrides)
        self.state_dir = state_dir or state_dir_for(self.config, self._roots.base)
        self.runtimes = runtimes
        self.builtins = builtins or Builtins()
        self.use_cache = cache
        self.index = Index()
        self.dirty: set[str] = set()  # entries whose runtime said they serve something new
        self.on_changed: Callable[[], Awaitable[None]] | None = None  # set by whoever serves the tree
        self.compiler = self._compiler()
        self.generation = 0

    def _compiler(self) -> Compiler:
        services = Services(self.config, self.state_dir, self.roots, changed=self._entry_changed)
        return Compiler(services, self.runtimes, lenient=self.lenient)

    async def _entry_changed(self, key: str) -> None:
        """:attr:`Services.changed`: mark ``key`` for recompiling, then let the server rebuild."""
        self.dirty.add(key)
        if self.on_changed is not None:
            await self.on_changed()

    def recompile_dirty(self) -> set[str]:
        """Compile again the entries runtimes marked changed (:attr:`dirty`); returns their keys."""
        keys, self.dirty = self.dirty, set()
        return self.index.recompile(keys, self.compiler)

    @property
    def roots(self) -> tuple[Path, ...]:
        """The roots served: the ones given, then the mounted git sources."""
        return self._roots.current

    @property
    def results(self) -> Mapping[str, EntryResult]:
        """Each entry's last result, by key (read-only: the tree records them)."""
        return self.index.results

    @property
    def scan_diags(self) -> list[Diagnostic]:
        return self.index.scan_diags

    @property
    def revision(self) -> int:
        """Changes whenever a result does: an equal revision assembles an equal snapshot."""
        return self.index.revision

    def sorted_keys(self) -> list[str]:
        return self.index.sorted_keys()

    # ----------------------------------------------------------------- scanning

    def full_scan(self) -> None:
        """Find and compile every entry (the spec cache, when on, answers for unchanged ones).

        The cyclic garbage collector is paused meanwhile: a scan allocates a few objects per file
        and frees almost none, so each automatic collection walked every object made so far for
        nothing (a third of a 10,000-entry restart); what a scan leaves is collected afterwards."""
        paused = gc.isenabled()
        gc.disable()
        try:
            self._full_scan()
        finally:
            if paused:
                gc.enable()

    def _full_scan(self) -> None:
        self.mount_sources()
        self.index.scan_all(self.roots)
        cache = SpecCache.of(self.state_dir, self.config) if self.use_cache else None
        cached = cache.load() if cache is not None else {}
        hits = self.index.refresh(list(self.index.found), self.compiler, cached)
        found = len(self.index.found)
        if cache is not None and (len(hits) != found or len(cached) != found):
            cache.save({k: r.cached() for k, r in self.results.items()})

    def compile_only(self, keys: Iterable[str]) -> None:
        """Find every entry but compile only the ones at ``keys`` (entry directories), and the
        rest only when those name other entries: ``validate`` of a few files costs a scan, not a
        compile of the whole tree. Names clashing with entries not compiled go unreported."""
        self.mount_sources()
        self.index.scan_all(self.roots)
        wanted = [k for k in keys if k in self.index.found]
        self.index.refresh(wanted, self.compiler)
        specs = [self.index.results[k].spec for k in wanted if k in self.index.results]
        if any(spec is not None and spec.refs for spec in specs):
            self.index.refresh(list(self.index.found), self.compiler)

    def mount_sources(self, *, compile_now: bool = False) -> set[str]:
        """Serve the roots the source provider offers now (no network: pins whose clone is
        missing are reported); returns the entry keys that appeared or went away (compiled here
        with ``compile_now``, else by the next scan)."""
        change = self._roots.remount(self.config, self.state_dir)
        if change is None:
            return set()
        self.compiler = self._compiler()
        touched: set[str] = set()
        for r in change.gone:
            touched |= self.index.drop_root(r)
        for r in change.added:
            touched |= self.index.add_root(r)
        if compile_now:
            self.index.refresh(touched, self.compiler)
        return touched

    def fetch_sources(self) -> bool:
        """Fetch the git sources pinned but not fetched yet (network; blocking: run it in a worker
        thread); returns whether the tree must be scanned again."""
        return self._roots.fetch_missing(self.config, self.state_dir)

    def rescan(self, paths: Iterable[Path]) -> bool:
        """Apply the changes at ``paths``; returns whether a full rebuild was needed."""
        touched: set[str] = set()
        for raw in paths:
            path = Path(raw)
            root = self._roots.root_of(path)
            if root is None:
                continue
            rel_parts = path.relative_to(root).parts
            if any(ignored_name(p) for p in rel_parts[:-1]) or (
                rel_parts and ignored_name(rel_parts[-1]) and path.name not in CONFIG_NAMES
            ):
                continue
            if path.parent == root and path.name in CONFIG_NAMES:
                self.reload_config()
                return True
            touched |= self.index.rescan_path(root, path)
        self.index.refresh(touched, self.compiler)
        return False

    def reload_config(self) -> None:
        """Read ``skillz.yaml`` again and recompile everything against it."""
        self.config, self.config_diags = read_config(self._roots.base, self.config_overrides)
        self.compiler = self._compiler()
        self.index.forget_results()
        self.full_scan()

    def failed_to_start(self, key: str, diagnostic: Diagnostic) -> None:
        """Record that the entry at ``key`` compiled but did not start (see :class:`Index`)."""
        self.index.failed_to_start(key, diagnostic)

    # ----------------------------------------------------------------- assembling

    def snapshot(self, previous: Snapshot | None = None) -> Snapshot:
        self.generation += 1
        results = self.index.results
        return assemble(
            [results[k] for k in self.sorted_keys()],
            generation=self.generation,
            roots=self.roots,
            config=self.config,
            state_dir=self.state_dir,
            diagnostics=[*self.config_diags, *self.scan_diags, *self._roots.diagnostics],
            builtins=self.builtins,
            previous=previous if self.lenient else None,
        )
