"""What the server sends to clients on its own: change fan-out to every client of both protocol
eras (the server's change bus), and the per-request :class:`ServerCallContext` through which a
running tool logs, reports progress and calls other tools.

The SDK has no "all sessions" API, so the :class:`Hub` keeps its own registry:

* handshake-era connections (``initialize`` .. ``notifications/initialized``) register their
  ``ServerSession``; notifications go out on each connection's standalone channel (stdio pipe,
  HTTP GET stream, SSE stream), which works from the watcher, outside any request. The entry is
  dropped by the connection's ``exit_stack`` when it closes.
* 2026-07-28 connections have no standing channel: they open ``subscriptions/listen`` streams,
  served by the SDK's ``ListenHandler`` over :attr:`Hub.bus` (a ``SubscriptionBus``; swap in a
  shared implementation to fan out across replicas).

:meth:`Hub.on_delta` is the :class:`~skillz_engine.live.registry.LiveRegistry` listener that turns a
:class:`~skillz_engine.build.diff.Delta` into both kinds of notification.
"""

from __future__ import annotations

import logging
import warnings
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, cast, get_args, overload

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    SubscriptionBus,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import LoggingLevel

from skillz_engine.build.contract import EngineHandle
from skillz_engine.build.diff import Change, Delta
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.errors import RuntimeFailure
from skillz_engine.live.sessions import Activations
from skillz_engine.runtimes.base import call_nested
from skillz_engine.tree.model import Args, ToolResult

log = logging.getLogger("skillz_engine.mcp.server")

LOGGER_NAME = "skillz-engine"
LEVELS: frozenset[str] = frozenset(get_args(LoggingLevel))
MAX_LOGGED_DIAGNOSTICS = 20
SEND_TIMEOUT = 5.0  # seconds one slow client may hold a broadcast up
SEVERITY: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

# ``logging/setLevel`` of each handshake-era connection (absent: everything is sent). Weak, so a
# closed connection is forgotten; 2026-07-28 requests carry their level in ``_meta`` instead and
# the SDK filters those itself.
_LOG_LEVELS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def set_log_level(ctx: ServerRequestContext[Any, Any], level: str) -> None:
    """Remember the minimum level the client of ``ctx`` asked for (``logging/setLevel``)."""
    _LOG_LEVELS[connection_of(ctx)] = level


def log_wanted(connection: Any, level: str) -> bool:
    """Whether ``connection`` wants a log message at ``level`` (its ``logging/setLevel``, if any)."""
    try:
        minimum = _LOG_LEVELS.get(connection)
    except TypeError:  # not a connection (cannot be weakly referenced): nothing was set for it
        minimum = None
    if minimum is None or level not in SEVERITY or minimum not in SEVERITY:
        return True
    return SEVERITY.index(level) >= SEVERITY.index(minimum)


def diagnostics_log(snapshot: Snapshot) -> tuple[LoggingLevel, dict[str, Any]]:
    """``(level, data)`` of the log message that tells clients about the tree's problems."""
    errors = len(snapshot.errors)
    warns = len(snapshot.diagnostics) - errors
    stale = [snapshot.entries[k].spec.name for k in snapshot.stale]
    if snapshot.diagnostics:
        msg = f"{errors} error{'s' * (errors != 1)}, {warns} warning{'s' * (warns != 1)} in the tree"
        if stale:
            msg += f"; serving the last good version of: {', '.join(sorted(stale))}"
        msg += ". Read skillz://diagnostics for details."
    else:
        msg = "The tree has no problems any more."
    data: dict[str, Any] = {
        "message": msg,
        "generation": snapshot.generation,
        "diagnostics": [d.to_json() for d in snapshot.diagnostics[:MAX_LOGGED_DIAGNOSTICS]],
    }
    if len(snapshot.diagnostics) > MAX_LOGGED_DIAGNOSTICS:
        data["more"] = len(snapshot.diagnostics) - MAX_LOGGED_DIAGNOSTICS
    return ("warning" if errors else "info"), data


def _silenced(make: Callable[[], Any]) -> Any:
    """Create a deprecated SDK coroutine without its per-call MCPDeprecationWarning (the warning
    is issued synchronously when the coroutine is created, so no await happens under the filter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        return make()


class ServerCallContext:
    """The core's :class:`~skillz_engine.build.contract.CallContext` for one MCP request."""

    questions_cost_round_trip = False  # a question is answered within the request

    def __init__(
        self,
        ctx: ServerRequestContext[Any, Any],
        snapshot: Snapshot,
        tool_name: str,
        depth: int = 0,
        on_nested: Callable[[str, float, ToolResult], None] | None = None,
        engine: EngineHandle | None = None,
        activations: Activations | None = None,
        caller: str | None = None,
    ) -> None:
        self._ctx = ctx
        self._caller = caller
        self._activations = activations
        self._snapshot = snapshot
        self._tool_name = tool_name
        self._depth = depth
        self._on_nested = on_nested
        self._engine = engine

    @property
    def session_id(self) -> str:
        return session_label(self._ctx)

    @property
    def caller(self) -> str | None:
        return self._caller

    @property
    def client_capabilities(self) -> Mapping[str, Any]:
        caps = self._ctx.session.client_capabilities  # the handshake's, or the 2026 request envelope's
        if caps is None:
            return {}
        return cast("Mapping[str, Any]", caps.model_dump(by_alias=True, exclude_none=True))

    @property
    def engine(self) -> EngineHandle | None:
        return self._engine

    @property
    def activations(self) -> Activations | None:
        return self._activations

    async def sample(self, params: Mapping[str, Any]) -> dict[str, Any]:
        from mcp import types

        p = types.CreateMessageRequestParams.model_validate(dict(params))
        try:
            result = await _silenced(
                lambda: self._ctx.session.create_message(
                    messages=p.messages,
                    max_tokens=p.max_tokens,
                    system_prompt=p.system_prompt,
                    include_context=p.include_context,
                    temperature=p.temperature,
                    stop_sequences=p.stop_sequences,
                    metadata=p.metadata,
                    model_preferences=p.model_preferences,
                    related_request_id=self._ctx.request_id,
                )
            )
        except Exception as exc:  # the client's refusal or a modern-era connection
            raise RuntimeFailure(f"sampling failed: {exc}") from exc
        return cast("dict[str, Any]", result.model_dump(by_alias=True, exclude_none=True, mode="json"))

    async def elicit(self, params: Mapping[str, Any]) -> dict[str, Any]:
        message = str(params.get("message", ""))
        schema = params.get("requestedSchema") or {"type": "object", "properties": {}}
        try:
            result = await _silenced(
                lambda: self._ctx.session.elicit_form(
                    message, dict(schema), related_request_id=self._ctx.request_id
                )
            )
        except Exception as exc:
            raise RuntimeFailure(f"elicitation failed: {exc}") from exc
        return cast("dict[str, Any]", result.model_dump(by_alias=True, exclude_none=True, mode="json"))

    async def list_roots(self) -> list[dict[str, Any]]:
        try:
            result = await _silenced(lambda: self._ctx.session.list_roots())
        except Exception as exc:
            raise RuntimeFailure(f"roots/list failed: {exc}") from exc
        return [r.model_dump(by_alias=True, exclude_none=True, mode="json") for r in result.roots]

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def tool_name(self) -> str:
        return self._tool_name

    @property
    def progress_token(self) -> str | int | None:
        meta = self._ctx.meta
        return meta.get("progress_token") if meta else None

    @property
    def depth(self) -> int:
        return self._depth

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        lvl = cast("LoggingLevel", level if level in LEVELS else "info")
        if not log_wanted(connection_of(self._ctx), lvl):
            return
        sess, rid = self._ctx.session, self._ctx.request_id
        await _silenced(
            lambda: sess.send_log_message(lvl, data, logger=logger or self._tool_name, related_request_id=rid)
        )

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        # the SDK knows whether the caller asked for progress (a token on the wire, or an
        # in-process callback without one) and does nothing when it did not
        await self._ctx.session.report_progress(progress, total, message)

    async def call_tool(self, name: str, arguments: Args) -> ToolResult:
        def child(tool: str) -> ServerCallContext:
            return ServerCallContext(
                self._ctx,
                self._snapshot,
                tool,
                self._depth + 1,
                self._on_nested,
                self._engine,
                self._activations,
                self._tool_name,
            )

        return await call_nested(self, name, arguments, child, self._on_nested)


def connection_of(ctx: ServerRequestContext[Any, Any]) -> Any:
    """The SDK ``Connection`` behind a request (no public accessor in mcp 2.3; FastMCP does the same)."""
    return ctx.session._connection  # private in mcp 2.3.0, see the docstring


@overload
def session_label(ctx: ServerRequestContext[Any, Any], fallback: Literal[True] = True) -> str: ...
@overload
def session_label(ctx: ServerRequestContext[Any, Any], fallback: bool) -> str | None: ...
def session_label(ctx: ServerRequestContext[Any, Any], fallback: bool = True) -> str | None:
    """Who is calling: the transport's session id (``Mcp-Session-Id``) when it has one; else, with
    ``fallback``, ``conn-<hex>`` naming the connection object itself (stdio, in-memory), else ``None``.

    The fallback names a connection only while it lives, so it is right for per-connection state
    and audit lines, and wrong where an identity must survive a reconnect (parked calls)."""
    conn = connection_of(ctx)
    sid = getattr(conn, "session_id", None)
    if sid:
        return str(sid)
    return f"conn-{id(conn):x}" if fallback else None


