"""``tools/list`` without a pydantic model per tool per answer: the SDK shapes the envelope, the
engine puts its tools in.

The SDK validates every result against the client's protocol version before sending it: for a
listing that is one validation and one dump of every tool, on every ``tools/list``. With 10,000
tools that was most of the first answer's time and ~40 MiB of short-lived objects, on definitions
the engine has already checked (each comes from a manifest validated against its schema, a
built-in, or an upstream's listing the SDK client validated), and which
``tests/mcp/test_listing.py`` shows the SDK's check leaves unchanged in both protocol eras.

So the handler answers an empty listing, which the SDK handles as any result (the handshake gate,
the params check, the envelope each era requires: ``resultType``, ``ttlMs``, the 2026-07-28
``serverInfo`` stamp), and :func:`fill_tools`, a middleware around it, swaps in the tools the
handler put aside for this request. Any failure before that is the SDK's, unchanged.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

_listed: ContextVar[list[dict[str, Any]] | None] = ContextVar("skillz_listed_tools", default=None)


def put_aside(tools: list[dict[str, Any]]) -> None:
    """The tools of the ``tools/list`` answer being made in this request (see the module doc)."""
    _listed.set(tools)


async def fill_tools(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Middleware: the SDK's shaped ``tools/list`` answer with the handler's tools in it."""
    if ctx.method != "tools/list":
        return await call_next(ctx)
    token = _listed.set(None)
    try:
        result = await call_next(ctx)
        tools = _listed.get()
    finally:
        _listed.reset(token)
    if tools is not None and isinstance(result, dict) and result.get("tools") == []:
        result = {**result, "tools": tools}
    return result
