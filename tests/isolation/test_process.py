"""Running a command: output collected and capped, no deadlocks, process groups that always die."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.command import build_command
from skillz_engine.isolation.process import Child, run
from tests.isolation.helpers import spec

PY = sys.executable  # the test's own interpreter: fine for exercising process.py itself


def command(tmp_path: Path, argv: list[str], **limits: Any) -> Any:
    """An unsandboxed command (process.py itself; test_sandbox.py runs them sandboxed)."""
    return build_command(argv, spec(tmp_path, limits=limits, sandbox="none") if limits
                         else spec(tmp_path, sandbox="none"))  # fmt: skip


@pytest.mark.anyio
async def test_run_collects_output(tmp_path: Path) -> None:
    """stdout, stderr and the exit code of a run are returned; stdin gets the input."""
    cmd = command(tmp_path, [PY, "-c", "import sys; d=sys.stdin.read(); print(d.upper());"
                                       "print('warn', file=sys.stderr); sys.exit(3)"])  # fmt: skip
    r = await run(cmd, input=b"hello")
    assert r.stdout == b"HELLO\n" and r.stderr == b"warn\n" and r.returncode == 3 and not r.ok
    assert r.exit_description() == "exited with code 3"


@pytest.mark.anyio
async def test_spawn_failure_raises(tmp_path: Path) -> None:
    """A program that does not exist is a RuntimeFailure naming it."""
    with pytest.raises(RuntimeFailure, match="no-such-program"):
        await run(command(tmp_path, ["no-such-program-xyz"]))


@pytest.mark.anyio
async def test_no_deadlock_and_output_cap(tmp_path: Path) -> None:
    """5 MB on stderr and 5 MB on stdout finish; stdout is cut at the cap with a note."""
    code = "import sys\nsys.stderr.write('e' * 5_000_000)\nsys.stdout.write('o' * 5_000_000)\n"
    with anyio.fail_after(20):
        r = await run(command(tmp_path, [PY, "-c", code], output="64KiB"))
    assert r.returncode == 0
    assert r.stdout == b"o" * 65536 and r.stdout_truncated and r.stdout_bytes == 5_000_000
    assert r.stderr_truncated and r.stderr.endswith(b"eee") and len(r.stderr) <= 64 * 1024
    note = r.truncation_note()
    assert note is not None and "65536" in note and "limits.output" in note


@pytest.mark.anyio
async def test_line_mode_is_interactive(tmp_path: Path) -> None:
    """Lines reach the callback as they are written, and the callback can answer on stdin."""
    code = (
        "import sys\n"
        "print('question', flush=True)\n"
        "answer = sys.stdin.readline().strip()\n"
        "print('got ' + answer, flush=True)\n"
        "sys.stdout.write('no newline at end')\n"
    )
    seen: list[bytes] = []

    async def on_line(line: bytes, child: Child) -> None:
        seen.append(line)
        if line == b"question":
            await child.send(b"42\n")

    with anyio.fail_after(10):
        r = await run(command(tmp_path, [PY, "-c", code]), close_stdin=False, on_line=on_line)
    assert r.ok and seen == [b"question", b"got 42", b"no newline at end"]


@pytest.mark.anyio
async def test_timeout_kills_the_group(tmp_path: Path, gone: Callable[..., bool]) -> None:
    """On timeout the child and its grandchildren are killed and reaped."""
    script = 'sleep 100 & echo $! > "$PWD/pids"; echo $$ >> "$PWD/pids"; sleep 100'
    started = time.monotonic()
    r = await run(command(tmp_path, ["bash", "-c", script], timeout="700ms"))
    assert r.timed_out and not r.ok and r.exit_description() == "timed out"
    assert time.monotonic() - started < 5
    for pid in (int(p) for p in (tmp_path / "pids").read_text().split()):
        assert gone(pid)


@pytest.mark.anyio
async def test_cancellation_kills_the_group(tmp_path: Path, gone: Callable[..., bool]) -> None:
    """Cancelling the awaiting scope kills the process group within a second."""
    script = 'sleep 100 & echo $! > "$PWD/pids"; echo $$ >> "$PWD/pids"; sleep 100'
    with anyio.move_on_after(0.5):
        await run(command(tmp_path, ["bash", "-c", script]))
    cancelled = time.monotonic()
    for pid in (int(p) for p in (tmp_path / "pids").read_text().split()):
        assert gone(pid, 1.0)
    assert time.monotonic() - cancelled < 1.0


@pytest.mark.anyio
async def test_leftover_background_jobs_die(tmp_path: Path, gone: Callable[..., bool]) -> None:
    """A background job still holding stdout does not outlive a normal exit, nor hang the run."""
    script = "sleep 100 & echo $!; echo done"
    with anyio.fail_after(10):
        r = await run(command(tmp_path, ["bash", "-c", script]))
    assert r.ok
    pid = int(r.stdout.split()[0])
    assert r.stdout.endswith(b"done\n") and gone(pid)


@pytest.mark.anyio
async def test_sigterm_ignored_then_sigkill(tmp_path: Path) -> None:
    """A child that ignores SIGTERM is killed with SIGKILL after the grace period."""
    script = "trap '' TERM; echo ready; sleep 100"
    started = time.monotonic()
    r = await run(command(tmp_path, ["bash", "-c", script], timeout="300ms"), grace=0.3)
    assert r.timed_out and r.returncode is not None and r.returncode < 0
    assert time.monotonic() - started < 5
