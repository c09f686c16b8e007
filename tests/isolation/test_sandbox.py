"""The wrapped command line, and the security cases against real bwrap/firejail.

The integration tests run real tools (``kind: script`` and ``kind: command``) through the same
path as the server (compile, ``run_tool``, process.py) inside real sandboxes. Processes started
inside a sandbox live in their own PID namespace, so the tests find them on the host by a unique
marker in their command line (``sleep 1000.<n>``) rather than by the pid the script sees.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import psutil  # type: ignore[import-untyped]
import pytest

from skillz_engine.isolation.cgroup import joins_at_spawn
from skillz_engine.isolation.detect import BINARIES
from skillz_engine.isolation.limits import Limits
from skillz_engine.isolation.reaper import reaper_argv
from skillz_engine.isolation.sandbox import wrap
from tests.conftest import Call, MakeTool, require
from tests.isolation.helpers import spec

PYPI_IP = "151.101.0.223"  # pypi.org (Fastly): reachable from this machine's network


# --------------------------------------------------------------------------- the command line


def test_wrap_without_sandbox_or_limits_is_the_argv(tmp_path: Path) -> None:
    """`sandbox: none` and no rlimits: the argv runs as given, in a cgroup of its own when one is
    writable (it holds every descendant; on cgroup v1 the spawner starts the child inside it, so
    nothing runs before the program), else under a subreaper supervisor of its own."""
    s = spec(tmp_path, sandbox="none")
    wrapped = wrap(["/bin/echo", "b"], s, cwd=tmp_path, env={}, limits=Limits())
    assert wrapped.argv[-2:] == ["/bin/echo", "b"] and wrapped.mode == "none"
    if wrapped.cgroup is not None and joins_at_spawn():
        assert wrapped.argv == ["/bin/echo", "b"]
    elif wrapped.cgroup is not None:
        assert wrapped.argv == ["/bin/sh", "-c", wrapped.argv[2], str(wrapped.cgroup), "/bin/echo", "b"]
    else:
        assert wrapped.argv == [*reaper_argv(), "/bin/echo", "b"]


def test_wrap_orders_cgroup_prlimit_sandbox_program(tmp_path: Path) -> None:
    """The full command line: [pids cgroup join] prlimit ... -- [sandbox ...] program args."""
    s = spec(tmp_path, sandbox="none", limits={"memory": "64MiB", "processes": 8})
    wrapped = wrap(["/bin/echo", "hi"], s, cwd=tmp_path, env={"PATH": "/bin"}, limits=Limits(memory=64 << 20,
                   processes=8))  # fmt: skip
    argv = wrapped.argv
    assert argv[-2:] == ["/bin/echo", "hi"]
    i = argv.index("--as=67108864")
    if wrapped.cgroup is not None and joins_at_spawn():  # v1: started inside it, prlimit runs first
        assert argv[0].endswith("prlimit") and argv[i + 1] == "--"  # the cgroup counts, not nproc
    elif wrapped.cgroup is not None:  # v2: the shell joins it, then execs prlimit
        assert argv[:2] == ["/bin/sh", "-c"] and argv[3] == str(wrapped.cgroup)
        assert argv[i - 1].endswith("prlimit") and argv[i + 1] == "--"  # the cgroup counts, not nproc
    else:
        assert argv[i - 1].endswith("prlimit") and argv[i + 1 : i + 3] == ["--nproc=8", "--"]


# --------------------------------------------------------------------------- real sandboxes


@pytest.fixture(params=["bwrap", "firejail"])
def mode(request: pytest.FixtureRequest) -> str:
    """Each integration test runs in real bubblewrap and in real firejail."""
    require(BINARIES[request.param], "the sandbox integration tests run it for real")
    return str(request.param)


def script_tool(make_tool: MakeTool, name: str, mode: str, code: str, extra: str = "", **files: str) -> Path:
    """A `protocol: plain` Python script tool ``name`` in sandbox ``mode`` (``extra``: manifest lines)."""
    manifest = (f"kind: script\ndescription: {name}\nentry: main.py\ninterpreter: python3\nprotocol: plain\n"
                f"sandbox: {{mode: {mode}}}\n{textwrap.dedent(extra)}")  # fmt: skip
    if "sandbox:" in textwrap.dedent(extra):
        manifest = manifest.replace(f"sandbox: {{mode: {mode}}}\n", "")
    return make_tool(name, manifest, {"main.py": code, **files})


_marker_counter = iter(range(100_000, 999_999))


def marker() -> str:
    """A unique `sleep` duration to recognise a test's processes from the host."""
    return f"1000.{os.getpid()}{next(_marker_counter)}"


