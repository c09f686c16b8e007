"""SDK clients for the scenarios that need a real MCP session (calls, notifications, HTTP load)."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import AsyncIterator
from typing import Any

from bench.procs import server_env

warnings.filterwarnings("ignore", message=".*deprecated.*")


@contextlib.asynccontextmanager
async def stdio_session(argv: list[str], message_handler: Any = None) -> AsyncIterator[Any]:
    """An initialized ``ClientSession`` (2025-11-25 handshake) on a spawned stdio server."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=argv[0], args=argv[1:], env=server_env())
    with open(os.devnull, "w") as devnull:
        async with (
            stdio_client(params, errlog=devnull) as (r, w),
            ClientSession(r, w, message_handler=message_handler) as s,
        ):
            await s.initialize()
            yield s


@contextlib.asynccontextmanager
async def http_session(url: str, message_handler: Any = None) -> AsyncIterator[Any]:
    """An initialized ``ClientSession`` over Streamable HTTP (its own connection pool)."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    timeout = httpx2.Timeout(60, read=300)
    async with (
        httpx2.AsyncClient(timeout=timeout) as http,
        streamable_http_client(url, http_client=http) as (r, w),
        ClientSession(r, w, message_handler=message_handler) as s,
    ):
        await s.initialize()
        yield s


def result_text(result: Any) -> str:
    parts = [getattr(c, "text", "") for c in getattr(result, "content", [])]
    return "".join(p for p in parts if p)
