"""Imported MCP servers over stdio, through real SDK clients of both eras: mcp-server-time from
PyPI, and small SDK servers written here for the cases a real server will not produce on demand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mcp.types as types
import pytest
from mcp import Client

from tests.mcp.upstream.conftest import upstreams
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "auto"]


def time_server(root: Path, name: str = "time", extra: str = "") -> Path:
    pytest.importorskip("mcp_server_time")
    return write(
        root / "servers" / name / "manifest.yaml",
        f"kind: mcp-server\ncommand: {sys.executable}\nargs: [-m, mcp_server_time, --local-timezone, UTC]\n"
        f"sandbox: none\n{extra}",
    )


@pytest.mark.parametrize("mode", MODES)
async def test_time_server_is_listed_and_callable_in_both_eras(tmp_path: Path, mode: str) -> None:
    time_server(tmp_path)
    async with served([tmp_path]) as (_, server), Client(server.server, mode=mode) as c:
        listed = {t.name: t for t in (await c.list_tools()).tools}
        assert {"time_get_current_time", "time_convert_time"} <= set(listed)
        schema = listed["time_get_current_time"].input_schema
        assert schema["required"] == ["timezone"]  # the upstream's schema, untouched
        res = await c.call_tool("time_get_current_time", {"timezone": "Europe/Paris"})
        assert not res.is_error
        assert res.structured_content is not None and res.structured_content["timezone"] == "Europe/Paris"
        bad = await c.call_tool("time_get_current_time", {"timezone": "Mars/Olympus"})
        assert bad.is_error
        text = bad.content[0]
        assert isinstance(text, types.TextContent) and "Mars/Olympus" in text.text


async def test_lazy_upstream_serves_its_kept_listing_without_a_process(tmp_path: Path) -> None:
    """A lazy upstream is listed once (nothing kept yet), then served from the state directory:
    no process until the first call, which starts it."""
    time_server(tmp_path, extra="autostart: false\n")
    async with served([tmp_path]) as (engine, _):
        assert "time_get_current_time" in engine.snapshot.tools
        assert [u.state for u in upstreams(engine)] == ["stopped"]
    kept = list((tmp_path / ".skillz" / "mcp-servers").glob("time-*.json"))
    assert kept and json.loads(kept[0].read_text())["tools"][0]["name"] == "get_current_time"
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        assert "time_get_current_time" in engine.snapshot.tools
        assert [u.state for u in upstreams(engine)] == ["stopped"]
        res = await c.call_tool("time_get_current_time", {"timezone": "UTC"})
        assert not res.is_error
        assert [u.state for u in upstreams(engine)] == ["ready"]
