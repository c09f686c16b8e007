"""Starting ``serve`` safely, with real processes: one server per state directory, no unauthenticated
non-loopback bind without the explicit flag, and the token shown only on request."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from skillz_engine.errors import ExitCode, UsageError
from skillz_engine.mcp.httppolicy import allowed_hosts, check_bind, is_loopback
from tests.mcp_helpers import write
from tests.served_process import cli, start_server

ECHO = """kind: command
description: Echo text back
inputSchema: {type: object, properties: {text: {type: string}}, required: [text]}
argv: ["echo", "{{ text }}"]
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "tree"
    write(r / "tools" / "echo" / "manifest.yaml", ECHO)
    return r


def test_a_second_server_on_one_state_directory_is_refused(root: Path, tmp_path: Path) -> None:
    """A second HTTP ``serve`` exits 2 naming the running one; server.json stays the first's. A stdio
    server is not one of them: every MCP client starts its own on the same tree (Claude Desktop and
    Claude Code on one ~/.skillz), it binds no port and writes no server.json, so it serves (here
    until its stdin ends). ``call`` and ``list`` are not blocked; stopping the first removes its
    server.json."""
    first = start_server(root, "--no-watch", log=tmp_path / "first.txt")
    try:
        before = (first.state / "server.json").read_text()
        second = cli("serve", str(root), "--transport", "http", "--port", "0", "--no-watch")
        assert second.returncode == ExitCode.USAGE, second.stderr
        assert f"pid {first.proc.pid}" in second.stderr and "already serving" in second.stderr
        assert first.url in second.stderr
        stdio = cli("serve", str(root), "--no-watch")
        assert stdio.returncode == 0 and "already serving" not in stdio.stderr, stdio.stderr
        assert (first.state / "server.json").read_text() == before
        listed = cli("list", str(root), "--json")
        assert listed.returncode == 0 and "echo" in listed.stdout
        called = cli("call", "echo", str(root), "--args", '{"text": "while serving"}')
        assert called.returncode == 0 and "while serving" in called.stdout
    finally:
        assert first.stop() == 0
    assert not (first.state / "server.json").exists()


def test_a_killed_server_leaves_no_lock_behind(root: Path, tmp_path: Path) -> None:
    """The kernel drops the flock with the process: after kill -9 the next server starts."""
    crashed = start_server(root, "--no-watch", log=tmp_path / "a.txt")
    crashed.stop(signal.SIGKILL)
    assert json.loads((crashed.state / "server.json").read_text())["pid"] == crashed.proc.pid  # stale
    fresh = start_server(root, "--no-watch", log=tmp_path / "b.txt")
    try:
        assert json.loads((fresh.state / "server.json").read_text())["pid"] == fresh.proc.pid
    finally:
        fresh.stop()


@pytest.mark.parametrize("how", ["flag", "config"])
def test_unauthenticated_non_loopback_bind_is_refused(root: Path, how: str) -> None:
    """``--host 0.0.0.0`` without auth (by flag or by ``http.auth: false``) exits 2, binds nothing."""
    args = ["serve", str(root), "--transport", "http", "--port", "0", "--no-watch", "--host", "0.0.0.0"]
    if how == "flag":
        args.append("--no-auth")
    else:
        write(root / "skillz.yaml", "http:\n  auth: false\n")
    done = cli(*args)
    assert done.returncode == ExitCode.USAGE
    assert "without authentication" in done.stderr and "--allow-remote-without-auth" in done.stderr
    assert not (root / ".skillz" / "server.json").exists()


def test_the_explicit_flag_allows_an_unauthenticated_remote_bind(root: Path, tmp_path: Path) -> None:
    flags = ("--host", "0.0.0.0", "--no-auth", "--allow-remote-without-auth", "--no-watch")
    srv = start_server(root, *flags, log=tmp_path / "e.txt")
    try:
        assert "Authentication is OFF" in srv.stderr()
    finally:
        srv.stop()


def test_show_token_prints_it(root: Path, tmp_path: Path) -> None:
    """``--show-token`` prints the token even though stderr is a file."""
    srv = start_server(root, "--show-token", "--no-watch", log=tmp_path / "t.txt")
    try:
        assert f"Bearer token: {srv.token}" in srv.stderr()
    finally:
        srv.stop()


def test_which_binds_are_loopback_and_which_hosts_they_accept() -> None:
    """Loopback is 127/8, ::1 and localhost; a wildcard bind accepts no name of its own."""
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "192.168.1.5", "myhost.lan", "localhost.evil.test"):
        assert not is_loopback(host), host
    loopback = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
    assert allowed_hosts("0.0.0.0") == loopback
    lan = allowed_hosts("192.168.1.5", ["myhost.lan", "proxy.example:443"])
    assert {"192.168.1.5", "192.168.1.5:*", "myhost.lan:*", "proxy.example:443"} <= set(lan)
    assert "proxy.example:443:*" not in lan
    with pytest.raises(UsageError, match="--allow-remote-without-auth"):
        check_bind("::", auth=False)
    check_bind("::", auth=False, allow_remote_without_auth=True)
    check_bind("::1", auth=False)
