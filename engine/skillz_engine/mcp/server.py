"""The MCP server: the live snapshot served through the SDK's low-level ``Server``, both eras.

This module (with :mod:`skillz_engine.mcp.fanout` and :mod:`skillz_engine.mcp.http`) is the only part of
the engine that imports ``mcp``. Every handler reads exactly one snapshot, through
:meth:`LiveRegistry.reading`, from start to end; the core's camelCase dicts become SDK models with
``model_validate``. Tools always run through :func:`~skillz_engine.runtimes.base.run_tool`, so a
tool's own failure is an ``isError`` result, never a protocol error.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio
import mcp.types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from skillz_engine import __version__
from skillz_engine.build.compile import Tree
from skillz_engine.build.contract import EngineHandle
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.errors import ToolNotFound
from skillz_engine.live.disclosure import active_skills, visible_tools
from skillz_engine.live.registry import LiveRegistry
from skillz_engine.live.reload import Reloader
from skillz_engine.live.reload import watch as watch_tree
from skillz_engine.live.sessions import Activations, SessionStore
from skillz_engine.mcp.fanout import Hub, ServerCallContext, connection_of, set_log_level
from skillz_engine.mcp.parked import ParkedCall, ParkedCalls, ParkingCallContext, run_parked
from skillz_engine.runtimes.base import run_tool
from skillz_engine.state.store import AuditLog, AuditRecord, Store
from skillz_engine.tree.model import PromptDef, ResourceDef, ResourceTemplateDef, ToolResult
from skillz_engine.units import parse_duration

log = logging.getLogger("skillz_engine.mcp.server")

Ctx = ServerRequestContext[Any, Any]
Page = types.PaginatedRequestParams | None
RESOURCE_NOT_FOUND = -32002  # handshake-era code; 2026-07-28 uses INVALID_PARAMS
MAX_COMPLETIONS = 100
DEFAULT_INSTRUCTIONS = (
    "This server's tools come from a directory tree of manifests and reload live: when the tree "
    "changes, the tool, prompt and resource lists change too (clients are notified). If your tool "
    "list may be stale, use search_tools to find a tool by what it does and call_tool to run any "
    "tool by name; read the skillz://guide resource for an overview of everything served right now."
)
SKILLS_EXTENSION = "io.modelcontextprotocol/skills"
INIT_NOTIFY = NotificationOptions(tools_changed=True, resources_changed=True, prompts_changed=True)


def is_modern(ctx: Ctx) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


class SkillzServer(Server[Any]):
    """Low-level ``Server`` that declares ``listChanged`` in the handshake era even when the
    transport (the HTTP session manager) calls ``create_initialization_options()`` without arguments."""

    hub: Hub
    sessions: SessionStore
    detach: Callable[[], None]
    parked: ParkedCalls

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or INIT_NOTIFY, experimental_capabilities, extensions
        )


def _not_found(ctx: Ctx, message: str) -> MCPError:
    return MCPError(code=types.INVALID_PARAMS if is_modern(ctx) else RESOURCE_NOT_FOUND, message=message)


def _tool_result(result: ToolResult) -> types.CallToolResult:
    payload = result.to_json()
    if result.meta:
        payload["_meta"] = dict(result.meta)
    try:
        return types.CallToolResult.model_validate(payload)
    except ValidationError as exc:
        text = result.text_content() or "(no text content)"
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        return types.CallToolResult(
            content=[
                types.TextContent(type="text", text=f"{text}\n\n[the tool's result is not valid MCP: {why}]")
            ],
            is_error=True,
        )


def _error_of(result: ToolResult) -> str | None:
    return (result.text_content() or "error") if result.is_error else None


def _compact(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _icons(icons: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    return [dict(i) for i in icons] if icons else None


def _resource(r: ResourceDef) -> types.Resource:
    d = _compact(uri=r.uri, name=r.name, title=r.title, description=r.description, mimeType=r.mime_type)
    meta = dict(r.meta) if r.meta else None
    return types.Resource.model_validate(_compact(**d, size=r.size, icons=_icons(r.icons), _meta=meta))


def _template(t: ResourceTemplateDef) -> types.ResourceTemplate:
    d = _compact(uriTemplate=t.uri_template, name=t.name, title=t.title, description=t.description)
    return types.ResourceTemplate.model_validate(_compact(**d, mimeType=t.mime_type, icons=_icons(t.icons)))


def _prompt(p: PromptDef) -> types.Prompt:
    args = [_compact(name=a.name, description=a.description, required=a.required) for a in p.arguments]
    d = _compact(name=p.name, title=p.title, description=p.description or None, icons=_icons(p.icons))
    return types.Prompt.model_validate({**d, "arguments": args})


_MEMO: dict[tuple[int, str], tuple[Snapshot, Any]] = {}


def per_snapshot(snap: Snapshot, what: str, make: Callable[[], Any]) -> Any:
    """``make()`` once per snapshot (snapshots are immutable); only the newest few are kept.

    The snapshot itself is kept with the value and compared by identity, so a recycled ``id()``
    can never hand one tree's answer to another.
    """
    key = (id(snap), what)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is snap:
        return hit[1]
    if len(_MEMO) > 8:
        _MEMO.clear()
    value = make()
    _MEMO[key] = (snap, value)
    return value


def _secret_names(snapshot: Snapshot) -> tuple[str, ...]:
    """Every secret any entry of the snapshot names (a nested call may reach any of them)."""
    names: set[str] = set()
    for spec in snapshot.specs.values():
        for n in spec.data.get("secrets") or ():
            if isinstance(n, str):
                names.add(n)
    return tuple(sorted(names))


def _session_label(ctx: Ctx) -> str | None:
    conn = connection_of(ctx)
    sid = getattr(conn, "session_id", None)
    if sid:
        return str(sid)
    return None if is_modern(ctx) else f"conn-{id(conn):x}"


_LISTINGS: dict[tuple[int, frozenset[str] | None], tuple[Snapshot, list[types.Tool]]] = {}


def tool_listing(snap: Snapshot, active: frozenset[str] | None) -> list[types.Tool]:
    """The ``tools/list`` answer for a client whose active skills are ``active`` (see
    :mod:`skillz_engine.live.disclosure`); models built once per tool per snapshot, lists memoised."""
    key = (id(snap), active if snap.config.disclosure == "skills" else None)
    hit = _LISTINGS.get(key)
    if hit is not None and hit[0] is snap:
        return hit[1]
    tools = visible_tools(snap, active)
    models: dict[str, types.Tool] = per_snapshot(snap, "tool-models", dict)
    out = []
    for t in tools:
        m = models.get(t.name)
        if m is None:
            m = models[t.name] = types.Tool.model_validate(t.definition())
        out.append(m)
    if len(_LISTINGS) > 256:
        _LISTINGS.clear()
    _LISTINGS[key] = (snap, out)
    return out


class _Handlers:
    def __init__(
        self,
        live: LiveRegistry,
        hub: Hub,
        audit: AuditLog | None,
        engine: EngineHandle | None,
        single_client: bool = False,
    ) -> None:
        self.live, self.hub, self.audit, self.engine = live, hub, audit, engine
        self.audit_warned = False
        self.parked = ParkedCalls()
        self.sessions = SessionStore()
        self.single_client = single_client

    def activations(self, ctx: Ctx) -> Activations | None:
        """The calling client's activations, created on its first request and dropped when its
        connection closes. A 2026-07-28 request has no connection that outlives it: over stdio
        the process serves one client, so its state is the process's; over HTTP there is none."""
        if is_modern(ctx):
            if not self.single_client:
                return None

            async def publish() -> None:
                await self.hub.bus.publish(ToolsListChanged())

            return self.sessions.get("stdio", publish)[0]
        conn = connection_of(ctx)
        sid = getattr(conn, "session_id", None)
        key = str(sid) if sid else f"conn-{id(conn):x}"
        session = ctx.session

        async def notify() -> None:
            await session.send_tool_list_changed()

        act, created = self.sessions.get(key, notify)
        if created:
            conn.exit_stack.callback(self.sessions.drop, key)
        return act

    # ------------------------------------------------------------------ tools

    async def list_tools(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        with self.live.reading() as snap:
            active = None
            if snap.config.disclosure == "skills":
                act = self.activations(ctx)
                active = active_skills(snap, act.explicit) if act is not None else None
            return types.ListToolsResult(tools=tool_listing(snap, active))

    def _audit(self, ctx: Ctx, snap: Snapshot, method: str, tool: str, t0: float, error: str | None) -> None:
        if self.audit is not None:
            ms = (time.perf_counter() - t0) * 1000
            session = _session_label(ctx)
            names = per_snapshot(snap, "secrets", lambda: _secret_names(snap))
            record = AuditRecord(method, tool, ms, error is None, error, session, names)
            if not self.audit.append(record) and not self.audit_warned:
                self.audit_warned = True  # once: a full disk must not flood stderr
                log.warning("cannot write the audit log %s: %s", self.audit.path, self.audit.failed)

    async def call_tool(
        self, ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        start = time.perf_counter()
        with self.live.reading() as snap:
            tool = snap.tools.get(params.name)
            if tool is None:
                hint = "" if snap.suggest(params.name) else " Use search_tools to find the right one."
                message = str(ToolNotFound(params.name, snap.suggest(params.name))) + hint
                self._audit(ctx, snap, "tools/call", params.name, start, message)
                raise MCPError(code=types.INVALID_PARAMS, message=message)

            def nested(name: str, t0: float, r: ToolResult) -> None:
                self._audit(ctx, snap, "tools/call (nested)", name, t0, _error_of(r))

            try:
                activations = self.activations(ctx)
                if is_modern(ctx):  # questions to the client become input-required rounds (parked.py)
                    invoker = self._parked_invoker(params, nested, activations)
                    outcome = await run_parked(self.parked, ctx, params, invoker)
                    if isinstance(outcome, types.InputRequiredResult):
                        return outcome
                    result = outcome
                else:
                    result = await run_tool(
                        tool,
                        params.arguments or {},
                        ServerCallContext(ctx, snap, tool.name, 0, nested, self.engine, activations),
                    )
            except anyio.get_cancelled_exc_class():
                self._audit(ctx, snap, "tools/call", tool.name, start, "cancelled")
                raise
            self._audit(ctx, snap, "tools/call", tool.name, start, _error_of(result))
            return _tool_result(result)

    def _parked_invoker(
        self,
        params: types.CallToolRequestParams,
        nested: Callable[[str, float, ToolResult], None],
        activations: Activations | None = None,
    ) -> Callable[[ParkedCall], Awaitable[ToolResult]]:
        """The invocation a modern call runs as a task; it holds its snapshot while parked."""

        async def invoke(call: ParkedCall) -> ToolResult:
            with self.live.reading() as snap:
                tool = snap.tools.get(params.name)
                if tool is None:
                    return ToolResult.error(str(ToolNotFound(params.name, snap.suggest(params.name))))
                context = ParkingCallContext(
                    call, snap, tool.name, 0, nested, self.engine, activations=activations
                )
                return await run_tool(tool, params.arguments or {}, context)

        return invoke

    # ------------------------------------------------------------------ resources

    async def list_resources(self, ctx: Ctx, params: Page) -> types.ListResourcesResult:
        with self.live.reading() as snap:
            raw = ctx.params.get("uri") if isinstance(ctx.params, Mapping) else None
            resources: Iterable[ResourceDef] = snap.resources.values()
            if isinstance(raw, str) and raw:  # scoped listing (SEP-2093, as SEP-2640 uses it)
                ends = "/SKILL.md" if raw == "skill://" else ""
                resources = [r for r in resources if r.uri.startswith(raw) and r.uri.endswith(ends)]
            return types.ListResourcesResult(resources=[_resource(r) for r in resources])

    async def list_templates(self, ctx: Ctx, params: Page) -> types.ListResourceTemplatesResult:
        with self.live.reading() as snap:
            return types.ListResourceTemplatesResult(
                resource_templates=[_template(t) for t in snap.templates]
            )

    async def read_resource(
        self, ctx: Ctx, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        with self.live.reading() as snap:
            try:
                res = snap.resources.get(uri)
                if res is not None:
                    contents = await res.read(snap)
                else:
                    found = snap.find_template(uri)
                    if found is None:
                        raise _not_found(ctx, f"unknown resource {uri!r}; resources/list shows what exists")
                    tpl, variables = found
                    contents = await tpl.read(uri, variables, snap)
            except (KeyError, FileNotFoundError, PermissionError) as exc:
                reason = exc.args[0] if exc.args else type(exc).__name__
                raise _not_found(ctx, f"resource {uri!r} not found: {reason}") from None
            except (MCPError, anyio.get_cancelled_exc_class()):
                raise
            except Exception as exc:
                raise MCPError(
                    code=types.INTERNAL_ERROR, message=f"reading {uri!r} failed: {type(exc).__name__}: {exc}"
                ) from None
            return types.ReadResourceResult.model_validate({"contents": contents})

    async def subscribe(self, ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        self.hub.subscribe(ctx, str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(self, ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        self.hub.unsubscribe(ctx, str(params.uri))
        return types.EmptyResult()

    # ------------------------------------------------------------------ prompts + completion

    async def list_prompts(self, ctx: Ctx, params: Page) -> types.ListPromptsResult:
        with self.live.reading() as snap:
            return types.ListPromptsResult(prompts=[_prompt(p) for p in snap.prompts.values()])

    async def get_prompt(self, ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        args = dict(params.arguments or {})
        with self.live.reading() as snap:
            p = snap.prompts.get(params.name)
            if p is None:
                close = ", ".join(sorted(n for n in snap.prompts if params.name.lower() in n.lower())[:3])
                raise MCPError(
                    code=types.INVALID_PARAMS,
                    message=f"unknown prompt {params.name!r}"
                    + (f". Did you mean: {close}?" if close else ""),
                )
            missing = [a.name for a in p.arguments if a.required and a.name not in args]
            if missing:
                raise MCPError(
                    code=types.INVALID_PARAMS,
                    message=f"prompt {p.name!r} needs argument(s): {', '.join(missing)}",
                )
            try:
                messages = await p.render(args, ServerCallContext(ctx, snap, p.name))
            except ValueError as exc:
                raise MCPError(code=types.INVALID_PARAMS, message=f"prompt {p.name!r}: {exc}") from None
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:
                raise MCPError(
                    code=types.INTERNAL_ERROR,
                    message=f"prompt {p.name!r} failed: {type(exc).__name__}: {exc}",
                ) from None
            payload: dict[str, Any] = {"messages": messages}
            if p.description:
                payload["description"] = p.description
            return types.GetPromptResult.model_validate(payload)

    async def complete(self, ctx: Ctx, params: types.CompleteRequestParams) -> types.CompleteResult:
        name, prefix = params.argument.name, params.argument.value
        others: Mapping[str, Any] = (params.context.arguments if params.context else None) or {}
        values: list[str] = []
        with self.live.reading() as snap:
            ref = params.ref
            if isinstance(ref, types.PromptReference):
                p = snap.prompts.get(ref.name)
                if p is None:
                    raise MCPError(code=types.INVALID_PARAMS, message=f"unknown prompt {ref.name!r}")
                if p.complete is not None:
                    values = list(p.complete(name, prefix, others))
                else:
                    arg = next((a for a in p.arguments if a.name == name), None)
                    low = prefix.lower()
                    values = [v for v in (arg.values if arg else ()) if v.lower().startswith(low)]
            else:
                tpl = next((t for t in snap.templates if t.uri_template == ref.uri), None)
                if tpl is not None and tpl.complete is not None:
                    values = list(tpl.complete(name, prefix, others))
        return types.CompleteResult(
            completion=types.Completion(
                values=values[:MAX_COMPLETIONS], total=len(values), has_more=len(values) > MAX_COMPLETIONS
            )
        )

    async def set_level(self, ctx: Ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
        """``logging/setLevel`` (handshake era): tool logs and tree diagnostics below it are dropped."""
        self.hub.register(ctx)
        set_log_level(ctx, params.level)
        return types.EmptyResult()

    async def initialized(self, ctx: Ctx, params: types.NotificationParams) -> None:
        self.hub.register(ctx)


def build_server(
    live: LiveRegistry,
    *,
    audit: AuditLog | None = None,
    engine: EngineHandle | None = None,
    single_client: bool = False,
) -> SkillzServer:
    """The MCP server for ``live``; ``server.hub`` is its fan-out, already listening to ``live``.

    ``single_client``: the server serves one client (stdio), so 2026-07-28 requests, which carry
    no session, share one set of skill activations."""
    hub = Hub()
    h = _Handlers(live, hub, audit, engine, single_client)
    config = live.current.config
    with warnings.catch_warnings():  # logging/setLevel is deprecated in 2026-07-28; old clients use it
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        server = _new_server(h, config.server_name, config.instructions or DEFAULT_INSTRUCTIONS)
    server.add_notification_handler("notifications/initialized", types.NotificationParams, h.initialized)
    server.hub = hub
    server.parked = h.parked
    server.sessions = h.sessions
    server.extensions[SKILLS_EXTENSION] = {}  # skill:// resources in the SEP-2640 shape
    server.detach = live.add_listener(hub.on_delta)
    return server


def _new_server(h: _Handlers, name: str, instructions: str) -> SkillzServer:
    return SkillzServer(
        name,
        version=__version__,
        instructions=instructions,
        on_list_tools=h.list_tools,
        on_call_tool=h.call_tool,
        on_list_resources=h.list_resources,
        on_list_resource_templates=h.list_templates,
        on_read_resource=h.read_resource,
        on_subscribe_resource=h.subscribe,
        on_unsubscribe_resource=h.unsubscribe,
        on_list_prompts=h.list_prompts,
        on_get_prompt=h.get_prompt,
        on_completion=h.complete,
        on_set_logging_level=h.set_level,
        on_subscriptions_listen=ListenHandler(h.hub.bus),
    )


def debounce_ms(tree: Tree, default: int = 50) -> int:
    """``watch.debounce`` of the tree config in milliseconds (``"50ms"``, ``0.2``, ...)."""
    value = tree.config.get("watch", "debounce")
    if value is None:
        return default
    try:
        return max(1, round(parse_duration(value) * 1000))
    except ValueError:
        return default


def stdio_audit(tree: Tree) -> AuditLog | None:
    """The audit log in the state dir, or ``None`` (one warning on stderr) when it cannot be made."""
    store = Store(tree.state_dir)
    try:
        store.ensure()
    except OSError as exc:
        print(
            f"skillz-engine: warning: no audit log ({store.path} cannot be created: {exc})",
            file=sys.stderr,
            flush=True,
        )
        return None
    return store.audit_log()


async def serve_stdio(tree: Tree, *, watch: bool = True) -> None:
    """Serve ``tree`` on stdin/stdout until the client closes it; the watcher runs all along."""
    from mcp.server.stdio import stdio_server

    reloader = Reloader(tree)
    live = await reloader.start()
    server = build_server(live, audit=stdio_audit(tree), engine=reloader, single_client=True)
    stop = anyio.Event()  # stops the watcher thread promptly (cancelling alone waits for its timeout)
    try:
        async with anyio.create_task_group() as tg:
            if watch:
                tg.start_soon(
                    reloader.run, watch_tree(tree.roots, debounce_ms=debounce_ms(tree), stop_event=stop)
                )
            try:
                async with stdio_server() as (read_stream, write_stream):
                    await server.run(read_stream, write_stream, server.create_initialization_options())
            finally:
                stop.set()
                tg.cancel_scope.cancel()
    finally:
        server.detach()
        with anyio.CancelScope(shield=True):
            await server.parked.close()
            await live.close()
