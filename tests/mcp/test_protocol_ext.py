"""The Skills (SEP-2640) and Tasks (SEP-2663) extensions and the 2026-07-28 input-required rules,
as raw JSON-RPC over Streamable HTTP (what the conformance suite and non-SDK clients send)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import psutil  # type: ignore[import-untyped]
import pytest

from skillz_engine.mcp.events import BoundedEventStore
from tests.mcp.test_http import auth, http_app
from tests.mcp_helpers import write

pytestmark = pytest.mark.anyio
TASKS = "io.modelcontextprotocol/tasks"

SKILL = """---
name: demo
description: A demo skill.
metadata:
  owner: tests
---
Read references/GUIDE.md.
"""
HEAD = """import json, sys, time
def send(m): print(json.dumps({"jsonrpc": "2.0", **m}), flush=True)
request = json.loads(sys.stdin.readline())
"""
ASK = """schema = {"type": "object", "properties": {"v": {"type": "string"}}}
def ask(rid, key):
    params = {"message": key + "?", "requestedSchema": schema}
    send({"id": rid, "key": key, "method": "elicitation/create", "params": params})
"""
# asks two questions without waiting in between, each under its own key
BOTH = (
    HEAD
    + ASK
    + """ask(2, "first")
ask(3, "second")
got = {}
for _ in range(2):
    reply = json.loads(sys.stdin.readline())
    got[reply["id"]] = reply["result"]["content"]["v"]
send({"id": 1, "result": f"{got[2]}+{got[3]}"})
"""
)
# asks a second question after the first answer: two rounds
THEN = (
    HEAD
    + ASK
    + """ask(2, "one")
a = json.loads(sys.stdin.readline())["result"]["content"]["v"]
ask(3, "two")
b = json.loads(sys.stdin.readline())["result"]["content"]["v"]
send({"id": 1, "result": a + b})
"""
)
SAMPLE = (
    HEAD
    + """send({"id": 2, "method": "sampling/createMessage", "params": {"messages": []}})
send({"id": 1, "result": json.loads(sys.stdin.readline())})
"""
)
SLOW = (
    HEAD
    + """time.sleep(float(request["params"]["arguments"].get("seconds", 0)))
