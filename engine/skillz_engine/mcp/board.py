"""The live state a person looks at: what the status page shows and ``/metrics`` counts.

A :class:`StatusBoard` follows one engine (its swaps and its calls) and one MCP server (its
sessions). It keeps only what the engine does not already hold: the last calls, counters, and a
version number that moves on every event so the page's event stream knows when to send.
Everything else is read from the current snapshot when asked, so the board never drifts from
what is served.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from skillz_engine import __version__

if TYPE_CHECKING:
    from skillz_engine.build.diff import Delta
    from skillz_engine.build.snapshot import Snapshot
    from skillz_engine.engine import CallEvent, Engine
    from skillz_engine.mcp.server import McpServer

RECENT_CALLS = 50
HANDSHAKE_ERA = "2025-11-25"
STATELESS_ERA = "2026-07-28"
SEEN_FOR = 300.0  # seconds a 2026-07-28 caller stays listed after its last call


class StatusBoard:
    """What the status page and the metrics read; fed by the engine's listeners."""

    def __init__(self, engine: Engine, mcp: McpServer) -> None:
        self.engine = engine
        self.mcp = mcp
        self.started = time.time()
        self.calls: deque[dict[str, Any]] = deque(maxlen=RECENT_CALLS)
        self.reloads = 0
        self.version = 0
        self.observers: list[Callable[[CallEvent], None]] = []
        self._callers: dict[str, float] = {}  # session label -> last call (stateless era)
        self._changed = anyio.Event()
        self._detach: list[Callable[[], None]] = []

    def attach(self) -> Callable[[], None]:
        """Start following the engine; returns the function that stops it."""
        self._detach = [
            self.engine.observe_calls(self._on_call),
            self.engine.live.add_listener(self._on_delta),
        ]

        def detach() -> None:
            for stop in self._detach:
                stop()
            self._detach = []

        return detach

    # ------------------------------------------------------------------ events

    def _bump(self) -> None:
        self.version += 1
        event, self._changed = self._changed, anyio.Event()
        event.set()

    def _on_call(self, event: CallEvent) -> None:
        self.calls.appendleft(
            {
                "time": time.time(),
                "tool": event.tool,
                "method": event.method,
                "ms": round(event.ms, 1),
                "ok": event.error is None,
                "error": None if event.error is None else event.error.strip()[:300],
                "session": event.session,
            }
        )
        if event.session:
            self._callers[event.session] = time.time()
        for observer in list(self.observers):
            observer(event)
        self._bump()

    async def _on_delta(self, delta: Delta, snapshot: Snapshot) -> None:
        del delta, snapshot
        self.reloads += 1
        self._bump()

    async def changed(self, since: int, timeout: float) -> int:
        """Wait until the version moves past ``since`` (or ``timeout`` seconds); the version now."""
        if self.version == since:
            with anyio.move_on_after(timeout):
                await self._changed.wait()
        return self.version

    # ------------------------------------------------------------------ the state

    def sessions(self) -> list[dict[str, Any]]:
        """Connected handshake-era sessions, then the 2026-07-28 callers seen recently."""
        out: list[dict[str, Any]] = []
        for key, session in list(self.mcp.hub.legacy.items()):
            params = getattr(session, "client_params", None)
            info = getattr(params, "client_info", None)
            out.append(
                {
                    "id": f"{key:x}",
                    "era": HANDSHAKE_ERA,
                    "client": f"{getattr(info, 'name', '?')} {getattr(info, 'version', '')}".strip(),
                    "subscriptions": len(self.mcp.hub.subs.get(key, ())),
                }
            )
        now = time.time()
        for label, seen in sorted(self._callers.items(), key=lambda item: -item[1]):
            if now - seen > SEEN_FOR:
                del self._callers[label]
            elif not label.startswith("conn-") or not out:
                out.append({"id": label, "era": STATELESS_ERA, "client": "", "lastCall": seen})
        return out

    def entries(self, snap: Snapshot) -> list[dict[str, Any]]:
        """Every entry of the tree with its state: serving, stale (with why), failed, disabled."""
        problems: dict[str, list[str]] = {}
        for d in snap.diagnostics:
            problems.setdefault(d.path, []).append(f"{d.code} {d.message}")
        out = []
        for key, spec in snap.specs.items():
            compiled = snap.entries.get(key)
            if not spec.enabled:
                state = "disabled"
            elif compiled is None:
                state = "failed"
            else:
                state = "stale" if compiled.state == "stale" else "serving"
            served = []
            if compiled is not None:
                served = [t.name for t in compiled.tools] + [p.name for p in compiled.prompts]
            out.append(
                {
                    "name": spec.name,
                    "kind": spec.kind,
                    "state": state,
                    "path": spec.display,
                    "serves": served,
                    "problems": problems.get(spec.display, []),
                    "stateful": key in snap.stateful,
                }
            )
        return sorted(out, key=lambda e: (e["kind"], e["name"]))

    def stateful(self, snap: Snapshot) -> dict[str, Any]:
        """Upstream MCP servers (state, restarts, what they run) and Docker services (healthy, with
        their published ports, or not checked lately), as this process knows them: no daemon call."""
        from skillz_engine.mcp.upstream.runtime import health as upstream_health

        services: dict[str, Any] = {}
        for c in snap.entries.values():
            handle = getattr(c, "handle", None)
            cached = getattr(handle, "cached", None)
            if c.spec.kind != "service" or cached is None:
                continue
            endpoint = cached()
            services[c.spec.name] = (
                {"state": "healthy", "host": endpoint.host, "ports": [list(p) for p in endpoint.ports]}
                if endpoint is not None
                else {"state": "not checked lately (started on a tool's first call)"}
            )
        return {"upstreams": upstream_health(snap), "services": services}

    def state(self) -> dict[str, Any]:
        """Everything the page shows, as JSON."""
        snap = self.engine.snapshot
        config = snap.config
        return {
            "version": self.version,
            "server": {
                "name": config.server.name,
                "engineVersion": __version__,
                "generation": snap.generation,
                "roots": [str(r) for r in snap.roots],
                "started": self.started,
                "reloads": self.reloads,
                "disclosure": config.disclosure,
                "readOnly": config.read_only,
            },
            "tools": [
                {"name": t.name, "kind": t.kind, "description": " ".join(t.description.split())[:200]}
                for t in snap.tools.values()
            ],
            "prompts": [{"name": p.name, "description": p.description} for p in snap.prompts.values()],
            "resources": [{"uri": r.uri, "name": r.name} for r in snap.resources.values()],
            "entries": self.entries(snap),
            "diagnostics": [
                {**d.to_json(), "where": f"{d.path}:{max(d.line, 1)}:{max(d.col, 1)}"}
                for d in snap.diagnostics
            ],
            "sessions": self.sessions(),
            **self.stateful(snap),
            "cluster": self.engine.replica.status() if self.engine.replica is not None else None,
            "calls": list(self.calls),
        }
