"""The command line and single-file tools: ``new script NAME --single-file`` writes one script
that validates and runs, and ``validate FILE`` reports problems at their line in the script."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from skillz_engine.cli.main import main
from tests.conftest import require


@pytest.mark.parametrize(("interpreter", "ext"), [("python", ".py"), ("node", ".js"), ("bash", ".sh")])
def test_new_single_file_validates_and_runs(
    tmp_path: Path, interpreter: str, ext: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if interpreter == "node":
        require("node")
    args = ["new", "script", "demo", "--single-file", "--interpreter", interpreter, "--root", str(tmp_path)]
    assert main(args) == 0
    script = tmp_path / "tools" / f"demo{ext}"
    assert capsys.readouterr().out.strip() == str(script)
    assert script.stat().st_mode & 0o111 and not (tmp_path / "tools" / "demo").exists()
    assert not re.search(r"\{[a-z_]+\}", script.read_text().replace("${#input}", ""))
    assert main(["validate", str(script)]) == 0
    assert "1 entry checked: 0 errors" in capsys.readouterr().out
    assert main(["call", "demo", str(tmp_path), "--args", '{"text": "hey"}']) == 0
    assert "hey" in capsys.readouterr().out
    assert main(args) == 2  # the name is taken now


def test_new_single_file_is_for_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "prompt", "p", "--single-file", "--root", str(tmp_path)]) == 2
    assert "--single-file makes a script tool" in capsys.readouterr().err


def test_validate_a_script_file_reports_at_its_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "tools" / "bad.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        '#!/usr/bin/env python3\n# /// skillz\n# description = "Bad."\n# tags = "one"\n'
        "# [limits]\n# timeot = 5\n# ///\nprint(1)\n"
    )
    (tmp_path / "tools" / "other.py").write_text("# /// skillz\n# description = 3\n# ///\n")
    assert main(["validate", str(script)]) == 1
    out = capsys.readouterr().out
    assert "bad.py:4:10: error SKZ103 expected array, got a string" in out
    assert ":6:3: warning SKZ110 unknown key 'timeot'" in out
    assert "other.py" not in out and "1 entry checked" in out  # only the file named
    assert main(["validate", "--format", "json", str(tmp_path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["entries"] == 2
    assert {
        (Path(d["path"]).name, d["line"], d["code"])
        for d in report["diagnostics"]
        if d["severity"] == "error"
    } == {
        ("bad.py", 4, "SKZ103"),
        ("other.py", 2, "SKZ103"),
    }


def test_validate_refuses_a_plain_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "x.py"
    plain.write_text("print(1)\n")
    assert main(["validate", str(plain)]) == 2
    assert "not a manifest, SKILL.md, single-file tool or directory" in capsys.readouterr().err
