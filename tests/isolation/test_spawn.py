"""The cheap spawn path: no helper thread, no wrapper exec, the cgroup entered from the first
instruction, the sandbox prepared once per compiled entry."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import anyio
import pytest

from skillz_engine.isolation import spawn as spawn_module
from skillz_engine.isolation.cgroup import joins_at_spawn, new_cgroup_path, release_cgroup, setup_cgroup
from skillz_engine.isolation.command import Launcher
from skillz_engine.isolation.process import run
from skillz_engine.isolation.spawn import spawn
from tests.conftest import Call, MakeTool, require
from tests.isolation.helpers import spec
from tests.isolation.test_sandbox import FORK_BOMB, all_gone, marker, script_tool

pytestmark = pytest.mark.anyio


def _v1_cgroup() -> Path:
    """A fresh pids cgroup path where the spawner joins it (cgroup v1), else skip: on v2 an `sh`
    prefix joins instead, covered by test_sandbox.py's command line tests."""
    cgroup = new_cgroup_path()
    if cgroup is None or not joins_at_spawn():
        pytest.skip("no writable cgroup v1 pids hierarchy on this machine")
    return cgroup


def _thread_cgroups() -> str:
    with open("/proc/thread-self/cgroup", encoding="ascii") as f:
        return f.read()


async def test_spawn_pipes_and_exit_status(tmp_path: Path) -> None:
    """stdin in, stdout and stderr out, the exit status awaited (twice: the second finds it reaped)."""
    code = "import sys; d = sys.stdin.read(); print(d[::-1]); print('e', file=sys.stderr); sys.exit(4)"
    proc = spawn([sys.executable, "-c", code], tmp_path, {"PATH": os.defpath})
    await proc.stdin.send(b"abc")
    await proc.stdin.aclose()
    out = b"".join([chunk async for chunk in proc.stdout])
    err = b"".join([chunk async for chunk in proc.stderr])
    with anyio.fail_after(10):
        assert await proc.wait() == 4
    assert await proc.wait() == 4 and out == b"cba\n" and err == b"e\n"
    await proc.aclose()
    with pytest.raises(ChildProcessError):  # reaped by wait(), not left for anyone else
        os.waitpid(proc.pid, os.WNOHANG)


async def test_spawn_leads_a_new_session_with_only_its_pipes(tmp_path: Path) -> None:
    """The child leads its own session and group, and inherits no descriptor but its three pipes."""
    code = ("import os; print(os.getsid(0) == os.getpid() == os.getpgid(0), "
            "sorted(map(int, os.listdir('/proc/self/fd'))))")  # fmt: skip
    proc = spawn([sys.executable, "-c", code], tmp_path, {})
    await proc.stdin.aclose()
    out = b"".join([chunk async for chunk in proc.stdout]).decode()
    with anyio.fail_after(10):
        assert await proc.wait() == 0
    await proc.aclose()
    leader, fds = out.split(" ", 1)
    assert leader == "True" and fds.strip() == "[0, 1, 2, 3]", out  # 3: the listdir itself


async def test_without_a_session_it_still_leads_its_group(tmp_path: Path) -> None:
    """``session=False`` (for a sandbox that makes the session itself): a group of its own, killable
    as one, in the server's session."""
    code = "import os; print(os.getpgid(0) == os.getpid(), os.getsid(0))"
    proc = spawn([sys.executable, "-c", code], tmp_path, {}, session=False)
    await proc.stdin.aclose()
    out = b"".join([chunk async for chunk in proc.stdout]).decode().split()
    with anyio.fail_after(10):
        assert await proc.wait() == 0
    await proc.aclose()
    assert out == ["True", str(os.getsid(0))]


