"""``requires.services``: what a tool's call waits for, and the variables it then gets.

:func:`service_env` is called by :func:`skillz_engine.runtimes.base.run_tool` for every tool kind,
before the tool runs: each required service of the snapshot is started if needed and must be
healthy; its ``<NAME>_HOST``, ``<NAME>_PORT`` and ``<NAME>_PORT_<port>`` are returned for the
call's environment (:data:`skillz_engine.isolation.command.SERVICE_ENV`). A healthy service costs
a dictionary lookup; anything else is a :class:`ServiceFailure` the call returns as ``isError``.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio.to_thread

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.runtimes.service.client import ServiceFailure
from skillz_engine.runtimes.service.handle import ServiceHandle
from skillz_engine.tree.model import ToolDef
from skillz_engine.tree.specs import ToolSpec


def _needs(snapshot: Snapshot) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for key, spec in snapshot.specs.items():
        record = spec.record
        if isinstance(record, ToolSpec) and record.requires.services:
            out[key] = record.requires.services
    return out


def required(snapshot: Snapshot, tool: ToolDef) -> tuple[str, ...]:
    """The services ``tool`` requires (empty for most tools: one dictionary lookup)."""
    if tool.entry is None:
        return ()
    return snapshot.derived("service-needs", lambda: _needs(snapshot)).get(tool.entry, ())


def handles(snapshot: Snapshot) -> Mapping[str, ServiceHandle]:
    """The service handles ``snapshot`` serves, by entry name."""

    def make() -> dict[str, ServiceHandle]:
        return {
            c.spec.name: c.handle
            for c in snapshot.entries.values()
            if c.spec.kind == "service" and isinstance(c.handle, ServiceHandle)
        }

    return snapshot.derived("service-handles", make)


def _why_missing(snapshot: Snapshot, name: str) -> str:
    for spec in snapshot.specs.values():
        if spec.kind == "service" and spec.name == name:
            problems = [d.message for d in snapshot.diagnostics if d.path == spec.display and d.is_error]
            if not spec.enabled:
                return f"service {name!r} is disabled (enabled: false)"
            return f"service {name!r} is not served: " + ("; ".join(problems) or "see skillz://diagnostics")
    return f"no service {name!r} in the tree (add services/{name}/manifest.yaml with kind: service)"


async def service_env(snapshot: Snapshot, names: tuple[str, ...]) -> dict[str, str]:
    """The variables of every service in ``names``, each running and healthy (raises ServiceFailure)."""
    served = handles(snapshot)
    env: dict[str, str] = {}
    for name in names:
        handle = served.get(name)
        if handle is None:
            raise ServiceFailure(_why_missing(snapshot, name))
        endpoint = handle.cached()
        if endpoint is None:
            # a cancelled call returns at once; the start goes on in its thread for the next call
            endpoint = await anyio.to_thread.run_sync(handle.ensure, abandon_on_cancel=True)
        env.update(endpoint.env(name))
    return env
