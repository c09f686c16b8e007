"""Parsing keeps positions: values, keys, JSON, SKILL.md front matter, and bad bytes."""

from __future__ import annotations

from pathlib import Path

from skillz_engine.tree.parse import MAX_MANIFEST_BYTES, format_json_path, parse_file, split_front_matter


def test_yaml_values_and_keys_have_positions(tmp_path: Path) -> None:
    """Every value and key gets its 1-based line and column."""
    p = tmp_path / "manifest.yaml"
    p.write_text("kind: command\nsteps:\n  - id: a\n    tool: x\n")
    doc = parse_file(p)
    assert doc.data == {"kind": "command", "steps": [{"id": "a", "tool": "x"}]}
    assert doc.positions.value(("kind",)) == (1, 7)
    assert doc.positions.key(("steps",)) == (2, 1)
    assert doc.positions.value(("steps", 0, "tool")) == (4, 11)
    assert doc.positions.value(("steps", 0, "missing", 3)) == (3, 5)  # nearest ancestor


def test_json_positions_and_duplicate_keys(tmp_path: Path) -> None:
    """JSON is parsed strictly; positions come from the same text; duplicate keys are errors."""
    p = tmp_path / "manifest.json"
    p.write_text('{\n  "kind": "command",\n  "argv": ["a", "b"],\n  "kind": "script"\n}\n')
    doc = parse_file(p)
    assert [(d.code, d.line, d.col) for d in doc.diagnostics] == [("SKZ006", 4, 3)]
    assert doc.positions.value(("argv", 1)) == (3, 17)


def test_json_rejects_nan_and_comments(tmp_path: Path) -> None:
    """NaN and comments are not JSON."""
    p = tmp_path / "manifest.json"
    p.write_text('{"a": NaN}')
    assert parse_file(p).diagnostics[0].code == "SKZ001"
    p.write_text('{"a": 1 // no\n}')
    d = parse_file(p).diagnostics[0]
    assert (d.code, d.line) == ("SKZ001", 1)


def test_bad_bytes_are_diagnostics_not_tracebacks(tmp_path: Path) -> None:
    """Binary garbage, invalid UTF-8, an empty file and an oversized file each get a code."""
    p = tmp_path / "manifest.yaml"
    p.write_bytes(b"kind: x\x00\xff\xfe")
    assert parse_file(p).diagnostics[0].code == "SKZ004"
    p.write_bytes(b"kind: \xff\xfe\n")
    d = parse_file(p).diagnostics[0]
    assert (d.code, d.line, d.col) == ("SKZ004", 1, 7)
    p.write_text("   \n\n")
    assert parse_file(p).diagnostics[0].code == "SKZ002"
    p.write_text("a: " + "x" * MAX_MANIFEST_BYTES)
    assert parse_file(p).diagnostics[0].code == "SKZ003"


def test_yaml_alias_bomb_and_odd_scalars_are_contained(tmp_path: Path) -> None:
    """Non-JSON YAML scalars (dates) keep their text; recursion problems become diagnostics."""
    p = tmp_path / "manifest.yaml"
    p.write_text("kind: command\nversion: 2024-01-01\non: yes\n")
    doc = parse_file(p)
    assert doc.data["version"] == "2024-01-01"
    assert doc.data["on"] is True  # a key stays as written; the value `yes` is YAML 1.1's true


def test_skill_md_front_matter_positions(tmp_path: Path) -> None:
    """SKILL.md front matter positions are those of the file, not of the YAML block."""
    p = tmp_path / "SKILL.md"
    p.write_text("---\nname: demo\ndescription: Does things.\n---\n# Demo\nbody\n")
    doc = parse_file(p)
    assert doc.data == {"name": "demo", "description": "Does things."}
    assert doc.positions.value(("description",)) == (3, 14)
    assert doc.body == "# Demo\nbody\n" and doc.body_line == 5


def test_skill_md_yaml_error_points_into_the_file(tmp_path: Path) -> None:
    """A YAML error inside front matter reports the file's own line number."""
    p = tmp_path / "SKILL.md"
    p.write_text("---\nname: demo\ndescription: [oops\n---\nbody\n")
    d = parse_file(p).diagnostics[0]
    assert d.code == "SKZ001" and d.line >= 3


def test_front_matter_split_tolerates_trailing_spaces() -> None:
    """A fence line with trailing spaces still closes the front matter."""
    front, start, body, line = split_front_matter("--- \nname: a\n---  \nbody")
    assert front == "name: a\n" and start == 2 and body == "body" and line == 4


def test_json_path_format() -> None:
    """JSON paths read like JSONPath."""
    assert format_json_path(("steps", 0, "args", "a b")) == '$.steps[0].args["a b"]'
