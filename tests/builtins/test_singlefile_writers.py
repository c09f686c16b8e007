"""Writers and single-file tools, through real clients of both eras: ``delete_tool`` and
``register_script`` refuse to move or shadow a script that carries its own manifest (writers
change entry directories; the file is its author's), and other entries may name it."""

from __future__ import annotations

from pathlib import Path

import mcp.types as types
import pytest
from mcp import Client

from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

HELLO = """# /// skillz
# description = "Say hello."
# protocol = "plain"
# ///
print('"hello"')
"""


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_writers_refuse_a_single_file_tool_and_leave_it_served(tmp_path: Path, mode: str) -> None:
    script = write(tmp_path / "tools" / "hello.py", HELLO)
    async with served([tmp_path]) as (_, server), Client(server.server, mode=mode) as c:
        gone = await c.call_tool("delete_tool", {"tool_name": "hello"})
        assert gone.is_error and "single-file tool" in text(gone) and "hello.py" in text(gone)
        replaced = await c.call_tool(
            "register_script",
            {
                "name": "hello",
                "description": "d",
                "code": "print(1)\n",
                "interpreter": "python3",
                "overwrite": True,
            },
        )
        assert replaced.is_error and "single-file tool" in text(replaced)
        assert script.read_text() == HELLO and not (tmp_path / "tools" / "hello").exists()
        made = await c.call_tool(
            "pipeline",
            {"action": "create", "name": "twice", "description": "d", "steps": [{"tool": "hello"}]},
        )
        assert not made.is_error, text(made)
        res = await c.call_tool("twice", {})
        assert not res.is_error and "hello" in text(res)


async def test_debug_prompt_points_at_the_script(tmp_path: Path) -> None:
    """The `debug_tool` authoring prompt shows the script (its block) and names the file to read."""
    write(tmp_path / "tools" / "hello.py", HELLO)
    async with served([tmp_path]) as (_, server), Client(server.server) as c:
        prompt = await c.get_prompt("debug_tool", {"tool_name": "hello"})
        content = prompt.messages[0].content
        assert isinstance(content, types.TextContent)
        assert f"Read {tmp_path / 'tools' / 'hello.py'}, fix the cause" in content.text
        assert "# /// skillz" in content.text
