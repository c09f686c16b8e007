"""The six authoring prompts through real MCP clients of both eras, rendered from the schemas and
the tree as it is when asked (names taken, tools' schemas, a failing tool's manifest and failures)."""

from __future__ import annotations

from pathlib import Path

import mcp.types as types
import pytest
from mcp import Client

from skillz_engine.engine import EngineOptions
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "2026-07-28"]
SIX = {
    "create_script_tool",
    "create_wasm_tool",
    "create_pipeline",
    "create_skill",
    "import_mcp_server",
    "debug_tool",
}
UPPER = (
    "kind: command\ndescription: Upper-cases text.\n"
    "inputSchema: {type: object, properties: {text: {type: string}}}\n"
    'argv: [python3, -c, "import sys; print(sys.argv[1].upper())", "{{ text }}"]\n'
)
BROKEN = (
    "kind: command\ndescription: Always fails.\n"
    "argv: [python3, -c, 'import sys; sys.exit(\"disk on fire\")']\n"
)


def tree(root: Path) -> Path:
    write(root / "tools" / "upper" / "manifest.yaml", UPPER)
    write(root / "tools" / "broken" / "manifest.yaml", BROKEN)
    return root


def text(result: types.GetPromptResult) -> str:
    content = result.messages[0].content
    assert isinstance(content, types.TextContent)
    return content.text


@pytest.mark.parametrize("mode", MODES)
async def test_create_prompts_know_the_schema_and_the_tree(tmp_path: Path, mode: str) -> None:
    root = tree(tmp_path)
    async with served([root]) as (_, server), Client(server.server, mode=mode) as c:
        assert {p.name for p in (await c.list_prompts()).prompts} >= SIX
        free = text(await c.get_prompt("create_script_tool", {"name": "slugify", "description": "slugs"}))
        taken = text(await c.get_prompt("create_script_tool", {"name": "upper", "description": "x"}))
        pipe = text(
            await c.get_prompt("create_pipeline", {"name": "p", "description": "d", "tools": "upper,uper"})
        )
        skill = text(await c.get_prompt("create_skill", {"name": "pdf-forms", "description": "PDF forms"}))
    assert "register_script" in free and "- `entry` (required):" in free
    assert str(root / "tools" / "slugify") in free and "is free" in free
    assert "taken by the command at" in taken
    assert '`upper`: Upper-cases text. Input schema: {"type": "object"' in pipe
    assert "`uper`: not served (did you mean upper?)" in pipe and "- `steps` (required):" in pipe
    assert str(root / "skills" / "pdf-forms") in skill and "- `description` (required):" in skill


@pytest.mark.parametrize("mode", MODES)
async def test_debug_tool_shows_manifest_and_recent_failures(tmp_path: Path, mode: str) -> None:
    root = tree(tmp_path)
    options = EngineOptions(audit="required")
    async with served([root], options) as (_, server), Client(server.server, mode=mode) as c:
        failed = await c.call_tool("broken", {})
        assert failed.is_error
        debug = text(await c.get_prompt("debug_tool", {"tool_name": "broken"}))
        missing = text(await c.get_prompt("debug_tool", {"tool_name": "brokn"}))
    assert "kind: command" in debug and "sys.exit" in debug  # the manifest
    assert "disk on fire" in debug.split("recent failed calls")[1]  # the audit log's failure
    assert "no tool named 'brokn'" in missing and "broken" in missing
