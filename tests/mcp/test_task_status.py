"""Task status notifications of both eras, the 2025-11-25 task methods, and task retention.

2026-07-28 (SEP-2663): a ``subscriptions/listen`` naming ``taskIds`` gets ``notifications/tasks``
(the ``DetailedTask``) on the listen stream, spoken as raw JSON-RPC over Streamable HTTP as the
conformance suite does. 2025-11-25: the SDK's own ``Client`` in legacy mode calls a tool as a task
(``params.task``), polls, fetches the result (answering the tool's question relayed on
``tasks/result``) and hears ``notifications/tasks/status`` through a client extension binding."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import pytest
from mcp import Client
from mcp.client.extension import ClientExtension, NotificationBinding
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError

from skillz_engine.mcp import tasks
from skillz_engine.mcp.tasks import TaskStore
from tests.mcp.test_http import auth, http_app
from tests.mcp.test_protocol_ext import ASK, HEAD, SLOW, TASKS, Rpc, tool
from tests.mcp_helpers import Inbox, served

pytestmark = pytest.mark.anyio

# asks one question after a moment, then answers with what it was told
ASK_LATER = (
    HEAD
    + ASK
    + """time.sleep(0.4)
ask(2, "name")
name = json.loads(sys.stdin.readline())["result"]["content"]["v"]
time.sleep(0.3)
send({"id": 1, "result": "hello " + name})
"""
)
BROKEN = (
    HEAD
    + """time.sleep(0.4)
send({"id": 1, "error": {"code": -32603, "message": "broke on purpose"}})
"""
)
EXT: dict[str, Any] = {"extensions": {TASKS: {}}}
ANSWER = {"action": "accept", "content": {"v": "ada"}}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    tool(root, "asks", ASK_LATER)
    tool(root, "slow", SLOW)
    tool(root, "broken", BROKEN)
    tool(root, "never", SLOW, "task: forbidden\n")
    return root


class Listen:
    """One open 2026-07-28 listen stream, read into an :class:`Inbox` of its JSON-RPC messages."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http, self.url, self.inbox = http, url, Inbox()

    @asynccontextmanager
    async def open(self, notifications: dict[str, Any], **caps: Any) -> AsyncIterator[Inbox]:
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": caps,
        }
        body = {
            "jsonrpc": "2.0",
            "id": "listen-1",
            "method": "subscriptions/listen",
            "params": {"notifications": notifications, "_meta": meta},
        }
        headers = {
            **auth(),
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": "subscriptions/listen",
        }
        async with anyio.create_task_group() as tg:

            async def read() -> None:
                async with self.http.stream("POST", self.url, json=body, headers=headers) as r:
                    self.inbox.put({"status": r.status_code})
                    if not r.headers.get("content-type", "").startswith("text/event-stream"):
                        self.inbox.put(json.loads(await r.aread()))  # an error answered as JSON
                        return
                    async for line in r.aiter_lines():
                        if line.startswith("data:") and line[5:].strip():
                            self.inbox.put(json.loads(line[5:]))

            tg.start_soon(read)
            yield self.inbox
            tg.cancel_scope.cancel()


def task_note(task_id: str, status: str) -> Any:
    def match(m: Any) -> bool:
        p = m.get("params") or {}
        return (
            m.get("method") == "notifications/tasks" and p.get("taskId") == task_id and p["status"] == status
        )

    return match


