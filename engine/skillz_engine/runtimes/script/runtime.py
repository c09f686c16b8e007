"""``ScriptRuntime``: compiles a ``kind: script`` entry into one tool, and runs it.

Compiling checks the entry file, ``cwd``, the interpreter and the dependency plan (reading files
only), and makes the :class:`~.pool.WorkerPool` of a ``worker:`` script (no process yet: the first
call starts one, and the pool is the entry's ``stop`` hook). Each call starts one process (or
takes a worker) in its clean, limited, sandboxed command line, in the dependency environments
(installed on the first call, or ahead of time by ``skillz-engine build``), and speaks the
protocol the manifest names (``docs/script-protocol.md``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.command import Launcher, build_env
from skillz_engine.isolation.process import Command, run
from skillz_engine.runtimes import results
from skillz_engine.runtimes.base import BuildOptions, CompileProblem, Services, tool_def
from skillz_engine.runtimes.script.host import Host
from skillz_engine.runtimes.script.interpreter import Interpreter, choose_interpreter
from skillz_engine.runtimes.script.pool import PoolSettings, WorkerPool
from skillz_engine.runtimes.script.session import Session, failure
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.model import Args, Compiled, EntrySpec, ToolResult
from skillz_engine.tree.specs import ScriptSpec

if TYPE_CHECKING:
    from skillz_engine.isolation.deps import Activation, Plan

__all__ = ["ScriptRuntime", "script_invoker"]


def script_invoker(
    spec: EntrySpec, services: Services
) -> Callable[[Args, CallContext], Awaitable[ToolResult]]:
    """How to run the ``kind: script`` entry ``spec`` (compile checks included): for other kinds that
    run a script the same way, a prompt's ``script`` among them."""
    return ScriptRuntime()._script(spec, services).invoke


class ScriptRuntime:
    """Compiles ``kind: script`` entries into one tool each."""

    kind = "script"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        script = self._script(spec, services)
        tool = tool_def(spec, script.invoke)
        if script.pool is not None:  # its workers are the entry's state: stopped when it is retired
            return Compiled(spec, tools=(tool,), stop=script.pool.close, handle=script.pool)
        return Compiled(spec, tools=(tool,))

    async def build(
        self, spec: EntrySpec, services: Services, progress: Callable[[str], None], options: BuildOptions
    ) -> list[Diagnostic]:
        """Install the entry's dependency environments ahead of time (``skillz-engine build``)."""
        try:
            script = self._script(spec, services)
        except CompileProblem as problem:
            return list(problem.diagnostics)
        if script.deps is None:
            return []

        async def report(message: str) -> None:
            progress(message)

        try:
            act = await script.activate(report, force=options.force, rebuilt=options.rebuilt)
        except RuntimeFailure as exc:
            message = f"installing the dependencies of {spec.name!r} failed: {exc}"
            hint = "Fix the requirement the installer output names, then run `skillz-engine build` again."
            return [spec.diag(("dependencies",), "SKZ521", message, hint)]
        done = [f"installed {d}" for d in act.installed] + [f"cached {d}" for d in act.cached]
        progress(", ".join(done) if done else "uses the tool's own env/ directory")
        return []

    def _script(self, spec: EntrySpec, services: Services) -> _Script:
        from skillz_engine.isolation.deps import plan_for
        from skillz_engine.tree.validate import entry_path

        r = spec.record_as(ScriptSpec)
        entry, diags = entry_path(spec, ("entry",), r.entry)
        cwd: Path | None = spec.home
        if r.cwd is not None:
            cwd, more = entry_path(spec, ("cwd",), r.cwd, kind="dir")
            diags += more
        interpreter = Interpreter()
        plan: Plan | None = None
        if entry is not None:
            interpreter, more = choose_interpreter(spec, entry)
            diags += more
            allow_direct = services.config.dependencies.allow_direct_references
            plan, more = plan_for(spec, entry, interpreter.name, allow_direct=allow_direct)
            diags += more
        if r.worker is not None and r.protocol != "jsonrpc":
            diags.append(spec.diag(("worker",), "SKZ508", "`worker` needs `protocol: jsonrpc` (a plain "
                                   "script has no line that ends a call)", "Remove `worker`, or speak "
                                   "the jsonrpc protocol in a loop (docs/script-protocol.md, Workers).",
                                   at_key=True))  # fmt: skip
        if diags or entry is None or cwd is None:
            raise CompileProblem(diags)
        launcher = Launcher(spec, cwd=cwd, config=services.config)
        pool = WorkerPool(spec.name, PoolSettings.of(r.worker)) if r.worker is not None else None
        return _Script(spec, r, services, entry, cwd, interpreter, launcher, plan, pool)


