"""Compile: found entries -> validated specs -> compiled entries -> one immutable :class:`Snapshot`.

Incremental: :class:`Tree` remembers each entry's fingerprint and result; an entry whose files did
not change is reused as is. :meth:`Tree.rescan` takes the paths a watcher reported and rescans only
the entries (or new directories) they touch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillz_engine.build.cache import Cached, SpecCache
from skillz_engine.build.cache import salt as cache_salt
from skillz_engine.tree.config import CONFIG_NAMES, Config, load_config
from skillz_engine.tree.diagnostics import Diagnostic, Severity, display_path
from skillz_engine.tree.kinds import KINDS
from skillz_engine.tree.model import (
    Args,
    CallContext,
    Compiled,
    EntrySpec,
    PromptDef,
    ResourceDef,
    ToolDef,
    ToolInvoker,
    ToolResult,
)
from skillz_engine.tree.parse import MANIFEST_NAMES, SKILL_FILE, Document, parse_file
from skillz_engine.runtimes.base import CompileProblem, Runtime, Services, tool_def
from skillz_engine.tree.scan import Found, fingerprint, ignored_name, scan, scan_dir
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.tree.validate import (
    check_entry_name,
    detect_kind,
    errors_of,
    is_legacy,
    schema_diagnostics,
    skill_name_problem,
)

NOT_SERVED_YET = frozenset(k.name for k in KINDS.values() if not k.served)
# front-matter problems serve still accepts (Agent Skills client guidance: be lenient)
SKILL_FATAL = frozenset({"SKZ001", "SKZ002", "SKZ003", "SKZ004", "SKZ005", "SKZ007"})


@dataclass(frozen=True, slots=True)
class EntryResult:
    found: Found
    fingerprint: str
    spec: EntrySpec | None
    compiled: Compiled | None
    diagnostics: tuple[Diagnostic, ...]
    n_spec: int = -1  # how many leading diagnostics came from parse+validate (-1: all)

    @property
    def ok(self) -> bool:
        return self.compiled is not None

    def cached(self) -> Cached:
        n = len(self.diagnostics) if self.n_spec < 0 else self.n_spec
        return Cached(self.fingerprint, self.spec, self.diagnostics[:n], self.diagnostics[n:], self.ok)


LAZY_KINDS = frozenset(k.name for k in KINDS.values() if k.lazy)


class _LazyInvoke:
    """A tool from the spec cache: its runtime compiles on the first call, not at start-up."""

    def __init__(self, compiler: Compiler, spec: EntrySpec) -> None:
        self.compiler, self.spec = compiler, spec
        self.real: ToolInvoker | None = None

    async def __call__(self, arguments: Args, ctx: CallContext) -> ToolResult:
        if self.real is None:
            runtime = self.compiler.runtimes[self.spec.kind]
            try:
                compiled = runtime.compile(self.spec, self.compiler.services)
            except CompileProblem as problem:
                if problem.compiled is None:
                    return ToolResult.error("; ".join(d.message for d in problem.diagnostics))
                compiled = problem.compiled
            self.real = compiled.tools[0].invoke
        return await self.real(arguments, ctx)


def _digest(*parts: Any) -> str:
    return hashlib.blake2b(
        json.dumps(parts, sort_keys=True, default=str).encode(), digest_size=12
    ).hexdigest()


class Compiler:
    """Turns one found entry into an :class:`EntryResult`. ``lenient`` is serve's mode."""

    def __init__(
        self,
        services: Services,
        runtimes: Mapping[str, Runtime] | None = None,
        *,
        lenient: bool = False,
    ) -> None:
        if runtimes is None:
            from skillz_engine.runtimes import RUNTIMES

            runtimes = RUNTIMES
        self.services = services
        self.runtimes = runtimes
        self.lenient = lenient

    # ----------------------------------------------------------------- one entry

    def load(self, found: Found, fp: str | None = None, cached: Cached | None = None) -> EntryResult:
        fp = fp if fp is not None else fingerprint(found)
        if cached is not None and cached.fingerprint == fp:
            return self._from_cache(found, fp, cached)
        try:
            spec, diags = self._spec(found, fp)
        except Exception as exc:  # a bug must not take the tree down: report it on the entry
            return EntryResult(found, fp, None, None, (self._internal(found, exc),))
        if spec is None or errors_of(diags):
            return EntryResult(found, fp, spec if not errors_of(diags) else None, None, tuple(diags))
        return self._compile_spec(found, fp, spec, diags)

    def _from_cache(self, found: Found, fp: str, c: Cached) -> EntryResult:
        """An unchanged entry from the spec cache: no parse, no validation; tools compile lazily."""
        if c.spec is None or not c.ok:
            return EntryResult(found, fp, c.spec, None, (*c.diagnostics, *c.runtime_diagnostics))
        spec = dataclasses.replace(c.spec, root=found.root, owner=found.owner)
        if spec.kind in LAZY_KINDS:
            compiled = Compiled(spec, tools=(tool_def(spec, _LazyInvoke(self, spec)),))
            diags = (*c.diagnostics, *c.runtime_diagnostics)
            return EntryResult(found, fp, spec, self._stamp(compiled, fp), diags, len(c.diagnostics))
        return self._compile_spec(found, fp, spec, list(c.diagnostics))

    def _compile_spec(self, found: Found, fp: str, spec: EntrySpec, diags: list[Diagnostic]) -> EntryResult:
        n_spec = len(diags)
        try:
            runtime = self.runtimes.get(spec.kind)
        except ImportError as exc:  # e.g. an optional dependency of that runtime is missing
            line, col = spec.positions.value(("kind",))
            diags.append(
                Diagnostic(
                    spec.display,
                    line,
                    col,
                    "SKZ902",
                    Severity.ERROR,
                    f"the {spec.kind} runtime cannot load: {exc}",
                    "$.kind",
                    "Reinstall skillz-engine with its dependencies.",
                )
            )
            return EntryResult(found, fp, spec, None, tuple(diags), n_spec)
        if runtime is None:
            if spec.kind in NOT_SERVED_YET:
                line, col = spec.positions.value(("kind",))
                diags.append(
                    Diagnostic(
                        spec.display,
                        line,
                        col,
                        "SKZ501",
                        Severity.WARNING,
                        f"kind {spec.kind!r} is validated, but this version does not serve it yet",
                        "$.kind",
                        "The entry is checked now and will be served once its runtime lands.",
                    )
                )
            return EntryResult(found, fp, spec, Compiled(spec), tuple(diags), n_spec)
        try:
            compiled = runtime.compile(spec, self.services)
        except CompileProblem as problem:
            diags.extend(problem.diagnostics)
            if errors_of(problem.diagnostics) or problem.compiled is None:
                return EntryResult(found, fp, spec, None, tuple(diags), n_spec)
            compiled = problem.compiled
        except Exception as exc:
            return EntryResult(found, fp, spec, None, (*diags, self._internal(found, exc)), n_spec)
        return EntryResult(found, fp, spec, self._stamp(compiled, fp), tuple(diags), n_spec)

    def _internal(self, found: Found, exc: Exception) -> Diagnostic:
        return Diagnostic(
            display_path(found.primary),
            1,
            1,
            "SKZ901",
            Severity.ERROR,
            f"internal error while compiling this entry: {type(exc).__name__}: {exc}",
            hint="This is a bug in skillz-engine; please report it with the manifest.",
        )

    def _stamp(self, c: Compiled, fp: str) -> Compiled:
        """Fill in the provenance fields every served definition carries."""
        s = c.spec

        def tool(t: ToolDef) -> ToolDef:
            return dataclasses.replace(
                t,
                kind=s.kind,
                entry=s.key,
                owner=s.owner,
                digest=t.digest or _digest(t.definition(), fp),
            )

        def prompt(p: PromptDef) -> PromptDef:
            return dataclasses.replace(p, entry=s.key, owner=s.owner, digest=p.digest or fp)

        def resource(r: ResourceDef) -> ResourceDef:
            return dataclasses.replace(r, entry=s.key, owner=s.owner, digest=r.digest or fp)

        return dataclasses.replace(
            c,
            tools=tuple(tool(t) for t in c.tools),
            prompts=tuple(prompt(p) for p in c.prompts),
            resources=tuple(resource(r) for r in c.resources),
            templates=tuple(
                dataclasses.replace(t, entry=s.key, owner=s.owner, digest=t.digest or fp) for t in c.templates
            ),
        )

    def _parse(self, path: Path) -> Document:
        return parse_file(path, display_path(path))

    def _spec(self, found: Found, fp: str) -> tuple[EntrySpec | None, list[Diagnostic]]:
        name = found.dir.name
        if found.skill_md is not None:
            return self._skill_spec(found, fp)
        assert found.manifest is not None
        doc = self._parse(found.manifest)
        diags = list(doc.diagnostics)
        if doc.data is None or errors_of(diags):
            return None, diags
        data = doc.data
        legacy = is_legacy(data)
        if legacy:
            from skillz_engine.tree.compat import translate

            data, ldiags = translate(doc, name)
            diags.extend(ldiags)
            doc = dataclasses.replace(doc, data=data)  # positions stay those of the old keys
        kind, kdiags = detect_kind(doc)
        diags.extend(kdiags)
        if kind is None:
            return None, diags
        if kind == "skill":
            diags.append(
                doc.diag(
                    ("kind",),
                    "SKZ208",
                    "a `kind: skill` manifest needs a SKILL.md beside it",
                    hint="Write the skill's SKILL.md in the same directory.",
                )
            )
            return None, diags
        diags.extend(check_entry_name(doc, name, kind))
        diags.extend(schema_diagnostics(doc, kind))
        if errors_of(diags):
            return None, diags
        return EntrySpec(
            kind=kind,
            name=name,
            root=found.root,
            dir=found.dir,
            manifest=found.manifest,
            display=doc.display,
            data=data,
            positions=doc.positions,
            fingerprint=fp,
            owner=found.owner,
            legacy=legacy,
        ), diags

    def _skill_spec(self, found: Found, fp: str) -> tuple[EntrySpec | None, list[Diagnostic]]:
        assert found.skill_md is not None
        name = found.dir.name
        doc = self._parse(found.skill_md)
        if self.lenient and doc.data is None:
            from skillz_engine.tree.skillmd import repair

            doc = repair(doc) or doc
        diags = list(doc.diagnostics)
        if doc.data is None or errors_of(diags):
            return None, diags
        if not isinstance(doc.data, dict):
            diags.append(
                doc.diag(
                    (),
                    "SKZ101",
                    "SKILL.md front matter must be a mapping",
                    hint="Write `name: ...` and `description: ...` lines.",
                )
            )
            return None, diags
        fm = dict(doc.data)
        checks = check_entry_name(doc, name, "skill") + schema_diagnostics(doc, "skill-md")
        declared = fm.get("name")
        problem = skill_name_problem(declared) if isinstance(declared, str) else None
        if problem:  # the rule broken, in words, instead of the bare pattern
            checks = [
                dataclasses.replace(d, message=f"skill name {declared!r} {problem}")
                if d.code in ("SKZ105", "SKZ106") and d.json_path == "$.name"
                else d
                for d in checks
            ]
        if self.lenient:
            missing_desc = not isinstance(fm.get("description"), str) or not fm["description"].strip()
            kept: list[Diagnostic] = []
            for d in checks:
                fatal = d.code in SKILL_FATAL or (missing_desc and d.json_path in ("$", "$.description"))
                kept.append(d if fatal else dataclasses.replace(d, severity=Severity.WARNING))
            checks = kept
        diags.extend(checks)
        extras: dict[str, Any] = {}
        if found.manifest is not None:
            mdoc = self._parse(found.manifest)
            diags.extend(mdoc.diagnostics)
            if mdoc.data is not None and not errors_of(mdoc.diagnostics):
                kind, kdiags = detect_kind(mdoc, default="skill")
                diags.extend(kdiags)
                if kind is not None and kind != "skill":
                    diags.append(
                        mdoc.diag(
                            ("kind",),
                            "SKZ208",
                            f"a manifest beside SKILL.md must be `kind: skill`, not {kind!r}",
                            hint="Move the other entry into a subdirectory of the skill.",
                        )
                    )
                elif kind == "skill":
                    diags.extend(schema_diagnostics(mdoc, "skill"))
                    extras = dict(mdoc.data)
        if errors_of(diags):
            return None, diags
        data = {**extras, **fm, "kind": "skill"}
        return EntrySpec(
            kind="skill",
            name=name,
            root=found.root,
            dir=found.dir,
            manifest=found.skill_md,
            display=doc.display,
            data=data,
            positions=doc.positions,
            fingerprint=fp,
            owner=found.owner,
            body=doc.body,
            extras=extras,
        ), diags


