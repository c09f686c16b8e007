"""The HTTP transport over real sockets: auth, Origin, /health, both eras, legacy SSE, fan-out, audit."""

from __future__ import annotations

import json
import re
import socket
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import pytest
import uvicorn
from mcp import Client, ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ToolsListChanged

from skillz_engine.engine import Engine, EngineOptions
from skillz_engine.errors import UsageError
from skillz_engine.mcp.http import DEFAULT_ORIGINS, build_app, origin_allowed, serve_http
from tests.mcp_helpers import Inbox, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
TOKEN = "test-token-0123456789abcdef"
ECHO = """kind: command
description: {description}
inputSchema:
  type: object
  properties:
    text: {{type: string}}
  required: [text]
argv: ["echo", "{{{{ text }}}}"]
"""
LEAKY = """kind: command
description: Fails and prints its secret
secrets: [SKILLZ_HTTP_SECRET]
argv: ["sh", "-c", "echo secret=$SKILLZ_HTTP_SECRET >&2; exit 1"]
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "tree"
    write(r / "tools" / "echo" / "manifest.yaml", ECHO.format(description="Echo text back"))
    write(r / "tools" / "leaky" / "manifest.yaml", LEAKY)
    return r


@dataclass
class Served:
    base: str
    engine: Engine
    app: Any

    @property
    def url(self) -> str:
        return self.base + "/mcp"


@asynccontextmanager
async def http_app(
    root: Path, *, token: str | None = TOKEN, origins: list[str] | None = None
) -> AsyncIterator[Served]:
    """build_app under uvicorn on 127.0.0.1, port 0, inside the test's task group."""
    async with Engine.open([root]) as engine:
        allowed = origins or list(DEFAULT_ORIGINS)
        app = build_app(engine, token=token, allowed_origins=allowed, host="127.0.0.1")
        web = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
            )
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(web.serve)
            with anyio.fail_after(10):
                while not web.started:
                    await anyio.sleep(0.01)
            port = web.servers[0].sockets[0].getsockname()[1]
            try:
                yield Served(f"http://127.0.0.1:{port}", engine, app)
            finally:
                web.should_exit = True


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def is_tools_changed(m: Any) -> bool:
    return getattr(m, "method", None) == "notifications/tools/list_changed" or isinstance(m, ToolsListChanged)


async def health(base: str) -> dict[str, Any]:
    async with httpx2.AsyncClient() as h:
        r = await h.get(base + "/health")
        assert r.status_code == 200
        data: dict[str, Any] = r.json()
        return data


async def wait_sessions(base: str, n: int) -> None:
    with anyio.fail_after(10):
        while (await health(base))["sessions"] != n:
            await anyio.sleep(0.02)


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


# --------------------------------------------------------------------------- access control


def test_origin_patterns() -> None:
    """Loopback origins match any port; `*` in http.allowedOrigins matches one label or a port."""
    loop = list(DEFAULT_ORIGINS)
    assert origin_allowed("http://localhost:5173", loop)
    assert origin_allowed("http://127.0.0.1", loop)
    assert origin_allowed("http://[::1]:8080", loop)
    assert not origin_allowed("http://localhost.evil.com:80", loop)
    assert not origin_allowed("https://evil.example", loop)
    assert origin_allowed("https://app.example.com", [*loop, "https://*.example.com"])
    assert not origin_allowed("https://a.b.example.com", [*loop, "https://*.example.com"])


async def test_health_is_open_and_reports_the_snapshot(root: Path) -> None:
    """GET /health needs no token and reports generation, tools, errors and sessions."""
    async with http_app(root) as srv:
        data = await health(srv.base)
        assert data["ok"] is True and data["errors"] == 0 and data["sessions"] == 0
        assert data["generation"] >= 1 and data["tools"] >= 5


async def test_bearer_token_is_required(root: Path) -> None:
    """/mcp, /sse and /message answer 401 without the right token; /mcp works with it."""
    async with http_app(root) as srv, httpx2.AsyncClient() as h:
        for headers in ({}, auth("wrong"), {"Authorization": "Basic " + TOKEN}):
            r = await h.post(srv.url, json=INIT, headers={**MCP_HEADERS, **headers})
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"] == "Bearer"
        assert (await h.get(srv.base + "/sse")).status_code == 401
        assert (await h.post(srv.base + "/message?session_id=x", json={})).status_code == 401
        ok = await h.post(srv.url, json=INIT, headers={**MCP_HEADERS, **auth()})
        assert ok.status_code == 200