@pytest.fixture(params=[False, True], ids=["no-terminal", "terminal"])
def terminal(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """The server without a controlling terminal (as here) and, as the engine would find it when
    started from a shell, with one."""
    monkeypatch.setattr(spawn_module, "_terminal", lambda: request.param)
    return bool(request.param)


@pytest.mark.parametrize("mode", ["none", "bwrap"])
async def test_a_tool_leaves_the_servers_terminal(
    mode: str, terminal: bool, make_tool: MakeTool, call: Call
) -> None:
    """Unsandboxed, the engine makes the tool a session of its own only when the server has a
    terminal to leave. In bwrap, --new-session always does (its leader inside the sandbox's PID
    namespace, where a session made outside shows as 0), and the engine makes none."""
    if mode == "bwrap":
        require("bwrap", "the tool runs in real bubblewrap")
    script_tool(make_tool, "sid", mode, f"import os\nprint(os.getsid(0), os.getpid(), {os.getsid(0)})\n")
    result, _ = await call("sid")
    sid, pid, server = map(int, result.text_content().split())
    if mode == "none":
        assert (sid == pid) == terminal and (sid == server) == (not terminal)
    else:
        assert sid > 0, result.text_content()


async def test_child_starts_inside_its_cgroup_and_the_thread_goes_home(tmp_path: Path) -> None:
    """On cgroup v1 the child is in the run's cgroup from its first instruction, without a wrapper,
    and the spawning thread is back where it was."""
    cgroup = _v1_cgroup()
    before = _thread_cgroups()
    setup_cgroup(cgroup, None)
    try:
        proc = spawn(["/bin/cat", "/proc/self/cgroup"], tmp_path, {}, cgroup)
        await proc.stdin.aclose()
        out = b"".join([chunk async for chunk in proc.stdout]).decode()
        with anyio.fail_after(10):
            await proc.wait()
        await proc.aclose()
    finally:
        release_cgroup(cgroup)
    assert f":pids:/{cgroup.relative_to(cgroup.parents[1])}\n" in out, out
    assert _thread_cgroups() == before
    assert not cgroup.exists()


async def test_process_limit_is_exact_and_the_server_is_not_counted(make_tool: MakeTool, call: Call) -> None:
    """`limits.processes: 5` unsandboxed: the tool and exactly four children, no more and no fewer
    (the place the spawning thread held while starting it is given back), and all gone afterwards."""
    _v1_cgroup()
    token = marker()
    limits = "limits: {processes: 5, timeout: 20s}\n"
    script_tool(make_tool, "bomb", "none", FORK_BOMB, f"args: ['{token}']\n{limits}")
    result, _ = await call("bomb")
    assert not result.is_error, result.text_content()
    assert int(result.text_content()) == 4
    assert all_gone(token, 2.0)


async def test_spawning_from_another_thread_keeps_that_thread_home(tmp_path: Path) -> None:
    """A run started from an event loop in a worker thread: that thread returns to its own cgroup."""
    _v1_cgroup()
    cmd = Launcher(spec(tmp_path, sandbox="none")).command(["/bin/cat", "/proc/self/cgroup"])
    seen: dict[str, str] = {}

    def worker() -> None:
        seen["before"] = _thread_cgroups()
        seen["out"] = anyio.run(run, cmd).stdout_text()
        seen["after"] = _thread_cgroups()

    t = threading.Thread(target=worker)
    t.start()
    t.join(30)
    assert cmd.cgroup is not None and str(cmd.cgroup.name) in seen["out"]
    assert seen["before"] == seen["after"]


def test_launcher_prepares_the_sandbox_once(tmp_path: Path) -> None:
    """Two calls of one compiled entry share the prepared sandbox; a changed environment (a secret
    set on the server meanwhile) gets its own, and each call still gets its own cgroup."""
    launcher = Launcher(spec(tmp_path, sandbox="none", secrets=["SKILLZ_K"]))
    environ = {"PATH": "/bin"}
    first = launcher.command(["/bin/echo", "a"], environ=environ)
    second = launcher.command(["/bin/echo", "b"], environ=environ)
    env = dict(first.env)
    assert launcher.prepared("/bin/echo", env) is launcher.prepared("/bin/echo", env)
    assert first.argv[-1] == "a" and second.argv[-1] == "b"
    if first.cgroup is not None:
        assert first.cgroup != second.cgroup
    third = launcher.command(["/bin/echo", "c"], environ={**environ, "SKILLZ_K": "v"})
    assert third.env["SKILLZ_K"] == "v" and third.secrets == ("SKILLZ_K",)
    assert launcher.prepared("/bin/echo", dict(third.env)) is not launcher.prepared("/bin/echo", env)
