"""The MCP request handlers: every request reads one snapshot, start to end.

Rules of the adapter, as far as requests go:

* a handler takes :meth:`LiveRegistry.reading` once and reads only that snapshot, so a reload in the
  middle of a request never shows it half of two trees;
* tools always run through :func:`~skillz_engine.runtimes.base.run_tool`, so a tool's own failure is
  an ``isError`` result, never a protocol error; an unknown tool, prompt or resource is one;
* every ``tools/call`` (nested calls included) is one audit line, written by the engine;
* handshake-era clients have a connection: their skill activations live as long as it does. A
  2026-07-28 request has none; over stdio (``single_client``) the one client's state is the
  process's, over HTTP there is none, and questions to the client become input-required rounds
  (:mod:`skillz_engine.mcp.parked`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio
import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.engine import Engine
from skillz_engine.errors import RuntimeFailure, ToolNotFound
from skillz_engine.live.disclosure import active_skills
from skillz_engine.live.sessions import Activations, SessionStore
from skillz_engine.mcp import listing, tasks, wire
from skillz_engine.mcp.fanout import Hub, ServerCallContext, connection_of, session_label, set_log_level
from skillz_engine.mcp.parked import ParkedCall, ParkedCalls, run_parked
from skillz_engine.mcp.parked_context import ParkingCallContext
from skillz_engine.runtimes.base import run_tool
from skillz_engine.tree.model import ResourceDef, ToolResult

Ctx = ServerRequestContext[Any, Any]
Page = types.PaginatedRequestParams | None
RESOURCE_NOT_FOUND = -32002  # handshake-era code; 2026-07-28 uses INVALID_PARAMS
MAX_COMPLETIONS = 100


def is_modern(ctx: Ctx) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def not_found(ctx: Ctx, message: str, uri: str) -> MCPError:
    """Resource not found: -32602 on 2026-07-28 (-32002 before), with the URI in ``data`` (SEP-2164)."""
    code = types.INVALID_PARAMS if is_modern(ctx) else RESOURCE_NOT_FOUND
    return MCPError(code=code, message=message, data={"uri": uri})


def error_of(result: ToolResult) -> str | None:
    return (result.text_content() or "error") if result.is_error else None


class Handlers:
    """The request handlers of one MCP server over one :class:`~skillz_engine.engine.Engine`."""

    def __init__(self, engine: Engine, hub: Hub, single_client: bool = False) -> None:
        self.engine, self.live, self.hub = engine, engine.live, hub
        self.parked = ParkedCalls()
        self.tasks = tasks.TaskStore(self.parked, engine.state_dir)
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
        key = session_label(ctx)
        session = ctx.session

        async def notify() -> None:
            await session.send_tool_list_changed()

        act, created = self.sessions.get(key, notify)
        if created:
            connection_of(ctx).exit_stack.callback(self.sessions.drop, key)
        return act

    # ------------------------------------------------------------------ tools

    def tool_listing(self, ctx: Ctx) -> list[dict[str, Any]]:
        """The tools this client is shown now (see :func:`wire.tool_listing`)."""
        with self.live.reading() as snap:
            active = None
            if snap.config.disclosure == "skills":
                act = self.activations(ctx)
                active = active_skills(snap, act.explicit) if act is not None else None
            return wire.tool_listing(snap, active)

    async def list_tools(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> dict[str, Any]:
        """An empty listing for the SDK to shape; :func:`listing.fill_tools` puts the tools in."""
        listing.put_aside(self.tool_listing(ctx))
        return wire.listing_result([])

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        """A tool's input schema by name, for the SDK's ``Mcp-Param-*`` header check on
        2026-07-28 HTTP calls (without it the SDK runs a whole ``tools/list`` per call)."""
        tool = self.live.current.tools.get(name)
        return tool.input_schema if tool is not None else None

    def _audit(self, ctx: Ctx, snap: Snapshot, method: str, tool: str, t0: float, error: str | None) -> None:
        session = session_label(ctx, fallback=not is_modern(ctx))
        self.engine.record(snap, method, tool, t0, error, session)

    async def call_tool(
        self, ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult | dict[str, Any]:
        start = time.perf_counter()
        with self.live.reading() as snap:
            tool = snap.tools.get(params.name)
            if tool is None:
                hint = "" if snap.suggest(params.name) else " Use search_tools to find the right one."
                message = str(ToolNotFound(params.name, snap.suggest(params.name))) + hint
                self._audit(ctx, snap, "tools/call", params.name, start, message)
                raise MCPError(code=types.INVALID_PARAMS, message=message)

            def nested(name: str, t0: float, r: ToolResult) -> None:
                self._audit(ctx, snap, "tools/call (nested)", name, t0, error_of(r))

            try:
                activations = self.activations(ctx)
                if is_modern(ctx):  # questions to the client become input-required rounds (parked.py)
                    taskable = self._taskable(ctx, tool.name, tool.task)
                    invoker = self._parked_invoker(params, nested, activations)
                    outcome = await run_parked(
                        self.parked,
                        ctx,
                        params,
                        invoker,
                        within=tasks.SHORTCUT if taskable else math.inf,
                        keep_finished=taskable and tool.task == "required",
                    )
                    if isinstance(outcome, ParkedCall):  # still running (or must be a task): a task
                        self._audit(ctx, snap, "tools/call (task)", tool.name, start, None)
                        return tasks.create_result(self.tasks, outcome)
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
            except MCPError as exc:  # -32021 (a missing capability or extension), a stale request state
                self._audit(
                    ctx, snap, "tools/call", tool.name, start, f"{exc.error.code}: {exc.error.message}"
                )
                raise
            self._audit(ctx, snap, "tools/call", tool.name, start, error_of(result))
            return wire.tool_result(result)

    def _taskable(self, ctx: Ctx, name: str, support: str | None) -> bool:
        """Whether this call may become a task (Tasks extension); ``-32021`` for a tool that must
        be one when the request did not declare the extension."""
        declared = tasks.declares_tasks(ctx)
        if support == "required" and not declared:
            raise tasks.missing_extension(f"tool {name!r}")
        return declared and support != "forbidden"

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
            return types.ListResourcesResult(resources=[wire.resource(r) for r in resources])

    async def list_templates(self, ctx: Ctx, params: Page) -> types.ListResourceTemplatesResult:
        with self.live.reading() as snap:
            return types.ListResourceTemplatesResult(
                resource_templates=[wire.template(t) for t in snap.templates]
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
                        raise not_found(
                            ctx, f"unknown resource {uri!r}; resources/list shows what exists", uri
                        )
                    tpl, variables = found
                    contents = await tpl.read(uri, variables, snap)
            except (KeyError, FileNotFoundError, PermissionError) as exc:
                reason = exc.args[0] if exc.args else type(exc).__name__
                raise not_found(ctx, f"resource {uri!r} not found: {reason}", uri) from None
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
            return types.ListPromptsResult(prompts=[wire.prompt(p) for p in snap.prompts.values()])

    async def get_prompt(
        self, ctx: Ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
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
            if p.asks and is_modern(ctx):  # a script that may ask: input-required rounds (parked.py)
                outcome = await run_parked(self.parked, ctx, params, self._prompt_invoker(params))
                if isinstance(outcome, types.InputRequiredResult):
                    return outcome
                assert isinstance(outcome, ToolResult)  # run_parked returns a call only when asked to
                if outcome.is_error:
                    message = outcome.text_content()
                    raise MCPError(code=types.INTERNAL_ERROR, message=message)
                return types.GetPromptResult.model_validate(
                    {**({"description": p.description} if p.description else {}), **outcome.structured}
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

    def _prompt_invoker(
        self, params: types.GetPromptRequestParams
    ) -> Callable[[ParkedCall], Awaitable[ToolResult]]:
        """A modern ``prompts/get`` of a prompt that can ask, run as a parked call: its messages come
        back as the ``structured`` part of the call's result."""

        async def invoke(call: ParkedCall) -> ToolResult:
            with self.live.reading() as snap:
                prompt = snap.prompts.get(params.name)
                if prompt is None:
                    return ToolResult.error(f"unknown prompt {params.name!r}")
                context = ParkingCallContext(call, snap, prompt.name, 0, None, self.engine)
                try:
                    messages = await prompt.render(dict(params.arguments or {}), context)
                except (ValueError, RuntimeFailure) as exc:
                    return ToolResult.error(str(exc))
                return ToolResult((), structured={"messages": messages})

        return invoke

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
        await self.hub.greet(ctx, self.engine.snapshot)
