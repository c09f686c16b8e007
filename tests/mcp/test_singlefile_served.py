"""Single-file tools through real SDK clients of both eras: listed, called, and live-reloaded
when the script's ``/// skillz`` block is edited (by the engine's apply and by the real watcher)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client
from mcp.client.subscriptions import ToolsListChanged

from skillz_engine.engine import EngineOptions
from tests.mcp_helpers import Inbox, served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

TOOL = """#!/usr/bin/env python3
# /// skillz
# description = "{description}"
# protocol = "plain"
# [inputSchema]
# type = "object"
# required = ["name"]
# [inputSchema.properties.name]
# type = "string"
# ///
import json, sys
print("hello " + json.load(sys.stdin)["name"])
"""


def tool_text(description: str) -> str:
    return TOOL.format(description=description)


async def pump(sub: Any, inbox: Inbox) -> None:
    async for event in sub:
        inbox.put(event)


def is_list_changed(m: Any) -> bool:
    return getattr(m, "method", None) == "notifications/tools/list_changed"


def described(result: types.ListToolsResult, name: str) -> str | None:
    return next((t.description for t in result.tools if t.name == name), None)


async def test_served_called_and_reloaded_for_both_eras(tmp_path: Path) -> None:
    script = write(tmp_path / "tools" / "hello.py", tool_text("Say hello."))
    inbox, events, logs = Inbox(), Inbox(), Inbox()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.put(params)

    async with (
        served([tmp_path]) as (engine, server),
        Client(
            server.server, mode="legacy", message_handler=inbox.handler, logging_callback=on_log
        ) as legacy,
        Client(server.server) as modern,
        modern.listen(tools_list_changed=True) as sub,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(pump, sub, events)
        for client in (legacy, modern):
            listed = await client.list_tools()
            assert described(listed, "hello") == "Say hello."
            schema = next(t.input_schema for t in listed.tools if t.name == "hello")
            assert schema["required"] == ["name"]
            res = await client.call_tool("hello", {"name": "ada"})
            assert not res.is_error and isinstance(res.content[0], types.TextContent)
            assert res.content[0].text.strip() == "hello ada"
        # edit the block: the tool list changes and both eras are told
        await engine.apply([write(script, tool_text("Greet someone."))])
        await inbox.wait_for(is_list_changed)
        await events.wait_for(lambda e: isinstance(e, ToolsListChanged))
        assert described(await legacy.list_tools(), "hello") == "Greet someone."
        assert described(await modern.list_tools(), "hello") == "Greet someone."
        # a bad edit: a diagnostic at its line in the script, the last good tool still serves
        logs.clear()
        await engine.apply([write(script, tool_text("Broken").replace('type = "object"', "type = object"))])
        log = await logs.wait_for(lambda p: p.logger == "skillz-engine" and p.level == "warning")
        where = {(Path(d["path"]).name, d["line"], d["col"], d["code"]) for d in log.data["diagnostics"]}
        assert ("hello.py", 6, 10, "SKZ001") in where and ("hello.py", 1, 1, "SKZ010") in where
        assert described(await legacy.list_tools(), "hello") == "Greet someone."
        still = await modern.call_tool("hello", {"name": "bob"})
        assert not still.is_error
        report = (await legacy.read_resource("skillz://diagnostics")).contents[0]
        assert isinstance(report, types.TextResourceContents)
        assert "hello" in json.loads(report.text)["stale"]
        # deleting the file removes the tool
        inbox.clear()
        script.unlink()
        await engine.apply([script])
        await inbox.wait_for(is_list_changed)
        assert described(await legacy.list_tools(), "hello") is None
        tg.cancel_scope.cancel()


async def test_the_real_watcher_picks_up_a_new_single_file_tool(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    inbox = Inbox()
    async with (
        served([tmp_path], EngineOptions(watch=True, debounce_ms=20)) as (_, server),
        Client(server.server, mode="legacy", message_handler=inbox.handler) as legacy,
    ):
        script = tmp_path / "tools" / "watched.py"
        with anyio.fail_after(15):
            for attempt in range(100):  # the watcher starts asynchronously: write until it sees us
                write(script, tool_text(f"Watched {attempt}"))
                with anyio.move_on_after(0.3):
                    await inbox.wait_for(is_list_changed)
                    break
        assert (described(await legacy.list_tools(), "watched") or "").startswith("Watched")
        res = await legacy.call_tool("watched", {"name": "w"})
        assert isinstance(res.content[0], types.TextContent) and res.content[0].text.strip() == "hello w"
