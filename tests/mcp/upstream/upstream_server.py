"""A small upstream MCP server (SDK low-level, stdio) for the upstream tests.

``python upstream_server.py MODE [MARKER]``. MODE ``normal`` serves the tools below; ``exit``
exits at once; ``garbage`` prints what is not JSON and never answers; ``mute`` never answers
``initialize``. MARKER is a file the ``slow`` tool writes ``cancelled`` into when cancelled.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from typing import Any

import anyio
import mcp.types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
MODE = sys.argv[1] if len(sys.argv) > 1 else "normal"
MARKER = sys.argv[2] if len(sys.argv) > 2 else ""
OBJ: dict[str, Any] = {"type": "object"}
grown: list[str] = []


def text(s: str) -> list[types.ContentBlock]:
    return [types.TextContent(type="text", text=s)]


def tools() -> list[types.Tool]:
    return [
        types.Tool(
            name="echo",
            title="Echo",
            description="Echo text back",
            input_schema={
                "type": "object",
                "properties": {"text": {"type": "string"}, "loud": {"type": "boolean"}},
            },
            output_schema={
                "type": "object",
                "properties": {"echo": {"type": "string"}},
                "required": ["echo"],
            },
            annotations=types.ToolAnnotations(read_only_hint=True),
            icons=[types.Icon(src="https://example.com/echo.png", mime_type="image/png")],
            _meta={"example.com/tier": "gold"},
        ),
        types.Tool(name="grow", description="Add a tool and say so", input_schema=OBJ),
        types.Tool(name="die", description="Exit the process", input_schema=OBJ),
        types.Tool(name="slow", description="Progress and logs; cancellable", input_schema=OBJ),
        types.Tool(name="ask", description="Elicit a name", input_schema=OBJ),
        types.Tool(name="sample", description="Ask the client's model", input_schema=OBJ),
        types.Tool(name="env", description="One environment variable", input_schema=OBJ),
        *(types.Tool(name=n, description="grown", input_schema=OBJ) for n in grown),
    ]


async def list_tools(ctx: ServerRequestContext, params: Any) -> types.ListToolsResult:
    return types.ListToolsResult(tools=tools())


async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> types.CallToolResult:
    args = params.arguments or {}
    name = params.name
    if name == "echo":
        said = str(args.get("text", ""))
        said = said.upper() if args.get("loud") else said
        return types.CallToolResult(content=text(said), structured_content={"echo": said})
    if name == "grow":
        grown.append(f"grown_{len(grown) + 1}")
        await ctx.session.send_tool_list_changed()
        return types.CallToolResult(content=text(grown[-1]))
    if name == "die":
        os._exit(3)
    if name == "slow":
        try:
            for i in range(50):
                await ctx.session.report_progress(i + 1, 50, f"step {i + 1}")
                await ctx.session.send_log_message("info", f"slow step {i + 1}", logger="up")
                await anyio.sleep(0.1)
        except anyio.get_cancelled_exc_class():
            if MARKER:
                with open(MARKER, "w") as f:
                    f.write("cancelled")
            raise
        return types.CallToolResult(content=text("done"))
    if name == "ask":
        schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
        r = await ctx.session.elicit_form("Your name?", schema, related_request_id=ctx.request_id)
        return types.CallToolResult(content=text(f"{r.action}:{(r.content or {}).get('name')}"))
    if name == "sample":
        msgs = [types.SamplingMessage(role="user", content=types.TextContent(type="text", text="Say hi"))]
        m = await ctx.session.create_message(messages=msgs, max_tokens=20, related_request_id=ctx.request_id)
        assert isinstance(m.content, types.TextContent)
        return types.CallToolResult(content=text(f"{m.model}:{m.content.text}"))
    if name == "env":
        return types.CallToolResult(content=text(json.dumps(dict(os.environ), sort_keys=True)))
    raise MCPError(code=types.INVALID_PARAMS, message=f"unknown tool {name}")


async def list_prompts(ctx: ServerRequestContext, params: Any) -> types.ListPromptsResult:
    arg = types.PromptArgument(name="who", required=True)
    return types.ListPromptsResult(prompts=[types.Prompt(name="greet", description="Greet", arguments=[arg])])


async def get_prompt(
    ctx: ServerRequestContext, params: types.GetPromptRequestParams
) -> types.GetPromptResult:
    who = (params.arguments or {}).get("who", "world")
    msg = types.PromptMessage(role="user", content=types.TextContent(type="text", text=f"Greet {who}"))
    return types.GetPromptResult(messages=[msg])


async def list_resources(ctx: ServerRequestContext, params: Any) -> types.ListResourcesResult:
    return types.ListResourcesResult(
        resources=[types.Resource(uri="up://note", name="note", mime_type="text/plain")]
    )


async def list_templates(ctx: ServerRequestContext, params: Any) -> types.ListResourceTemplatesResult:
    tpl = types.ResourceTemplate(uri_template="up://items/{id}", name="item")
    return types.ListResourceTemplatesResult(resource_templates=[tpl])


async def read_resource(
    ctx: ServerRequestContext, params: types.ReadResourceRequestParams
) -> types.ReadResourceResult:
    uri = str(params.uri)
    return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, text=f"read {uri}")])


class Upstream(Server):
    def create_initialization_options(self, notification_options: Any = None, *a: Any, **k: Any) -> Any:
        opts = notification_options or NotificationOptions(tools_changed=True)
        return super().create_initialization_options(opts, *a, **k)


async def main() -> None:
    if MODE == "exit":
        print("cannot start: no configuration", file=sys.stderr)
        sys.exit(2)
    if MODE in ("garbage", "mute"):
        if MODE == "garbage":
            print("Hello! I am not an MCP server.", flush=True)
        time.sleep(3600)
    server = Upstream(
        "upstream-test",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )
    async with stdio_server() as (r, w):
        await server.run(r, w, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
