"""``skillz-engine doctor``: real probes of this machine's interpreters, sandboxes, docker, wasm."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skillz_engine.cli.main import main
from skillz_engine.isolation import detect


def doctor_json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    assert main(["doctor", "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_doctor_reports_what_is_installed(capsys: pytest.CaptureFixture[str]) -> None:
    """Every section is there; what is on PATH is found with a version; auto matches the runtime's pick."""
    report = doctor_json(capsys)
    assert set(report) == {"interpreters", "packageManagers", "sandboxes", "limits", "docker", "wasm"}
    by_name = {c["name"]: c for c in report["interpreters"]}
    assert set(by_name) >= {"python3", "node", "bash", "ruby"}
    bash = by_name["bash"]
    assert bash["ok"] and Path(bash["path"]).exists() and bash["version"][0].isdigit()
    python = by_name["python3"]
    assert python["ok"] and "shims" not in python["path"]  # a pyenv shim is resolved to the real one
    out = subprocess.run([python["path"], "--version"], capture_output=True, text=True, check=True).stdout
    assert python["version"] in out
    assert report["sandboxes"]["auto"] == detect.detect().auto
    programs = {c["name"]: c for c in report["sandboxes"]["programs"]}
    assert set(programs) == {"bwrap", "firejail", "nsjail"}
    for name, check in programs.items():
        assert check["ok"] == (shutil.which(name) is not None and detect.detect().works[name])
    if shutil.which("nsjail") is None:
        assert "not installed" in programs["nsjail"]["detail"]
    assert isinstance(report["docker"]["ok"], bool) and report["docker"]["name"] == "docker daemon"
    wasm = {c["name"] for c in report["wasm"]}
    assert wasm == {"wasmtime (python)", "clang wasm32-wasi", "rustc wasm32-wasi", "cargo"}
    limits = {c["name"]: c for c in report["limits"]}
    assert limits["prlimit"]["ok"] == (shutil.which("prlimit") is not None)


def test_doctor_text(capsys: pytest.CaptureFixture[str]) -> None:
    """The text report has one heading per section and says what auto picks."""
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for heading in ("interpreters", "package managers", "sandboxes (", "limits", "docker", "wasm toolchains"):
        assert any(line.startswith(heading) for line in out.splitlines()), heading
    auto = detect.detect().auto
    assert (f"auto picks {auto}" if auto != "none" else "auto finds none") in out


def test_doctor_on_an_empty_path_still_exits_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Missing programs are reported as missing, never as a failure of doctor itself."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    report = doctor_json(capsys)
    venv_bin = str(Path(sys.executable).parent)
    for check in report["interpreters"] + report["packageManagers"]:
        if check["name"] == "uv" and str(check.get("path", "")).startswith(venv_bin):
            continue  # the engine's own venv's uv is used even off PATH, as the installers use it
        assert not check["ok"], check
        assert "not found" in check["detail"] or "no python3" in check["detail"], check
    assert not report["docker"]["ok"] and "unreachable" in report["docker"]["detail"]