@dataclass(frozen=True, slots=True)
class _Script:
    spec: EntrySpec
    record: ScriptSpec
    services: Services
    entry: Path
    cwd: Path
    interpreter: Interpreter
    launcher: Launcher  # the sandbox prepared once for this compiled entry
    deps: Plan | None = None
    pool: WorkerPool | None = None  # `worker`: calls go to persistent processes

    @property
    def output_schema(self) -> Mapping[str, Any] | None:
        return self.record.output_schema

    async def activate(
        self, report: Callable[[str], Any], *, force: bool = False, rebuilt: set[str] | None = None
    ) -> Activation:
        """The interpreter argv and extra variables, with the dependency environments installed."""
        from skillz_engine.isolation.deps import Activation
        from skillz_engine.isolation.installers import Settings

        path = build_env(self.spec)["PATH"]
        program = self.interpreter.resolve(path)
        if self.deps is None:
            return Activation(program)
        settings = Settings.from_config(self.services.config)
        state = self.services.state_dir
        return await self.deps.activate(program, path, state, settings, report, force=force, rebuilt=rebuilt)

    async def command(self, ctx: CallContext | None = None) -> Command:
        args = [str(a) for a in self.record.args]
        try:
            act = await self.activate(_install_reporter(self.spec.name, ctx))
        except RuntimeFailure as exc:
            if ctx is not None and self.deps is not None:
                await ctx.log("error", f"{self.spec.name}: dependencies not installed: {exc}", self.spec.name)
            raise
        argv = [*act.program, str(self.entry), *args]
        return self.launcher.command(argv, extra_env=act.env)

    async def invoke(self, arguments: Args, ctx: CallContext) -> ToolResult:
        name = self.spec.name
        try:
            if self.pool is not None:
                return await self.pool.call(arguments, ctx, self.command, self._session)
            cmd = await self.command(ctx)
            if self.record.protocol == "plain":
                return await self._plain(cmd, arguments)
            return await self._session(cmd, ctx).run(arguments)
        except RuntimeFailure as exc:
            return ToolResult.error(f"{name}: {exc}")

    def _session(self, cmd: Command, ctx: CallContext) -> Session:
        host = Host(self.spec.name, ctx, self.services.state_dir)
        return Session(self.spec.name, self.output_schema, cmd, ctx, host)

    async def _plain(self, cmd: Command, arguments: Args) -> ToolResult:
        payload = json.dumps(dict(arguments), ensure_ascii=False).encode() + b"\n"
        proc = await run(cmd, input=payload)
        if not proc.ok:
            return failure(self.spec.name, cmd, proc, proc.stdout_text())
        result = results.from_output(proc.stdout_text().rstrip("\n"), self.output_schema)
        return results.with_note(result, proc.truncation_note())


def _install_reporter(name: str, ctx: CallContext | None) -> Callable[[str], Any]:
    """Install progress of a first call, sent to the client as progress and log notifications."""
    step = 0

    async def report(message: str) -> None:
        nonlocal step
        step += 1
        if ctx is not None:
            await ctx.progress(step, None, f"{name}: {message}")
            await ctx.log("info", f"{name}: {message}", name)

    return report
