"""A tool's inputSchema and outputSchema are checked against the JSON Schema 2020-12 metaschema at
validate time (SKZ111 at the offending key), and a schema that still fails while a call validates
against it makes that call an ``isError`` result, never an exception."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from skillz_engine.cli.main import main
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from skillz_engine.runtimes.results import from_json
from skillz_engine.tree.jsonschemas import json_schema_diagnostics
from skillz_engine.tree.parse import parse_file
from tests.conftest import open_tree

BAD_X = {"type": "object", "properties": {"x": {"type": "strng"}}}
HEAD = "kind: command\ndescription: echo\nargv: [echo, '{\"y\": 1}']\n"


def _codes(tmp_path: Path, text: str) -> list[tuple[str, int, int, str]]:
    p = tmp_path / "manifest.yaml"
    p.write_text(HEAD + text)
    return [(d.code, d.line, d.col, d.hint or "") for d in json_schema_diagnostics(parse_file(p))]


def test_unknown_type_is_positioned_at_the_key_with_a_suggestion(tmp_path: Path) -> None:
    text = "inputSchema:\n  type: object\n  properties:\n    x:\n      type: strng\n"
    assert _codes(tmp_path, text) == [("SKZ111", 8, 7, "Did you mean 'string'?")]


def test_output_schema_bad_regex_and_type_list(tmp_path: Path) -> None:
    text = "outputSchema:\n  type: [object, nul]\n  properties:\n    y: {pattern: '('}\n"
    assert [c[:3] for c in _codes(tmp_path, text)] == [("SKZ111", 7, 9), ("SKZ111", 5, 3)]


def test_unresolvable_ref_is_reported_at_the_schema(tmp_path: Path) -> None:
    assert [c[:3] for c in _codes(tmp_path, "inputSchema:\n  $ref: '#/$defs/nope'\n")] == [("SKZ111", 4, 1)]


def test_valid_schemas_pass(tmp_path: Path) -> None:
    text = (
        "inputSchema:\n  type: object\n  properties:\n    x: {type: [string, 'null'], pattern: '^a+$'}\n"
        "  $defs: {n: {type: integer}}\n  additionalProperties: {$ref: '#/$defs/n'}\n"
        "outputSchema: {type: object}\n"
    )
    assert _codes(tmp_path, text) == []


def test_validate_strict_fails_on_a_bad_input_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tools/t").mkdir(parents=True)
    (tmp_path / "tools/t/manifest.yaml").write_text(
        HEAD + "inputSchema: {type: object, properties: {x: {type: strng}}}\n"
    )
    assert main(["validate", "--strict", str(tmp_path)]) == 1
    assert "SKZ111" in capsys.readouterr().out


@pytest.mark.anyio
async def test_a_call_against_a_schema_that_fails_is_an_error_result(tmp_path: Path) -> None:
    """A schema that did not come through validate (a cached spec, an upstream server's) still
    never raises out of a call."""
    (tmp_path / "tools/t").mkdir(parents=True)
    (tmp_path / "tools/t/manifest.yaml").write_text(HEAD)
    tree = open_tree([tmp_path])
    tree.full_scan()
    snap = tree.snapshot()
    tool = dataclasses.replace(
        snap.tools["t"], input_schema={"type": "object", "properties": {"x": {"type": "strng"}}}
    )
    result = await run_tool(tool, {"x": 1}, LocalCallContext(snap, "t"))
    assert result.is_error and "inputSchema cannot be used" in result.content[0]["text"]
    out = from_json({"y": 1}, {"type": "object", "properties": {"y": {"type": "intgr"}}})
    assert out.is_error and "outputSchema cannot be used" in out.content[0]["text"]


def test_a_regex_only_ecma_accepts_is_reported_at_its_key(tmp_path: Path) -> None:
    """The Rust metaschema check knows ECMA regular expressions; one Python cannot compile
    (``\\p{L}``) still gets the Python check's diagnostic, at its `pattern` key."""
    text = "inputSchema:\n  type: object\n  properties:\n    x: {type: string, pattern: '\\p{L}+'}\n"
    assert [c[:3] for c in _codes(tmp_path, text)] == [("SKZ111", 7, 23)]