async def test_origin_and_host_are_validated(root: Path) -> None:
    """A foreign Origin gets 403 (even with the token); a foreign Host gets the SDK's 421."""
    origins = [*DEFAULT_ORIGINS, "https://*.example.com"]
    async with http_app(root, origins=origins) as srv, httpx2.AsyncClient() as h:
        evil = await h.post(
            srv.url, json=INIT, headers={**MCP_HEADERS, **auth(), "Origin": "https://evil.test"}
        )
        assert evil.status_code == 403
        assert "allowedOrigins" in evil.json()["message"]
        assert (await h.get(srv.base + "/sse", headers={"Origin": "https://evil.test"})).status_code == 403
        for origin in ("http://localhost:3000", "https://app.example.com"):
            r = await h.post(srv.url, json=INIT, headers={**MCP_HEADERS, **auth(), "Origin": origin})
            assert r.status_code == 200, origin
        rebound = await h.post(srv.url, json=INIT, headers={**MCP_HEADERS, **auth(), "Host": "evil.test:80"})
        assert rebound.status_code == 421


async def test_no_auth_mode_serves_without_token(root: Path) -> None:
    """With token=None (--no-auth) /mcp needs no Authorization header."""
    async with http_app(root, token=None) as srv, Client(srv.url) as c:
        assert "echo" in [t.name for t in (await c.list_tools()).tools]


# --------------------------------------------------------------------------- both eras, legacy SSE


async def test_both_eras_call_tools_over_streamable_http(root: Path) -> None:
    """A handshake-era ClientSession and a 2026 Client both list and call tools on /mcp."""
    async with http_app(root) as srv, httpx2.AsyncClient(headers=auth()) as http:
        async with streamable_http_client(srv.url, http_client=http) as (r, w), ClientSession(r, w) as s:
            init = await s.initialize()
            assert init.protocol_version == "2025-11-25"
            assert init.capabilities.tools is not None and init.capabilities.tools.list_changed
            res = await s.call_tool("echo", {"text": "legacy http"})
            assert (
                isinstance(res.content[0], types.TextContent) and res.content[0].text.strip() == "legacy http"
            )
            await wait_sessions(srv.base, 1)
        async with Client(streamable_http_client(srv.url, http_client=http)) as c:
            assert c.protocol_version == "2026-07-28"
            res = await c.call_tool("echo", {"text": "modern http"})
            assert (
                isinstance(res.content[0], types.TextContent) and res.content[0].text.strip() == "modern http"
            )
            bad = await c.call_tool("leaky", {})
            assert bad.is_error
        await wait_sessions(srv.base, 0)


async def test_legacy_sse_endpoint(root: Path) -> None:
    """GET /sse + POST /message: handshake, a tool call, and a list_changed notification."""
    inbox = Inbox()
    async with (
        http_app(root) as srv,
        sse_client(srv.base + "/sse", headers=auth()) as (r, w),
        ClientSession(r, w, message_handler=inbox.handler) as s,
    ):
        init = await s.initialize()
        assert init.protocol_version == "2025-11-25"
        res = await s.call_tool("echo", {"text": "old school"})
        assert isinstance(res.content[0], types.TextContent) and res.content[0].text.strip() == "old school"
        await wait_sessions(srv.base, 1)
        manifest = write(root / "tools" / "sse-added" / "manifest.yaml", ECHO.format(description="New"))
        await srv.engine.apply([manifest])
        await inbox.wait_for(is_tools_changed)
        assert "sse-added" in [t.name for t in (await s.list_tools()).tools]


# --------------------------------------------------------------------------- serve_http end to end


HTTP_ENGINE = EngineOptions(watch=True, audit="required")  # as `serve --transport http` opens it


@asynccontextmanager
async def running(root: Path, **kw: Any) -> AsyncIterator[str]:
    """serve_http in the test's task group; yields the announcement text once it is serving."""
    announced: list[str] = []
    ready = anyio.Event()

    def announce(text: str) -> None:
        announced.append(text)
        ready.set()

    async def serve() -> None:
        async with Engine.open([root], HTTP_ENGINE) as engine:
            await serve_http(engine, host="127.0.0.1", port=0, announce=announce, **kw)

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        with anyio.fail_after(15):
            await ready.wait()
        yield announced[0]
        tg.cancel_scope.cancel()


def announced_url(text: str) -> str:
    m = re.search(r"http://127\.0\.0\.1:\d+/mcp", text)
    assert m is not None, text
    return m.group(0)


