"""Upstream lifecycle: bad upstreams are diagnostics, a crash restarts with backoff, an idle
upstream stops, a manifest edit is make-before-break, and a name clash is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import mcp.types as types
import pytest
from mcp import Client

from skillz_engine.engine import Engine
from skillz_engine.mcp.upstream.runtime import health
from tests.mcp.upstream.conftest import upstream_entry, upstreams
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
ECHO = 'kind: command\ndescription: Echo\nargv: ["echo", "ok"]\n'


def messages(engine: Engine, code: str) -> list[str]:
    return [d.message for d in engine.snapshot.diagnostics if d.code == code]


async def wait_until(check: object, timeout: float = 15.0) -> None:
    assert callable(check)
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.05)


@pytest.mark.parametrize(
    ("mode", "timeout", "why"),
    [
        ("exit", "1s", "cannot start: no configuration"),
        ("garbage", "3s", "not MCP JSON: "),  # time to import the SDK before it prints
        ("mute", "1s", "no answer to initialize within 1s"),
    ],
)
async def test_bad_upstream_is_a_diagnostic_and_the_server_stays_up(
    tmp_path: Path, mode: str, timeout: str, why: str
) -> None:
    upstream_entry(tmp_path, mode=mode, extra=f"timeout: {timeout}\n")
    write(tmp_path / "tools" / "echo" / "manifest.yaml", ECHO)
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        found = messages(engine, "SKZ544")
        assert found and why in found[0] and "retrying in" in found[0]
        assert not (await c.call_tool("echo", {})).is_error
        diags = await c.read_resource("skillz://diagnostics")
        assert (
            isinstance(diags.contents[0], types.TextResourceContents) and "SKZ544" in diags.contents[0].text
        )
        assert [u.state for u in upstreams(engine)] in (["backoff"], ["starting"])


async def test_crash_restarts_with_backoff_and_errors_meanwhile(tmp_path: Path) -> None:
    upstream_entry(tmp_path)
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        up = upstreams(engine)[0]
        died = await c.call_tool("up_die", {})
        assert died.is_error
        await wait_until(lambda: up.restarts == 1)
        await wait_until(lambda: up.state == "ready")
        assert not messages(engine, "SKZ544")
        assert health(engine.snapshot)["up"] == {
            "state": "ready",
            "restarts": 1,
            "target": up.launch.describe(),
        }
        res = await c.call_tool("up_echo", {"text": "back"})
        assert not res.is_error and res.structured_content == {"echo": "back"}


async def test_down_upstream_tools_answer_is_error_saying_why(tmp_path: Path) -> None:
    """Listed from the kept listing while its process cannot start: each call says why."""
    manifest = upstream_entry(tmp_path, extra="autostart: false\n")
    async with served([tmp_path]) as (engine, _):
        assert "up_echo" in engine.snapshot.tools  # listed once, kept in the state directory
    upstream_entry(tmp_path, extra="autostart: false\nenv: {BROKEN: '1'}\n")
    manifest.write_text(manifest.read_text().replace('"normal"', '"exit"'))
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        assert "up_echo" in engine.snapshot.tools
        first = await c.call_tool("up_echo", {"text": "x"})
        assert first.is_error and "cannot start: no configuration" in first.content[0].text  # type: ignore[union-attr]
        again = await c.call_tool("up_echo", {"text": "x"})
        assert again.is_error and "retrying in" in again.content[0].text  # type: ignore[union-attr]


async def test_idle_upstream_stops_and_starts_again(tmp_path: Path) -> None:
    upstream_entry(tmp_path, extra="idleTimeout: 300ms\n")
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        up = upstreams(engine)[0]
        await wait_until(lambda: up.state == "stopped")
        assert not (await c.call_tool("up_echo", {"text": "again"})).is_error
        assert up.state == "ready" and up.restarts == 0


async def test_exposure_edit_keeps_the_upstream(tmp_path: Path) -> None:
    manifest = upstream_entry(tmp_path)
    async with served([tmp_path]) as (engine, _):
        old = upstreams(engine)[0]
        upstream_entry(tmp_path, extra="namespace: renamed\n")
        await engine.apply([manifest.parent])
        assert upstreams(engine) == [old] and old.state == "ready"
        assert "renamed_echo" in engine.snapshot.tools and "up_echo" not in engine.snapshot.tools


async def test_manifest_edit_is_make_before_break(tmp_path: Path) -> None:
    manifest = upstream_entry(tmp_path)
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        old = upstreams(engine)[0]
        upstream_entry(tmp_path, extra="namespace: fresh\nenv: {EDITED: 'yes'}\n")  # a new launch
        await engine.apply([manifest.parent])
        new = upstreams(engine)[0]
        assert new is not old and new.state == "ready"
        await wait_until(lambda: old.state == "stopped")
        assert not (await c.call_tool("fresh_echo", {"text": "x"})).is_error
        assert "up_echo" not in engine.snapshot.tools


async def test_clashing_names_are_reported(tmp_path: Path) -> None:
    upstream_entry(tmp_path, name="a", extra="namespace: same\n")
    upstream_entry(tmp_path, name="b", extra="namespace: same\n")
    async with served([tmp_path]) as (engine, server), Client(server.server) as c:
        clashes = [d for d in engine.snapshot.diagnostics if "same_echo" in d.message]
        assert clashes and "already defined" in clashes[0].message
        assert not (await c.call_tool("same_echo", {"text": "one wins"})).is_error


def test_lazy_upstreams_load_no_sdk_client_at_compile(tmp_path: Path) -> None:
    """Compiling a tree with upstreams (validate, a start with lazy ones) does not import the SDK's
    client: it loads when an upstream connects."""
    upstream_entry(tmp_path, extra="autostart: false\n")
    code = (
        "import sys; from pathlib import Path; from tests.conftest import open_tree\n"
        f"t = open_tree([Path({str(tmp_path)!r})]); t.full_scan(); snap = t.snapshot()\n"
        "assert [c.spec.kind for c in snap.entries.values()] == ['mcp-server'], snap.diagnostics\n"
        "print(sorted(m for m in sys.modules if m.startswith('mcp.client')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout
