"""Single-file tools: the ``/// skillz`` block and front matter of a script, read with positions
in the script, and found by the scan as entries without a directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.tree.scan import fingerprint, is_single_file, is_skillz_service, scan
from skillz_engine.tree.singlefile import has_metadata, parse_single_file
from skillz_engine.tree.tomlpos import toml_positions

HELLO = """#!/usr/bin/env python3
# /// skillz
# description = "Say hello."
# tags = ["greeting", "demo"]
# inputSchema = {type = "object", properties = {name = {type = "string"}}}
#
# [limits]
# timeout = "5s"
# ///
import sys
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _doc(tmp_path: Path, name: str, text: str):  # type: ignore[no-untyped-def]
    return parse_single_file(_write(tmp_path / name, text), name)


def test_block_becomes_a_script_manifest_with_positions_in_the_file(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "hello.py", HELLO)
    assert doc.diagnostics == ()
    assert doc.data == {
        "description": "Say hello.",
        "tags": ["greeting", "demo"],
        "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
        "limits": {"timeout": "5s"},
        "kind": "script",
        "entry": "hello.py",
    }
    # columns count the `# ` prefix: the value of description is at line 3, column 17
    assert doc.positions.value(("description",)) == (3, 17)
    assert doc.positions.key(("description",)) == (3, 3)
    assert doc.positions.value(("tags", 1)) == (4, 23)
    assert doc.positions.value(("inputSchema", "properties", "name", "type")) == (5, 64)
    assert doc.positions.key(("limits", "timeout")) == (8, 3)
    assert doc.positions.value(("kind",)) == (2, 1)  # implied: the block's opening line


def test_javascript_uses_its_line_comment(tmp_path: Path) -> None:
    text = '// /// skillz\n// description = "JS tool"\n// ///\nconsole.log("{}")\n'
    doc = _doc(tmp_path, "tool.js", text)
    assert doc.data["description"] == "JS tool" and doc.data["entry"] == "tool.js"
    assert doc.positions.value(("description",)) == (2, 18)


def test_yaml_front_matter_after_a_shebang(tmp_path: Path) -> None:
    text = (
        "#!/usr/bin/env node\n// ---\n// description: Front matter.\n"
        "// inputSchema:\n//   type: object\n// ---\n"
    )
    doc = _doc(tmp_path, "fm.js", text)
    assert doc.diagnostics == ()
    assert doc.data["description"] == "Front matter." and doc.data["kind"] == "script"
    assert doc.positions.value(("description",)) == (3, 17)
    assert doc.positions.value(("inputSchema", "type")) == (5, 12)


@pytest.mark.parametrize(
    ("text", "line", "col", "code", "words"),
    [
        ('# /// skillz\n# description = "x"\n# tags = [1,,]\n# ///\n', 3, 13, "SKZ001", "invalid TOML"),
        ('# /// skillz\n# description = "x\n# ///\n', 2, 19, "SKZ001", "invalid TOML"),
        ('# /// skillz\n# description = "x"\nimport os\n# ///\n', 3, 1, "SKZ001", "not closed"),
        ('# /// skillz\n# description = "x"\n', 1, 1, "SKZ001", "not closed"),
        ("# /// skillz\n# ///\n# /// skillz\n# ///\n", 3, 1, "SKZ001", "second skillz block"),
        ("# /// skillz\n#\n# ///\n", 1, 1, "SKZ002", "empty"),
        ('# /// skillz\n# description = "x"\n#   entry = "other.py"\n# ///\n', 3, 5, "SKZ210", "entry"),
        ('# /// skillz\n# kind = "command"\n# description = "x"\n# ///\n', 2, 10, "SKZ210", "script tool"),
        ("# ---\n# description: [oops\n# ---\n", 2, 3, "SKZ001", "invalid YAML"),
    ],
)
def test_block_problems_point_into_the_script(
    tmp_path: Path, text: str, line: int, col: int, code: str, words: str
) -> None:
    doc = _doc(tmp_path, "bad.py", text)
    errors = [d for d in doc.diagnostics if d.is_error]
    assert errors, doc
    d = errors[0]
    assert (d.path, d.line, d.col, d.code) == ("bad.py", line, col, code), d
    assert words in d.message


