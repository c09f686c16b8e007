"""Scanning is finite: symlink loops and second links to a directory are walked once and reported
(SKZ209), and a scan stops at its directory and depth bounds with a diagnostic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from skillz_engine.cli.main import main
from skillz_engine.engine import EngineOptions
from skillz_engine.tree import scan as scan_module
from skillz_engine.tree.scan import MAX_SCAN_DEPTH, fingerprint, scan
from tests.mcp_helpers import served

Write = Callable[..., Path]
SKILL = "---\nname: {n}\ndescription: the {n} skill\n---\nBody.\n"
PROMPT = "kind: prompt\ndescription: d\nmessages:\n  - {role: user, content: hi}\n"


def _loops(tmp_path: Path, write: Write) -> None:
    write("skills/alpha/SKILL.md", SKILL.format(n="alpha"))
    write("prompts/p/manifest.yaml", PROMPT)
    (tmp_path / "skills/self").symlink_to(".")  # the report's reproducer
    (tmp_path / "skills/alpha/up").symlink_to("..")  # a loop through a skill (skills are walked inside)
    (tmp_path / "prompts/p/l1").symlink_to(".")  # loops inside an entry: its fingerprint walks it
    (tmp_path / "prompts/p/l2").symlink_to(".")


def test_symlink_loops_are_reported_and_the_rest_is_found(tmp_path: Path, write: Write) -> None:
    _loops(tmp_path, write)
    found, diags = scan([tmp_path])
    assert sorted(f.dir.relative_to(tmp_path).as_posix() for f in found) == ["prompts/p", "skills/alpha"]
    assert {(d.code, d.path.rsplit("/", 1)[-1]) for d in diags} == {("SKZ209", "self"), ("SKZ209", "up")}
    assert all(not d.is_error for d in diags)
    p = next(f for f in found if f.dir.name == "p")
    assert fingerprint(p) == fingerprint(p)  # finite, and stable


def test_validate_a_tree_with_a_loop_exits_0_not_3(
    tmp_path: Path, write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    _loops(tmp_path, write)
    assert main(["validate", str(tmp_path)]) == 0
    assert "SKZ209" in capsys.readouterr().out


@pytest.mark.anyio
async def test_serve_a_tree_with_a_loop_serves_the_rest(tmp_path: Path, write: Write) -> None:
    """Served with the watcher on, the tree with loops serves its entries and picks up a new one."""
    _loops(tmp_path, write)
    with anyio.fail_after(30):
        async with served([tmp_path], EngineOptions(watch=True, debounce_ms=20)) as (engine, _server):
            snap = engine.live.current
            assert "p" in snap.prompts
            assert any(s.name == "alpha" for s in snap.specs.values())
            assert any(d.code == "SKZ209" for d in snap.diagnostics)
            for attempt in range(200):  # written again until the watcher, starting meanwhile, sees it
                if attempt % 10 == 0:
                    write("skills/beta/SKILL.md", SKILL.format(n="beta") + "\n" * attempt)
                if any(s.name == "beta" for s in engine.live.current.specs.values()):
                    break
                await anyio.sleep(0.05)
            assert any(s.name == "beta" for s in engine.live.current.specs.values())


def test_second_link_to_a_directory_is_scanned_once(tmp_path: Path, write: Write) -> None:
    write("skills/alpha/SKILL.md", SKILL.format(n="alpha"))
    (tmp_path / "skills/beta").symlink_to("alpha")
    found, diags = scan([tmp_path])
    assert len(found) == 1
    assert [d.code for d in diags] == ["SKZ209"]


def test_depth_bound(tmp_path: Path, write: Write) -> None:
    deep = "/".join(f"d{i}" for i in range(MAX_SCAN_DEPTH + 2))
    write(f"{deep}/p/manifest.yaml", PROMPT)
    write("prompts/q/manifest.yaml", PROMPT)
    found, diags = scan([tmp_path])
    assert [f.dir.name for f in found] == ["q"]
    assert [d.code for d in diags] == ["SKZ209"] and "levels below" in diags[0].message


def test_directory_bound(tmp_path: Path, write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound is lowered for the test (the real one is 50,000 directories)."""
    monkeypatch.setattr(scan_module, "MAX_SCAN_DIRS", 20)
    for i in range(40):
        (tmp_path / f"empty{i:02}").mkdir()
    found, diags = scan([tmp_path])
    assert found == []
    assert [d.code for d in diags] == ["SKZ209"] and "scan stopped after 20" in diags[0].message


def test_the_scan_fingerprints_a_flat_entry_as_fingerprint_does(tmp_path: Path, write: Write) -> None:
    """An entry without subdirectories gets its fingerprint from the scan's own listing (dot files
    and editor files left out, as ever); one with a subdirectory is left to :func:`fingerprint`;
    an edit changes both alike."""
    write("tools/flat/manifest.yaml", "kind: command\ndescription: d\nargv: [echo]\n")
    write("tools/flat/run.sh", "echo hi\n")
    write("tools/flat/.hidden", "x\n")
    write("tools/flat/notes.swp", "x\n")
    write("tools/deep/manifest.yaml", "kind: command\ndescription: d\nargv: [echo]\n")
    write("tools/deep/lib/helper.py", "x = 1\n")
    write("skills/alpha/SKILL.md", SKILL.format(n="alpha"))
    found = {f.dir.name: f for f in scan([tmp_path])[0]}
    assert found["flat"].scanned_fp == fingerprint(found["flat"])
    assert found["deep"].scanned_fp is None and found["alpha"].scanned_fp is None
    before = found["flat"].scanned_fp
    write("tools/flat/run.sh", "echo changed\n")
    again = {f.dir.name: f for f in scan([tmp_path])[0]}["flat"]
    assert again.scanned_fp == fingerprint(again) != before
    assert again == found["flat"]  # the same entry: the fingerprint is not part of its identity
