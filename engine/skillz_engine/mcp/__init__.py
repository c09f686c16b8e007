"""The MCP adapter: the only package that imports `mcp`. It receives an Engine and never builds one."""

from __future__ import annotations
