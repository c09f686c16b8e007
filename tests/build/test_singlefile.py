"""A single-file tool compiled and called like a directory entry, and found again incrementally
when its file is edited, added or removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from tests.conftest import open_tree

pytestmark = pytest.mark.anyio

TOOL = """#!/usr/bin/env python3
# /// skillz
# description = "{description}"
# protocol = "plain"
# inputSchema = {{type = "object", properties = {{name = {{type = "string"}}}}, required = ["name"]}}
# ///
import json, os, sys
args = json.load(sys.stdin)
print(json.dumps({{"hello": args["name"], "cwd": os.getcwd()}}))
"""


def _tool(path: Path, description: str = "Say hello.") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TOOL.format(description=description))
    return path


async def test_compiled_served_and_called(tmp_path: Path) -> None:
    script = _tool(tmp_path / "tools" / "hello.py")
    tree = open_tree([tmp_path])
    tree.full_scan()
    snap = tree.snapshot()
    assert not [d for d in snap.diagnostics if d.is_error], [d.format() for d in snap.diagnostics]
    tool = snap.tools["hello"]
    assert tool.kind == "script" and tool.entry == (tmp_path / "tools" / "hello").as_posix()
    assert tool.description == "Say hello." and tool.input_schema["required"] == ["name"]
    spec = snap.specs[tool.entry]
    assert spec.single_file and spec.manifest == script and spec.home == tmp_path / "tools"
    result = await run_tool(tool, {"name": "ada"}, LocalCallContext(snap, "hello"))
    assert not result.is_error, result.text_content()
    assert '"hello": "ada"' in result.text_content()
    assert f'"cwd": "{(tmp_path / "tools").resolve()}"' in result.text_content()  # runs beside its file


async def test_a_directory_entry_is_not_a_single_file(tmp_path: Path) -> None:
    d = tmp_path / "tools" / "classic"
    d.mkdir(parents=True)
    (d / "manifest.yaml").write_text("kind: script\ndescription: c\nentry: main.py\n")
    (d / "main.py").write_text("print('{}')\n")
    tree = open_tree([tmp_path])
    tree.full_scan()
    spec = tree.snapshot().specs[d.as_posix()]
    assert not spec.single_file and spec.home == d


def test_edits_recompile_only_that_file(tmp_path: Path) -> None:
    hello = _tool(tmp_path / "tools" / "hello.py")
    other = _tool(tmp_path / "tools" / "other.py", "Other.")
    tree = open_tree([tmp_path])
    tree.full_scan()
    other_result = tree.index.results[(tmp_path / "tools" / "other").as_posix()]
    _tool(hello, "Changed.")
    tree.rescan([hello])
    snap = tree.snapshot()
    assert snap.tools["hello"].description == "Changed."
    assert tree.index.results[(tmp_path / "tools" / "other").as_posix()] is other_result  # reused
    added = _tool(tmp_path / "tools" / "added.py", "Added.")
    tree.rescan([added])
    assert "added" in tree.snapshot().tools
    hello.write_text("print('the block is gone')\n")  # no block: no longer an entry
    tree.rescan([hello])
    assert "hello" not in tree.snapshot().tools
    other.unlink()
    tree.rescan([other])
    assert "other" not in tree.snapshot().tools


def test_a_bad_edit_is_reported_in_the_script(tmp_path: Path) -> None:
    hello = _tool(tmp_path / "tools" / "hello.py")
    tree = open_tree([tmp_path], lenient=True)
    tree.full_scan()
    first = tree.snapshot()
    hello.write_text(hello.read_text().replace('protocol = "plain"', 'protocol = "carrier-pigeon"'))
    tree.rescan([hello])
    snap = tree.snapshot(first)
    errors = [d for d in snap.diagnostics if d.is_error]
    assert [(d.path.endswith("tools/hello.py"), d.line, d.col, d.code) for d in errors] == [
        (True, 4, 14, "SKZ104")
    ], [d.format() for d in errors]
    assert "hello" in snap.tools  # serve keeps the last good version


async def test_from_the_spec_cache_it_still_runs_beside_its_file(tmp_path: Path) -> None:
    """A second start reads the spec from the cache (no parse) and the tool still runs as a single file."""
    _tool(tmp_path / "tools" / "hello.py")
    for start in ("cold", "cached"):
        tree = Tree([tmp_path], lenient=True, cache=True)
        tree.full_scan()
        snap = tree.snapshot()
        spec = snap.specs[(tmp_path / "tools" / "hello").as_posix()]
        assert spec.single_file and spec.home == tmp_path / "tools", start
        result = await run_tool(snap.tools["hello"], {"name": start}, LocalCallContext(snap, "hello"))
        assert f'"hello": "{start}"' in result.text_content(), result.text_content()
