"""The MCP side of one upstream connection: the handshake, listing it, and the requests relayed
both ways, as plain JSON over :class:`~skillz_engine.mcp.upstream.rpc.RpcSession`.

Imported when an upstream connects (never by ``validate`` or a start with lazy upstreams only).

* :func:`initialize`: the handshake-era ``initialize`` (every upstream speaks it; a 2026-07-28
  server answers it too), advertising sampling, elicitation and roots, which the engine forwards;
* :func:`list_all`: every page of tools, prompts, resources and templates, as MCP JSON, and a
  subscription to each resource, so the upstream's ``resources/updated`` reach the engine;
* :class:`Relay`: the upstream's requests and notifications, and the calls made to it. Progress,
  log messages, sampling, elicitation and roots requests of the upstream go to the downstream call
  that is running (through its call context, which turns questions into input-required rounds on
  2026-07-28 connections); requests that name no call (stdio carries no link) go to the latest
  call in flight. Cancelling the downstream request sends the upstream ``notifications/cancelled``
  (:meth:`RpcSession.request`). A ``tools/call`` result is passed through as the upstream wrote
  it (:attr:`ToolResult.trusted`): no model is built for it on the way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from skillz_engine import __version__
from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.mcp.upstream.listing import Listing
from skillz_engine.mcp.upstream.rpc import (
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    Json,
    RpcSession,
    UpstreamError,
)
from skillz_engine.tree.model import ToolResult

log = logging.getLogger("skillz_engine.mcp.upstream")

HANDSHAKE_VERSION = "2025-11-25"
CAPABILITIES: Json = {
    "sampling": {},
    "elicitation": {"form": {}, "url": {}},
    "roots": {"listChanged": True},
}


async def initialize(session: RpcSession, timeout: float) -> Json:
    """The handshake; the upstream's capabilities. The negotiated version is given to the channel
    (Streamable HTTP sends it as a header on every later request)."""
    from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS

    result = await session.request(
        "initialize",
        {
            "protocolVersion": HANDSHAKE_VERSION,
            "capabilities": CAPABILITIES,
            "clientInfo": {"name": "skillz-engine", "version": __version__},
        },
        timeout,
    )
    version = result.get("protocolVersion")
    if version not in HANDSHAKE_PROTOCOL_VERSIONS:
        raise UpstreamError(INVALID_REQUEST, f"Unsupported protocol version from the server: {version}")
    if hasattr(session.channel, "protocol_version"):
        session.channel.protocol_version = version
    await session.notify("notifications/initialized")
    caps = result.get("capabilities")
    return caps if isinstance(caps, dict) else {}


def _clean(item: Any) -> Json:
    """A listed definition without its ``null`` fields (absent, as MCP JSON has them)."""
    return {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else {}


async def _pages(session: RpcSession, method: str, key: str, timeout: float) -> list[Json]:
    out: list[Json] = []
    cursor = None
    while True:
        page = await session.request(method, {"cursor": cursor} if cursor else {}, timeout)
        items = page.get(key)
        out += [_clean(i) for i in items] if isinstance(items, list) else []
        cursor = page.get("nextCursor")
        if not cursor:
            return out


async def list_all(session: RpcSession, caps: Json, subscribed: set[str], timeout: float) -> Listing:
    """Everything the upstream lists (every page); resources not in ``subscribed`` yet are
    subscribed to (and added) when the upstream supports subscriptions."""
    tools = await _pages(session, "tools/list", "tools", timeout) if "tools" in caps else []
    prompts = await _pages(session, "prompts/list", "prompts", timeout) if "prompts" in caps else []
    resources: list[Json] = []
    templates: list[Json] = []
    res_caps = caps.get("resources")
    if isinstance(res_caps, dict):
        resources = await _pages(session, "resources/list", "resources", timeout)
        templates = await _pages(session, "resources/templates/list", "resourceTemplates", timeout)
        if res_caps.get("subscribe"):
            await _subscribe(session, [str(r["uri"]) for r in resources if "uri" in r], subscribed, timeout)
    return Listing(tuple(tools), tuple(prompts), tuple(resources), tuple(templates))


async def _subscribe(session: RpcSession, uris: list[str], subscribed: set[str], timeout: float) -> None:
    """Subscribe to the upstream's resources, so its ``resources/updated`` reach the engine's
    subscribers (a new snapshot whose resource digest changed is what the fan-out announces)."""
    for uri in uris:
        if uri in subscribed:
            continue
        try:
            await session.request("resources/subscribe", {"uri": uri}, timeout)
        except UpstreamError as exc:
            log.info("an upstream refused a subscription to %s: %s", uri, exc)
        subscribed.add(uri)


class Relay:
    """The upstream's requests and notifications on its connections, and the requests made to it.

    ``notify`` receives the upstream's notifications that are not about a call (``list_changed``,
    ``resources/updated``)."""

    def __init__(self, notify: Callable[[str, Any], None]) -> None:
        self._notify = notify
        self._calls: list[CallContext] = []  # downstream calls in flight (latest last)

    @property
    def busy(self) -> bool:
        return bool(self._calls)

    def open(self, channel: Any) -> RpcSession:
        """A session over ``channel`` answering with this relay (run its :meth:`RpcSession.run`)."""
        return RpcSession(channel, self._on_request, self._on_notify)

    # ----------------------------------------------------------------- from the upstream

    def _caller(self) -> CallContext | None:
        return self._calls[-1] if self._calls else None

    async def _on_notify(self, method: str, params: Json) -> None:
        if method.endswith("/list_changed"):
            self._notify(method, None)
        elif method == "notifications/resources/updated":
            self._notify(method, str(params.get("uri", "")))
        elif method == "notifications/message":
            ctx = self._caller()
            if ctx is not None:
                await ctx.log(str(params.get("level", "info")), params.get("data"), params.get("logger"))

    async def _on_request(self, method: str, params: Json) -> Json:
        ctx = self._caller()
        if method not in ("roots/list", "sampling/createMessage", "elicitation/create"):
            raise UpstreamError(METHOD_NOT_FOUND, f"Method not found: {method}")
        if ctx is None:
            # Roots too: an empty list would be kept by an upstream that asks once (server-everything
            # asks 350 ms after connecting); an error makes it ask again within a call, whose client
            # has the roots.
            raise UpstreamError(INVALID_REQUEST, "no call in flight to ask")
        if method == "roots/list":
            try:
                return {"roots": await ctx.list_roots()}
            except RuntimeFailure:
                return {"roots": []}
        try:
            if method == "sampling/createMessage":
                return await ctx.sample(params)
            return await ctx.elicit(params)
        except UpstreamError:
            raise
        except RuntimeFailure as exc:
            raise UpstreamError(INVALID_REQUEST, str(exc)) from None

    # ----------------------------------------------------------------- to the upstream

    async def call_tool(
        self,
        session: RpcSession,
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
            raw = await session.request(
                "tools/call", {"name": name, "arguments": dict(arguments)}, timeout, report
            )
        except UpstreamError as exc:
            return ToolResult.error(f"{ctx.tool_name}: the upstream answered an error: {exc}")
        finally:
            self._calls.remove(ctx)
        content = raw.get("content")
        return ToolResult(
            tuple(content) if isinstance(content, list) else (),
            raw.get("structuredContent"),
            raw.get("isError") is True,
            raw.get("_meta"),
            trusted=True,
        )

    @staticmethod
    async def get_prompt(
        session: RpcSession, name: str, arguments: Mapping[str, Any], timeout: float
    ) -> list[dict[str, Any]]:
        params = {"name": name, "arguments": {k: str(v) for k, v in arguments.items()}}
        result = await session.request("prompts/get", params, timeout)
        messages = result.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    @staticmethod
    async def read_resource(session: RpcSession, uri: str, timeout: float) -> list[dict[str, Any]]:
        result = await session.request("resources/read", {"uri": uri}, timeout)
        contents = result.get("contents")
        return [c for c in contents if isinstance(c, dict)] if isinstance(contents, list) else []
