"""Every Agent Skills front-matter rule, with its position: `validate` fails on each; `serve`
(lenient) loads a skill with a fixable problem and skips only one without a description or with
YAML it cannot parse, saying why in the diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.build.snapshot import Snapshot

# (directory, front matter between the --- lines, expected (code, line, col, words in the message))
CASES: list[tuple[str, str, list[tuple[str, int, int, str]]]] = [
    (
        "a" * 65,
        f"name: {'a' * 65}\ndescription: ok\n",
        [("SKZ202", 2, 1, "not a valid skill name"), ("SKZ106", 2, 7, "too long: 65")],
    ),
    (
        "upper",
        "name: Upper\ndescription: ok\n",
        [("SKZ105", 2, 7, "must be lowercase"), ("SKZ201", 2, 7, "directory")],
    ),
    (
        "lead",
        "name: -lead\ndescription: ok\n",
        [("SKZ105", 2, 7, "start or end with a hyphen"), ("SKZ201", 2, 7, "")],
    ),
    (
        "trail",
        "name: trail-\ndescription: ok\n",
        [("SKZ105", 2, 7, "start or end with a hyphen"), ("SKZ201", 2, 7, "")],
    ),
    (
        "dou--ble",
        "name: dou--ble\ndescription: ok\n",
        [("SKZ202", 2, 1, ""), ("SKZ105", 2, 7, "two hyphens")],
    ),
    ("under", "name: under_score\ndescription: ok\n", [("SKZ105", 2, 7, "'_'"), ("SKZ201", 2, 7, "")]),
    (
        "folder",
        "name: other\ndescription: ok\n",
        [("SKZ201", 2, 7, "does not match the directory name 'folder'")],
    ),
    ("nodesc", "name: nodesc\n", [("SKZ102", 2, 1, "'description'")]),
    ("emptydesc", "name: emptydesc\ndescription: ''\n", [("SKZ106", 3, 14, "must not be empty")]),
    (
        "longdesc",
        f"name: longdesc\ndescription: {'x' * 1025}\n",
        [("SKZ106", 3, 14, "too long: 1025 characters, at most 1024")],
    ),
    (
        "compat0",
        "name: compat0\ndescription: ok\ncompatibility: ''\n",
        [("SKZ106", 4, 16, "must not be empty")],
    ),
    (
        "compat",
        f"name: compat\ndescription: ok\ncompatibility: {'x' * 501}\n",
        [("SKZ106", 4, 16, "at most 500")],
    ),
    (
        "meta",
        "name: meta\ndescription: ok\nmetadata:\n  author: me\n  version: 1\n",
        [("SKZ103", 6, 12, "expected string")],
    ),
    ("metalist", "name: metalist\ndescription: ok\nmetadata: [a]\n", [("SKZ103", 4, 11, "expected object")]),
    (
        "tools",
        "name: tools\ndescription: ok\nallowed-tools: [Read, Bash]\n",
        [("SKZ103", 4, 16, "expected string, got a list")],
    ),
    ("lic", "name: lic\ndescription: ok\nlicense: 3\n", [("SKZ103", 4, 10, "expected string")]),
    ("colon", "name: colon\ndescription: Use when: it breaks\n", [("SKZ001", 3, 22, "invalid YAML")]),
    ("badyaml", "name: badyaml\ndescription: [unclosed\n", [("SKZ001", 4, 1, "invalid YAML")]),
]
FATAL_WHILE_SERVING = {"nodesc", "emptydesc", "badyaml"}


def tree_of(tmp_path: Path, lenient: bool) -> Snapshot:
    for d, fm, _ in CASES:
        p = tmp_path / "skills" / d / "SKILL.md"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"---\n{fm}---\n# {d}\n", encoding="utf-8")
    ok = tmp_path / "skills" / "fine"
    ok.mkdir()
    (ok / "SKILL.md").write_text(
        "---\nname: fine\ndescription: All good.\nlicense: MIT\ncompatibility: Needs git\n"
        "metadata:\n  author: me\nallowed-tools: Bash(git:*) Read\nunknown-key: kept\n---\nBody\n",
        encoding="utf-8",
    )
    tree = Tree([tmp_path], lenient=lenient)
    tree.full_scan()
    return tree.snapshot()


@pytest.mark.parametrize(("directory", "front", "expected"), CASES, ids=[c[0][:12] for c in CASES])
def test_validate_reports_each_rule_at_its_position(
    tmp_path: Path, directory: str, front: str, expected: list[tuple[str, int, int, str]]
) -> None:
    snap = tree_of(tmp_path, lenient=False)
    got = [d for d in snap.diagnostics if f"/{directory}/SKILL.md" in d.path]
    assert [(d.code, d.line, d.col) for d in got] == [(c, ln, col) for c, ln, col, _ in expected]
    for d, (_, _, _, words) in zip(got, expected, strict=True):
        assert d.is_error and words in d.message, d
    assert directory not in {s.name for s in snap.skills() if s.key in snap.entries}


def test_a_valid_skill_passes_with_only_an_unknown_key_warning(tmp_path: Path) -> None:
    snap = tree_of(tmp_path, lenient=False)
    got = [d for d in snap.diagnostics if "/fine/SKILL.md" in d.path]
    assert [(d.code, d.line, d.col, d.is_error) for d in got] == [("SKZ110", 9, 1, False)]
    assert "fine" in snap.prompts


def test_serve_is_lenient_but_says_why(tmp_path: Path) -> None:
    snap = tree_of(tmp_path, lenient=True)
    served = {s.name for s in snap.skills() if s.key in snap.entries}
    assert served == {"fine"} | {d for d, _, _ in CASES} - FATAL_WHILE_SERVING
    for d in snap.diagnostics:
        skipped = any(f"/{name}/SKILL.md" in d.path for name in FATAL_WHILE_SERVING)
        assert d.is_error == skipped, d
    # the fixable ones are served under their directory name
    assert "folder" in snap.prompts and "upper" in snap.prompts
    # an unquoted ': ' in a value is read as the client guide suggests, with a warning
    [colon] = [d for d in snap.diagnostics if "/colon/SKILL.md" in d.path]
    assert (colon.code, colon.line, colon.col, colon.is_error) == ("SKZ008", 3, 22, False)
    assert snap.prompts["colon"].description == "Use when: it breaks"
