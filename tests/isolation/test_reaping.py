"""Unsandboxed runs leave nothing behind (issue 15 #9): a descendant that double-forks into a new
session is gone after the call, after a timeout and after a cancel, held by a cgroup where one is
writable, else by a subreaper supervisor of the run's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from skillz_engine.isolation import sandbox
from skillz_engine.isolation.cgroup import pids_cgroup_base
from tests.conftest import Call, MakeTool
from tests.isolation.test_sandbox import all_gone, marker, script_tool

pytestmark = pytest.mark.anyio

# the tool's child forks a grandchild that leaves the session (setsid) and whose parent exits at
# once: the daemon's double fork. The grandchild is `sleep TOKEN`, found on the host by its argv.
DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", sys.argv[1]])
    os._exit(0)
os.wait()
print("started", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(params=["cgroup", "subreaper"])
def holder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each case with a cgroup (this machine has a writable one) and with the fallback, forced by
    making no cgroup path available."""
    if request.param == "cgroup":
        if pids_cgroup_base() is None:
            pytest.skip("no writable pids cgroup on this machine")
    else:
        monkeypatch.setattr(sandbox, "new_cgroup_path", lambda: None)
    yield str(request.param)


def _daemon(make_tool: MakeTool, token: str, stay: float, extra: str = "") -> Path:
    return script_tool(make_tool, "daemon", "none", DAEMON, f"args: ['{token}', '{stay}']\n{extra}")


async def test_a_double_forked_setsid_child_is_gone_after_the_call(
    make_tool: MakeTool, call: Call, holder: str
) -> None:
    token = marker()
    _daemon(make_tool, token, 0)
    result, _ = await call("daemon")
    assert not result.is_error and result.text_content().strip() == "started", result.text_content()
    assert all_gone(token, 1.0)


async def test_it_is_gone_after_a_timeout(make_tool: MakeTool, call: Call, holder: str) -> None:
    token = marker()
    _daemon(make_tool, token, 1000, "limits: {timeout: 1s}\n")
    result, _ = await call("daemon")
    assert result.is_error and "timed out" in result.text_content()
    assert all_gone(token, 1.0)


async def test_it_is_gone_after_a_cancel(make_tool: MakeTool, call: Call, holder: str) -> None:
    token = marker()
    _daemon(make_tool, token, 1000)
    with anyio.move_on_after(1.5) as scope:
        await call("daemon")
    assert scope.cancelled_caught
    assert all_gone(token, 1.0)


async def test_the_tool_sees_its_own_environment_and_exit_status(
    make_tool: MakeTool, call: Call, holder: str
) -> None:
    """The wrapper changes nothing the tool sees: its clean environment, its exit code."""
    code = "import json, os, sys\nprint(json.dumps(sorted(os.environ)))\nsys.exit(3)\n"
    script_tool(make_tool, "env", "none", code)
    result, _ = await call("env")
    assert result.is_error and "exited with code 3" in result.text_content(), result.text_content()
    assert '["HOME", "LANG", "PATH"]' in result.text_content()
