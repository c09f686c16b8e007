"""The lean upstream client: an upstream's result is sent on as it came unless it must not be, and
a call the upstream does not answer in time is an ``isError`` that cancels it upstream."""

from __future__ import annotations

from pathlib import Path

import anyio
import mcp.types as types
import pytest
from mcp import Client

from skillz_engine.mcp import wire
from skillz_engine.mcp.fit import MAX_RESULT_BYTES
from skillz_engine.tree.model import ToolResult
from tests.mcp.upstream.conftest import upstream_entry
from tests.mcp_helpers import served

BLOCK = {"type": "text", "text": "hi", "_meta": {"example.com/x": 1}, "annotations": {"priority": 0.5}}


def test_a_trusted_result_is_sent_as_the_dict_it_was() -> None:
    result = ToolResult((BLOCK,), {"echo": "hi"}, False, {"example.com/m": True}, trusted=True)
    answer = wire.tool_result(result)
    assert answer == {
        "content": [BLOCK],
        "structuredContent": {"echo": "hi"},
        "isError": False,
        "_meta": {"example.com/m": True},
        "resultType": "complete",
    }


def test_a_trusted_result_with_an_unknown_block_is_checked_and_explained() -> None:
    odd = ToolResult(({"type": "hologram", "text": "x"},), trusted=True)
    answer = wire.tool_result(odd)
    assert isinstance(answer, types.CallToolResult) and answer.is_error
    block = answer.content[0]
    assert isinstance(block, types.TextContent) and "not valid MCP" in block.text


def test_a_trusted_result_too_large_for_one_message_is_cut() -> None:
    big = ToolResult(({"type": "text", "text": "x" * (MAX_RESULT_BYTES + 10)},), trusted=True)
    answer = wire.tool_result(big)
    assert isinstance(answer, types.CallToolResult) and answer.is_error
    assert "result truncated" in str(answer.content[-1])


@pytest.mark.anyio
async def test_an_unanswered_call_times_out_and_is_cancelled_upstream(tmp_path: Path) -> None:
    marker = tmp_path / "cancelled.txt"
    # 4s: time for the upstream to import the SDK and answer initialize on a loaded machine (a
    # failed start is retried with backoff: wait for its tools), less than `slow`'s 5 s
    upstream_entry(tmp_path, marker=str(marker), extra="timeout: 4s\n")
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        with anyio.fail_after(30):
            while "up_slow" not in engine.snapshot.tools:
                await anyio.sleep(0.05)
        slow = await c.call_tool("up_slow", {})
        assert slow.is_error and "Timed out" in str(slow.content[0]), slow
        with anyio.fail_after(10):
            while not marker.exists():
                await anyio.sleep(0.05)
        assert marker.read_text() == "cancelled"
        assert not (await c.call_tool("up_echo", {"text": "still up"})).is_error
