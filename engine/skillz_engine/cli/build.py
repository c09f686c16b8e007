"""``skillz-engine build``: the slow ahead-of-time work of every entry, before a client waits for it.

parse (roots, ``--only``, ``--force``) -> build (an engine that compiles the tree once, lenient as
``serve`` is, with nothing started) -> execute: every compiled entry whose runtime offers a build
hook (a :class:`~skillz_engine.build.contract.Buildable` runtime) gets it called,
one entry after the other: dependency environments are installed, wasm modules compiled. Hooks
are idempotent, so a second build with nothing changed reports everything as cached.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from skillz_engine.build.contract import Buildable, BuildOptions
from skillz_engine.cli.roots import existing_roots, state_dir_of
from skillz_engine.engine import Engine, EngineOptions
from skillz_engine.errors import ExitCode, UsageError
from skillz_engine.tree.diagnostics import Diagnostic, Severity


@dataclass(slots=True)
class EntryBuild:
    """What the build of one entry did."""

    name: str
    kind: str
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def line(self) -> str:
        """One line for the terminal: what, how long, cached or installed."""
        if self.failed:
            return f"{self.name} ({self.kind}): FAILED after {self.seconds:.1f}s"
        last = self.messages[-1] if self.messages else "nothing to do"
        return f"{self.name} ({self.kind}): {last} in {self.seconds:.1f}s"


@dataclass(slots=True)
class BuildReport:
    entries: list[EntryBuild] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)  # manifest errors + build failures

    @property
    def failed(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


class _Bar:
    """On a terminal: a live line (rich) with a spinner, the entry being built and its latest
    message (dependency install, compile), and the finished entries printed above it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.completed} built"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self.task = self.progress.add_task("starting", total=None)
        self.progress.start()

    def say(self, message: str) -> None:
        self.progress.update(self.task, description=message[:100])

    def done(self, line: str) -> None:
        self.progress.console.print(line, highlight=False, markup=False)
        self.progress.advance(self.task)

    def stop(self) -> None:
        self.progress.stop()


def run(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.cli.report import text

    roots = existing_roots(args.roots)
    options = EngineOptions(live=False, state_dir=state_dir_of(args.state_dir), cache=True)
    bar = _Bar() if sys.stderr.isatty() else None

    def on_progress(name: str, message: str) -> None:
        if bar is not None:
            bar.say(f"{name}: {message}")

    def on_entry(entry: EntryBuild) -> None:
        if bar is not None:
            bar.done(entry.line())
        else:
            print(entry.line(), file=sys.stderr, flush=True)

    async def go() -> tuple[BuildReport, int]:
        async with Engine.open(roots, options) as engine:
            only = args.only or ()
            report = await build_tree(
                engine, only=only, force=args.force, on_entry=on_entry, on_progress=on_progress
            )
            return report, len(engine.tree.results)

    try:
        report, entries = anyio.run(go)
    finally:
        if bar is not None:
            bar.stop()
    failed = sum(1 for e in report.entries if e.failed)
    n = len(report.entries)
    print(f"built {n} {'entry' if n == 1 else 'entries'}, {failed} failed", file=sys.stderr, flush=True)
    if report.diagnostics:
        text(report.diagnostics, sys.stdout, entries)
    return ExitCode.MANIFEST_ERRORS if report.failed else ExitCode.OK


async def build_tree(
    engine: Engine,
    *,
    only: Iterable[str] = (),
    force: bool = False,
    on_entry: Callable[[EntryBuild], None] | None = None,
    on_progress: Callable[[str, str], None] | None = None,
) -> BuildReport:
    """Run the build hook of every entry of the tree ``engine`` compiled.

    ``only`` limits the build to entries with those names (the manifest errors reported are
    limited to them too). ``force`` rebuilds what is already built. ``on_progress(name, message)``
    sees each progress message as it happens, ``on_entry`` each finished entry.
    """
    tree = engine.tree
    wanted = set(only)
    if wanted:
        known = {r.spec.name for r in tree.results.values() if r.spec is not None}
        missing = sorted(wanted - known)
        if missing:
            raise UsageError(f"no entry named {', '.join(missing)} in the tree")
    services = tree.compiler.services
    options = BuildOptions(force=force)
    report = BuildReport()
    for d in tree.config_diags + tree.scan_diags:
        if d.is_error and not wanted:
            report.diagnostics.append(d)
    for key in tree.sorted_keys():
        result = tree.results[key]
        spec = result.spec
        name = spec.name if spec is not None else key
        if wanted and name not in wanted:
            continue
        if not result.ok:
            report.diagnostics.extend(d for d in result.diagnostics if d.severity is Severity.ERROR)
            continue
        assert spec is not None
        if not spec.enabled:
            continue
        runtime = tree.compiler.runtimes.get(spec.kind)
        if not isinstance(runtime, Buildable):
            continue
        entry = EntryBuild(spec.name, spec.kind)

        def progress(message: str, entry: EntryBuild = entry) -> None:
            entry.messages.append(message)
            if on_progress is not None:
                on_progress(entry.name, message)

        started = time.monotonic()
        try:
            entry.diagnostics = list(await runtime.build(spec, services, progress, options))
        except Exception as exc:  # a bug in a hook must not stop the other entries
            entry.diagnostics = [
                Diagnostic(spec.display, 1, 1, "SKZ901", Severity.ERROR,
                           f"internal error while building this entry: {type(exc).__name__}: {exc}",
                           hint="This is a bug in skillz-engine; please report it with the manifest.")
            ]  # fmt: skip
        entry.seconds = time.monotonic() - started
        if entry.messages or entry.diagnostics:
            report.entries.append(entry)
            report.diagnostics.extend(entry.diagnostics)
            if on_entry is not None:
                on_entry(entry)
    return report
