"""Sandboxes and limits: the argv of every mode, and the security cases against real bwrap/firejail.

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
from typing import Any

import anyio
import psutil  # type: ignore[import-untyped]
import pytest

from skillz_engine.errors import RuntimeFailure, SandboxUnavailable
from skillz_engine.isolation import sandbox
from skillz_engine.isolation.process import Limits, build_command, run
from skillz_engine.isolation.sandbox import (
    Mounts,
    Policy,
    bwrap_argv,
    firejail_argv,
    limits_argv,
    nsjail_argv,
    policy_for,
    resolve_program,
    wrap,
)
from skillz_engine.tree.config import Config
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.parse import Positions
from tests.conftest import Call, MakeTool, require

PYPI_IP = "151.101.0.223"  # pypi.org (Fastly): reachable from this machine's network


def spec(tmp_path: Path, **data: Any) -> EntrySpec:
    return EntrySpec(
        kind="command", name="t", root=tmp_path, dir=tmp_path, manifest=tmp_path / "manifest.yaml",
        display="manifest.yaml", data={"kind": "command", **data}, positions=Positions(), fingerprint="",
    )  # fmt: skip


# --------------------------------------------------------------------------- policy and argv


def test_policy_merges_tool_over_config(tmp_path: Path) -> None:
    """A tool's `sandbox` wins key by key over skillz.yaml's; a bare string is the mode; default auto."""
    config = Config({"sandbox": {"mode": "firejail", "network": True, "writable": ["cache"]}})
    assert policy_for(spec(tmp_path), None) == Policy("auto", False, ())
    assert policy_for(spec(tmp_path), config) == Policy("firejail", True, ("cache",))
    assert policy_for(spec(tmp_path, sandbox="bwrap"), config) == Policy("bwrap", True, ("cache",))
    assert policy_for(spec(tmp_path, sandbox={"network": False}), config) == Policy(
        "firejail", False, ("cache",)
    )
    assert policy_for(spec(tmp_path, sandbox="none"), Config({"sandbox": "bwrap"})).mode == "none"


MOUNTS = Mounts(
    ro=(Path("/tmp/tree"), Path("/srv/tools/x")), rw=(Path("/tmp/tree/x/data"), Path("/var/cache/x")),
    cwd=Path("/tmp/tree/x"),
)  # fmt: skip


def test_bwrap_argv() -> None:
    """Read-only /, private /tmp, the tree re-bound read-only, writable binds, no net, no caps."""
    argv = bwrap_argv("/usr/bin/bwrap", MOUNTS, network=False)
    assert argv == [
        "/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--ro-bind", "/tmp/tree", "/tmp/tree",  # /srv/... is visible through / already
        "--bind", "/tmp/tree/x/data", "/tmp/tree/x/data", "--bind", "/var/cache/x", "/var/cache/x",
        "--chdir", "/tmp/tree/x", "--unshare-all",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--",
    ]  # fmt: skip
    with_net = bwrap_argv("/usr/bin/bwrap", MOUNTS, network=True)
    assert with_net[with_net.index("--unshare-all") + 1] == "--share-net"


def test_firejail_argv() -> None:
    """Paths under the private /tmp are whitelisted (then read-only again unless writable)."""
    argv = firejail_argv("/usr/bin/firejail", MOUNTS, network=False)
    assert argv == [
        "/usr/bin/firejail", "--quiet", "--noprofile", "--read-only=/", "--private-tmp", "--keep-var-tmp",
        "--caps.drop=all", "--nonewprivs", "--deterministic-exit-code", "--deterministic-shutdown",
        "--net=none",
        "--whitelist=/tmp/tree", "--whitelist=/tmp/tree/x/data", "--read-only=/tmp/tree",
        "--read-write=/tmp/tree/x/data", "--read-write=/var/cache/x", "--",
    ]  # fmt: skip
    assert "--net=none" not in firejail_argv("/usr/bin/firejail", MOUNTS, network=True)


def test_nsjail_argv() -> None:
    """nsjail: read-only chroot of /, tmpfs /tmp, binds, its own rlimits and time limit off."""
    argv = nsjail_argv("/usr/bin/nsjail", MOUNTS, network=False)
    assert argv[:5] == ["/usr/bin/nsjail", "--mode", "o", "--quiet", "--chroot"]
    assert "--rw" not in argv and argv[6:8] == ["--tmpfsmount", "/tmp"]
    assert argv[argv.index("--cwd") : argv.index("--cwd") + 2] == ["--cwd", "/tmp/tree/x"]
    assert argv[argv.index("--time_limit") : argv.index("--time_limit") + 2] == ["--time_limit", "0"]
    assert argv[argv.index("--rlimit_nproc") : argv.index("--rlimit_nproc") + 2] == ["--rlimit_nproc", "soft"]
    assert "--bindmount_ro" in argv and argv[argv.index("--bindmount_ro") + 1] == "/tmp/tree:/tmp/tree"
    assert [a for i, a in enumerate(argv) if i and argv[i - 1] == "--bindmount"] == [
        "/tmp/tree/x/data:/tmp/tree/x/data", "/var/cache/x:/var/cache/x"]  # fmt: skip
    assert "--disable_clone_newnet" not in argv and argv[-1] == "--"
    assert "--disable_clone_newnet" in nsjail_argv("/usr/bin/nsjail", MOUNTS, network=True)


def test_limits_argv() -> None:
    """Each limit is one prlimit option (memory as address space, CPU rounded up to seconds)."""
    limits = Limits(memory=256 << 20, cpu=1.5, processes=32, open_files=64)
    assert limits_argv("/usr/bin/prlimit", limits) == [
        "/usr/bin/prlimit", "--as=268435456", "--cpu=2", "--nproc=32", "--nofile=64", "--"]  # fmt: skip
    assert limits_argv("/usr/bin/prlimit", Limits()) == []


def test_wrap_orders_cgroup_prlimit_sandbox_program(tmp_path: Path) -> None:
    """The full command line: [pids cgroup join] prlimit ... -- [sandbox ...] program args."""
    s = spec(tmp_path, sandbox="none", limits={"memory": "64MiB", "processes": 8})
    wrapped = wrap(["/bin/echo", "hi"], s, cwd=tmp_path, env={"PATH": "/bin"}, limits=Limits(memory=64 << 20,
                   processes=8))  # fmt: skip
    argv = wrapped.argv
    assert argv[-2:] == ["/bin/echo", "hi"]
    i = argv.index("--as=67108864")
    if wrapped.cgroup is not None:  # a writable pids cgroup: the shell joins it, then execs prlimit
        assert argv[:2] == ["/bin/sh", "-c"] and argv[3] == str(wrapped.cgroup)
        assert argv[i - 1].endswith("prlimit") and argv[i + 1] == "--"  # the cgroup counts, not nproc
    else:
        assert argv[i - 1].endswith("prlimit") and argv[i + 1 : i + 3] == ["--nproc=8", "--"]


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
    monkeypatch.setattr(sandbox, "auto_choice", lambda: ("none", None, "bwrap: not installed; ..."))
    monkeypatch.setattr(sandbox, "_warned_unsandboxed", False)


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


def test_writable_paths_are_confined(tmp_path: Path) -> None:
    """Relative writable paths stay in the entry: `..` and symlinks out are refused, missing dirs made."""
    entry = tmp_path / "tool"
    entry.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (entry / "escape").symlink_to(outside)
    (entry / "dangling").symlink_to(outside / "not-yet")
    s = EntrySpec(kind="command", name="t", root=tmp_path, dir=entry, manifest=entry / "manifest.yaml",
                  display="m", data={}, positions=Positions(), fingerprint="")  # fmt: skip
    ok = sandbox.mounts_for(s, Policy("bwrap", False, ("data/out",)), entry)
    assert ok.rw == ((entry / "data" / "out").resolve(),) and (entry / "data" / "out").is_dir()
    for bad in ("../outside", "escape", "escape/sub", "dangling/sub"):
        with pytest.raises(RuntimeFailure, match=r"outside|leaves"):
            sandbox.mounts_for(s, Policy("bwrap", False, (bad,)), entry)
    assert not (outside / "sub").exists() and not (outside / "not-yet").exists()
    with pytest.raises(RuntimeFailure, match="does not exist"):
        sandbox.mounts_for(s, Policy("bwrap", False, (str(tmp_path / "nope"),)), entry)


def test_version_manager_shim_is_resolved(tmp_path: Path) -> None:
    """A pyenv-style shim is replaced by the interpreter it runs (asked once, then cached)."""
    root = tmp_path / ".fakeenv"
    (root / "shims").mkdir(parents=True)
    (root / "bin").mkdir()
    real = tmp_path / "versions" / "9.9" / "bin" / "tool"
    real.parent.mkdir(parents=True)
    real.write_text("#!/bin/sh\necho real\n")
    real.chmod(0o755)
    shim = root / "shims" / "tool"
    shim.write_text('#!/bin/sh\nexec fakeenv exec tool "$@"\n')
    shim.chmod(0o755)
    calls = tmp_path / "calls"
    manager = root / "bin" / "fakeenv"
    manager.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n[ "$1" = which ] && echo {real}\n')
    manager.chmod(0o755)
    env = {"PATH": f"{root / 'shims'}:/usr/bin:/bin"}
    assert resolve_program("tool", tmp_path, env) == str(real)
    assert resolve_program(str(shim), tmp_path, env) == str(real)
    assert calls.read_text().split("\n")[0] == "which tool" and calls.read_text().count("which") == 1
    assert resolve_program("/bin/sh", tmp_path, env) == "/bin/sh"  # not a shim: unchanged


# --------------------------------------------------------------------------- real sandboxes


@pytest.fixture(params=["bwrap", "firejail"])
def mode(request: pytest.FixtureRequest) -> str:
    """Each integration test runs in real bubblewrap and in real firejail."""
    require(sandbox.BINARIES[request.param], "the sandbox integration tests run it for real")
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


def test_nsjail_for_real() -> None:
    """nsjail is not packaged for Debian 12, so there is nothing to run it against here."""
    if shutil.which("nsjail") is None:
        pytest.skip("nsjail is not packaged for Debian 12")
    found = sandbox.detect()
    assert found.works["nsjail"], found.errors["nsjail"]


@pytest.mark.anyio
async def test_auto_picks_a_working_sandbox(tmp_path: Path) -> None:
    """`auto` resolves to the best sandbox that works here and the command really runs in it."""
    require("bwrap", "auto prefers it")
    assert sandbox.detect().auto == "bwrap"
    cmd = build_command(["/bin/sh", "-c", "touch x"], spec(tmp_path))
    assert cmd.sandbox == "bwrap"
    proc = await run(cmd)
    assert proc.returncode != 0 and b"Read-only" in proc.stderr and not (tmp_path / "x").exists()


def test_program_and_environment_dirs_stay_visible(tmp_path: Path) -> None:
    """A dependency env outside the tree (state dir under /tmp) is shown read-only, once."""
    tree, state = tmp_path / "tree", tmp_path / "state"
    (tree / "tool").mkdir(parents=True)
    env_dir = state / "envs" / "pip-abc"
    (env_dir / "bin").mkdir(parents=True)
    python = env_dir / "bin" / "python"
    python.symlink_to(Path(os.path.realpath(shutil.which("python3") or "/usr/bin/python3")))
    s = EntrySpec(kind="script", name="t", root=tree, dir=tree / "tool", manifest=tree / "tool" / "m.yaml",
                  display="m", data={}, positions=Positions(), fingerprint="")  # fmt: skip
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin", "VIRTUAL_ENV": str(env_dir)}
    mounts = sandbox.mounts_for(s, Policy("bwrap", False, ()), tree / "tool", str(python), env)
    assert env_dir.resolve() in mounts.ro and tree.resolve() in mounts.ro
    assert (env_dir / "bin").resolve() not in mounts.ro  # inside env_dir: not bound twice
    assert tree.resolve() / "tool" not in mounts.ro
    # /bin/sh (prefix "/") and a program in /tmp/bin (prefix "/tmp") never show the host's /tmp
    for program in ("/bin/sh", "/tmp/bin/tool"):
        mounts = sandbox.mounts_for(s, Policy("bwrap", False, ()), tree / "tool", program, {"PATH": "/tmp:/"})
        assert tree.resolve() in mounts.ro
        assert Path("/") not in mounts.ro and Path("/tmp") not in mounts.ro


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