def marked(token: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        try:
            if token in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


def all_gone(token: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while marked(token):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on the host's 127.0.0.1 (a sandbox without network has its own loopback)."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.sendall(b"hello from the host\n")
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()


NET_PROBE = """
import json, socket, sys
out = {}
for name, addr in (("pypi", (sys.argv[2], 443)), ("host", ("127.0.0.1", int(sys.argv[1])))):
    try:
        with socket.create_connection(addr, timeout=3) as s:
            out[name] = "connected" if name == "pypi" else s.recv(100).decode()
    except OSError as e:
        out[name] = f"{type(e).__name__}: {e.strerror}"
print(json.dumps(out))
"""


@pytest.mark.anyio
async def test_no_network_unless_asked(mode: str, make_tool: MakeTool, call: Call, listener: int) -> None:
    """Without `network: true` neither PyPI nor a server on the host's loopback can be reached."""
    script_tool(make_tool, "offline", mode, NET_PROBE, f"args: ['{listener}', '{PYPI_IP}']\n")
    script_tool(
        make_tool,
        "online",
        mode,
        NET_PROBE,
        f"args: ['{listener}', '{PYPI_IP}']\nsandbox: {{mode: {mode}, network: true}}\n",
    )
    result, _ = await call("offline")
    assert not result.is_error, result.text_content()
    seen = json.loads(result.text_content())
    assert "unreachable" in seen["pypi"].lower() and "hello" not in seen["host"], seen
    result, _ = await call("online")
    assert json.loads(result.text_content())["host"] == "hello from the host\n"


FS_PROBE = """
import json, os, sys
out = {}
def attempt(name, path):
    try:
        with open(path, "w") as f:
            f.write("written")
        out[name] = "ok"
    except OSError as e:
        out[name] = e.strerror
attempt("entry", "own.txt")                      # the tool's own directory (its cwd)
attempt("tree", os.path.join("..", "tree.txt"))  # elsewhere in the tree
attempt("etc", "/etc/skillz-sandbox-test")
attempt("data", "data/out.txt")                  # sandbox.writable
attempt("tmp", "/tmp/private.txt")
attempt("escape", "data/link/pwned.txt")         # a symlink in the writable dir leading out
out["host_tmp_visible"] = os.path.exists(sys.argv[1])
print(json.dumps(out))
"""


@pytest.mark.anyio
async def test_filesystem(mode: str, make_tool: MakeTool, call: Call, tmp_path: Path) -> None:
    """Read-only root and tree, writable `data`, a private /tmp, no writing through a symlink out."""
    host_tmp = Path("/tmp") / f"skillz-sandbox-host-{os.getpid()}"
    host_tmp.write_text("host")
    outside = tmp_path / "outside"
    outside.mkdir()
    d = script_tool(make_tool, "fs", mode, FS_PROBE, f"args: ['{host_tmp}']\nsandbox: {{mode: {mode}, "
                    "writable: [data]}\n")  # fmt: skip
    (d / "data").mkdir()
    (d / "data" / "link").symlink_to(outside)
    try:
        result, _ = await call("fs")
    finally:
        host_tmp.unlink()
    assert not result.is_error, result.text_content()
    seen = json.loads(result.text_content())
    assert seen["entry"] == seen["tree"] == seen["etc"] == "Read-only file system", seen
    assert seen["data"] == "ok" and (d / "data" / "out.txt").read_text() == "written"
    assert seen["tmp"] == "ok" and not Path("/tmp/private.txt").exists()
    assert seen["escape"] != "ok" and not (outside / "pwned.txt").exists()
    assert seen["host_tmp_visible"] is False
    assert not (d / "own.txt").exists() and not (tmp_path / "tree.txt").exists()


@pytest.mark.anyio
async def test_writable_symlink_out_is_refused(
    mode: str, make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    """A `writable` entry that is itself a symlink out of the entry is refused before anything runs."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    d = script_tool(make_tool, "sneaky", mode, "open('data/x', 'w').write('x')\n",
                    f"sandbox: {{mode: {mode}, writable: [data]}}\n")  # fmt: skip
    (d / "data").symlink_to(outside)
    result, _ = await call("sneaky")
    assert result.is_error and "leads outside" in result.text_content()
    assert not (outside / "x").exists()


@pytest.mark.anyio
async def test_environment(
    mode: str, make_tool: MakeTool, call: Call, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside the sandbox: exactly PATH, HOME, LANG, the tool's env and its listed secret."""
    monkeypatch.setenv("SERVER_PASSWORD", "hunter2")
    monkeypatch.setenv("SKILLZ_LISTED", "listed-value")
    monkeypatch.setenv("SKILLZ_UNLISTED", "unlisted-value")
    script_tool(make_tool, "env", mode, "import json, os\nprint(json.dumps(dict(os.environ)))\n",
                "env: {GREETING: hi}\nsecrets: [SKILLZ_LISTED]\n")  # fmt: skip
    result, _ = await call("env")
    seen = json.loads(result.text_content())
    assert set(seen) == {"PATH", "HOME", "LANG", "GREETING", "SKILLZ_LISTED"}, seen
    assert seen["SKILLZ_LISTED"] == "listed-value" and seen["GREETING"] == "hi"


FORK_BOMB = """
import os, sys, time
forked = 0
for _ in range(500):  # bounded, so a broken limit cannot take the machine down
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.execvp("sleep", ["sleep", sys.argv[1]])
    forked += 1
print(forked)
"""


@pytest.mark.anyio
async def test_fork_bomb_held_by_process_limit(mode: str, make_tool: MakeTool, call: Call) -> None:
    """`limits.processes` stops forking; the engine survives and every process is gone afterwards."""
    token = marker()
    script_tool(
        make_tool, "bomb", mode, FORK_BOMB, f"args: ['{token}']\nlimits: {{processes: 20, timeout: 20s}}\n"
    )
    result, _ = await call("bomb")
    assert not result.is_error, result.text_content()
    assert 0 < int(result.text_content()) < 20
    assert all_gone(token, 2.0)


@pytest.mark.anyio
async def test_memory_limit(mode: str, make_tool: MakeTool, call: Call) -> None:
    """`limits.memory` caps the address space: allocating past it fails inside the tool."""
    code = (
        "try:\n    b = bytearray(512 << 20)\n    print('allocated')\n"
        "except MemoryError:\n    print('MemoryError')\n"
    )
    script_tool(make_tool, "hog", mode, code, "limits: {memory: 256MiB}\n")
    result, _ = await call("hog")
    assert result.text_content().strip() == "MemoryError"


@pytest.mark.anyio
async def test_huge_output_is_capped(mode: str, make_tool: MakeTool, call: Call) -> None:
    """100 MiB on stdout: no deadlock, 1 MiB kept, and the result says what was dropped."""
    code = "import sys\nchunk = b'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.buffer.write(chunk)\n"
    script_tool(make_tool, "flood", mode, code, "limits: {output: 1MiB, timeout: 30s}\n")
    started = time.monotonic()
    result, _ = await call("flood")
    text = result.text_content()
    assert "output truncated" in text and "104857600 bytes" in text
    assert text.count("x") == 1 << 20
    assert time.monotonic() - started < 30


SLEEPERS = """
import subprocess, sys, time
subprocess.Popen(["sleep", sys.argv[1]], start_new_session=True)  # a grandchild, even in its own session
print("started", flush=True)
time.sleep(1000)
"""


@pytest.mark.anyio
async def test_cancel_kills_everything(mode: str, make_tool: MakeTool, call: Call) -> None:
    """Cancelling a call mid-run leaves no process of the tool behind, within a second."""
    token = marker()
    script_tool(make_tool, "hang", mode, SLEEPERS, f"args: ['{token}']\n")
    with anyio.move_on_after(2.0) as scope:
        await call("hang")
    assert scope.cancelled_caught
    assert all_gone(token, 1.0)


@pytest.mark.anyio
async def test_timeout_kills_everything(mode: str, make_tool: MakeTool, call: Call) -> None:
    """A timed-out call is an error and its grandchild (in its own session) is gone too."""
    token = marker()
    script_tool(make_tool, "slow", mode, SLEEPERS, f"args: ['{token}']\nlimits: {{timeout: 1500ms}}\n")
    result, _ = await call("slow")
    assert result.is_error and "timed out" in result.text_content()
    assert all_gone(token, 1.0)


@pytest.mark.anyio
async def test_command_kind_is_sandboxed(mode: str, make_tool: MakeTool, call: Call) -> None:
    """`kind: command` goes through the same sandbox: its cwd is read-only."""
    make_tool("toucher", f"""
        kind: command
        description: touch a file
        sandbox: {mode}
        argv: [touch, made-here]
        """)  # fmt: skip
    result, _ = await call("toucher")
    assert result.is_error and "Read-only file system" in result.text_content()


@pytest.mark.anyio
async def test_program_outside_the_tree_in_tmp_runs(
    mode: str, make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    """A venv under /tmp outside the tree (a state dir there) is visible: its python finds its prefix."""
    venv = tmp_path.parent / f"{tmp_path.name}-state" / "envs" / "pip-x"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    try:
        make_tool("prefix", f"""
            kind: command
            description: where is my prefix
            sandbox: {mode}
            argv: ["{venv}/bin/python", "-c", "import sys; print(sys.prefix)"]
            """)  # fmt: skip
        result, _ = await call("prefix")
        assert not result.is_error, result.text_content()
        assert result.text_content().strip() == str(venv)
    finally:
        shutil.rmtree(venv.parent.parent)


@pytest.mark.anyio
async def test_server_working_directory_in_tmp_is_readable(
    mode: str, make_tool: MakeTool, call: Call, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's cwd (the user's project, e.g. a CI checkout under /tmp) is readable, not writable."""
    project = tmp_path.parent / f"{tmp_path.name}-project"
    project.mkdir()
    (project / "notes.txt").write_text("from the project\n", encoding="utf-8")
    monkeypatch.chdir(project)
    sh = f"cat {project}/notes.txt && (echo x > {project}/new.txt) 2>/dev/null || echo read-only"
    try:
        make_tool("peek", f"""
            kind: command
            description: read a project file
            sandbox: {mode}
            argv: ["/bin/sh", "-c", "{sh}"]
            """)  # fmt: skip
        result, _ = await call("peek")
        assert not result.is_error, result.text_content()
        assert result.text_content().split() == ["from", "the", "project", "read-only"]
        assert not (project / "new.txt").exists()
    finally:
        shutil.rmtree(project)