class Hub:
    """Registry of handshake-era sessions plus the subscription bus of the 2026-07-28 era."""

    def __init__(self, bus: SubscriptionBus | None = None) -> None:
        self.bus: SubscriptionBus = bus if bus is not None else InMemorySubscriptionBus()
        self.legacy: dict[int, ServerSession] = {}
        self.subs: dict[int, set[str]] = {}

    def register(self, ctx: ServerRequestContext[Any, Any]) -> int:
        """Remember the connection of ``ctx`` (idempotent); it is forgotten when it closes."""
        conn = connection_of(ctx)
        key = id(conn)
        if key not in self.legacy:
            self.legacy[key] = ctx.session
            self.subs.setdefault(key, set())

            def drop() -> None:
                self.legacy.pop(key, None)
                self.subs.pop(key, None)

            conn.exit_stack.callback(drop)
        return key

    def subscribe(self, ctx: ServerRequestContext[Any, Any], uri: str) -> None:
        self.subs[self.register(ctx)].add(uri)

    def unsubscribe(self, ctx: ServerRequestContext[Any, Any], uri: str) -> None:
        self.subs.get(self.register(ctx), set()).discard(uri)

    async def _each(
        self, send: Callable[[ServerSession], Awaitable[None]], only: Callable[[int], bool] | None = None
    ) -> None:
        """Run ``send`` for every (selected) legacy session concurrently; one bad client never blocks."""

        async def one(key: int, sess: ServerSession) -> None:
            try:
                with anyio.fail_after(SEND_TIMEOUT):
                    await send(sess)
            except Exception as exc:  # a closed or stuck connection: skip it
                log.debug("notification to connection %x failed: %r", key, exc)

        targets = [(k, s) for k, s in list(self.legacy.items()) if only is None or only(k)]
        if not targets:
            return
        async with anyio.create_task_group() as tg:
            for key, sess in targets:
                tg.start_soon(one, key, sess)

    async def tools_changed(self) -> None:
        await self.bus.publish(ToolsListChanged())
        await self._each(lambda s: s.send_tool_list_changed())

    async def prompts_changed(self) -> None:
        await self.bus.publish(PromptsListChanged())
        await self._each(lambda s: s.send_prompt_list_changed())

    async def resources_changed(self) -> None:
        await self.bus.publish(ResourcesListChanged())
        await self._each(lambda s: s.send_resource_list_changed())

    async def resource_updated(self, uri: str) -> None:
        await self.bus.publish(ResourceUpdated(uri=uri))
        await self._each(lambda s: s.send_resource_updated(uri), lambda k: uri in self.subs.get(k, ()))

    async def log(self, level: LoggingLevel, data: Any) -> None:
        """A log message to every legacy session (2026-07-28 has no unsolicited logs)."""

        await self._each(
            lambda s: _silenced(lambda: s.send_log_message(level, data, logger=LOGGER_NAME)),
            lambda k: log_wanted(getattr(self.legacy.get(k), "_connection", None), level),
        )

    async def greet(self, ctx: ServerRequestContext[Any, Any], snapshot: Snapshot) -> None:
        """A new handshake-era client hears of the tree's problems at once (a skill skipped at
        start-up, a stale entry), as later clients of a change do through :meth:`on_delta`."""
        self.register(ctx)
        if not snapshot.diagnostics:
            return
        level, data = diagnostics_log(snapshot)
        session = ctx.session
        try:
            with anyio.fail_after(SEND_TIMEOUT):
                await _silenced(lambda: session.send_log_message(level, data, logger=LOGGER_NAME))
        except Exception as exc:  # the client left already
            log.debug("greeting log to a new session failed: %r", exc)

    async def relay(self, lists: frozenset[Change], updated: frozenset[str]) -> None:
        """Tell both eras' clients that these lists changed and these resources were updated: a
        swap here (:meth:`on_delta`), or another replica's change from the cluster's change bus."""
        if Change.TOOLS in lists:
            await self.tools_changed()
        if Change.PROMPTS in lists:
            await self.prompts_changed()
        if Change.RESOURCES in lists:
            await self.resources_changed()
        for uri in sorted(updated):
            await self.resource_updated(uri)

    async def on_delta(self, delta: Delta, snapshot: Snapshot) -> None:
        """LiveRegistry listener: notify both eras of what ``delta`` changed."""
        await self.relay(delta.lists, delta.updated)
        if delta.diagnostics_changed:
            level, data = diagnostics_log(snapshot)
            await self.log(level, data)