send({"id": 1, "result": "slept"})
"""
)


def tool(root: Path, name: str, source: str, extra: str = "") -> None:
    write(root / "tools" / name / "manifest.yaml", f"kind: script\ndescription: {name}\nentry: t.py\n{extra}")
    write(root / "tools" / name / "t.py", source)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    write(root / "skills" / "demo" / "SKILL.md", SKILL)
    write(root / "skills" / "demo" / "references" / "GUIDE.md", "# Guide\n")
    tool(root, "both", BOTH)
    tool(root, "then", THEN)
    tool(root, "sample", SAMPLE)
    tool(root, "slow", SLOW)
    tool(root, "must", SLOW, "task: required\n")
    tool(root, "never", SLOW, "task: forbidden\n")
    return root


class Rpc:
    """2026-07-28 requests: the ``_meta`` envelope with the client capabilities given."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http, self.url, self.ids = http, url, 0

    async def __call__(self, method: str, params: dict[str, Any], **caps: Any) -> dict[str, Any]:
        self.ids += 1
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": caps,
        }
        headers = {
            **auth(),
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28",
        }
        headers["Mcp-Method"] = method
        if method in ("tools/call", "prompts/get", "resources/read"):  # SEP-2243 routing header
            headers["Mcp-Name"] = params["uri" if method == "resources/read" else "name"]
        body = {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": {**params, "_meta": meta}}
        r = await self.http.post(self.url, json=body, headers=headers)
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            data = [json.loads(x[5:]) for x in r.text.splitlines() if x.startswith("data:") and x[5:].strip()]
            reply: dict[str, Any] = next(m for m in data if m.get("id") == self.ids)
        else:
            reply = r.json()
        reply["status"] = r.status_code
        return reply


@asynccontextmanager
async def rpc(root: Path) -> AsyncIterator[tuple[Rpc, Any]]:
    async with http_app(root) as served, httpx2.AsyncClient(timeout=30) as http:
        yield Rpc(http, served.url), served


async def test_skills_list_get_and_directory_read_match_resources_read(tree: Path) -> None:
    async with rpc(tree) as (call, served):
        reply = await call("skills/list", {})
        assert "result" in reply, reply
        listed = reply["result"]
        assert listed["ttlMs"] == 0 and listed["cacheScope"] == "private" and "nextCursor" not in listed
        (entry,) = listed["skills"]
        assert entry["uri"] == "skill://demo/SKILL.md"
        assert entry["frontmatter"] == {
            "name": "demo",
            "description": "A demo skill.",
            "metadata": {"owner": "tests"},
        }
        uris = [r["uri"] for r in entry["resources"]]
        assert uris == ["skill://demo/SKILL.md", "skill://demo/references/GUIDE.md"]
        for r in entry["resources"]:  # the manifest is what resources/read returns, byte for byte
            text = (await call("resources/read", {"uri": r["uri"]}))["result"]["contents"][0]["text"]
            assert r["digest"] == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
            assert r["size"] == len(text.encode())

        got = (await call("skills/get", {"uri": "skill://demo/SKILL.md"}))["result"]
        assert got["skill"] == entry and "nextCursor" not in got
        unknown = await call("skills/get", {"uri": "skill://nope/SKILL.md"})
        assert unknown["error"]["code"] == -32602

        top = (await call("resources/directory/read", {"uri": "skill://demo"}))["result"]["resources"]
        assert {r["uri"]: r.get("mimeType") for r in top} == {
            "skill://demo/references": "inode/directory",
            "skill://demo/SKILL.md": "text/markdown",
        }
        sub = (await call("resources/directory/read", {"uri": "skill://demo/references"}))["result"]
        assert [r["uri"] for r in sub["resources"]] == ["skill://demo/references/GUIDE.md"]
        file = await call("resources/directory/read", {"uri": "skill://demo/SKILL.md"})
        assert file["error"]["code"] == -32602

        guide_path = write(tree / "skills" / "demo" / "references" / "GUIDE.md", "# Guide, changed\n")
        await served.engine.reload(
            [guide_path]
        )  # the listing follows the tree (the watcher does this when serving)
        now = (await call("skills/get", {"uri": "skill://demo/SKILL.md"}))["result"]["skill"]
        guide = now["resources"][1]
        assert guide["digest"] == "sha256:" + hashlib.sha256(b"# Guide, changed\n").hexdigest()


async def test_input_required_batches_keys_and_fresh_state_per_round(tree: Path) -> None:
    answer = {"action": "accept", "content": {"v": "x"}}
    async with rpc(tree) as (call, _):
        first = (await call("tools/call", {"name": "both", "arguments": {}}, elicitation={}))["result"]
        assert first["resultType"] == "input_required"
        assert set(first["inputRequests"]) == {"first", "second"}  # asked together: one round
        responses = {"first": answer, "second": {**answer, "content": {"v": "y"}}}
        params = {
            "name": "both",
            "arguments": {},
            "inputResponses": responses,
            "requestState": first["requestState"],
        }
        done = (await call("tools/call", params, elicitation={}))["result"]
        assert done["content"][0]["text"] == "x+y"

        one = (await call("tools/call", {"name": "then", "arguments": {}}, elicitation={}))["result"]
        assert list(one["inputRequests"]) == ["one"]
        params = {"name": "then", "arguments": {}, "inputResponses": {"one": answer}}
        two = (await call("tools/call", {**params, "requestState": one["requestState"]}, elicitation={}))[
            "result"
        ]
        assert list(two["inputRequests"]) == ["two"] and two["requestState"] != one["requestState"]
        replay = await call("tools/call", {**params, "requestState": one["requestState"]}, elicitation={})
        assert replay["error"]["code"] == -32602  # the first round's state is void now
        params = {"name": "then", "arguments": {}, "inputResponses": {"two": answer}}
        end = (await call("tools/call", {**params, "requestState": two["requestState"]}, elicitation={}))[
            "result"
        ]
        assert end["content"][0]["text"] == "xx"


async def test_a_question_without_the_client_capability_is_32021_with_http_400(tree: Path) -> None:
    async with rpc(tree) as (call, _):
        reply = await call("tools/call", {"name": "sample", "arguments": {}})
        assert reply["status"] == 400
        assert reply["error"]["code"] == -32021
        assert reply["error"]["data"] == {"requiredCapabilities": {"sampling": {}}}


async def test_tasks_run_poll_cancel_and_need_the_extension(tree: Path) -> None:
    ext: dict[str, Any] = {"extensions": {TASKS: {}}}
    async with rpc(tree) as (call, served):
        assert (await call("tasks/get", {"taskId": "x"}))["error"]["code"] == -32021
        must = await call("tools/call", {"name": "must", "arguments": {}})
        assert must["error"]["code"] == -32021
        assert must["error"]["data"] == {"requiredCapabilities": {"extensions": {TASKS: {}}}}
        never = (await call("tools/call", {"name": "never", "arguments": {"seconds": 0.5}}, **ext))["result"]
        assert never["resultType"] == "complete" and never["content"][0]["text"] == "slept"
        fast = (await call("tools/call", {"name": "slow", "arguments": {"seconds": 0}}, **ext))["result"]
        assert fast["resultType"] == "complete"

        created = (await call("tools/call", {"name": "slow", "arguments": {"seconds": 0.6}}, **ext))["result"]
        assert created["resultType"] == "task" and created["status"] == "working"
        task_id = created["taskId"]
        with anyio.fail_after(10):
            while (got := (await call("tasks/get", {"taskId": task_id}, **ext))["result"])[
                "status"
            ] == "working":
                await anyio.sleep(0.1)
        assert got["status"] == "completed" and got["result"]["content"][0]["text"] == "slept"
        stored = json.loads((served.engine.state_dir / "tasks" / f"{task_id}.json").read_text())["task"]
        assert stored == {k: v for k, v in got.items() if k not in ("resultType", "_meta")}

        long = (await call("tools/call", {"name": "slow", "arguments": {"seconds": 60}}, **ext))["result"]
        sleepers = [
            p
            for p in psutil.Process().children(recursive=True)
            if any(a == "t.py" or a.endswith("/t.py") for a in p.cmdline())
        ]
        assert sleepers, "the task's script should be running"
        for _ in range(2):  # an empty ack, also for a task that already ended
            ack = (await call("tasks/cancel", {"taskId": long["taskId"]}, **ext))["result"]
            assert ack["resultType"] == "complete" and set(ack) <= {"resultType", "_meta"}
        cancelled = (await call("tasks/get", {"taskId": long["taskId"]}, **ext))["result"]
        assert cancelled["status"] == "cancelled" and "result" not in cancelled
        deadline = time.monotonic() + 5
        while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in sleepers):
            assert time.monotonic() < deadline, "the cancelled task's process is still running"
            await anyio.sleep(0.05)
        assert (await call("tasks/get", {"taskId": "task-unknown"}, **ext))["error"]["code"] == -32602


