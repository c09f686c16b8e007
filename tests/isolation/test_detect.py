"""Which sandbox runs: `auto` picks one that works or runs bare (warning once); a missing one fails closed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from skillz_engine.errors import SandboxUnavailable
from skillz_engine.isolation import detect
from skillz_engine.isolation.command import build_command
from skillz_engine.isolation.process import run
from tests.conftest import Call, MakeTool, require
from tests.isolation.helpers import spec


def test_missing_sandbox_fails_closed(tmp_path: Path) -> None:
    """A tool demanding nsjail on a machine without it is refused with what to install."""
    if shutil.which("nsjail"):
        pytest.skip("nsjail is installed here")
    with pytest.raises(SandboxUnavailable) as info:
        build_command(["/bin/true"], spec(tmp_path, sandbox="nsjail"))
    message = str(info.value)
    assert "nsjail" in message and "not installed" in message and "github.com/google/nsjail" in message


@pytest.mark.anyio
async def test_missing_sandbox_tool_result(make_tool: MakeTool, call: Call) -> None:
    """Through the runtime the refusal is an isError result; nothing ran."""
    if shutil.which("nsjail"):
        pytest.skip("nsjail is installed here")
    d = make_tool("jailed", """
        kind: command
        description: needs nsjail
        sandbox: {mode: nsjail}
        argv: [touch, ran]
        """)  # fmt: skip
    result, _ = await call("jailed")
    assert result.is_error and "nsjail" in result.text_content() and "not run" in result.text_content()
    assert not (d / "ran").exists()


@pytest.fixture
def no_sandboxes(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as one without any sandbox installed (what `auto` found)."""
    monkeypatch.setattr(detect, "auto_choice", lambda: ("none", None, "bwrap: not installed; ..."))
    monkeypatch.setattr(detect, "_warned_unsandboxed", False)


@pytest.mark.anyio
async def test_auto_without_sandbox_runs_unsandboxed_and_warns_once(
    no_sandboxes: None, make_tool: MakeTool, call: Call, caplog: pytest.LogCaptureFixture
) -> None:
    """`auto` on a machine without sandboxes runs the tool bare and logs one warning, not one per call."""
    make_tool("hello", """
        kind: command
        description: hello
        argv: [echo, hi]
        """)  # fmt: skip
    for _ in range(2):
        result, _ = await call("hello")
        assert not result.is_error and result.text_content().strip() == "hi"
    warnings = [r for r in caplog.records if "no working sandbox" in r.getMessage()]
    assert len(warnings) == 1 and "bubblewrap" in warnings[0].getMessage()


def test_nsjail_for_real() -> None:
    """nsjail is not packaged for Debian 12, so there is nothing to run it against here."""
    if shutil.which("nsjail") is None:
        pytest.skip("nsjail is not packaged for Debian 12")
    found = detect.detect()
    assert found.works["nsjail"], found.errors["nsjail"]


@pytest.mark.anyio
async def test_auto_picks_a_working_sandbox(tmp_path: Path) -> None:
    """`auto` resolves to the best sandbox that works here and the command really runs in it."""
    require("bwrap", "auto prefers it")
    assert detect.detect().auto == "bwrap"
    cmd = build_command(["/bin/sh", "-c", "touch x"], spec(tmp_path))
    assert cmd.sandbox == "bwrap"
    proc = await run(cmd)
    assert proc.returncode != 0 and b"Read-only" in proc.stderr and not (tmp_path / "x").exists()
