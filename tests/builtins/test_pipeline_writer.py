"""The ``pipeline`` built-in through real clients of both eras: steps resolved before anything is
written, served before it returns, listed by tag, deleted into history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
import yaml
from mcp import Client

from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "2026-07-28"]

UPPER = (
    "kind: command\ndescription: Upper-cases text.\n"
    "argv: [python3, -c, 'import sys; print(sys.argv[1].upper())', '{{ text }}']\n"
)


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def create(name: str = "shout", **extra: Any) -> dict[str, Any]:
    return {
        "action": "create",
        "name": name,
        "description": "Upper-cases its input twice over",
        "steps": [
            {"name": "first", "tool": "upper", "args": {"text": "$input.text"}},
            {"tool": "upper", "args": {"text": "{{ prev }}!"}, "continue_on_error": True},
        ],
        "tags": ["text"],
        **extra,
    }


@pytest.mark.parametrize("mode", MODES)
async def test_create_serves_the_pipeline_before_it_returns(tmp_path: Path, mode: str) -> None:
    write(tmp_path / "tools" / "upper" / "manifest.yaml", UPPER)
    async with served([tmp_path]) as (_, server), Client(server.server, mode=mode) as c:
        res = await c.call_tool("pipeline", create())
        assert not res.is_error, text(res)
        out = await c.call_tool("shout", {"text": "hi"})
        assert not out.is_error, text(out)
        assert "HI!" in text(out)
        listed = await c.call_tool("pipeline", {"action": "list", "tag": "text"})
        rows = (listed.structured_content or {})["pipelines"]
        assert [(r["name"], r["steps"]) for r in rows] == [("shout", ["upper", "upper"])]
        none = await c.call_tool("pipeline", {"action": "list", "tag": "other"})
        assert (none.structured_content or {})["pipelines"] == []
    manifest = yaml.safe_load((tmp_path / "pipelines" / "shout" / "manifest.yaml").read_text())
    assert manifest["steps"][0] == {"id": "first", "tool": "upper", "args": {"text": "$input.text"}}
    assert manifest["steps"][1]["id"] == "step2" and manifest["steps"][1]["onError"] == "continue"


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_step_tools_are_refused_before_anything_is_written(tmp_path: Path, mode: str) -> None:
    write(tmp_path / "tools" / "upper" / "manifest.yaml", UPPER)
    async with served([tmp_path]) as (_, server), Client(server.server, mode=mode) as c:
        bad = create(steps=[{"tool": "upper"}, {"tool": "uper"}])
        res = await c.call_tool("pipeline", bad)
        assert res.is_error and "steps[1].tool 'uper'" in text(res) and "'upper'" in text(res)
        for args, why in [
            (create(name="shout\n"), "invalid name"),
            (create(name="memory"), "built-in"),
            (create(steps=[]), "non-empty list"),
            (create(steps=[{"tool": "shout"}]), "itself"),
            (create(steps=[{"name": "a", "tool": "upper"}, {"name": "a", "tool": "upper"}]), "unique"),
            ({"action": "run"}, "is not one of"),
        ]:
            res = await c.call_tool("pipeline", args)
            assert res.is_error and why in text(res), (args, text(res))
    assert not (tmp_path / "pipelines").exists() or not any((tmp_path / "pipelines").iterdir())


async def test_create_refuses_an_existing_name_then_delete_moves_it_into_history(tmp_path: Path) -> None:
    write(tmp_path / "tools" / "upper" / "manifest.yaml", UPPER)
    async with served([tmp_path]) as (_, server), Client(server.server) as c:
        assert not (await c.call_tool("pipeline", create())).is_error
        again = await c.call_tool("pipeline", create())
        assert again.is_error and "overwrite" in text(again)
        gone = await c.call_tool("pipeline", {"action": "delete", "name": "shout"})
        assert not gone.is_error, text(gone)
        assert "shout" not in {t.name for t in (await c.list_tools()).tools}
        missing = await c.call_tool("pipeline", {"action": "delete", "name": "upper"})
        assert missing.is_error and "of kind pipeline" in text(missing)
    assert (tmp_path / ".skillz" / "versions" / "pipelines" / "shout" / "0002" / "files").is_dir()
