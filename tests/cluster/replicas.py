"""Real replicas for the cluster tests: ``serve --redis`` processes on one tree, each with its own
state directory, and the clients of both eras that talk to them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.mcp_helpers import Inbox, write
from tests.redis_helpers import RedisServer
from tests.served_process import ServerProcess, start_server

ECHO = """kind: command
description: Echoes its text
argv: ["python3", "-c", "import sys; print(sys.argv[1])", "{text}"]
inputSchema: {type: object, properties: {text: {type: string}}, required: [text]}
"""


def tree(root: Path) -> Path:
    write(root / "tools" / "echo" / "manifest.yaml", ECHO)
    return root


@contextmanager
def replicas(root: Path, redis: RedisServer, n: int = 2, *args: str) -> Iterator[list[ServerProcess]]:
    """``n`` replicas of ``root`` on ``redis``, without file watchers: whatever one replica learns
    of another's change, it learns through Redis."""

    def start(i: int) -> ServerProcess:
        state, log = root.parent / f"state-{i}", root.parent / f"replica-{i}.log"
        return start_server(root, "--redis", redis.url, "--no-watch", *args, log=log, state=state)

    with ThreadPoolExecutor(n) as pool:  # started side by side: each takes seconds on a busy machine
        futures = [pool.submit(start, i) for i in range(n)]
    started = [f.result() for f in futures if f.exception() is None]
    try:
        for f in futures:
            f.result()  # the first failure to start, with its log
        yield started
    finally:
        for server in started:
            server.stop()


def auth(server: ServerProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def health(server: ServerProcess) -> dict[str, Any]:
    response = httpx2.get(server.base + "/health", timeout=10)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


async def wait_health(server: ServerProcess, state: str, timeout: float = 15) -> dict[str, Any]:
    """``/health`` once it reports Redis in ``state`` ("connected", "down")."""
    with anyio.fail_after(timeout):
        while True:
            data = health(server)
            if data["redis"]["state"] == state:
                return data
            await anyio.sleep(0.1)


@asynccontextmanager
async def legacy(server: ServerProcess) -> AsyncIterator[tuple[ClientSession, Inbox]]:
    """A 2025-11-25 client session on ``server``, its notifications collected in the inbox."""
    inbox = Inbox()
    async with (
        httpx2.AsyncClient(headers=auth(server), timeout=httpx2.Timeout(30, read=300)) as http,
        streamable_http_client(server.url, http_client=http) as (r, w),
        ClientSession(r, w, message_handler=inbox.handler) as session,
    ):
        await session.initialize()
        yield session, inbox


@asynccontextmanager
async def modern(server: ServerProcess) -> AsyncIterator[Client]:
    """A 2026-07-28 client on ``server``."""
    async with (
        httpx2.AsyncClient(headers=auth(server), timeout=httpx2.Timeout(30, read=300)) as http,
        Client(streamable_http_client(server.url, http_client=http)) as client,
    ):
        yield client


def is_tools_changed(message: Any) -> bool:
    return getattr(message, "method", None) == "notifications/tools/list_changed"


def text(result: types.CallToolResult) -> str:
    return "".join(b.text for b in result.content if isinstance(b, types.TextContent))


def structured(result: types.CallToolResult) -> Any:
    assert not result.is_error, text(result)
    return result.structured_content if result.structured_content is not None else json.loads(text(result))
