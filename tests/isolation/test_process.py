"""Spawning tool processes: clean env, limits, no deadlocks, process groups that always die."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.process import (
    Child,
    Limits,
    build_command,
    build_env,
    limits_for,
    run,
    wrap_argv,
)
from skillz_engine.runtimes.base import DEFAULT_OUTPUT, DEFAULT_TIMEOUT
from skillz_engine.tree.config import Config
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.parse import Positions

PY = sys.executable  # the test's own interpreter: fine for exercising process.py itself


def spec(tmp_path: Path, **data: Any) -> EntrySpec:
    return EntrySpec(
        kind="command", name="t", root=tmp_path, dir=tmp_path, manifest=tmp_path / "manifest.yaml",
        display="manifest.yaml", data={"kind": "command", **data}, positions=Positions(), fingerprint="",
    )  # fmt: skip


def test_env_is_clean() -> None:
    """Only PATH, HOME, LANG, the manifest's env and its listed SKILLZ_* secrets are passed on."""
    environ = {"PATH": "/bin", "HOME": "/h", "LANG": "en_US.UTF-8", "AWS_SECRET": "x",
               "SKILLZ_TOKEN": "t", "SKILLZ_OTHER": "o", "USER": "me"}  # fmt: skip
    s = spec(Path("/tmp"), env={"FOO": "bar"}, secrets=["SKILLZ_TOKEN", "SKILLZ_MISSING"])
    assert build_env(s, environ) == {"PATH": "/bin", "HOME": "/h", "LANG": "en_US.UTF-8", "FOO": "bar",
                                     "SKILLZ_TOKEN": "t"}  # fmt: skip


def test_env_defaults() -> None:
    """Without PATH or LANG on the server, the child still gets a default PATH and a UTF-8 LANG."""
    env = build_env(spec(Path("/tmp")), {})
    assert env["LANG"] == "C.UTF-8" and env["PATH"] and "HOME" not in env


def test_build_command(tmp_path: Path) -> None:
    """The command holds argv as given, the entry dir as cwd, the clean env and the limits."""
    s = spec(tmp_path, secrets=["SKILLZ_K"], limits={"timeout": "2s", "output": "1KiB"}, sandbox="none")
    cmd = build_command(["prog", "a b", "; rm -rf /"], s, environ={"PATH": "/bin", "SKILLZ_K": "v"})
    assert cmd.argv == ("prog", "a b", "; rm -rf /")
    assert cmd.cwd == tmp_path
    assert cmd.limits == Limits(timeout=2.0, output=1024)
    assert cmd.secrets == ("SKILLZ_K",) and "SKILLZ_K" not in cmd.public_env()
    with pytest.raises(RuntimeFailure):
        build_command([], s)


def test_wrap_argv_without_sandbox_or_limits_is_the_argv(tmp_path: Path) -> None:
    """`sandbox: none` and no rlimits: the seam runs the argv as given."""
    s = spec(tmp_path, sandbox="none")
    wrapped = wrap_argv(["/bin/echo", "b"], s, cwd=tmp_path, env={}, limits=Limits())
    assert wrapped.argv == ["/bin/echo", "b"] and wrapped.mode == "none" and wrapped.cgroup is None


def test_limits_fall_back_to_config_then_defaults(tmp_path: Path) -> None:
    """A tool's limits win over skillz.yaml's, which win over the engine defaults."""
    config = Config({"limits": {"timeout": "2m", "output": "4MiB", "memory": "256MiB"}})
    assert limits_for(spec(tmp_path), None) == Limits(DEFAULT_TIMEOUT, DEFAULT_OUTPUT, None)
    assert limits_for(spec(tmp_path), config) == Limits(120.0, 4 << 20, 256 << 20)
    assert limits_for(spec(tmp_path, limits={"timeout": "500ms"}), config).timeout == 0.5


def command(tmp_path: Path, argv: list[str], **limits: Any) -> Any:
    """An unsandboxed command (process.py itself; tests/runtimes/test_sandbox.py runs them sandboxed)."""
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