async def test_handshake_sse_streams_open_with_a_priming_event_and_replay_after_it(tree: Path) -> None:
    """2025-11-25 POST SSE responses start with an event id, empty data and ``retry``, and the
    event store replays a stream's later events after a ``Last-Event-ID`` it still holds."""
    async with http_app(tree) as served, httpx2.AsyncClient(timeout=30) as http:
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        headers = {**auth(), "Accept": "application/json, text/event-stream"}
        r = await http.post(served.url, json=init, headers=headers)
        assert r.headers["content-type"].startswith("text/event-stream")
        first = r.text.split("\n\n")[0].splitlines()
        assert first[0].startswith("id: ") and "data: " in first and "retry: 1000" in first
        caps = json.loads(next(x[6:] for x in r.text.splitlines() if x.startswith("data: {")))["result"]
        assert caps["capabilities"]["extensions"]["io.modelcontextprotocol/skills"] == {"directoryRead": True}


async def test_the_event_store_is_bounded_and_replays_one_stream() -> None:
    store = BoundedEventStore(limit=3)
    ping = types.JSONRPCNotification(jsonrpc="2.0", method="notifications/progress")
    first = await store.store_event("a", None)  # a priming event
    await store.store_event("b", ping)
    second = await store.store_event("a", ping)
    replayed: list[str | None] = []

    async def collect(event: Any) -> None:
        replayed.append(event.event_id)

    assert await store.replay_events_after(first, collect) == "a"
    assert replayed == [second]  # only stream a's events after the id, not stream b's
    await store.store_event("c", ping)  # the oldest event falls off
    assert await store.replay_events_after(first, collect) is None
