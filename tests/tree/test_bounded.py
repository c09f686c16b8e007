"""Reading a manifest is bounded: alias and merge bombs, deep nesting (YAML and JSON) and keys made
of aliases end in a positioned SKZ009 diagnostic, quickly and in little memory."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from skillz_engine.tree.bounded import MAX_DEPTH, MAX_NODES
from skillz_engine.tree.parse import parse_file


def _billion_laughs(levels: int = 9) -> str:
    """The 577-byte bomb of the security report: 9 levels of 9-way aliases."""
    lols = ",".join(['"lol"'] * 9)
    lines = ["kind: script", "description: x", f"a0: &a0 [{lols}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int = 30) -> str:
    """Merge keys that merge merged mappings: flattening them naively multiplies the pairs."""
    lines = ["kind: script", "description: x", "a0: &a0 {k0: 1, k1: 2, k2: 3, k3: 4, k4: 5, k5: 6, k6: 7}"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} {{<<: [{','.join([f'*a{i - 1}'] * 9)}], x{i}: 1}}")
    return "\n".join(lines) + "\n"


def _parse_bounded(path: Path) -> list[tuple[str, int, int]]:
    """Parse ``path`` in under 2 s of CPU (wall time depends on the machine's load), then again
    traced in under 64 MiB; its diagnostics as (code, line, col)."""
    t0 = time.process_time()
    doc = parse_file(path)
    assert time.process_time() - t0 < 2.0
    tracemalloc.start()
    try:
        parse_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20
    return [(d.code, d.line, d.col) for d in doc.diagnostics]


def test_billion_laughs_is_a_positioned_error(tmp_path: Path) -> None:
    p = tmp_path / "manifest.yaml"
    p.write_text(_billion_laughs())
    assert len(p.read_bytes()) < 600
    diags = _parse_bounded(p)
    assert len(diags) == 1 and diags[0][0] == "SKZ009" and diags[0][1] >= 3


def test_merge_bomb_is_resolved_once_per_mapping(tmp_path: Path) -> None:
    """Merged keys are kept once each, so 30 levels of 9-way merges stay a few hundred values."""
    p = tmp_path / "manifest.yaml"
    p.write_text(_merge_bomb())
    assert _parse_bounded(p) == []
    data = parse_file(p).data
    assert set(data["a29"]) == {f"k{i}" for i in range(7)} | {f"x{i}" for i in range(1, 30)}


def test_merge_keeps_yaml_semantics(tmp_path: Path) -> None:
    """Own keys override merged ones (no duplicate-key error), earlier merges win over later ones."""
    p = tmp_path / "manifest.yaml"
    p.write_text("a: &a {x: 1, y: 2}\nb: &b {y: 3, z: 4}\nm:\n  <<: [*a, *b]\n  x: 9\n")
    doc = parse_file(p)
    assert doc.diagnostics == ()
    assert doc.data["m"] == {"x": 9, "y": 2, "z": 4}
    p.write_text("a: 1\nm:\n  <<: [1]\n")
    assert [(d.code, d.line) for d in parse_file(p).diagnostics] == [("SKZ009", 3)]


def test_alias_as_key_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "manifest.yaml"
    p.write_text("a: &a [1, 2]\n? *a\n: 1\n")
    assert _parse_bounded(p) == [("SKZ009", 1, 4)]


def test_many_plain_values_within_the_bound_are_fine(tmp_path: Path) -> None:
    p = tmp_path / "manifest.yaml"
    p.write_text("kind: script\nlist: [" + ",".join(["1"] * (MAX_NODES - 10)) + "]\n")
    assert parse_file(p).diagnostics == ()
    p.write_text("kind: script\nlist: [" + ",".join(["1"] * (MAX_NODES + 1)) + "]\n")
    assert [d.code for d in parse_file(p).diagnostics] == ["SKZ009"]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_deep_json_is_a_positioned_error(tmp_path: Path, depth: int) -> None:
    """Deep JSON used to reach json.loads' recursion limit (SKZ901); now it stops at the bracket."""
    p = tmp_path / "manifest.json"
    p.write_text('{"kind": "script",\n "x": ' + "[" * depth + "]" * depth + "}")
    assert _parse_bounded(p) == [("SKZ009", 2, 6 + MAX_DEPTH)]


def test_json_depth_ignores_brackets_in_strings_and_allows_the_bound(tmp_path: Path) -> None:
    p = tmp_path / "manifest.json"
    nest = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    p.write_text('{"kind": "script", "s": "' + "[" * 500 + '", "x": ' + nest + "}")
    assert _parse_bounded(p) == []


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900])
def test_deep_yaml_is_a_positioned_error(tmp_path: Path, depth: int) -> None:
    p = tmp_path / "manifest.yaml"
    p.write_text("kind: script\nx:\n" + "".join(f"{'  ' * (i + 1)}- \n" for i in range(depth)))
    [(code, line, _col)] = _parse_bounded(p)
    assert code in ("SKZ009", "SKZ001") and line > 2
