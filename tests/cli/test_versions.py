"""``skillz-engine versions``: list, diff and rollback from the command line, over the history the
writers recorded (a rollback attributed to the CLI, and undone by another)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from skillz_engine.cli.main import main
from skillz_engine.engine import Engine
from skillz_engine.state.history import History


def command(word: str) -> dict[str, object]:
    code = f"#!/bin/sh\necho {word}\n"
    return {"name": "say", "description": f"Says {word}", "code": code, "overwrite": True}


def written(root: Path, *words: str) -> None:
    async def go() -> None:
        async with Engine.open([root]) as engine:
            for w in words:
                res = await engine.call("register_script", command(w))
                assert not res.is_error, res.text_content()

    anyio.run(go)


def test_list_diff_rollback_and_undo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written(tmp_path, "one", "two")
    root = ["--root", str(tmp_path)]
    assert main(["versions", *root]) == 0
    assert capsys.readouterr().out == "tools/say: 2 versions\n"
    assert main(["versions", "say", "--json", *root]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["writer"], v["client"]) for v in listed["versions"]] == [
        ("0001", "register_script", "local"),
        ("0002", "register_script", "local"),
    ]
    assert main(["versions", "diff", "say", *root]) == 0
    diff = capsys.readouterr().out
    assert "-echo one" in diff and "+echo two" in diff
    assert main(["versions", "diff", "say@2", "say@1", *root]) == 0
    assert "+echo one" in capsys.readouterr().out
    assert main(["versions", "rollback", "say", "1", *root]) == 0
    assert "version 0003" in capsys.readouterr().out
    assert "echo one" in (tmp_path / "tools" / "say" / "main").read_text()
    assert main(["versions", "rollback", "tools/say", *root]) == 0  # undo: back to 0002
    assert "echo two" in (tmp_path / "tools" / "say" / "main").read_text()
    last = History(tmp_path / ".skillz").latest("tools/say")
    assert last is not None and (last.writer, last.client, last.note) == (
        "versions rollback",
        "cli",
        "to version 0002",
    )


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written(tmp_path, "one")
    root = ["--root", str(tmp_path)]
    assert main(["versions", "ghost", *root]) == 2
    assert "no entry called 'ghost'" in capsys.readouterr().err
    assert main(["versions", "rollback", *root]) == 2
    assert main(["versions", "rollback", "say", "7", *root]) == 2
    assert "no version '7'" in capsys.readouterr().err
    assert main(["versions", "diff", "say", "1", "2", "3", *root]) == 2
