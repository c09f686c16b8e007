"""``kind: service``: a Docker container tools depend on.

Compiling a service only reads its manifest into a :class:`~skillz_engine.runtimes.service.plan.Plan`
(no daemon is asked anything); the container runs when a tool that requires it is called, or
before the snapshot is served when the manifest says ``autostart`` or an earlier version of the
entry is running (make-before-break: the new container is healthy before the swap, the old one
stops once the calls reading the old snapshot have drained). On shutdown the engine stops what
it touched, unless ``keepRunning``; a version replaced by another is removed regardless.
"""

from __future__ import annotations

import anyio.to_thread

from skillz_engine.build.contract import CompileProblem, Services
from skillz_engine.runtimes.service.handle import ServiceHandle
from skillz_engine.runtimes.service.plan import plan_of
from skillz_engine.tree.model import Compiled, EntrySpec
from skillz_engine.tree.paths import NOT_DIR, NOT_FOUND, PathEscape
from skillz_engine.tree.specs import ServiceSpec


class ServiceRuntime:
    kind = "service"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        try:
            plan = plan_of(spec, services.state_dir)
        except PathEscape as exc:
            r = spec.record_as(ServiceSpec)
            key = ("build",) if r.build is not None and exc.rel == r.build else ("volumes",)
            code = "SKZ204" if exc.reason in (NOT_FOUND, NOT_DIR) else "SKZ203"
            raise CompileProblem([spec.diag(key, code, str(exc), exc.hint)]) from exc
        handle = ServiceHandle(plan)

        async def start() -> None:
            if plan.autostart or await anyio.to_thread.run_sync(handle.others_running):
                await anyio.to_thread.run_sync(handle.ensure)

        async def stop() -> None:
            if not handle.touched:
                return
            if plan.keep_running and not await anyio.to_thread.run_sync(handle.others_running):
                return
            await anyio.to_thread.run_sync(handle.stop)

        return Compiled(spec, start=start, stop=stop, handle=handle)
