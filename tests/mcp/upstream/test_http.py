"""HTTP upstreams: the engine itself, served over Streamable HTTP (and legacy SSE) with its bearer
token, imported by a second engine that names the token as a secret in ``headers``."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.mcp.test_http import ECHO, TOKEN, http_app
from tests.mcp.upstream.conftest import upstreams
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]


def importer(root: Path, url: str, extra: str = "") -> Path:
    return write(
        root / "servers" / "inner" / "manifest.yaml",
        f"kind: mcp-server\nurl: {url}\nheaders: {{Authorization: 'Bearer ${{SKILLZ_INNER_TOKEN}}'}}\n"
        f"secrets: [SKILLZ_INNER_TOKEN]\ntimeout: 5s\n{extra}",
    )


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_engine_behind_engine_with_its_bearer_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv("SKILLZ_INNER_TOKEN", TOKEN)
    inner = tmp_path / "inner"
    write(inner / "tools" / "echo" / "manifest.yaml", ECHO.format(description="Inner echo"))
    async with http_app(inner) as up:
        url = up.url if transport == "streamable-http" else up.base + "/sse"
        importer(tmp_path / "outer", url, f"transport: {transport}\n")
        async with served([tmp_path / "outer"]) as (engine, server), Client(server.server) as c:
            listed = {t.name: t for t in (await c.list_tools()).tools}
            assert listed["inner_echo"].description == "Inner echo"
            res = await c.call_tool("inner_echo", {"text": "through two engines"})
            assert not res.is_error and "through two engines" in str(res.content[0])
            write(inner / "tools" / "added" / "manifest.yaml", ECHO.format(description="Added later"))
            await up.engine.apply([inner / "tools" / "added"])
            with anyio.fail_after(10):
                while "inner_added" not in engine.snapshot.tools:
                    await anyio.sleep(0.05)
            assert "inner_added" in [t.name for t in (await c.list_tools()).tools]


async def test_wrong_token_is_a_diagnostic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKILLZ_INNER_TOKEN", "wrong")
    inner = tmp_path / "inner"
    write(inner / "tools" / "echo" / "manifest.yaml", ECHO.format(description="Inner echo"))
    async with http_app(inner) as up:
        importer(tmp_path / "outer", up.url)
        async with served([tmp_path / "outer"]) as (engine, _):
            found = [d.message for d in engine.snapshot.diagnostics if d.code == "SKZ544"]
            assert found and "401" in found[0], found
            assert [u.state for u in upstreams(engine)] == ["backoff"]
