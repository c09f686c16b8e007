"""``validate`` checks exactly the paths given: a file or an entry directory is that entry alone
(compiled alone unless it names other entries), a directory is a root reported whole, and nothing
of the current directory is compiled or reported unless it is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.cli.main import main
from skillz_engine.cli.validate import tree_root

GOOD = "kind: prompt\ndescription: A prompt.\nmessages:\n  - role: user\n    content: hi\n"
BAD = "kind: prompt\ndescription: 3\nmessages: []\n"
SCRIPT = "kind: script\ndescription: echo\nentry: main.py\ninterpreter: python\n"


def _entry(root: Path, rel: str, text: str) -> Path:
    (root / rel).mkdir(parents=True, exist_ok=True)
    m = root / rel / "manifest.yaml"
    m.write_text(text)
    return m


@pytest.fixture
def parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A large parent directory as the cwd: a tree in ``mine/``, broken entries all around it."""
    monkeypatch.chdir(tmp_path)
    for i in range(30):
        _entry(tmp_path, f"junk{i}/prompts/bad", BAD)
    _entry(tmp_path, "mine/prompts/good", GOOD)
    _entry(tmp_path, "mine/prompts/broken", BAD)
    _entry(tmp_path, "other/prompts/o", GOOD)
    return tmp_path


def _report(capsys: pytest.CaptureFixture[str]) -> tuple[int, set[str]]:
    data = json.loads(capsys.readouterr().out)
    return data["entries"], {d["path"].split("/prompts/")[0] for d in data["diagnostics"]}


def test_one_file_from_a_large_parent(parent: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "json", "mine/prompts/good/manifest.yaml"]) == 0
    assert _report(capsys) == (1, set())
    assert main(["validate", "--format", "json", "mine/prompts/broken/manifest.yaml"]) == 1
    assert _report(capsys) == (1, {"mine"})


def test_dir_and_file_report_only_those(parent: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 17: `validate DIR FILE` reported every entry under the cwd."""
    assert main(["validate", "--format", "json", "other", "mine/prompts/broken/manifest.yaml"]) == 1
    assert _report(capsys) == (2, {"mine"})


def test_an_entry_directory_names_that_entry(parent: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "json", "mine/prompts/broken"]) == 1
    assert _report(capsys) == (1, {"mine"})


def test_only_the_named_entry_is_compiled(parent: Path) -> None:
    tree = Tree([parent / "mine"])
    key = (parent / "mine/prompts/good").resolve().as_posix()
    tree.compile_only([key])
    assert list(tree.results) == [key]


def test_references_still_resolve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A named entry that names a sibling gets the whole tree compiled, so the reference resolves."""
    _entry(tmp_path, "tools/echo", SCRIPT)
    (tmp_path / "tools/echo/main.py").write_text("print('{}')\n")
    pipe = _entry(
        tmp_path, "tools/pipe", "kind: pipeline\ndescription: p\nsteps:\n  - id: a\n    tool: echo\n"
    )
    assert main(["validate", "--format", "json", str(pipe)]) == 0
    assert _report(capsys) == (1, set())
    pipe.write_text("kind: pipeline\ndescription: p\nsteps:\n  - id: a\n    tool: nope\n")
    assert main(["validate", "--format", "json", str(pipe)]) == 1


def test_a_tool_nested_in_a_skill_is_validated_in_the_tree_around_the_skill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "skills/helper").mkdir(parents=True)
    (tmp_path / "skills/helper/SKILL.md").write_text("---\nname: helper\ndescription: helps\n---\nBody\n")
    nested = _entry(tmp_path, "skills/helper/tools/t", "kind: command\ndescription: t\nargv: [echo]\n")
    assert main(["validate", "--format", "json", str(nested)]) == 0
    assert _report(capsys) == (1, set())
    assert tree_root(nested.parent) == tmp_path
