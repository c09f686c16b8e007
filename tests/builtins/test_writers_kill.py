"""kill -9 in the middle of writes, many times: the tree still validates, no entry is half
written, and every recorded version is whole.

A real server (``skillz-engine serve --transport http``, a subprocess) is driven by a real client
of each protocol era in turn, which calls the writers without pause: ``register_script``
overwrites, ``pipeline`` create, ``delete_tool``, ``version`` rollback. Meanwhile the test kills the
server with SIGKILL at a random moment, checks the tree, and serves the same tree again (so each
run also recovers from the last one's leftovers). A call still unanswered when the kill lands shows
the kill fell inside a write: most kills must.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from skillz_engine.state.history import History, digest
from tests.conftest import open_tree

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
ITERATIONS = 6
MODES = ["legacy", "2026-07-28"]


def start(root: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``serve`` on ``root``; the process and its MCP URL (from a fresh ``server.json``)."""
    server_json = root / ".skillz" / "server.json"
    server_json.unlink(missing_ok=True)  # a killed server leaves its own behind
    argv = [sys.executable, "-m", "skillz_engine", "serve", str(root), "--transport", "http"]
    with log.open("wb") as out:
        proc = subprocess.Popen([*argv, "--no-auth", "--port", "0"], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not server_json.exists():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.02)
    time.sleep(0.05)
    return proc, str(json.loads(server_json.read_text())["url"])


def calls(rnd: random.Random, n: int) -> tuple[str, dict[str, Any]]:
    op = rnd.choice(["write", "write", "write", "pipeline", "delete", "rollback"])
    if op == "write":
        code = f"#!/bin/sh\necho {n}\n" + "# padding\n" * rnd.randint(0, 2000)
        return "register_script", {"name": "say", "description": f"Says {n}", "code": code, "overwrite": True}
    if op == "pipeline":
        steps = [{"tool": "say"}] * rnd.randint(1, 3)
        return "pipeline", {"action": "create", "name": "p", "description": f"P {n}", "steps": steps,
                            "overwrite": True}  # fmt: skip
    if op == "delete":
        return "delete_tool", {"tool_name": rnd.choice(["p", "say"])}
    return "version", {"action": "rollback", "tool_name": rnd.choice(["p", "say"])}


async def write_until_killed(url: str, mode: str, pid: int, delay: float, rnd: random.Random) -> bool:
    """Call writers until the server dies, killing it after ``delay`` seconds; whether a call was
    in flight (sent, not answered) when the kill landed."""
    state = {"in_flight": False, "inside": False}

    async def kill() -> None:
        await anyio.sleep(delay)
        state["inside"] = state["in_flight"]
        os.kill(pid, signal.SIGKILL)

    async def write(c: Client) -> None:
        n = 0
        while True:
            n += 1
            tool, args = calls(rnd, n)
            state["in_flight"] = True
            await c.call_tool(tool, args)
            state["in_flight"] = False

    with anyio.fail_after(60):
        try:
            async with (
                httpx2.AsyncClient(timeout=httpx2.Timeout(30)) as http,
                Client(streamable_http_client(url, http_client=http), mode=mode) as c,
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(kill)
                await write(c)
        except Exception:  # the connection dies with the server: that is the point
            pass
    return state["inside"]


def check_tree(root: Path) -> None:
    tree = open_tree([root], lenient=False)
    tree.full_scan()
    snap = tree.snapshot()
    assert not snap.errors, [d.format() for d in snap.errors]
    say = root / "tools" / "say"
    if say.exists():  # both files of one write, never a mix of two
        described = re.search(r"Says (\d+)", (say / "manifest.yaml").read_text())
        assert described is not None
        assert f"echo {described.group(1)}\n" in (say / "main").read_text()
    history = History(root / ".skillz")
    for entry in history.entries():
        versions = history.versions(entry)
        assert [int(v.id) for v in versions] == list(range(1, len(versions) + 1)), entry
        for v in versions:
            if not v.deleted:
                assert digest(v.files) == v.digest, (entry, v.id)


async def test_kill_9_in_the_middle_of_writes_leaves_whole_entries_and_history(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    rnd = random.Random(14)
    inside = 0
    for i in range(ITERATIONS):
        proc, url = start(root, tmp_path / f"serve-{i}.log")
        try:
            inside += await write_until_killed(url, MODES[i % 2], proc.pid, rnd.uniform(0.2, 0.6), rnd)
        finally:
            proc.kill()
            proc.wait()
        check_tree(root)
    assert inside >= ITERATIONS // 2, f"only {inside} of {ITERATIONS} kills landed inside a write"
    versions = {e: len(History(root / ".skillz").versions(e)) for e in History(root / ".skillz").entries()}
    assert sum(versions.values()) >= ITERATIONS, versions  # writes happened and were recorded
    # scratch directories of killed writers are cleared by the next write of the entry: at most
    # the last run's are left
    leftovers = [p.name for p in (root / "tools").iterdir() if p.name.startswith(".")]
    assert len(leftovers) <= 1, leftovers
