"""The runtime of ``kind: mcp-server``: an upstream MCP server served under a namespace.

``compile`` stays synchronous and side-effect free, as every runtime's: it resolves the launch
(:mod:`~skillz_engine.mcp.upstream.launch`), finds or makes the :class:`Upstream` for it, and
serves the upstream's listing as it is known now: the live one, else the last good one kept in
the state directory (so a lazy upstream costs no process at start), else nothing yet. The
upstream is stateful in the snapshot's sense: ``start`` (autostart only) connects before the
swap, ``stop`` closes it after the snapshots serving it have drained.

Upstreams are kept per state directory, entry and launch (:attr:`Launch.digest`): compiling the
entry again after the upstream's listing changed reuses the running upstream, with the same
``stop``, so the swap does not retire it; an edit that changes the launch makes a new upstream,
started before the swap and the old one stopped after (make-before-break).
"""

from __future__ import annotations

from typing import Any

from skillz_engine.build.contract import RUNTIMES, CompileProblem, Services
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.mcp.upstream import exposure
from skillz_engine.mcp.upstream.connection import Upstream
from skillz_engine.mcp.upstream.launch import launch_for, unpinned
from skillz_engine.mcp.upstream.listing import cache_path
from skillz_engine.tree.diagnostics import Severity
from skillz_engine.tree.model import Compiled, EntrySpec
from skillz_engine.tree.specs import DEFAULT_TIMEOUT, McpServerSpec
from skillz_engine.units import parse_duration

PoolKey = tuple[str, str, str]  # state dir, entry key, launch digest


class McpServerRuntime:
    kind = "mcp-server"

    def __init__(self) -> None:
        self.upstreams: dict[PoolKey, Upstream] = {}

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        r = spec.record_as(McpServerSpec)
        cache = cache_path(services.state_dir, spec.key, spec.name)
        launch = launch_for(spec, services.config, cache.with_suffix(".stderr.log"))
        key: PoolKey = (str(services.state_dir), spec.key, launch.digest)
        up = self.upstreams.get(key)
        if up is None:
            timeout = r.timeout if r.timeout is not None else r.limits.timeout
            up = Upstream(
                spec.name,
                spec.key,
                launch,
                timeout=parse_duration(timeout) if timeout is not None else DEFAULT_TIMEOUT,
                idle=parse_duration(r.idle_timeout) if r.idle_timeout is not None else None,
                cache=cache,
                changed=services.changed,
                gone=self._forget,
            )
            self.upstreams[key] = up
        compiled = self._serve(spec, up, autostart=r.autostart)
        warnings = [d for d in [unpinned(spec)] if d is not None]
        if up.state == "backoff":
            warnings.append(
                spec.diag(
                    ("command",) if r.command else ("url",),
                    "SKZ544",
                    up.down_message(),
                    hint="Its tools answer isError until it is back (stderr log: the state directory).",
                    severity=Severity.WARNING,
                )
            )
        if warnings:
            raise CompileProblem(warnings, compiled)
        return compiled

    def _serve(self, spec: EntrySpec, up: Upstream, *, autostart: bool) -> Compiled:
        listing = up.listing
        if listing is None:  # nothing known yet: list it now, even when it is lazy
            return Compiled(spec, start=up.start_hook if autostart else up.prime_hook, stop=up.stop_hook)
        return Compiled(
            spec,
            tools=exposure.tools(spec, up, listing),
            prompts=exposure.prompts(spec, up, listing),
            resources=exposure.resources(spec, up, listing),
            templates=exposure.templates(spec, up, listing),
            start=up.start_hook if autostart else None,
            stop=up.stop_hook,
        )

    def _forget(self, up: Upstream) -> None:
        """An upstream stopped for good: the next compile of its entry makes a new one."""
        for key in [k for k, u in self.upstreams.items() if u is up]:
            del self.upstreams[key]


def serving(snapshot: Snapshot) -> list[Upstream]:
    """The upstreams ``snapshot`` serves (those of its mcp-server entries), in listing order."""
    runtime = RUNTIMES["mcp-server"]
    assert isinstance(runtime, McpServerRuntime)
    out = []
    for up in runtime.upstreams.values():
        c = snapshot.entries.get(up.key)
        if c is not None and c.stop is up.stop_hook:
            out.append(up)
    return sorted(out, key=lambda u: u.key)


def health(snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    """Each served upstream's state by entry name (``/health``, ``skillz://diagnostics``)."""
    return {up.name: up.status() for up in serving(snapshot)}
