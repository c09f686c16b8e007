"""The stdio transport: one engine served to the one client that launched the process.

Rules: the client owns stdin/stdout (nothing else may write there; warnings go to stderr); the
server serves a single client, so 2026-07-28 requests share one set of skill activations; the
engine's watcher runs all along (it belongs to the engine, opened by the caller).
"""

from __future__ import annotations

from mcp.server.stdio import stdio_server

from skillz_engine.engine import Engine
from skillz_engine.mcp.server import build_server


async def serve_stdio(engine: Engine) -> None:
    """Serve ``engine`` on stdin/stdout until the client closes it."""
    mcp = build_server(engine, single_client=True)
    try:
        async with stdio_server() as (read_stream, write_stream):
            await mcp.server.run(read_stream, write_stream, mcp.server.create_initialization_options())
    finally:
        await mcp.close()
