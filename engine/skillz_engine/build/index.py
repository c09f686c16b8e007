"""The index of a tree: every entry found, and each entry's last compile result.

Incremental bookkeeping only: which entries exist (by key, their directory), which of them a
changed path touches, and which results are out of date (an entry whose fingerprint did not
change keeps its result object, so the snapshot reuses it). Compiling is the
:class:`~skillz_engine.build.compiler.Compiler`'s job; the index only says what to compile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from skillz_engine.build.cache import Cached
from skillz_engine.build.compiler import Compiler, EntryResult
from skillz_engine.tree.diagnostics import Diagnostic, display_path
from skillz_engine.tree.parse import MANIFEST_NAMES, SKILL_FILE
from skillz_engine.tree.scan import (
    SKILLZ_SERVICES_DIR,
    Found,
    fingerprint,
    is_single_file,
    scan,
    scan_dir,
    single_files,
)
from skillz_engine.tree.singlefile import is_candidate


class Index:
    def __init__(self) -> None:
        self.found: dict[str, Found] = {}
        self._results: dict[str, EntryResult] = {}
        self.scan_diags: list[Diagnostic] = []
        self.revision = 0  # counts changes of results: equal revisions, equal snapshots
        self._sorted: list[str] | None = None  # listing order; None when an entry came or went
        self._rank: dict[Path, int] = {}  # each root's place in the order the roots were given
        self._view: Mapping[str, EntryResult] = MappingProxyType(self._results)

    @property
    def results(self) -> Mapping[str, EntryResult]:
        """Each entry's last result (a read-only live view: the index alone records results)."""
        return self._view

    def _set(self, key: str, result: EntryResult) -> None:
        if key not in self._results:
            self._sorted = None
        self._results[key] = result
        self.revision += 1

    def _drop(self, key: str) -> None:
        if self._results.pop(key, None) is not None:
            self._sorted = None
            self.revision += 1

    # ----------------------------------------------------------------- what exists

    def scan_all(self, roots: Iterable[Path]) -> None:
        """Forget everything found and find it again (results stay until :meth:`refresh`)."""
        roots = list(roots)
        self._set_ranks(roots)
        found, self.scan_diags = scan(roots)
        self.found = {f.key: f for f in found}
        for key in [k for k in self._results if k not in self.found]:
            self._drop(key)

    def drop_root(self, root: Path) -> set[str]:
        """Forget the entries under ``root``; returns their keys."""
        gone = {k for k, f in self.found.items() if f.root == root}
        for key in gone:
            del self.found[key]
            self._drop(key)
        return gone

    def add_root(self, root: Path) -> set[str]:
        """Find the entries under ``root``; returns their keys (not compiled yet)."""
        self._set_ranks([*self._rank, root])
        found, diags = scan([root])
        self.scan_diags.extend(diags)
        for f in found:
            self.found[f.key] = f
        return {f.key for f in found}

    # ----------------------------------------------------------------- compiling

    def refresh(
        self, keys: Iterable[str], compiler: Compiler, cached: Mapping[str, Cached] | None = None
    ) -> set[str]:
        """Recompile the entries whose fingerprint changed; returns the keys recompiled
        (or, with ``cached``, the keys the spec cache answered)."""
        changed: set[str] = set()
        hits: set[str] = set()
        for key in list(keys):
            found = self.found.get(key)
            if found is None:
                self._drop(key)
                continue
            fp = found.scanned_fp or fingerprint(found)  # each Found here comes from a fresh scan
            old = self._results.get(key)
            if old is not None and old.fingerprint == fp and old.found == found:
                continue
            c = cached.get(key) if cached else None
            if c is not None and c.fingerprint == fp:
                hits.add(key)
            self._set(key, compiler.load(found, fp, c))
            changed.add(key)
        return hits if cached is not None else changed

    def recompile(self, keys: Iterable[str], compiler: Compiler) -> set[str]:
        """Compile the entries at ``keys`` again although their files did not change (their
        runtime said what they serve changed); returns the keys recompiled."""
        done: set[str] = set()
        for key in keys:
            found = self.found.get(key)
            if found is not None and key in self._results:
                self._set(key, compiler.load(found))
                done.add(key)
        return done

    def forget_results(self) -> None:
        """Forget every result, so the next refresh compiles every entry (the configuration changed)."""
        for key in list(self._results):
            self._drop(key)

    def failed_to_start(self, key: str, diagnostic: Diagnostic) -> None:
        """Record that the entry compiled but its ``start`` failed: it is not served (while
        serving, its previous version stays), until its files change."""
        r = self._results.get(key)
        if r is not None:
            self._set(key, EntryResult(r.found, r.fingerprint, r.spec, None, (*r.diagnostics, diagnostic)))

    # ----------------------------------------------------------------- changed paths

    def owning(self, path: Path) -> Found | None:
        """The deepest known entry that contains ``path``."""
        p = path
        while True:
            f = self.found.get(p.as_posix())
            if f is not None:
                return f
            if p.parent == p:
                return None
            p = p.parent

    def rescan_path(self, root: Path, path: Path) -> set[str]:
        """Find again what ``path`` (under ``root``) may have changed; returns the keys touched."""
        touched: set[str] = set()
        owner = self.owning(path)
        if owner is not None and owner.dir != root:
            start = owner.dir
        elif path.is_dir():
            start = path
        elif path.name in MANIFEST_NAMES or path.name == SKILL_FILE:
            start = path.parent
        elif (
            path.parent.name == SKILLZ_SERVICES_DIR and path.parent.parent == root and path.suffix == ".json"
        ):
            start = path.parent  # a Rust Skillz services/<name>.json
        elif is_candidate(path.name) and not path.is_dir() and path.parent.is_dir():
            return self._rescan_file(root, path)  # a script that may be a single-file tool
        elif not path.exists():
            start = path  # a deleted directory: drop what was under it
        else:
            return touched  # a stray file outside any entry
        if owner is not None and owner.dir == start and owner.skill_md is None:
            previous = {start.as_posix()}  # a plain entry holds no other entries: no tree-wide scan
        else:
            prefix = start.as_posix().rstrip("/") + "/"
            previous = {k for k in self.found if k == start.as_posix() or k.startswith(prefix)}
        enclosing = self.owning(start.parent) if start != root else None
        own: str | None = None
        own_dir: Path | None = None
        if enclosing is not None and enclosing.skill_md is not None:
            own, own_dir = enclosing.dir.name, enclosing.dir
        if owner is not None and owner.dir == start:
            own, own_dir = owner.owner, owner.owner_dir
        found, diags = scan_dir(root, start, own, own_dir) if start.is_dir() else ([], [])
        now = {f.key: f for f in found}
        for k in previous - now.keys():
            self.found.pop(k, None)
            self._drop(k)
            touched.add(k)
        for k, f in now.items():
            if self.found.get(k) != f:
                self._drop(k)
            self.found[k] = f
            touched.add(k)
        if diags:
            self.scan_diags = [d for d in self.scan_diags if not d.path.startswith(display_path(start))]
            self.scan_diags.extend(diags)
        return touched

    def _rescan_file(self, root: Path, path: Path) -> set[str]:
        """Find again the single-file tool ``path`` may be (outside any entry): only that file is
        read, not the directory around it. A key held by another file or a directory stays theirs."""
        key = (path.parent / path.stem).as_posix()
        names = {path.name} if path.is_file() else set()
        now, diags = single_files(root, path.parent, names, None, None)
        shown = display_path(path)
        self.scan_diags = [d for d in self.scan_diags if d.path != shown] + diags
        old = self.found.get(key)
        if (
            old is not None
            and old.manifest != path
            and (not is_single_file(old) or (old.manifest is not None and old.manifest.exists()))
        ):
            return set()  # a directory entry, or another file of that stem, is the entry
        if now:
            if old != now[0]:
                self._drop(key)
            self.found[key] = now[0]
            return {key}
        if old is not None:
            del self.found[key]
            self._drop(key)
            return {key}
        return set()

    def _set_ranks(self, roots: list[Path]) -> None:
        rank = {r: i for i, r in enumerate(dict.fromkeys(roots))}
        if rank != self._rank:
            self._rank = rank
            self._sorted = None

    def sorted_keys(self) -> list[str]:
        """Entry keys in listing order: the roots in the order they were given, then each root's
        entries by path. The first of two entries with one name wins (SKZ207 on the other), so the
        root given first wins, whatever the paths are called. Re-sorted only when the set of
        entries or roots changed."""
        cached = self._sorted
        if cached is None:  # _set and _drop forget the order when the set of keys changes
            last = len(self._rank)
            results = self._results
            cached = self._sorted = sorted(
                results, key=lambda k: (self._rank.get(results[k].found.root, last), k)
            )
        return cached