async def test_listen_with_task_ids_streams_each_status_of_the_task(tree: Path) -> None:
    async with http_app(tree) as served_app, httpx2.AsyncClient(timeout=30) as http:
        call = Rpc(http, served_app.url)
        created = (await call("tools/call", {"name": "asks", "arguments": {}}, elicitation={}, **EXT))[
            "result"
        ]
        assert created["resultType"] == "task"
        task_id = created["taskId"]
        listen = Listen(http, served_app.url)
        wanted = {"taskIds": [task_id, "task-nobody-made"], "toolsListChanged": True}
        async with listen.open(wanted, elicitation={}, **EXT) as inbox:
            ack = await inbox.wait_for(
                lambda m: m.get("method") == "notifications/subscriptions/acknowledged"
            )
            assert ack["params"]["notifications"] == {"taskIds": [task_id], "toolsListChanged": True}
            sub_id = ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"]
            first = await inbox.wait_for(task_note(task_id, "working"))  # the state when subscribed
            assert first["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == sub_id
            asking = (await inbox.wait_for(task_note(task_id, "input_required")))["params"]
            assert asking["inputRequests"]["name"]["method"] == "elicitation/create"
            ack2 = await call("tasks/update", {"taskId": task_id, "inputResponses": {"name": ANSWER}}, **EXT)
            assert ack2["result"]["resultType"] == "complete"
            await inbox.wait_for(lambda m: task_note(task_id, "working")(m) and m is not first)
            done = (await inbox.wait_for(task_note(task_id, "completed")))["params"]
            assert done["result"]["content"][0]["text"] == "hello ada"
            polled = (await call("tasks/get", {"taskId": task_id}, **EXT))["result"]
            assert {k: v for k, v in done.items() if k != "_meta"} == {
                k: v for k, v in polled.items() if k not in ("_meta", "resultType")
            }  # identical to what tasks/get answers


async def test_failed_and_cancelled_tasks_are_notified_and_listen_needs_the_extension(tree: Path) -> None:
    async with http_app(tree) as served_app, httpx2.AsyncClient(timeout=30) as http:
        call = Rpc(http, served_app.url)
        broken = (await call("tools/call", {"name": "broken", "arguments": {}}, **EXT))["result"]["taskId"]
        slow = (await call("tools/call", {"name": "slow", "arguments": {"seconds": 60}}, **EXT))["result"]
        async with Listen(http, served_app.url).open({"taskIds": [broken, slow["taskId"]]}, **EXT) as inbox:
            failed = (await inbox.wait_for(task_note(broken, "failed")))["params"]
            assert failed["error"] == {"code": -32603, "message": "broke on purpose"}
            await inbox.wait_for(task_note(slow["taskId"], "working"))
            await call("tasks/cancel", {"taskId": slow["taskId"]}, **EXT)
            await inbox.wait_for(task_note(slow["taskId"], "cancelled"))

        async with Listen(http, served_app.url).open({"taskIds": [broken]}) as refused:
            error = (await refused.wait_for(lambda m: "error" in m))["error"]
            assert error["code"] == -32021
            assert error["data"] == {"requiredCapabilities": {"extensions": {TASKS: {}}}}


class LegacyTaskStatus(ClientExtension):
    """Observes 2025-11-25 ``notifications/tasks/status`` (the SDK has the types, no handler)."""

    identifier = "com.example/task-status-observer"

    def __init__(self) -> None:
        self.inbox = Inbox()

    def notifications(self) -> list[NotificationBinding[Any]]:
        async def seen(params: types.TaskStatusNotificationParams) -> None:
            self.inbox.put(params)

        return [
            NotificationBinding(
                method="notifications/tasks/status",
                params_type=types.TaskStatusNotificationParams,
                handler=seen,
            )
        ]


async def call_as_task(c: Client, name: str, arguments: dict[str, Any], ttl: int | None = None) -> Any:
    """``tools/call`` with ``params.task``. The SDK's session checks a 2025-11-25 ``tools/call``
    answer against ``CallToolResult`` (its tasks are types only), so this one request goes through
    the dispatcher the session itself sends with, and the answer is checked as ``CreateTaskResult``."""
    task = {"ttl": ttl} if ttl is not None else {}
    params = {"name": name, "arguments": arguments, "task": task}
    raw = await c.session._dispatcher.send_raw_request("tools/call", params, None)  # see the docstring
    return types.CreateTaskResult.model_validate(raw)


async def test_handshake_era_tasks_call_poll_relay_questions_and_notify(tree: Path) -> None:
    observer = LegacyTaskStatus()

    async def elicit(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        related: Any = dict(params.meta or {}).get("io.modelcontextprotocol/related-task")
        assert related["taskId"]  # a question of a task names its task
        return types.ElicitResult(action="accept", content={"v": "grace"})

    async with (
        served([tree]) as (_, server),
        Client(server.server, mode="legacy", elicitation_callback=elicit, extensions=[observer]) as c,
    ):
        assert c.protocol_version == "2025-11-25"
        caps = c.server_capabilities
        assert caps is not None and caps.tasks is not None and caps.tasks.requests is not None
        created = await call_as_task(c, "asks", {}, ttl=60_000)
        task_id = created.task.task_id
        assert created.task.status == "working"
        got = await c.session.send_request(
            types.GetTaskRequest(params=types.GetTaskRequestParams(task_id=task_id)), types.GetTaskResult
        )
        assert got.task_id == task_id and got.status in ("working", "input_required")
        await observer.inbox.wait_for(lambda p: p.task_id == task_id and p.status == "input_required")
        result = await c.session.send_request(
            types.GetTaskPayloadRequest(params=types.GetTaskPayloadRequestParams(task_id=task_id)),
            types.CallToolResult,
        )
        assert isinstance(result.content[0], types.TextContent) and result.content[0].text == "hello grace"
        await observer.inbox.wait_for(lambda p: p.task_id == task_id and p.status == "completed")
        listed = await c.session.send_request(types.ListTasksRequest(), types.ListTasksResult)
        assert [t.task_id for t in listed.tasks] == [task_id]

        long = await call_as_task(c, "slow", {"seconds": 60})
        cancel = types.CancelTaskRequest(params=types.CancelTaskRequestParams(task_id=long.task.task_id))
        cancelled = await c.session.send_request(cancel, types.CancelTaskResult)
        assert cancelled.status == "cancelled"
        with pytest.raises(MCPError) as again:  # a task that ended cannot be cancelled (2025-11-25)
            await c.session.send_request(cancel, types.CancelTaskResult)
        assert again.value.error.code == types.INVALID_PARAMS

        forbidden = types.CallToolRequestParams(
            name="never", arguments={"seconds": 0}, task=types.TaskMetadata()
        )
        plain = await c.session.send_request(types.CallToolRequest(params=forbidden), types.CallToolResult)
        assert isinstance(plain.content[0], types.TextContent) and plain.content[0].text == "slept"

        # another session sees none of these tasks
        async with Client(server.server, mode="legacy") as other:
            with pytest.raises(MCPError) as unknown:
                await other.session.send_request(
                    types.GetTaskRequest(params=types.GetTaskRequestParams(task_id=task_id)),
                    types.GetTaskResult,
                )
            assert unknown.value.error.code == types.INVALID_PARAMS

        # 2026-07-28 has no tasks/result or tasks/list (SEP-2663)
        async with Client(server.server) as modern:
            with pytest.raises(MCPError) as gone:
                await modern.session.send_request(types.ListTasksRequest(), types.ListTasksResult)
            assert gone.value.error.code == types.METHOD_NOT_FOUND


async def test_finished_tasks_are_kept_for_their_ttl_in_the_state_dir_and_then_swept(tree: Path) -> None:
    async with http_app(tree) as served_app, httpx2.AsyncClient(timeout=30) as http:
        call = Rpc(http, served_app.url)
        created = await call("tools/call", {"name": "slow", "arguments": {"seconds": 0.5}}, **EXT)
        task_id = created["result"]["taskId"]
        state_dir = served_app.engine.state_dir
        assert state_dir is not None
        record = state_dir / "tasks" / f"{task_id}.json"
        with anyio.fail_after(10):
            while not record.exists():
                await anyio.sleep(0.05)
        expires = json.loads(record.read_text())["expires"]
        assert expires == pytest.approx(time.time() + tasks.TTL_MS / 1000, abs=5)

        # a fresh store (a restarted server) still answers from the record until it expires
        fresh = TaskStore(served_app.app.state.mcp_server.parked, state_dir)
        kept = fresh.get(task_id)
        assert isinstance(kept, dict) and kept["status"] == "completed"
        fresh.clock = lambda: expires + 1
        with pytest.raises(MCPError) as expired:
            fresh.get(task_id)
        assert expired.value.error.code == types.INVALID_PARAMS
        assert not record.exists()  # swept from the state directory

        live: TaskStore = served_app.app.state.mcp_server.tasks
        assert task_id in live.tasks
        live.clock = lambda: expires + 1  # and the running server forgets it from memory too
        gone = await call("tasks/get", {"taskId": task_id}, **EXT)
        assert gone["error"]["code"] == types.INVALID_PARAMS and task_id not in live.tasks
