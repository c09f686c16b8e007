"""SSE polling (SEP-1699) for long 2025-11-25 tool calls over Streamable HTTP.

Why: a ``tools/call`` answered on a POST SSE stream holds that HTTP response open for as long as
the tool runs, and proxies and load balancers cut responses held too long. The 2025-11-25
revision lets the server close the stream instead: every such stream opens with a priming event
(an event id and ``retry``, :mod:`.events`), so the client reconnects with ``GET`` and
``Last-Event-ID`` after the delay, the event store replays what it missed and the rest of the
answer (logs, progress, the result) follows on the resumed stream.

With ``http.streamPollAfter`` set, :class:`StreamPolling` (a server middleware) closes the
response stream of a handshake-era ``tools/call`` still running after that long, once; the tool
runs on undisturbed. The SDK offers the close only where it can be resumed: HTTP with an event
store and a 2025-11-25 session (older revisions have no priming event, 2026-07-28 has no
resumption); elsewhere, and without the setting, nothing changes.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from skillz_engine.engine import Engine
from skillz_engine.units import parse_duration

log = logging.getLogger("skillz_engine.mcp.server")


class StreamPolling:
    """Closes a long 2025-11-25 ``tools/call``'s SSE stream after ``http.streamPollAfter``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        after = self.engine.config.http.stream_poll_after
        close = ctx.close_sse_stream
        if after is None or close is None or ctx.method != "tools/call":
            return await call_next(ctx)
        delay = parse_duration(after)

        async def close_later() -> None:
            await anyio.sleep(delay)
            log.debug("closing the SSE stream of request %r (the client resumes it)", ctx.request_id)
            await close()

        async with anyio.create_task_group() as tg:
            tg.start_soon(close_later)
            try:
                result = await call_next(ctx)
            finally:
                tg.cancel_scope.cancel()
        return result