class Tree:
    """The incremental state of one set of roots: what was found, and each entry's last result."""

    def __init__(
        self,
        roots: Iterable[Path],
        *,
        lenient: bool = False,
        state_dir: Path | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        runtimes: Mapping[str, Runtime] | None = None,
        cache: bool = False,
    ) -> None:
        self.roots = tuple(Path(r).resolve() for r in roots)
        self.base_roots = self.roots  # the roots given; git sources are mounted after them
        self.source_diags: list[Diagnostic] = []
        self.missing_sources: list[Any] = []  # sources.Source pins whose clone does not exist yet
        self.source_failures: dict[tuple[str, str], str] = {}  # why a fetch failed, by pin
        self.source_commits: dict[Path, str] = {}  # mounted source root -> the commit it serves
        self.lenient = lenient
        self.config_overrides = dict(config_overrides or {})
        self.config, self.config_diags = self._load_config()
        self.state_dir = state_dir or self._state_dir()
        self.runtimes = runtimes
        self.compiler = Compiler(Services(self.config, self.state_dir, self.roots), runtimes, lenient=lenient)
        self.found: dict[str, Found] = {}
        self.results: dict[str, EntryResult] = {}
        self.scan_diags: list[Diagnostic] = []
        self.generation = 0
        self._sorted: list[str] | None = None
        self.use_cache = cache

    def _load_config(self) -> tuple[Config, list[Diagnostic]]:
        config, diags = load_config(list(self.roots))
        return config.with_overrides(**self.config_overrides), diags

    def _state_dir(self) -> Path:
        configured = self.config.get("state")
        if configured:
            p = Path(str(configured)).expanduser()
            base = self.roots[0] if self.roots else Path.cwd()
            return (base / p).resolve() if not p.is_absolute() else p
        return (self.roots[0] if self.roots else Path.cwd()) / ".skillz"

    # ----------------------------------------------------------------- scanning

    def _spec_cache(self) -> SpecCache | None:
        if not self.use_cache:
            return None
        return SpecCache(self.state_dir / "cache" / "specs.json", cache_salt(self.config.path))

    def mount_sources(self, *, compile_now: bool = False) -> set[str]:
        """Serve the clones of the tree's git sources as extra roots (no network: pins whose
        clone is missing are reported and listed in ``missing_sources``); returns the entry keys
        that appeared or went away (compiled here with ``compile_now``, else by the next scan)."""
        from skillz_engine.state.sources import missing_diag, mounted

        extra, diags, missing = mounted(self.config, self.state_dir)
        self.missing_sources = missing
        self.source_diags = [
            *diags,
            *(
                missing_diag(self.config, self.state_dir, s, self.source_failures.get(s.ident))
                for s in missing
            ),
        ]
        roots = tuple(dict.fromkeys((*self.base_roots, *(r for r in extra if r not in self.base_roots))))
        # a root whose clone was re-fetched in place (the same branch again) is read anew
        moved = [r for r, c in extra.items() if r in self.roots and self.source_commits.get(r) != c]
        self.source_commits = dict(extra)
        if roots == self.roots and not moved:
            return set()
        gone = [r for r in self.roots if r not in roots or r in moved]
        added = [r for r in roots if r not in self.roots or r in moved]
        self.roots = roots
        self.compiler = Compiler(
            Services(self.config, self.state_dir, self.roots), self.runtimes, lenient=self.lenient
        )
        touched: set[str] = set()
        for key, f in list(self.found.items()):
            if f.root in gone:
                self.found.pop(key)
                self.results.pop(key, None)
                touched.add(key)
        for r in added:
            found, sdiags = scan([r])
            self.scan_diags.extend(sdiags)
            for f in found:
                self.found[f.key] = f
                touched.add(f.key)
        if compile_now:
            self._refresh(touched)
        return touched

    def full_scan(self) -> None:
        self.mount_sources()
        found, diags = scan(self.roots)
        self.scan_diags = diags
        self.found = {f.key: f for f in found}
        cache = self._spec_cache()
        cached = cache.load() if cache is not None else {}
        hits = self._refresh(self.found.keys(), cached)
        if cache is not None and (len(hits) != len(self.found) or len(cached) != len(self.found)):
            cache.save({k: r.cached() for k, r in self.results.items()})

    def _refresh(self, keys: Iterable[str], cached: Mapping[str, Cached] | None = None) -> set[str]:
        """Recompile the entries whose fingerprint changed; returns the keys recompiled
        (or, with ``cached``, the keys the spec cache answered)."""
        changed: set[str] = set()
        hits: set[str] = set()
        for key in list(keys):
            found = self.found.get(key)
            if found is None:
                self.results.pop(key, None)
                continue
            fp = fingerprint(found)
            old = self.results.get(key)
            if old is not None and old.fingerprint == fp and old.found == found:
                continue
            c = cached.get(key) if cached else None
            if c is not None and c.fingerprint == fp:
                hits.add(key)
            self.results[key] = self.compiler.load(found, fp, c)
            changed.add(key)
        return hits if cached is not None else changed

    def _root_of(self, path: Path) -> Path | None:
        for r in self.roots:
            if path == r or r in path.parents:
                return r
        return None

    def rescan(self, paths: Iterable[Path]) -> bool:
        """Apply the changes at ``paths``; returns whether a full rebuild was needed."""
        touched: set[str] = set()
        for raw in paths:
            path = Path(raw)
            root = self._root_of(path)
            if root is None:
                continue
            rel_parts = path.relative_to(root).parts
            if any(ignored_name(p) for p in rel_parts[:-1]) or (
                rel_parts and ignored_name(rel_parts[-1]) and path.name not in CONFIG_NAMES
            ):
                continue
            if path.parent == root and path.name in CONFIG_NAMES:
                self.config, self.config_diags = self._load_config()
                self.compiler = Compiler(
                    Services(self.config, self.state_dir, self.roots), self.runtimes, lenient=self.lenient
                )
                self.results.clear()
                self.full_scan()
                return True
            touched |= self._rescan_path(root, path)
        self._refresh(touched)
        return False

    def _owning(self, path: Path) -> Found | None:
        """The deepest known entry that contains ``path``."""
        p = path
        while True:
            f = self.found.get(p.as_posix())
            if f is not None:
                return f
            if p.parent == p:
                return None
            p = p.parent

    def _rescan_path(self, root: Path, path: Path) -> set[str]:
        touched: set[str] = set()
        owner = self._owning(path)
        if owner is not None and owner.dir != root:
            start = owner.dir
        elif path.is_dir():
            start = path
        elif path.name in MANIFEST_NAMES or path.name == SKILL_FILE:
            start = path.parent
        elif not path.exists():
            start = path  # a deleted directory: drop what was under it
        else:
            return touched  # a stray file outside any entry
        if owner is not None and owner.dir == start and owner.skill_md is None:
            previous = {start.as_posix()}  # a plain entry holds no other entries: no tree-wide scan
        else:
            prefix = start.as_posix().rstrip("/") + "/"
            previous = {k for k in self.found if k == start.as_posix() or k.startswith(prefix)}
        enclosing = self._owning(start.parent) if start != root else None
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
            self.results.pop(k, None)
            touched.add(k)
        for k, f in now.items():
            if self.found.get(k) != f:
                self.results.pop(k, None)
            self.found[k] = f
            touched.add(k)
        if diags:
            self.scan_diags = [d for d in self.scan_diags if not d.path.startswith(display_path(start))]
            self.scan_diags.extend(diags)
        return touched

    # ----------------------------------------------------------------- assembling

    def sorted_keys(self) -> list[str]:
        """Entry keys in listing order, re-sorted only when the set of entries changed."""
        keys = self.results.keys()
        cached = self._sorted
        if cached is None or len(cached) != len(keys) or not keys >= set(cached):
            cached = sorted(keys)
            self._sorted = cached
        return cached

    def snapshot(self, previous: Snapshot | None = None) -> Snapshot:
        from skillz_engine.build.assemble import assemble

        self.generation += 1
        return assemble(self, previous)
