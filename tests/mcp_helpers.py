"""Helpers shared by the MCP-level tests (server, HTTP, examples)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from skillz_engine.engine import Engine, EngineOptions
from skillz_engine.mcp.server import McpServer, build_server

# every built-in tool in the order tools/list shows them (the catalog's order), for tests that
# check the exact listing: one list to extend when a built-in is added
BUILTIN_TOOL_NAMES = [
    "list_tools",
    "search_tools",
    "call_tool",
    "activate_skill",
    "deactivate_skill",
    "suggest_skill",
    "memory",
    "register_script",
    "build_tool",
    "add_skill_repo",
    "import_mcp",
    "import_tool",
    "pipeline",
    "delete_tool",
    "version",
    "services",
    "execute_code",
]


@asynccontextmanager
async def served(
    roots: Sequence[Path], options: EngineOptions | None = None, *, single_client: bool = False
) -> AsyncIterator[tuple[Engine, McpServer]]:
    """``roots`` served in process as ``serve`` does: an engine and its MCP server, closed after."""
    async with Engine.open(roots, options) as engine:
        server = build_server(engine, single_client=single_client)
        try:
            yield engine, server
        finally:
            await server.close()


class Inbox:
    """Collects notifications / events and lets a test wait for one matching a predicate."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = anyio.Event()

    def put(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()
        self._changed = anyio.Event()

    async def handler(self, message: Any) -> None:
        if not isinstance(message, Exception):
            self.put(message)

    async def wait_for(self, pred: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        with anyio.fail_after(timeout):
            while True:
                changed = self._changed
                for item in self.items:
                    if pred(item):
                        return item
                await changed.wait()

    def clear(self) -> None:
        self.items.clear()


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, creating its parents; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
