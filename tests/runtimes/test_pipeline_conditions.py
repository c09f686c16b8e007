"""Rust Skillz pipeline ``condition`` expressions: translated to ``when`` by the legacy reader, by
``migrate`` and in a modern ``when``; a ``when`` that does not parse is a positioned diagnostic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from skillz_engine.build.compile import Tree
from skillz_engine.cli.main import main
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from skillz_engine.tree.conditions import condition_expression
from skillz_engine.tree.model import ToolResult
from tests.mcp_helpers import write

MEASURE = (
    "kind: command\ndescription: json\nstdout: json\n"
    'argv: [python3, -c, \'import json,sys; print(json.dumps({"n": len(sys.argv[1]), "s": sys.argv[1]}))\', '
    '"{{ text }}"]\n'
)
UPPER = (
    "kind: command\ndescription: upper\n"
    'argv: [python3, -c, "import sys; print(sys.argv[1].upper())", "{{ text }}"]\n'
)
LEGACY = {
    "name": "shout-if-any",
    "description": "Shouts the text when it has characters",
    "tool_type": "pipeline",
    "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}},
    "pipeline_steps": [
        {"name": "m", "tool": "measure", "args": {"text": "$input.text"}},
        {"name": "up", "tool": "upper", "args": {"text": "$m.s"}, "condition": "$m.n != 0"},
    ],
}


def tree(root: Path) -> Path:
    write(root / "tools" / "measure" / "manifest.yaml", MEASURE)
    write(root / "tools" / "upper" / "manifest.yaml", UPPER)
    return root


async def call(root: Path, name: str, args: dict[str, Any]) -> ToolResult:
    t = Tree([root])
    t.full_scan()
    snap = t.snapshot()
    assert not [d for d in snap.diagnostics if d.is_error], snap.diagnostics
    return await run_tool(snap.tools[name], args, LocalCallContext(snap, name))


@pytest.mark.parametrize(
    ("condition", "expression"),
    [
        ("$prev.success == true", 'prev["success"] == true'),
        ("$count.words != 0", 'steps["count"]["words"] != 0'),
        ("$input.mode == 'fast'", 'input["mode"] == "fast"'),
        ("$prev", "prev"),
        ("$my-step.value == null", 'steps["my-step"]["value"] == none'),
        ("$prev.n == -2.5", 'prev["n"] == -2.5'),
    ],
)
def test_conditions_become_when_expressions(condition: str, expression: str) -> None:
    assert condition_expression(condition) == expression


@pytest.mark.anyio
async def test_a_legacy_condition_is_served_and_migrated(tmp_path: Path) -> None:
    root = tree(tmp_path)
    write(root / "shout-if-any" / "manifest.json", json.dumps(LEGACY))
    ran = await call(root, "shout-if-any", {"text": "abc"})
    skipped = await call(root, "shout-if-any", {"text": ""})
    assert not ran.is_error and ran.text_content().strip() == "ABC"
    assert not skipped.is_error and '"n": 0' in skipped.text_content()  # the last step that ran
    assert main(["migrate", str(root)]) == 0
    migrated = yaml.safe_load((root / "shout-if-any" / "manifest.yaml").read_text())
    assert migrated["steps"][1]["when"] == 'steps["m"]["n"] != 0'
    assert (await call(root, "shout-if-any", {"text": "xy"})).text_content().strip() == "XY"


@pytest.mark.anyio
async def test_a_skillz_condition_in_a_modern_when_works(tmp_path: Path) -> None:
    root = tree(tmp_path)
    pipeline = (
        "kind: pipeline\ndescription: p\nsteps:\n"
        "  - {id: m, tool: measure, args: {text: '{{ input.text }}'}}\n"
        "  - {id: up, tool: upper, args: {text: loud}, when: \"$m.s == 'go'\"}\n"
    )
    write(root / "pipelines" / "p" / "manifest.yaml", pipeline)
    assert (await call(root, "p", {"text": "go"})).text_content().strip() == "LOUD"
    assert '"s": "stop"' in (await call(root, "p", {"text": "stop"})).text_content()


def test_validate_reports_a_bad_when_at_its_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tree(tmp_path)
    pipeline = (
        "kind: pipeline\ndescription: p\nsteps:\n"
        '  - id: m\n    tool: measure\n    args: {text: a}\n    when: "input.x =="\n'
    )
    write(root / "pipelines" / "p" / "manifest.yaml", pipeline)
    assert main(["validate", str(root)]) == 1
    out = capsys.readouterr().out
    assert "pipelines/p/manifest.yaml:7:" in out and "SKZ503" in out and "`when`" in out
