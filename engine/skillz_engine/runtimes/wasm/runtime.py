"""The ``kind: wasm`` runtime: where an entry's module comes from, preparing it, the build hook.

Compiling an entry checks its paths and build inputs and does no other work. The module is
prepared (built from source if need be, then compiled or loaded from the module cache) when the
entry starts and that is cheap (a file, or a build already in the build cache), ahead of time by
:meth:`WasmRuntime.build` (``skillz-engine build``, the writers), or else at the first call, with
progress notifications. Each call then runs as :mod:`~skillz_engine.runtimes.wasm.call` says.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.command import SERVICE_ENV, secret_names
from skillz_engine.isolation.limits import limits_for
from skillz_engine.runtimes import results
from skillz_engine.runtimes.base import BuildOptions, CompileProblem, Services, tool_def
from skillz_engine.runtimes.wasm import build as wasmbuild
from skillz_engine.runtimes.wasm.cache import STATS
from skillz_engine.runtimes.wasm.call import Invocation, run
from skillz_engine.runtimes.wasm.engine import shared_engine
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.model import Args, Compiled, EntrySpec, ToolResult
from skillz_engine.tree.specs import WasmSpec
from skillz_engine.tree.validate import entry_path

__all__ = ["WasmRuntime"]


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where the module comes from: a file of the entry (``.wasm`` / ``.wat``) or a build."""

    module: Path | None
    build: wasmbuild.Source | None = None
    mounts: tuple[tuple[str, str], ...] = ()


def _plan(spec: EntrySpec) -> _Plan:
    record = spec.record_as(WasmSpec)
    diags: list[Diagnostic] = []
    module: Path | None = None
    source = None
    if record.build is not None:
        language, rel = record.build.language, record.build.source
        deps = [str(d) for d in record.build.dependencies]
        target = (spec.dir / rel).resolve()
        path, more = entry_path(spec, ("build", "source"), rel, kind="dir" if target.is_dir() else "file")
        diags += more
        if language == "wat" and path is not None and path.is_file():
            module = path  # WAT needs no toolchain: wasmtime compiles it directly
        elif path is not None:
            diags += _dependency_problems(spec, language, deps)
            if not diags:
                try:
                    source = wasmbuild.source_from_dir(language, spec.dir, rel, deps, _display_dir(spec))
                except wasmbuild.BuildError as exc:
                    hint = "Point `build.source` at the source file or directory."
                    diags.append(spec.diag(("build", "source"), "SKZ530", exc.message, hint))
    else:
        module, more = entry_path(spec, ("module",), str(record.module))
        diags += more
    mounts: list[tuple[str, str]] = []
    for i, m in enumerate(record.wasi.mounts):
        host, more = entry_path(spec, ("wasi", "mounts", i, "host"), str(m.host), kind="dir")
        diags += more
        if host is not None:
            mounts.append((str(host), str(m.guest)))
    if diags:
        raise CompileProblem(diags)
    return _Plan(module, source, tuple(mounts))


def _dependency_problems(spec: EntrySpec, language: str, deps: list[str]) -> list[Diagnostic]:
    out = []
    for i, dep in enumerate(deps):
        try:
            wasmbuild.parse_dependency(dep)
        except ValueError as exc:
            out.append(spec.diag(("build", "dependencies", i), "SKZ532", str(exc),
                                 "Name a crate and a semver requirement: `serde_json@1`, "
                                 "`serde@1.0[derive]`."))  # fmt: skip
    if deps and language != "rust":
        out.append(spec.diag(("build", "dependencies"), "SKZ532",
                             f"`dependencies` are Rust crates; a {language} build cannot use them",
                             "Remove `dependencies`, or write the tool in Rust."))  # fmt: skip
    return out


def _display_dir(spec: EntrySpec) -> str:
    return str(Path(spec.display).parent.as_posix())


class WasmRuntime:
    """Compiles ``kind: wasm`` entries into one tool each (no work until start or first call)."""

    kind = "wasm"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        plan = _plan(spec)
        tool = _WasmTool(spec, services, plan)
        return Compiled(spec, tools=(tool_def(spec, tool.invoke),), start=tool.start)

    async def build(
        self, spec: EntrySpec, services: Services, progress: Callable[[str], None], options: BuildOptions
    ) -> list[Diagnostic]:
        """Build the entry's module ahead of time and put its compiled form in the module cache
        (idempotent: nothing is done when both are current)."""
        try:
            plan = _plan(spec)
        except CompileProblem as problem:
            return list(problem.diagnostics)
        import anyio

        if options.force and plan.build is not None:
            await anyio.to_thread.run_sync(wasmbuild.forget, services.state_dir, plan.build)
        tool = _WasmTool(spec, services, plan)
        before = (STATS["built"], STATS["compiled"])
        try:
            await tool.prepare(progress)
        except _PrepareError as exc:
            return list(exc.diagnostics)
        if STATS["compiled"] > before[1]:
            progress("module compiled and cached for restarts")
        elif STATS["built"] == before[0]:
            progress("cached")
        return []


