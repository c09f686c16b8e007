"""The reference server ``@modelcontextprotocol/server-everything`` (npm, pinned) imported over
stdio and over Streamable HTTP: its tools, prompts and resources; sampling, elicitation, progress,
logging and resource subscriptions relayed to clients of both eras."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext

from tests.mcp.upstream.everything import Everything, everything
from tests.mcp_helpers import Inbox, served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
DOC = "demo://resource/static/document/architecture.md"


@pytest.fixture(scope="module")
def ev() -> Everything:
    return everything()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_everything(ev: Everything, tmp_path: Path) -> Iterator[str]:
    """server-everything over Streamable HTTP on a free port; its /mcp URL."""
    port = free_port()
    log = (tmp_path / "everything.log").open("w")
    env = {**os.environ, "PORT": str(port)}
    proc = subprocess.Popen([str(ev.node), str(ev.script), "streamableHttp"], env=env, stdout=log, stderr=log)
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def elicit(
    context: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult | types.ErrorData:
    return types.ElicitResult(
        action="accept", content={"name": "Ada", "check": True, "email": "ada@example.com"}
    )


async def sample(
    context: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text="hi!"), model="m1"
    )


async def roots(context: ClientRequestContext) -> types.ListRootsResult | types.ErrorData:
    project = {"uri": "file:///tmp/project", "name": "project"}
    return types.ListRootsResult.model_validate({"roots": [project]})


async def check_surface(c: Client, mode: str) -> None:
    tools = {t.name: t for t in (await c.list_tools()).tools}
    assert {"ev_echo", "ev_get-sum", "ev_get-structured-content", "ev_trigger-sampling-request"} <= set(tools)
    assert tools["ev_get-sum"].input_schema["required"] == ["a", "b"]
    assert tools["ev_get-structured-content"].output_schema is not None
    assert "Echo: hello" in text_of(await c.call_tool("ev_echo", {"message": "hello"}))
    structured = await c.call_tool("ev_get-structured-content", {"location": "Chicago"})
    assert structured.structured_content is not None and "temperature" in structured.structured_content
    assert "ev_simple-prompt" in [p.name for p in (await c.list_prompts()).prompts]
    assert DOC in [str(r.uri) for r in (await c.list_resources()).resources]
    doc = await c.read_resource(DOC)
    assert isinstance(doc.contents[0], types.TextResourceContents) and doc.contents[0].text
    elicited = await c.call_tool("ev_trigger-elicitation-request", {})
    assert "accept" in str(elicited.content), elicited
    sampled = await c.call_tool("ev_trigger-sampling-request", {"prompt": "Say hi", "maxTokens": 20})
    assert "hi!" in str(sampled.content), (mode, sampled)
    listed = await c.call_tool("ev_get-roots-list", {})
    assert "file:///tmp/project" in str(listed.content), (mode, listed)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_everything_over_stdio(ev: Everything, tmp_path: Path, mode: str) -> None:
    write(
        tmp_path / "servers" / "ev" / "manifest.yaml",
        f"kind: mcp-server\ncommand: {ev.node}\nargs: [{ev.script}, stdio]\nsandbox: none\n",
    )
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with (
        served([tmp_path]) as (_, server),
        Client(
            server.server,
            mode=mode,
            elicitation_callback=elicit,
            sampling_callback=sample,
            list_roots_callback=roots,
        ) as c,
    ):
        await check_surface(c, mode)
        done = await c.call_tool(
            "ev_trigger-long-running-operation", {"duration": 1, "steps": 2}, progress_callback=on_progress
        )
        assert not done.is_error and seen == [1, 2]


async def test_everything_logging_and_subscriptions(ev: Everything, tmp_path: Path) -> None:
    write(
        tmp_path / "servers" / "ev" / "manifest.yaml",
        f"kind: mcp-server\ncommand: {ev.node}\nargs: [{ev.script}, stdio]\nsandbox: none\n",
    )
    inbox = Inbox()
    logs: list[Any] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async with (
        served([tmp_path]) as (_, server),
        Client(server.server, mode="legacy", message_handler=inbox.handler, logging_callback=on_log) as c,
    ):
        await c.subscribe_resource(DOC)
        assert not (await c.call_tool("ev_toggle-subscriber-updates", {})).is_error
        await inbox.wait_for(
            lambda m: (
                isinstance(getattr(m, "root", m), types.ResourceUpdatedNotification)
                and str(getattr(m, "root", m).params.uri) == DOC
            )
        )
        assert not (await c.call_tool("ev_toggle-simulated-logging", {})).is_error
        assert logs, "the upstream's log message during the call reaches the caller"


async def test_everything_over_streamable_http(http_everything: str, tmp_path: Path) -> None:
    write(tmp_path / "servers" / "ev" / "manifest.yaml", f"kind: mcp-server\nurl: {http_everything}\n")
    async with (
        served([tmp_path]) as (_, server),
        Client(
            server.server, elicitation_callback=elicit, sampling_callback=sample, list_roots_callback=roots
        ) as c,
    ):
        await check_surface(c, "http")
