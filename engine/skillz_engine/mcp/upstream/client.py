"""The SDK side of one upstream connection: listing it, and the requests relayed both ways.

Imported when an upstream connects (never by ``validate`` or a start with lazy upstreams only), so
the SDK's client loads only when the engine actually talks to an upstream.

* :func:`list_all`: every page of tools, prompts, resources and templates, as MCP JSON, and a
  subscription to each resource, so the upstream's ``resources/updated`` reach the engine;
* :class:`Relay`: the client callbacks of a connection and the calls made through it. Progress,
  log messages, sampling, elicitation and roots requests of the upstream go to the downstream call
  that is running (through its call context, which turns questions into input-required rounds on
  2026-07-28 connections); requests that name no call (stdio carries no link) go to the latest
  call in flight. Cancelling the downstream request cancels the awaiting SDK call, which sends the
  upstream ``notifications/cancelled``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import mcp.types as types
from mcp import ClientSession
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.mcp.upstream.listing import Listing
from skillz_engine.tree.model import ToolResult

log = logging.getLogger("skillz_engine.mcp.upstream")


def _json(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = model.model_dump(by_alias=True, mode="json", exclude_none=True)
    return out


async def list_all(session: ClientSession, subscribed: set[str]) -> Listing:
    """Everything the upstream lists (every page); resources not in ``subscribed`` yet are
    subscribed to (and added) when the upstream supports subscriptions."""
    caps = session.initialize_result.capabilities if session.initialize_result else None
    tools: list[dict[str, Any]] = []
    prompts: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []

    def page(cursor: str | None) -> types.PaginatedRequestParams:
        return types.PaginatedRequestParams(cursor=cursor)

    if caps is None or caps.tools is not None:
        cursor = None
        while True:
            tp = await session.list_tools(params=page(cursor))
            tools += [_json(t) for t in tp.tools]
            if not (cursor := tp.next_cursor):
                break
    if caps is not None and caps.prompts is not None:
        cursor = None
        while True:
            pp = await session.list_prompts(params=page(cursor))
            prompts += [_json(p) for p in pp.prompts]
            if not (cursor := pp.next_cursor):
                break
    if caps is not None and caps.resources is not None:
        cursor = None
        while True:
            rp = await session.list_resources(params=page(cursor))
            resources += [_json(r) for r in rp.resources]
            if not (cursor := rp.next_cursor):
                break
        cursor = None
        while True:
            rt = await session.list_resource_templates(params=page(cursor))
            templates += [_json(t) for t in rt.resource_templates]
            if not (cursor := rt.next_cursor):
                break
        if caps.resources.subscribe:
            await _subscribe(session, [str(r["uri"]) for r in resources if "uri" in r], subscribed)
    return Listing(tuple(tools), tuple(prompts), tuple(resources), tuple(templates))


async def _subscribe(session: ClientSession, uris: list[str], subscribed: set[str]) -> None:
    """Subscribe to the upstream's resources, so its ``resources/updated`` reach the engine's
    subscribers (a new snapshot whose resource digest changed is what the fan-out announces)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)  # deprecated on 2026-07-28 only
        for uri in uris:
            if uri in subscribed:
                continue
            try:
                await session.subscribe_resource(uri)
            except MCPError as exc:
                log.info("an upstream refused a subscription to %s: %s", uri, exc)
            subscribed.add(uri)


class Relay:
    """The callbacks of one upstream's client sessions and the requests made through them.

    ``notify`` receives the upstream's notifications that are not about a call (``list_changed``,
    ``resources/updated``)."""

    def __init__(self, notify: Callable[[str, Any], None]) -> None:
        self._notify = notify
        self._calls: list[CallContext] = []  # downstream calls in flight (latest last)

    @property
    def busy(self) -> bool:
        return bool(self._calls)

    def open(self, read: Any, write: Any, timeout: float) -> ClientSession:
        """A client session over ``read``/``write`` with this relay's callbacks (enter it)."""
        return ClientSession(
            read,
            write,
            read_timeout_seconds=timeout,
            message_handler=self._on_message,
            logging_callback=self._on_log,
            sampling_callback=self._on_sampling,
            elicitation_callback=self._on_elicit,
            list_roots_callback=self._on_roots,
        )

    # ----------------------------------------------------------------- from the upstream

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            return
        root = getattr(message, "root", message)
        method = str(getattr(root, "method", ""))
        if method.endswith("/list_changed"):
            self._notify(method, None)
        elif method == "notifications/resources/updated":
            self._notify(method, str(root.params.uri))

    def _caller(self) -> CallContext | None:
        return self._calls[-1] if self._calls else None

    async def _on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        ctx = self._caller()
        if ctx is not None:
            await ctx.log(params.level, params.data, params.logger)

    async def _on_sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData:
        ctx = self._caller()
        if ctx is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message="no call in flight to ask")
        try:
            return types.CreateMessageResult.model_validate(await ctx.sample(_json(params)))
        except RuntimeFailure as exc:
            return types.ErrorData(code=types.INVALID_REQUEST, message=str(exc))

    async def _on_elicit(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        ctx = self._caller()
        if ctx is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message="no call in flight to ask")
        try:
            return types.ElicitResult.model_validate(await ctx.elicit(_json(params)))
        except RuntimeFailure as exc:
            return types.ErrorData(code=types.INVALID_REQUEST, message=str(exc))

    async def _on_roots(self, context: ClientRequestContext) -> types.ListRootsResult | types.ErrorData:
        ctx = self._caller()
        try:
            roots = await ctx.list_roots() if ctx is not None else []
        except RuntimeFailure:
            roots = []
        return types.ListRootsResult.model_validate({"roots": roots})

    # ----------------------------------------------------------------- to the upstream

    async def call_tool(
        self,
        session: ClientSession,
        name: str,
        arguments: Mapping[str, Any],
        ctx: CallContext,
        timeout: float,
    ) -> ToolResult:
        """``tools/call`` upstream; an upstream error is ``isError``."""

        # always asked for: the downstream context knows whether its caller wants progress
        async def report(progress: float, total: float | None, message: str | None) -> None:
            await ctx.progress(progress, total, message)

        self._calls.append(ctx)
        try:
            result = await session.call_tool(name, dict(arguments), timeout, report)
        except MCPError as exc:
            return ToolResult.error(f"{ctx.tool_name}: the upstream answered an error: {exc}")
        finally:
            self._calls.remove(ctx)
        raw = _json(result)
        return ToolResult(
            tuple(raw.get("content", ())),
            raw.get("structuredContent"),
            bool(raw.get("isError", False)),
            raw.get("_meta"),
        )

    @staticmethod
    async def get_prompt(
        session: ClientSession, name: str, arguments: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        result = await session.get_prompt(name, {k: str(v) for k, v in arguments.items()})
        return [_json(m) for m in result.messages]

    @staticmethod
    async def read_resource(session: ClientSession, uri: str) -> list[dict[str, Any]]:
        result = await session.read_resource(uri)
        return [_json(c) for c in result.contents]
