"""The status page, its login, its live event stream and /metrics, over real sockets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from skillz_engine.mcp.status import COOKIE, PageAccess
from tests.mcp.test_http import ECHO, TOKEN, auth, http_app
from tests.mcp_helpers import write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "tree"
    write(r / "tools" / "echo" / "manifest.yaml", ECHO.format(description="Echo text back"))
    return r


def test_login_codes_are_one_time_and_expire() -> None:
    """A code opens one page session once; a spent, unknown or expired code opens nothing; the
    token works only as itself."""
    now = [1000.0]
    access = PageAccess("tok", clock=lambda: now[0])
    code = access.new_code()
    assert access.spend_code(code) is not None
    assert access.spend_code(code) is None and access.spend_code("") is None
    late = access.new_code()
    now[0] += 601
    assert access.spend_code(late) is None
    assert access.login_with_token("tok") is not None and access.login_with_token("tok2") is None
    assert not PageAccess("tok").open and PageAccess(None).open


async def test_page_needs_a_login_and_never_takes_the_token_from_the_url(root: Path) -> None:
    """/ is a sign-in page (401) until a one-time link or the token form sets the HttpOnly,
    SameSite=Strict cookie; a token in the query string opens nothing; a foreign Host gets 421."""
    async with http_app(root) as served, httpx2.AsyncClient(base_url=served.base) as h:
        first = await h.get("/")
        assert first.status_code == 401 and "<form" in first.text
        assert (await h.get(f"/?token={TOKEN}")).status_code == 401
        assert (await h.get(f"/login?token={TOKEN}")).status_code == 401
        assert (await h.get("/status.json")).status_code == 401
        code = served.app.state.page_access.new_code()
        login = await h.get(f"/login?code={code}")
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and f"{COOKIE}=" in cookie
        page = await h.get("/", headers={"Cookie": f"{COOKIE}={login.cookies[COOKIE]}"})
        assert page.status_code == 200 and "EventSource" in page.text
        assert page.headers["x-frame-options"] == "DENY" and "no-store" in page.headers["cache-control"]
        again = await h.get(f"/login?code={code}")
        assert again.status_code == 401 and "already used" in again.text
        form = await h.post("/login", data={"token": TOKEN})
        assert form.status_code == 303 and COOKIE in form.cookies
        assert (await h.post("/login", data={"token": "wrong"})).status_code == 401
        rebound = await h.get("/", headers={"Host": "evil.example:80", **auth()})
        assert rebound.status_code == 421


async def test_state_and_events_follow_the_tree_and_the_calls(root: Path) -> None:
    """/status.json lists entries with their state and diagnostics; /status/events sends a new
    state when a tool is added, when a manifest breaks (stale, with file:line:col) and on a call."""
    async with http_app(root) as served, httpx2.AsyncClient(base_url=served.base, headers=auth()) as h:
        state = (await h.get("/status.json")).json()
        assert [e["name"] for e in state["entries"]] == ["echo"] and state["entries"][0]["state"] == "serving"
        states: list[dict[str, Any]] = []

        async def listen() -> None:
            async with h.stream("GET", "/status/events") as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        states.append(json.loads(line[6:]))

        async def wait_for(pred: Any) -> dict[str, Any]:
            with anyio.fail_after(10):
                while True:
                    for s in states:
                        if pred(s):
                            return s
                    await anyio.sleep(0.02)

        async with anyio.create_task_group() as tg:
            tg.start_soon(listen)
            await wait_for(lambda s: True)
            added = write(root / "tools" / "added" / "manifest.yaml", ECHO.format(description="Added"))
            await served.engine.apply([added.parent])
            await wait_for(lambda s: "added" in [t["name"] for t in s["tools"]])
            broken = root / "tools" / "echo" / "manifest.yaml"
            broken.write_text("kind: command\ndescription: [oops\n")
            await served.engine.apply([broken])
            stale = await wait_for(lambda s: s["diagnostics"])
            echo = next(e for e in stale["entries"] if e["name"] == "echo")
            assert echo["state"] == "stale" and echo["problems"]
            assert any(d["where"].endswith("tools/echo/manifest.yaml:3:1") for d in stale["diagnostics"]), (
                stale
            )
            async with (
                httpx2.AsyncClient(headers=auth()) as http,
                Client(streamable_http_client(served.url, http_client=http)) as client,
            ):
                await client.call_tool("added", {"text": "hi"})
            call = await wait_for(lambda s: s["calls"])
            assert call["calls"][0]["tool"] == "added" and call["calls"][0]["ok"]
            tg.cancel_scope.cancel()
        metrics = await h.get("/metrics")
        assert metrics.status_code == 200
        text = metrics.text
        assert 'skillz_calls_total{outcome="ok",tool="added"} 1.0' in text
        assert 'skillz_call_duration_seconds_count{tool="added"} 1.0' in text
        assert 'skillz_entries{kind="command",state="stale"} 1.0' in text
        assert "skillz_reloads_total 2.0" in text and 'skillz_diagnostics{severity="error"}' in text
        assert (await httpx2.AsyncClient().get(served.base + "/metrics")).status_code == 401


async def test_state_shows_upstream_servers(tmp_path: Path) -> None:
    """The page's data names each upstream MCP server with its state and what it runs."""
    pytest.importorskip("mcp_server_time")
    import sys

    from skillz_engine.mcp.board import StatusBoard
    from tests.mcp_helpers import served

    write(
        tmp_path / "servers" / "time" / "manifest.yaml",
        f"kind: mcp-server\ncommand: {sys.executable}\nargs: [-m, mcp_server_time]\nsandbox: none\n",
    )
    async with served([tmp_path]) as (engine, server):
        state = StatusBoard(engine, server).state()
        assert state["upstreams"]["time"]["state"] == "ready"
        assert "mcp_server_time" in state["upstreams"]["time"]["target"] and state["services"] == {}
