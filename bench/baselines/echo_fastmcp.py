"""FastMCP 4.x server with one ``echo`` tool: stdio, or ``python echo_fastmcp.py PORT`` for HTTP."""

from __future__ import annotations

import sys

from fastmcp import FastMCP

mcp = FastMCP("echo-fastmcp")


@mcp.tool
def echo(text: str) -> str:
    """Echo text back"""
    return text


if __name__ == "__main__":
    if len(sys.argv) > 1:  # Streamable HTTP at /mcp
        mcp.run(
            transport="http", host="127.0.0.1", port=int(sys.argv[1]), show_banner=False, log_level="warning"
        )
    else:
        mcp.run(show_banner=False)