def test_toml_positions_of_headers_arrays_of_tables_and_multiline_arrays() -> None:
    text = (
        "a.b = 1\n\"quoted key\" = 'x'\n[t.u]\nv = [\n  1,\n  {w = 2},\n]\n[[list]]\nx = 1\n[[list]]\nx = 2\n"
    )
    where = [(n + 10, 2) for n in range(text.count("\n") + 1)]
    values, keys = toml_positions(text, where)
    assert values[("a", "b")] == (10, 9)
    assert keys[("a", "b")] == (10, 5)
    assert values[("quoted key",)] == (11, 18)
    assert values[("t", "u", "v", 1, "w")] == (15, 10)
    assert values[("list", 1, "x")] == (20, 7)


def test_scan_finds_single_files_as_virtual_entries(tmp_path: Path) -> None:
    hello = _write(tmp_path / "tools" / "hello.py", HELLO)
    _write(tmp_path / "tools" / "plain.py", "print('no block')\n")
    _write(tmp_path / "tools" / "notes.txt", "# /// skillz\n# ///\n")
    _write(tmp_path / "tools" / "rule.sh", "# ---\necho a rule, not front matter\n# ---\n")
    _write(tmp_path / "tools" / "front.js", "// ---\n// description: d\n// ---\n")
    _write(tmp_path / "tools" / "dir" / "manifest.yaml", "kind: script\ndescription: d\nentry: x.py\n")
    _write(tmp_path / "tools" / "dir" / "inner.py", HELLO)  # inside an entry: the entry's own file
    _write(tmp_path / "skills" / "s" / "SKILL.md", "---\nname: s\ndescription: d\n---\n")
    owned = _write(tmp_path / "skills" / "s" / "tools" / "own.py", HELLO)
    found, diags = scan([tmp_path])
    assert diags == []
    by_key = {f.key: f for f in found}
    single = by_key[(tmp_path / "tools" / "hello").as_posix()]
    assert single.manifest == hello and is_single_file(single) and not is_skillz_service(single)
    assert by_key[(tmp_path / "skills/s/tools/own").as_posix()].owner == "s"
    assert by_key[(tmp_path / "skills/s/tools/own").as_posix()].manifest == owned
    assert (tmp_path / "tools" / "plain").as_posix() not in by_key
    assert (tmp_path / "tools" / "rule").as_posix() not in by_key
    assert is_single_file(by_key[(tmp_path / "tools" / "front").as_posix()])
    assert (tmp_path / "tools" / "dir" / "inner").as_posix() not in by_key
    assert has_metadata(hello) and not has_metadata(tmp_path / "tools" / "plain.py")
    before = fingerprint(single)
    hello.write_text(HELLO + "# more\n")
    assert fingerprint(single) != before  # the file is the entry: its edits change the fingerprint


def test_a_directory_or_an_earlier_file_of_the_same_name_wins(tmp_path: Path) -> None:
    _write(tmp_path / "tools" / "a.py", HELLO)
    _write(tmp_path / "tools" / "a.sh", HELLO)
    _write(tmp_path / "tools" / "b.py", HELLO)
    _write(tmp_path / "tools" / "b" / "manifest.yaml", "kind: script\ndescription: d\nentry: x.py\n")
    found, diags = scan([tmp_path])
    a = [f for f in found if f.dir.name == "a"]
    assert [f.manifest.name for f in a if f.manifest] == ["a.py"]
    assert [f.manifest for f in found if f.dir.name == "b"] == [tmp_path / "tools" / "b" / "manifest.yaml"]
    assert sorted((Path(d.path).name, d.code, d.severity.value) for d in diags) == [
        ("a.sh", "SKZ210", "warning"),
        ("b.py", "SKZ210", "warning"),
    ]


def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = _write(tmp_path / "elsewhere" / "x.py", HELLO)
    root = tmp_path / "root"
    (root / "tools").mkdir(parents=True)
    (root / "tools" / "x.py").symlink_to(outside)
    found, diags = scan([root])
    assert found == []
    assert [(Path(d.path).name, d.code, d.severity.value) for d in diags] == [("x.py", "SKZ206", "error")]
