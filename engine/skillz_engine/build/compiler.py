"""The compiler: one found entry -> its validated spec -> what its runtime compiles it into.

:class:`Compiler` is a pure function of the entry's files and the services it was made with: it
parses and validates the manifest (or SKILL.md), hands the spec to the runtime of its kind and
stamps provenance on what comes back. Every problem becomes a diagnostic on the
:class:`EntryResult`, never an exception: a bug in one entry must not take the tree down.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillz_engine.build.cache import Cached
from skillz_engine.build.contract import RUNTIMES, CallContext, CompileProblem, Runtime, Services
from skillz_engine.build.restore import LAZY_KINDS, restore_spec, restore_tool, spec_json, tool_json
from skillz_engine.tree.diagnostics import Diagnostic, Severity, display_path
from skillz_engine.tree.jsonschemas import json_schema_diagnostics
from skillz_engine.tree.kinds import KINDS
from skillz_engine.tree.model import (
    Args,
    Compiled,
    EntrySpec,
    PromptDef,
    ResourceDef,
    ToolDef,
    ToolInvoker,
    ToolResult,
)
from skillz_engine.tree.parse import Document, parse_file
from skillz_engine.tree.scan import Found, fingerprint, is_single_file, is_skillz_service
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
        """This result as the spec cache keeps it (a lazy kind's one tool with it)."""
        n = len(self.diagnostics) if self.n_spec < 0 else self.n_spec
        spec, c = self.spec, self.compiled
        tool = None
        # an entry that runs processes of its own (a script's `worker` pool, its ``stop`` hook) is
        # not restored lazily: it is compiled at start, so the snapshot can retire its pool
        lazy = spec is not None and c is not None and spec.kind in LAZY_KINDS and c.stop is None
        if lazy and c is not None and len(c.tools) == 1:
            tool = tool_json(c.tools[0])
        raw = spec_json(spec) if spec is not None else None
        return Cached(self.fingerprint, raw, self.diagnostics[:n], self.diagnostics[n:], self.ok, tool)


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
                    # the diagnostics as validate prints them: file:line:col, severity, code, message
                    return ToolResult.error("\n".join(d.format() for d in problem.diagnostics))
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
        self.services = services
        self.runtimes = RUNTIMES if runtimes is None else runtimes
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
        """An unchanged entry from the spec cache: no parse, no validation; a lazy kind's tool is
        served from its cached definition and compiles on its first call."""
        spec = restore_spec(found, c.spec, fp) if c.spec is not None else None
        if spec is None or not c.ok:
            return EntryResult(found, fp, spec, None, (*c.diagnostics, *c.runtime_diagnostics))
        if spec.kind in LAZY_KINDS and c.tool is not None:
            compiled = Compiled(spec, tools=(restore_tool(c.tool, spec, _LazyInvoke(self, spec)),))
            diags = (*c.diagnostics, *c.runtime_diagnostics)
            return EntryResult(found, fp, spec, compiled, diags, len(c.diagnostics))
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
        single = is_single_file(found)
        if single:
            from skillz_engine.tree.singlefile import parse_single_file

            doc = parse_single_file(found.manifest, display_path(found.manifest))
        else:
            doc = self._parse(found.manifest)
        diags = list(doc.diagnostics)
        if doc.data is None or errors_of(diags):
            return None, diags
        data = doc.data
        legacy = not single and is_legacy(data)
        if is_skillz_service(found):
            from skillz_engine.tree.compat import translate_service

            legacy = True
            data, ldiags = translate_service(doc)
            diags.extend(ldiags)
            doc = dataclasses.replace(doc, data=data)
        elif legacy:
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
        diags.extend(json_schema_diagnostics(doc))
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
