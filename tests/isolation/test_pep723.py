"""PEP 723 inline script metadata: the block is read, and every malformation is a diagnostic."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.isolation.pep723 import inline_metadata
from tests.conftest import MakeTool

pytestmark = pytest.mark.anyio


def test_pep723_block_is_read() -> None:
    text = (
        "#!/usr/bin/env python3\n# /// script\n# requires-python = '>=3.8'\n"
        '# dependencies = [\n#   "six",\n#   "rich>=13",\n# ]\n#\n# [tool.x]\n# y = 1\n# ///\nprint(1)\n'
    )
    meta, diags = inline_metadata(text, "main.py")
    assert diags == []
    assert meta == {"requires-python": ">=3.8", "dependencies": ["six", "rich>=13"], "tool": {"x": {"y": 1}}}


def test_no_block_and_other_block_types_are_ignored() -> None:
    assert inline_metadata("print(1)\n", "m.py") == (None, [])
    assert inline_metadata("# /// pyproject\n# x = 1\n# ///\n", "m.py") == (None, [])


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("import x\n# /// script\n# dependencies = []\nprint(1)\n", 2, "not closed"),
        ("# /// script\n# x = 1\n# ///\nx = 1\n# /// script\n# y = 2\n# ///\n", 5, "more than one"),
        ("# /// script\n# dependencies = [\n# ///\n", 1, "not valid TOML"),
        ('# /// script\n# dependencies = "six"\n# ///\n', 1, "array of strings"),
        ('# /// script\n# dependencies = ["six >>> 1"]\n# ///\n', 1, "not a PEP 508"),
        ('# /// script\n# requires-python = "3.x!"\n# ///\n', 1, "requires-python"),
    ],
)
def test_malformed_blocks_are_diagnostics(text: str, line: int, words: str) -> None:
    meta, diags = inline_metadata(text, "tool/main.py")
    assert meta is None
    assert len(diags) == 1
    d = diags[0]
    assert (d.path, d.line, d.code, d.is_error) == ("tool/main.py", line, "SKZ520", True)
    assert words in d.message


async def test_malformed_block_stops_the_tool_from_compiling(make_tool: MakeTool, tmp_path: Path) -> None:
    make_tool("bad", "kind: script\ndescription: d\nentry: main.py\n",
              {"main.py": "# /// script\n# dependencies = 3\n# ///\nprint(1)\n"})  # fmt: skip
    tree = Tree([tmp_path])
    tree.full_scan()
    snap = tree.snapshot()
    assert "bad" not in snap.tools
    assert [(d.code, d.path.endswith("bad/main.py"), d.line) for d in snap.errors] == [("SKZ520", True, 1)]
    assert not (tmp_path / ".skillz" / "envs").exists()  # compile installs nothing