async def test_serve_http_fans_out_one_change_to_every_client(root: Path) -> None:
    """3 legacy sessions and 2 modern listeners on one server all get list_changed for one file edit."""
    async with running(root) as text:
        url = announced_url(text)
        token = (root / ".skillz" / "agent-token").read_text().strip()
        assert token not in text and str(root / ".skillz" / "agent-token") in text  # not a terminal
        base = url.removesuffix("/mcp")
        ready: dict[str, Any] = {}
        got: dict[str, Any] = {}
        all_ready, all_got, finish = anyio.Event(), anyio.Event(), anyio.Event()

        def mark(seen: dict[str, Any], name: str, event: anyio.Event, value: Any = True) -> None:
            seen.setdefault(name, value)
            if len(seen) == 5:
                event.set()

        async def legacy(name: str) -> None:
            inbox = Inbox()
            async with (
                httpx2.AsyncClient(headers=auth(token), timeout=httpx2.Timeout(30, read=300)) as http,
                streamable_http_client(url, http_client=http) as (r, w),
                ClientSession(r, w, message_handler=inbox.handler) as s,
            ):
                await s.initialize()
                mark(ready, name, all_ready)
                msg = await inbox.wait_for(is_tools_changed, timeout=30)
                mark(got, name, all_got, msg)
                assert "fanned" in [t.name for t in (await s.list_tools()).tools]
                await finish.wait()

        async def modern(name: str) -> None:
            async with (
                httpx2.AsyncClient(headers=auth(token), timeout=httpx2.Timeout(30, read=300)) as http,
                Client(streamable_http_client(url, http_client=http)) as c,
                c.listen(tools_list_changed=True) as sub,
            ):
                mark(ready, name, all_ready)
                async for event in sub:
                    if isinstance(event, ToolsListChanged):
                        mark(got, name, all_got, event)
                        break
                assert "fanned" in [t.name for t in (await c.list_tools()).tools]
                await finish.wait()

        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(legacy, f"legacy{i}")
            for i in range(2):
                tg.start_soon(modern, f"modern{i}")
            with anyio.fail_after(15):
                await all_ready.wait()
            await wait_sessions(base, 3)
            manifest = root / "tools" / "fanned" / "manifest.yaml"
            with anyio.fail_after(30):
                for attempt in range(300):  # the watcher starts asynchronously: write until it reacts
                    write(manifest, ECHO.format(description=f"Fanned out {attempt}"))
                    with anyio.move_on_after(0.3):
                        await all_got.wait()
                        break
            assert sorted(got) == ["legacy0", "legacy1", "legacy2", "modern0", "modern1"]
            finish.set()
        await wait_sessions(base, 0)


async def test_serve_http_token_file_server_json_and_restart(root: Path) -> None:
    """The token file is 0600 and survives a restart; server.json exists only while serving."""
    state = root / ".skillz"
    async with running(root) as first:
        token = (state / "agent-token").read_text().strip()
        assert stat.S_IMODE((state / "agent-token").stat().st_mode) == 0o600
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        info = json.loads((state / "server.json").read_text())
        assert info["url"] == announced_url(first) and info["tokenFile"] == str(state / "agent-token")
        assert {"pid", "version", "startedAt"} <= set(info)
        async with httpx2.AsyncClient() as h:
            r = await h.post(info["url"], json=INIT, headers={**MCP_HEADERS, **auth(token)})
            assert r.status_code == 200
    assert not (state / "server.json").exists()
    async with running(root, show_token=True) as second:
        assert (state / "agent-token").read_text().strip() == token
        assert token in second and announced_url(second) != ""
    assert not (state / "server.json").exists()


async def test_serve_http_audits_calls_with_secrets_redacted(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every HTTP tool call is one audit.jsonl line; the secret value the tool printed is redacted."""
    monkeypatch.setenv("SKILLZ_HTTP_SECRET", "s3cr3t-http-value")
    async with running(root) as text:
        url = announced_url(text)
        token = (root / ".skillz" / "agent-token").read_text().strip()
        async with (
            httpx2.AsyncClient(headers=auth(token)) as http,
            streamable_http_client(url, http_client=http) as (r, w),
            ClientSession(r, w) as s,
        ):
            await s.initialize()
            leaked = await s.call_tool("leaky", {})
            assert leaked.is_error and isinstance(leaked.content[0], types.TextContent)
            assert "s3cr3t-http-value" in leaked.content[0].text  # the caller sees the tool's stderr
            await s.call_tool("echo", {"text": "hi"})
    audit = (root / ".skillz" / "audit.jsonl").read_text()
    assert "s3cr3t-http-value" not in audit and token not in audit
    records = [json.loads(line) for line in audit.splitlines()]
    assert [(x["tool"], x["success"]) for x in records] == [("leaky", False), ("echo", True)]
    assert "secret=[REDACTED]" in records[0]["error"]
    assert records[0]["session"] and records[0]["session"] == records[1]["session"]  # the Mcp-Session-Id
    assert isinstance(records[0]["duration_ms"], float) and records[0]["time"].endswith("Z")


async def test_serve_http_reports_a_busy_port(root: Path) -> None:
    """A port that is already taken is a UsageError (exit 2), and no server.json is left behind."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UsageError, match="in use"):
            async with Engine.open([root], replace(HTTP_ENGINE, watch=False)) as engine:
                await serve_http(engine, host="127.0.0.1", port=port)
    assert not (root / ".skillz" / "server.json").exists()
