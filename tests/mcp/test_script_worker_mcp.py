"""Persistent script workers through real MCP clients of both eras: client questions (elicitation,
sampling, roots) from a worker, call after call in one process; a client's cancellation kills the
worker; a sandboxed worker works; shutdown leaves no worker process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import psutil  # type: ignore[import-untyped]
import pytest
from mcp import Client

from skillz_engine.engine import EngineOptions
from tests.conftest import require
from tests.mcp.test_script_protocol_mcp import CALLBACKS, MODES, gone
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

# the one-shot ASK script of test_script_protocol_mcp as a worker: a loop over request lines
ASK = """import json, os, sys, time
def send(m): print(json.dumps(m), flush=True)
def ask(rid, method, params):
    send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
    return json.loads(sys.stdin.readline())
n = 0
for line in sys.stdin:
    req = json.loads(line)
    n += 1
    if req["params"]["arguments"].get("hang"):
        time.sleep(100)
    name = ask(100, "elicitation/create", {"message": "Your name?", "requestedSchema": {
        "type": "object", "properties": {"name": {"type": "string"}}}})
    send({"jsonrpc": "2.0", "method": "progress/update", "params": {"current": n, "total": 3}})
    sample = ask(101, "sampling/createMessage", {
        "messages": [{"role": "user", "content": {"type": "text", "text": "Say hi"}}], "maxTokens": 20})
    roots = ask(102, "roots/list", {})
    send({"jsonrpc": "2.0", "id": req["id"], "result": {
        "name": name, "sample": sample, "roots": roots, "pid": os.getpid(), "n": n}})
"""


def tree(tmp_path: Path, sandbox: str = "none") -> Path:
    root = tmp_path / "tree"
    manifest = "kind: script\ndescription: Asks the client\nentry: main.py\nworker: {max: 1}\n"
    manifest += f"sandbox: {sandbox}\n"
    write(root / "tools" / "ask" / "manifest.yaml", manifest)
    write(root / "tools" / "ask" / "main.py", ASK)
    return root


def payload(result: types.CallToolResult) -> Any:
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return json.loads(block.text)


def workers() -> list[psutil.Process]:
    """This test process's children running the worker script."""
    return [p for p in psutil.Process().children(recursive=True) if "main.py" in " ".join(p.cmdline())]


@pytest.mark.parametrize("mode", MODES)
async def test_client_questions_reach_a_worker_call_after_call(tmp_path: Path, mode: str) -> None:
    """2025-11-25 (server requests) and 2026-07-28 (input-required rounds, the worker parked
    meanwhile): the same worker process asks, gets its answers, and answers two calls."""
    async with (
        served([tree(tmp_path)]) as (_, server),
        Client(server.server, mode=mode, **CALLBACKS) as c,
    ):
        first = payload(await c.call_tool("ask", {}))
        second = payload(await c.call_tool("ask", {}))
        assert first["name"]["result"] == {"action": "accept", "content": {"name": "Ada"}}
        assert second["sample"]["result"]["content"] == {"type": "text", "text": "model says: Say hi"}
        assert second["roots"]["result"]["roots"][0]["uri"] == "file:///tmp/client-project"
        assert first["pid"] == second["pid"] and (first["n"], second["n"]) == (1, 2)
        assert server.parked.calls == {}
    assert await gone(first["pid"], 2.0)


@pytest.mark.parametrize("mode", MODES)
async def test_client_cancellation_kills_the_worker(tmp_path: Path, mode: str) -> None:
    async with served([tree(tmp_path)]) as (_, server), Client(server.server, mode=mode, **CALLBACKS) as c:
        pid = payload(await c.call_tool("ask", {}))["pid"]
        with anyio.move_on_after(1.0) as scope:
            await c.call_tool("ask", {"hang": True})
        assert scope.cancelled_caught
        assert await gone(pid, 1.5)
        assert payload(await c.call_tool("ask", {}))["pid"] != pid


async def test_a_sandboxed_worker_serves_and_shutdown_leaves_no_process(tmp_path: Path) -> None:
    """Under bubblewrap (sandbox: bwrap) the worker runs in the sandbox; after the server closes
    no process of it is left."""
    require("bwrap", "the sandboxed worker")
    async with (
        served([tree(tmp_path, "bwrap")], EngineOptions(watch=False)) as (_, server),
        Client(server.server, mode="legacy", **CALLBACKS) as c,
    ):
        a = payload(await c.call_tool("ask", {}))
        b = payload(await c.call_tool("ask", {}))
        assert a["pid"] == b["pid"] and b["n"] == 2
        running = workers()
        assert running
    _, alive = psutil.wait_procs(running, timeout=3)
    assert not alive
