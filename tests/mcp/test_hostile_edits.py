"""A hostile edit never takes the server down (issue 15 item 2): while a batch of YAML alias bombs
is read, a real MCP client keeps getting answers, memory stays bounded, and afterwards the bombs
are diagnostics and the rest is served as before."""

from __future__ import annotations

from pathlib import Path

import anyio
import psutil  # type: ignore[import-untyped]
import pytest
from mcp import Client

from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

ECHO = "kind: command\ndescription: echo\nargv: [echo, hi]\n"


def _bomb() -> str:
    lols = ",".join(['"lol"'] * 9)
    lines = ["kind: command", "description: x", "argv: [echo]", f"a0: &a0 [{lols}]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


async def test_alias_bombs_while_a_client_is_served(tmp_path: Path) -> None:
    write(tmp_path / "tools/echo/manifest.yaml", ECHO)
    process = psutil.Process()
    async with served([tmp_path]) as (engine, server), Client(server.server) as client:
        assert "echo" in [t.name for t in (await client.list_tools()).tools]
        rss_before = process.memory_info().rss
        bombs = [write(tmp_path / f"tools/bomb{i}/manifest.yaml", _bomb()) for i in range(8)]
        waits: list[float] = []
        done = anyio.Event()

        async def client_keeps_asking() -> None:
            while not done.is_set():
                t0 = anyio.current_time()
                listed = await client.list_tools()
                waits.append(anyio.current_time() - t0)
                assert "echo" in [t.name for t in listed.tools]
                await anyio.sleep(0.01)  # a client, not a busy loop: the parse thread needs the GIL too

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client_keeps_asking)
                t0 = anyio.current_time()
                await engine.apply(bombs)
                took = anyio.current_time() - t0
                done.set()
        assert len(waits) > 1 and max(waits) < max(took / 2, 0.05)
        assert process.memory_info().rss - rss_before < 256 << 20
        snap = engine.live.current
        assert sum(d.code == "SKZ009" for d in snap.diagnostics) == 8
        result = await client.call_tool("echo", {})
        assert not result.is_error