class _PrepareError(Exception):
    def __init__(self, message: str, diagnostics: tuple[Diagnostic, ...], log: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.diagnostics = diagnostics
        self.log = log


class _WasmTool:
    def __init__(self, spec: EntrySpec, services: Services, plan: _Plan) -> None:
        record = spec.record_as(WasmSpec)
        self.spec = spec
        self.services = services
        self.plan = plan
        self.pre: Any = None
        self._lock: Any = None
        self.argv = (spec.name, *(str(a) for a in record.wasi.args))
        self.env = {str(k): str(v) for k, v in record.wasi.env.items()}
        self.secrets = secret_names(spec)
        self.fuel = int(record.limits.fuel)
        self.output_schema = record.output_schema
        self.from_source = record.build is not None

    @property
    def cache_dir(self) -> Path:
        return self.services.state_dir / "cache" / "wasm"

    async def start(self) -> None:
        """Make-before-break: load the module now when that is cheap (a file, or a build that is
        already in the cache); a build still to do waits for ``build`` or the first call."""
        import anyio

        if self.plan.build is not None:
            built = await anyio.to_thread.run_sync(wasmbuild.cached_module, self.services.state_dir,
                                                   self.plan.build)  # fmt: skip
            if built is None:
                return
        try:
            await self.prepare(lambda _m: None)
        except _PrepareError as exc:
            raise RuntimeFailure(exc.message) from exc

    async def prepare(self, progress: Callable[[str], None]) -> Any:
        """The module's ``InstancePre``: built if needed, compiled or loaded from the cache."""
        import anyio

        if self.pre is not None:
            return self.pre
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self.pre is None:
                self.pre = await anyio.to_thread.run_sync(self._prepare_sync, progress)
        return self.pre

    def _prepare_sync(self, progress: Callable[[str], None]) -> Any:
        import wasmtime

        if self.plan.module is not None:
            path = self.plan.module
            data = path.read_bytes()
            if path.suffix == ".wat":
                try:
                    data = bytes(wasmtime.wat2wasm(data.decode("utf-8", "replace")))
                except wasmtime.WasmtimeError as exc:
                    shown = (
                        f"{_display_dir(self.spec)}/{path.relative_to(self.spec.dir.resolve()).as_posix()}"
                    )
                    diag = wasmbuild.wat_diagnostic(str(exc), shown)
                    raise _PrepareError(f"{path.name} is not valid WAT: {diag.format()}", (diag,)) from exc
        else:
            assert self.plan.build is not None  # a plan has a module or a build
            try:
                built = wasmbuild.build(self.services.state_dir, self.plan.build, progress=progress)
            except wasmbuild.BuildError as exc:
                diags = exc.diagnostics or (self._module_diag(f"{exc.message}: {exc.log.strip()[-400:]}"),)
                raise _PrepareError(exc.message, diags, exc.log) from exc
            if not built.cached:
                STATS["built"] += 1
            data = built.module.read_bytes()
        try:
            return shared_engine().load(data, self.cache_dir)
        except wasmtime.WasmtimeError as exc:
            raise _PrepareError(f"the module does not load: {exc}", (self._module_diag(str(exc)),)) from exc

    def _module_diag(self, message: str) -> Diagnostic:
        key = ("build", "source") if self.plan.module is None or self.from_source else ("module",)
        first = message.strip().splitlines()[0] if message.strip() else message
        return self.spec.diag(key, "SKZ530", first[:500], "Fix the module or its source.")

    async def invoke(self, arguments: Args, ctx: CallContext) -> ToolResult:
        try:
            pre = self.pre if self.pre is not None else await self._prepare_with_progress(ctx)
        except _PrepareError as exc:
            text = exc.message
            if exc.log.strip():
                text += "\n" + results.tail(exc.log, 4000)
            return ToolResult.error(f"{self.spec.name}: {text}")
        secrets = [(n, os.environ[n]) for n in self.secrets if n in os.environ]
        invocation = Invocation(
            self.spec.name,
            self.argv,
            (*self.env.items(), *secrets, *SERVICE_ENV.get().items()),
            self.plan.mounts,
            limits_for(self.spec, self.services.config),
            self.fuel,
            self.output_schema,
        )
        return await run(pre, invocation, arguments)

    async def _prepare_with_progress(self, ctx: CallContext) -> Any:
        import anyio.from_thread

        steps = itertools.count(1)

        def progress(message: str) -> None:
            with contextlib.suppress(Exception):
                anyio.from_thread.run(ctx.progress, float(next(steps)), None, message)

        if self.plan.module is None:
            await ctx.progress(0.0, None, f"preparing {self.spec.name} (building from source on first use)")
        return await self.prepare(progress)
