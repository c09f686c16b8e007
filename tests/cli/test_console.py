"""What `serve` prints while it runs: a line per change, per new problem and per failed call."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skillz_engine.cli.console import ServeConsole
from skillz_engine.engine import Engine, EngineOptions

pytestmark = pytest.mark.anyio

ECHO = "kind: command\ndescription: {d}\nargv: [echo, hi]\n"
RUN_CLI = "import sys; from skillz_engine.cli.main import main; sys.exit(main(sys.argv[1:]))"
PROMPT = "kind: prompt\ndescription: p\nmessages:\n  - role: user\n    content: hello\n"


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def test_changes_problems_and_failed_calls_are_one_line_each(tmp_path: Path) -> None:
    """+ for what appears, ~ for what changes, - for what goes, ! for a new problem (the entry
    keeps serving), = once it is fixed, x for a failed call; -q keeps only ! and x."""
    _write(tmp_path, "prompts/old/manifest.yaml", PROMPT)
    out, quiet = io.StringIO(), io.StringIO()
    async with Engine.open([tmp_path], EngineOptions(watch=False)) as engine:
        ServeConsole(out).attach(engine)
        ServeConsole(quiet, "quiet").attach(engine)
        greet = _write(tmp_path, "tools/greet/manifest.yaml", ECHO.format(d="one"))
        await engine.apply([greet.parent])
        greet.write_text(ECHO.format(d="two"))
        await engine.apply([greet])
        greet.write_text("kind: command\ndescription: [\n")
        await engine.apply([greet])
        greet.write_text(ECHO.format(d="three"))
        await engine.apply([greet])
        old = tmp_path / "prompts" / "old"
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
        await engine.apply([old])
        engine.record(engine.snapshot, "tools/call", "greet", time.perf_counter() - 0.012, "boom\nmore", "s1")
        engine.record(engine.snapshot, "tools/call", "greet", time.perf_counter(), None, "s1")
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["+ tool greet", "~ tool greet", lines[2]]
    assert lines[2].startswith("! ") and "tools/greet/manifest.yaml" in lines[2] and "SKZ" in lines[2]
    assert "~ tool greet" in lines[3:] and "- prompt old" in lines
    assert any(line.startswith("= ") and "greet" in line for line in lines)
    assert lines[-1].startswith("x tools/call greet failed after ") and lines[-1].endswith(": boom")
    assert all(line[0] in "!x" for line in quiet.getvalue().splitlines())
    assert any(line.startswith("x ") for line in quiet.getvalue().splitlines())


def test_serve_prints_events_as_json_lines(tmp_path: Path) -> None:
    """A real `serve --log-format json` process: its stderr is one JSON object per line, the
    start line first, then the change an edit makes."""
    _write(tmp_path, "tools/a/manifest.yaml", ECHO.format(d="a"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "serve", str(tmp_path), "--log-format", "json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    try:
        first = json.loads(proc.stderr.readline())
        assert first["event"] == "start" and first["tools"] >= 1
        # the watcher thread may still be starting: write again until the change is seen
        for attempt in range(30):
            _write(tmp_path, "tools/b/manifest.yaml", ECHO.format(d=f"b{attempt}"))
            if select.select([proc.stderr], [], [], 1.0)[0]:
                break
        change = json.loads(proc.stderr.readline())
        assert change == {**change, "event": "change", "change": "+", "type": "tool", "name": "b"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_failed_call_lines_never_show_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tool's error that quotes a secret it names, or the bearer token, reaches the console (and
    the status page, the other call observer) redacted, as in the audit log."""
    monkeypatch.setenv("SKILLZ_CONSOLE_SECRET", "hunter2-very-secret")
    _write(tmp_path, "tools/leaky/manifest.yaml", ECHO.format(d="x") + "secrets: [SKILLZ_CONSOLE_SECRET]\n")
    out = io.StringIO()
    async with Engine.open([tmp_path], EngineOptions(watch=False, audit="required")) as engine:
        token = engine.token()
        ServeConsole(out).attach(engine)
        error = f"failed with hunter2-very-secret and Bearer {token}"
        engine.record(engine.snapshot, "tools/call", "leaky", time.perf_counter(), error, "s1")
    line = out.getvalue()
    assert "hunter2-very-secret" not in line and token not in line and "failed with" in line
