"""``import_mcp`` (the writer built-in) and Skillz ``tool_type: mcp`` entries."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mcp.types as types
import pytest
import yaml
from mcp import Client

from skillz_engine.engine import EngineOptions
from skillz_engine.tree.compat import migrate_tree
from tests.mcp.upstream.conftest import SERVER
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_import_mcp_writes_serves_and_names_the_tools(tmp_path: Path) -> None:
    args = {"name": "mine", "command": sys.executable, "args": [str(SERVER), "normal"], "description": "Mine"}
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        res = await c.call_tool("import_mcp", args)
        assert not res.is_error, text_of(res)
        assert res.structured_content is not None and "mine_echo" in res.structured_content["tools"]
        assert "mine_echo" in text_of(res)
        echoed = await c.call_tool("mine_echo", {"text": "imported"})
        assert echoed.structured_content == {"echo": "imported"}
        manifest = yaml.safe_load((tmp_path / "servers" / "mine" / "manifest.yaml").read_text())
        assert manifest == {
            "kind": "mcp-server",
            "description": "Mine",
            **{k: args[k] for k in ("command", "args")},
        }
        again = await c.call_tool("import_mcp", args)
        assert again.is_error and "already exists" in text_of(again)
        assert "mine_echo" in engine.snapshot.tools


async def test_import_mcp_of_a_broken_server_is_rolled_back(tmp_path: Path) -> None:
    args = {"name": "broken", "command": sys.executable, "args": [str(SERVER), "exit"]}
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        res = await c.call_tool("import_mcp", args)
        assert res.is_error and "cannot start: no configuration" in text_of(res)
        assert not (tmp_path / "servers" / "broken").exists()
        bad = await c.call_tool("import_mcp", {"name": "x", "command": "a", "url": "http://b/mcp"})
        assert bad.is_error and "either command" in text_of(bad)
        assert not any(t.startswith("broken_") for t in engine.snapshot.tools)


async def test_import_mcp_is_off_when_read_only(tmp_path: Path) -> None:
    async with served([tmp_path], EngineOptions(read_only=True)) as (_, server), Client(server.server) as c:
        assert "import_mcp" not in [t.name for t in (await c.list_tools()).tools]


async def test_skillz_mcp_entry_is_served_and_migrated(tmp_path: Path) -> None:
    legacy = {
        "name": "legacy",
        "description": "A Skillz MCP import",
        "tool_type": "mcp",
        "mcp_server": {"command": sys.executable, "args": [str(SERVER), "normal"], "env": {}},
    }
    write(tmp_path / "legacy" / "manifest.json", json.dumps(legacy))
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        assert not (await c.call_tool("legacy_echo", {"text": "as is"})).is_error
    changed = migrate_tree(tmp_path)
    assert changed and (tmp_path / "legacy" / "manifest.json.bak").exists()
    data = yaml.safe_load((tmp_path / "legacy" / "manifest.yaml").read_text())
    assert data["kind"] == "mcp-server" and data["command"] == sys.executable
    async with served([tmp_path]) as (engine, _):
        assert "legacy_echo" in engine.snapshot.tools


@pytest.mark.parametrize(
    ("command", "args", "warned"),
    [
        ("npx", ["-y", "@modelcontextprotocol/server-everything"], True),
        ("npx", ["-y", "@modelcontextprotocol/server-everything@2025.9.25"], False),
        ("uvx", ["mcp-server-time"], True),
        ("uvx", ["mcp-server-time==2025.9.25"], False),
        ("uvx", ["--from", "mcp-server-time==1.0", "mcp-server-time"], False),
    ],
)
def test_validate_warns_on_unpinned_launchers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, args: list[str], warned: bool
) -> None:
    from skillz_engine.cli.main import main

    fake = tmp_path / "bin" / command
    write(fake, "#!/bin/sh\nexit 0\n").chmod(0o755)
    write(
        tmp_path / "tree" / "servers" / "s" / "manifest.yaml",
        yaml.safe_dump({"kind": "mcp-server", "command": str(fake), "args": args, "sandbox": "none"}),
    )
    code = main(["validate", str(tmp_path / "tree"), "--format", "json"])
    assert code == 0
    codes = [d["code"] for d in json.loads(capsys.readouterr().out)["diagnostics"]]
    assert ("SKZ545" in codes) is warned
