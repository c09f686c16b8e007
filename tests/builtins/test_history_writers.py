"""History through real clients of both eras: every write is a version, ``version`` lists, diffs
and rolls back (a rollback is itself undoable), ``delete_tool`` moves an entry into history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client

from skillz_engine.engine import EngineOptions
from skillz_engine.state.history import History
from tests.mcp_helpers import served

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "2026-07-28"]

ECHO = """import json, sys
req = json.loads(sys.stdin.readline())
print(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {"said": "%s"}}), flush=True)
"""


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def register(word: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "say",
        "description": f"Says {word}",
        "code": ECHO % word,
        "interpreter": "python3",
        **extra,
    }


async def ok(c: Client, tool: str, args: dict[str, Any]) -> types.CallToolResult:
    res = await c.call_tool(tool, args)
    assert not res.is_error, text(res)
    return res


async def said(c: Client) -> Any:
    res = await ok(c, "say", {})
    return (res.structured_content or json.loads(text(res)))["said"]


@pytest.mark.parametrize("mode", MODES)
async def test_every_write_is_a_version_and_rollback_is_undoable(tmp_path: Path, mode: str) -> None:
    async with served([tmp_path]) as (_, server), Client(server.server, mode=mode) as c:
        await ok(c, "register_script", register("one"))
        await ok(c, "register_script", register("two", overwrite=True))
        listed = await ok(c, "version", {"action": "list", "tool_name": "say"})
        versions = (listed.structured_content or {})["versions"]
        assert [v["version"] for v in versions] == ["0001", "0002"]
        assert {v["writer"] for v in versions} == {"register_script"}
        assert all(v["client"] and v["digest"].startswith("sha256:") for v in versions)
        diff = await ok(c, "version", {"action": "diff", "tool_name": "say", "from": 1, "to": 2})
        assert '-print(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {"said": "one"}})' in text(
            diff
        )
        assert "+description: Says two" in text(diff)
        # rollback (default: the version before the latest) is served before it returns
        back = await ok(c, "version", {"action": "rollback", "tool_name": "say"})
        assert "version 0003" in text(back)
        assert await said(c) == "one"
        # and is itself a version: rolling back to 2 undoes it
        await ok(c, "version", {"action": "rollback", "tool_name": "say", "version": "0002"})
        assert await said(c) == "two"
        history = History(tmp_path / ".skillz")
        actions = [(v.id, v.action, v.note) for v in history.versions("tools/say")]
        assert actions == [
            ("0001", "write", ""),
            ("0002", "write", ""),
            ("0003", "rollback", "to version 0001"),
            ("0004", "rollback", "to version 0002"),
        ]
        assert history.get("tools/say", 3).digest == history.get("tools/say", 1).digest


@pytest.mark.parametrize("mode", MODES)
async def test_delete_moves_the_entry_into_history_and_rollback_restores_it(
    tmp_path: Path, mode: str
) -> None:
    async with served([tmp_path]) as (_, server), Client(server.server, mode=mode) as c:
        await ok(c, "register_script", register("kept"))
        gone = await ok(c, "delete_tool", {"tool_name": "say"})
        assert "version 0002" in text(gone)
        assert "say" not in {t.name for t in (await c.list_tools()).tools}
        assert not (tmp_path / "tools" / "say").exists()
        deleted = History(tmp_path / ".skillz").latest("tools/say")
        assert deleted is not None and deleted.deleted and deleted.writer == "delete_tool"
        assert "kept" in (deleted.files / "main.py").read_text()  # moved, not copied and removed
        await ok(c, "version", {"action": "rollback", "tool_name": "say"})
        assert await said(c) == "kept"


async def test_delete_refuses_builtins_unknown_names_and_referenced_entries(tmp_path: Path) -> None:
    async with served([tmp_path]) as (_, server), Client(server.server) as c:
        await ok(c, "register_script", register("x"))
        await ok(
            c,
            "pipeline",
            {"action": "create", "name": "twice", "description": "d", "steps": [{"tool": "say"}]},
        )
        for args, why in [
            ({"tool_name": "memory"}, "built-in"),
            ({"tool_name": "nothing"}, "no entry called"),
            ({"tool_name": "../tools"}, "invalid name"),
            ({"tool_name": "say\n"}, "invalid name"),
            ({"tool_name": "say"}, "used by pipeline 'twice'"),
        ]:
            res = await c.call_tool("delete_tool", args)
            assert res.is_error and why in text(res), (args, text(res))
        assert (tmp_path / "tools" / "say" / "manifest.yaml").is_file()
        await ok(c, "pipeline", {"action": "delete", "name": "twice"})
        await ok(c, "delete_tool", {"tool_name": "say"})


async def test_a_hand_edit_is_recorded_before_a_writer_replaces_it(tmp_path: Path) -> None:
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        await ok(c, "register_script", register("one"))
        main = tmp_path / "tools" / "say" / "main.py"
        main.write_text(main.read_text().replace("one", "edited"))
        await engine.reload([main.parent])
        await ok(c, "register_script", register("two", overwrite=True))
    versions = History(tmp_path / ".skillz").versions("tools/say")
    assert [(v.action, v.writer) for v in versions] == [
        ("write", "register_script"),
        ("external", "external"),
        ("write", "register_script"),
    ]
    assert "edited" in (versions[1].files / "main.py").read_text()


async def test_version_errors_and_read_only(tmp_path: Path) -> None:
    async with served([tmp_path]) as (_, server), Client(server.server) as c:
        for args, why in [
            ({"action": "list", "tool_name": "ghost"}, "no entry called"),
            ({"action": "rollback"}, "needs tool_name"),
            ({"action": "explode", "tool_name": "x"}, "is not one of"),
        ]:
            res = await c.call_tool("version", args)
            assert res.is_error and why in text(res), text(res)
        await ok(c, "register_script", register("one"))
        res = await c.call_tool("version", {"action": "rollback", "tool_name": "say", "version": 9})
        assert res.is_error and "no version 9" in text(res)
        res = await c.call_tool("version", {"action": "rollback", "tool_name": "say"})
        assert res.is_error and "only 1 versions" in text(res)
        everything = await ok(c, "version", {})
        assert (everything.structured_content or {})["entries"] == ["tools/say"]
    async with served([tmp_path], EngineOptions(read_only=True)) as (_, server), Client(server.server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert not names & {"version", "delete_tool", "pipeline"}


NEWLINE_NAMES: list[tuple[str, dict[str, Any]]] = [
    ("register_script", register("x", name="say\n")),
    ("build_tool", {"name": "w\n", "language": "wat", "code": "(module)", "description": "d"}),
    ("pipeline", {"action": "create", "name": "p\n", "description": "d", "steps": [{"tool": "memory"}]}),
    ("delete_tool", {"tool_name": "say\n"}),
]


@pytest.mark.parametrize("mode", MODES)
async def test_every_writer_refuses_a_name_ending_in_a_newline(tmp_path: Path, mode: str) -> None:
    async with served([tmp_path]) as (_, server), Client(server.server, mode=mode) as c:
        for tool, args in NEWLINE_NAMES:
            res = await c.call_tool(tool, args)
            assert res.is_error and "invalid name" in text(res), (tool, text(res))
    assert not [p for p in tmp_path.rglob("*") if "\n" in p.name]


async def test_read_only_turns_every_writer_off(tmp_path: Path) -> None:
    from skillz_engine.builtins import WRITERS

    assert {
        "register_script",
        "build_tool",
        "add_skill_repo",
        "pipeline",
        "delete_tool",
        "version",
    } <= WRITERS
    async with served([tmp_path], EngineOptions(read_only=True)) as (_, server), Client(server.server) as c:
        assert not {t.name for t in (await c.list_tools()).tools} & WRITERS
