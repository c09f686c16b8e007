"""``kind: service``: a Docker container tools depend on.

Compiling a service only reads its manifest into a :class:`~skillz_engine.runtimes.service.plan.Plan`
(no daemon is asked anything, nor at start unless ``autostart``: a server starts without Docker);
the container runs when a tool that requires it is called, or before the snapshot is served when
the manifest says ``autostart`` or this process runs an earlier version of the entry
(make-before-break: the new container is healthy before the swap, the old one stops once the
calls reading the old snapshot have drained). On shutdown the engine stops what it touched,
unless ``keepRunning``; a version replaced by another is removed regardless.
"""

from __future__ import annotations

import anyio.to_thread

from skillz_engine.build.contract import BuildOptions, CompileProblem, Progress, Services
from skillz_engine.runtimes.service.client import ServiceFailure
from skillz_engine.runtimes.service.handle import ServiceHandle
from skillz_engine.runtimes.service.plan import Plan, plan_of
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.model import Compiled, EntrySpec
from skillz_engine.tree.paths import NOT_DIR, NOT_FOUND, PathEscape
from skillz_engine.tree.specs import ServiceSpec


class ServiceRuntime:
    kind = "service"

    def _plan(self, spec: EntrySpec, services: Services) -> Plan:
        try:
            return plan_of(spec, services.state_dir)
        except PathEscape as exc:
            r = spec.record_as(ServiceSpec)
            key = ("build",) if r.build is not None and exc.rel == r.build else ("volumes",)
            code = "SKZ204" if exc.reason in (NOT_FOUND, NOT_DIR) else "SKZ203"
            raise CompileProblem([spec.diag(key, code, str(exc), exc.hint)]) from exc

    async def build(
        self, spec: EntrySpec, services: Services, progress: Progress, options: BuildOptions
    ) -> list[Diagnostic]:
        """``skillz-engine build``: build the image of a ``build:`` service ahead of its first start."""
        plan = self._plan(spec, services)
        if plan.build_dir is None:
            return []
        progress(f"building image {plan.image}")
        try:
            await anyio.to_thread.run_sync(lambda: ServiceHandle(plan).image(force=options.force))
        except ServiceFailure as exc:
            return [
                spec.diag(("build",), "SKZ550", str(exc), "Fix the Dockerfile (or start the Docker daemon).")
            ]
        return []

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        plan = self._plan(spec, services)
        handle = ServiceHandle(plan)

        async def start() -> None:
            if plan.autostart or handle.another_version_running():
                await anyio.to_thread.run_sync(handle.ensure)

        async def stop() -> None:
            if not handle.touched:
                return
            if plan.keep_running and not handle.another_version_running():
                handle.release()
                return
            await anyio.to_thread.run_sync(handle.stop)

        return Compiled(spec, start=start, stop=stop, handle=handle)
