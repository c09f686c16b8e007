"""``skillz-engine build``: dependencies installed ahead of time, progress on stderr, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from skillz_engine.cli.main import main
from tests.conftest import require

SIX = "kind: script\ndescription: uses six\nentry: main.py\nprotocol: plain\ndependencies:\n  pip: {deps}\n"
SCRIPT = "import json, six\nprint(json.dumps({'six': six.__version__}))\n"


def _tool(root: Path, name: str, deps: str = "[six]") -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.yaml").write_text(SIX.format(deps=deps))
    (d / "main.py").write_text(SCRIPT)
    return d


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skillz_engine", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_build_installs_then_reports_cached_and_calls_do_no_install_work(tmp_path: Path) -> None:
    require("uv")
    tree = tmp_path / "tree"
    _tool(tree, "alpha")
    _tool(tree, "beta", "[SIX]")  # the same set: one shared environment
    (tree / "plain").mkdir()
    (tree / "plain" / "manifest.yaml").write_text("kind: script\ndescription: d\nentry: m.py\n")
    (tree / "plain" / "m.py").write_text("print('hi')\n")

    first = _cli("build", str(tree), cwd=tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    lines = first.stderr.splitlines()
    assert any(line.startswith("alpha (script): installed pip-") for line in lines), first.stderr
    assert any(line.startswith("beta (script): cached pip-") for line in lines), first.stderr
    assert not any(line.startswith("plain") for line in lines)  # nothing to build
    assert "built 2 entries, 0 failed" in first.stderr
    envs = [p for p in (tree / ".skillz" / "envs").iterdir() if p.is_dir()]
    assert len(envs) == 1

    again = _cli("build", str(tree), cwd=tmp_path)
    assert again.returncode == 0
    assert "alpha (script): cached pip-" in again.stderr

    called = _cli("call", "alpha", str(tree), "--json", cwd=tmp_path)
    assert called.returncode == 0, called.stderr
    assert "[progress]" not in called.stderr  # built ahead of time: the call installs nothing
    assert json.loads(json.loads(called.stdout)["content"][0]["text"])["six"]


def test_build_failure_exits_1_with_a_diagnostic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tool(tmp_path, "broken", "[skillz-engine-test-no-such-package-xq]")
    assert main(["build", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "broken (script): FAILED after" in captured.err
    assert (
        "broken/manifest.yaml:6:3: error SKZ521 installing the dependencies of 'broken' failed"
        in captured.out
    )
    assert "skillz-engine-test-no-such-package-xq" in captured.out
    envs = tmp_path / ".skillz" / "envs"
    assert [p.name for p in envs.iterdir() if not p.name.endswith(".lock")] == []


def test_build_only_force_and_state_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("uv")
    tree = tmp_path / "tree"
    _tool(tree, "alpha")
    _tool(tree, "broken", "[skillz-engine-test-no-such-package-xq]")
    state = tmp_path / "state"
    assert main(["build", str(tree), "--only", "alpha", "--state-dir", str(state)]) == 0
    err = capsys.readouterr().err
    assert "alpha (script): installed" in err and "broken" not in err
    (env,) = [p for p in (state / "envs").iterdir() if p.is_dir()]
    marker = (env / ".skillz-env.json").stat().st_mtime_ns
    _tool(tree, "gamma", "[six]")  # shares alpha's environment: --force rebuilds it once
    force = ["build", str(tree), "--only", "alpha", "--only", "gamma", "--state-dir", str(state), "--force"]
    assert main(force) == 0
    err = capsys.readouterr().err
    assert "alpha (script): installed" in err and "gamma (script): cached" in err
    assert (env / ".skillz-env.json").stat().st_mtime_ns != marker  # rebuilt, swapped into place
    assert main(["build", str(tree), "--only", "nope"]) == 2
    assert "no entry named nope" in capsys.readouterr().err


def test_build_reports_manifest_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "manifest.yaml").write_text("kind: script\ndescription: d\nentry: main.py\n")
    (d / "main.py").write_text("# /// script\n# dependencies = [\n# ///\n")
    assert main(["build", str(tmp_path)]) == 1
    assert "error SKZ520 PEP 723 block is not valid TOML" in capsys.readouterr().out
