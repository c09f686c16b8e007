"""What an imported server's clients see and can do: pass-through definitions, overrides,
prompts and resources, list_changed, relays of in-request features, a clean environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.subscriptions import ToolsListChanged

from tests.mcp.upstream.conftest import upstream_entry, upstreams
from tests.mcp_helpers import Inbox, served

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "auto"]
OVERRIDES = """namespace: u
exclude: [die]
tools:
  echo: {name: shout, description: Shout it, arguments: {loud: true}}
  env: {hidden: true}
"""


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_definitions_pass_through_and_overrides_apply(tmp_path: Path) -> None:
    upstream_entry(tmp_path, extra=OVERRIDES)
    async with served([tmp_path]) as (_, server), Client(server.server, mode="legacy") as c:
        listed = {t.name: t for t in (await c.list_tools()).tools}
        assert "u_die" not in listed and "u_env" not in listed and "u_echo" not in listed
        assert {"shout", "u_grow", "u_slow"} <= set(listed)
        shout = listed["shout"]
        assert shout.description == "Shout it" and shout.title == "Echo"
        assert shout.output_schema == {
            "type": "object",
            "properties": {"echo": {"type": "string"}},
            "required": ["echo"],
        }
        assert shout.annotations is not None and shout.annotations.read_only_hint is True
        assert shout.icons and shout.icons[0].src == "https://example.com/echo.png"
        assert shout.meta == {"example.com/tier": "gold"}
        assert "loud" not in shout.input_schema["properties"]  # fixed: hidden from the schema
        res = await c.call_tool("shout", {"text": "hi"})
        assert not res.is_error and res.structured_content == {"echo": "HI"}
        prompt = await c.get_prompt("u_greet", {"who": "Ada"})
        assert isinstance(prompt.messages[0].content, types.TextContent)
        assert prompt.messages[0].content.text == "Greet Ada"
        assert "up://note" in [str(r.uri) for r in (await c.list_resources()).resources]
        read = await c.read_resource("up://note")
        assert (
            isinstance(read.contents[0], types.TextResourceContents)
            and read.contents[0].text == "read up://note"
        )
        item = await c.read_resource("up://items/7")
        assert (
            isinstance(item.contents[0], types.TextResourceContents)
            and item.contents[0].text == "read up://items/7"
        )


async def test_upstream_list_changed_reaches_both_eras(tmp_path: Path) -> None:
    upstream_entry(tmp_path)
    inbox, events = Inbox(), Inbox()

    async def pump(sub: Any) -> None:
        async for event in sub:
            events.put(event)

    async with (
        served([tmp_path]) as (engine, server),
        Client(server.server, mode="legacy", message_handler=inbox.handler) as legacy,
        Client(server.server) as modern,
        modern.listen(tools_list_changed=True) as sub,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(pump, sub)
        with anyio.fail_after(10):
            while len(server.hub.legacy) != 1:
                await anyio.sleep(0.01)
        assert text_of(await legacy.call_tool("up_grow", {})) == "grown_1"
        await inbox.wait_for(
            lambda m: getattr(getattr(m, "root", m), "method", "") == "notifications/tools/list_changed"
        )
        await events.wait_for(lambda e: isinstance(e, ToolsListChanged))
        assert "up_grown_1" in [t.name for t in (await modern.list_tools()).tools]
        assert "up_grown_1" in [t.name for t in (await legacy.list_tools()).tools]
        assert len(upstreams(engine)) == 1  # the same upstream: re-listed, not restarted
        tg.cancel_scope.cancel()


@pytest.mark.parametrize("mode", MODES)
async def test_progress_logs_elicitation_and_sampling_are_relayed(tmp_path: Path, mode: str) -> None:
    upstream_entry(tmp_path)
    logs: list[str] = []
    seen: list[float] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(str(params.data))

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async def elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def sample(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="hi!"), model="m1"
        )

    async with (
        served([tmp_path]) as (_, server),
        Client(
            server.server,
            mode=mode,
            logging_callback=on_log,
            log_level="info",
            elicitation_callback=elicit,
            sampling_callback=sample,
        ) as c,
    ):
        assert text_of(await c.call_tool("up_ask", {})) == "accept:Ada"
        assert text_of(await c.call_tool("up_sample", {})) == "m1:hi!"
        with anyio.move_on_after(0.6):
            await c.call_tool("up_slow", {}, progress_callback=on_progress)
        assert seen and seen[0] == 1
        assert "slow step 1" in logs


@pytest.mark.parametrize("mode", MODES)
async def test_cancellation_reaches_the_upstream(tmp_path: Path, mode: str) -> None:
    marker = tmp_path / "cancelled.txt"
    upstream_entry(tmp_path, marker=str(marker))
    async with served([tmp_path]) as (_, server), Client(server.server, mode=mode) as c:
        with anyio.move_on_after(0.5):
            await c.call_tool("up_slow", {})
        with anyio.fail_after(10):
            while not marker.exists():
                await anyio.sleep(0.05)
        assert marker.read_text() == "cancelled"
        assert not (await c.call_tool("up_echo", {"text": "still up"})).is_error


async def test_clean_environment_with_named_secrets_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKILLZ_TOKEN", "s3cret")
    monkeypatch.setenv("SKILLZ_OTHER", "nope")
    monkeypatch.setenv("SERVER_ONLY", "leak")
    upstream_entry(tmp_path, extra="env: {MODE: test}\nsecrets: [SKILLZ_TOKEN]\n")
    async with served([tmp_path]) as (_, server), Client(server.server) as c:
        env = json.loads(text_of(await c.call_tool("up_env", {})))
    assert env["SKILLZ_TOKEN"] == "s3cret" and env["MODE"] == "test"
    assert "SKILLZ_OTHER" not in env and "SERVER_ONLY" not in env
