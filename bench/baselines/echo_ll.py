"""Bare low-level SDK server (mcp 2.x) with one ``echo`` tool, over stdio.

``python echo_ll.py`` serves stdio; ``python echo_ll.py --http PORT`` serves Streamable HTTP at
``http://127.0.0.1:PORT/mcp`` (``Server.streamable_http_app()`` under uvicorn, stateful, SSE).
"""

from __future__ import annotations

import sys

import anyio
import mcp.types as types
from mcp.server import Server

TOOL = types.Tool(
    name="echo",
    description="echo",
    input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)


async def list_tools(ctx: object, params: object) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[TOOL])


async def call_tool(ctx: object, params: types.CallToolRequestParams) -> types.CallToolResult:
    text = str((params.arguments or {}).get("text", ""))
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


server = Server("echo-ll", version="0.1", on_list_tools=list_tools, on_call_tool=call_tool)


async def main() -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (r, w):
        await server.run(r, w, server.create_initialization_options())


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--http":
        import uvicorn

        app = server.streamable_http_app()
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        anyio.run(main)
