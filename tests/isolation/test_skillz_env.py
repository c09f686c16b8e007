"""Rust Skillz's environment variables: ``SKILLZ_SANDBOX`` and ``SKILLZ_SANDBOX_NETWORK`` pick the
sandbox under skillz.yaml's, ``TOOLS_DIR`` is the default root and the scripts' ``tools_dir``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillz_engine.cli.main import main
from skillz_engine.isolation.policy import Policy, policy_for
from skillz_engine.runtimes.script.context import tools_dir
from skillz_engine.tree.config import Config
from tests.isolation.helpers import spec
from tests.mcp_helpers import write

MODES = [("bubblewrap", "bwrap"), ("bwrap", "bwrap"), ("firejail", "firejail"), ("nsjail", "nsjail")]


@pytest.mark.parametrize(("value", "mode"), [*MODES, ("nonsense", "auto")])
def test_skillz_sandbox_picks_the_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, mode: str
) -> None:
    monkeypatch.setenv("SKILLZ_SANDBOX", value)
    assert policy_for(spec(tmp_path), None) == Policy(mode, False, ())


def test_skillz_yaml_and_the_tool_win_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKILLZ_SANDBOX", "firejail")
    monkeypatch.setenv("SKILLZ_SANDBOX_NETWORK", "")  # Skillz: set at all means on
    assert policy_for(spec(tmp_path), None) == Policy("firejail", True, ())
    assert policy_for(spec(tmp_path), Config({"sandbox": {"mode": "bwrap"}})) == Policy("bwrap", True, ())
    tool = spec(tmp_path, sandbox={"mode": "none", "network": False})
    assert policy_for(tool, Config({"sandbox": "bwrap"})) == Policy("none", False, ())


def test_tools_dir_is_the_default_root_and_the_scripts_tools_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "skillz" / "echo" / "manifest.yaml", "kind: command\ndescription: Echo.\nargv: [echo]\n")
    monkeypatch.delenv("SKILLZ_HOME", raising=False)
    monkeypatch.setenv("TOOLS_DIR", str(tmp_path / "skillz"))
    assert main(["list", "--json"]) == 0
    assert "echo" in [t["name"] for t in json.loads(capsys.readouterr().out)["tools"]]
    assert tools_dir((tmp_path / "elsewhere",)) == str(tmp_path / "skillz")
    monkeypatch.delenv("TOOLS_DIR")
    assert tools_dir((tmp_path / "root",)) == str(tmp_path / "root" / "tools")
