"""The ``services`` built-in through real MCP clients of both eras, against the real daemon."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
import yaml
from mcp import Client

from skillz_engine.engine import EngineOptions
from tests.mcp_helpers import served
from tests.runtimes.docker_images import INDEX

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "2026-07-28"]


def out(result: types.CallToolResult) -> Any:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    assert not result.is_error, block.text
    return json.loads(block.text)


def definition(image: str) -> dict[str, Any]:
    return {
        "name": "web",
        "description": "busybox httpd",
        "image": image,
        "command": [
            "/bin/sh",
            "-c",
            "/bin/busybox touch /tmp/ready; exec /bin/busybox httpd -f -p 8080 -h /www",
        ],
        "ports": ["8080"],
        "healthcheck": {
            "test": ["/bin/busybox", "test", "-f", "/tmp/ready"],
            "interval": "100ms",
            "retries": 3,
        },
    }


@pytest.mark.parametrize("mode", MODES)
async def test_define_start_status_logs_stop_remove(
    service_root: Path, busybox_image: str, mode: str
) -> None:
    async with served([service_root]) as (_, server), Client(server.server, mode=mode) as c:
        defined = out(await c.call_tool("services", {"action": "define", **definition(busybox_image)}))
        manifest = yaml.safe_load(Path(defined["path"]).read_text())
        assert manifest["kind"] == "service" and manifest["ports"] == ["8080"]
        listed = out(await c.call_tool("services", {"action": "list"}))
        assert [s["name"] for s in listed["services"]] == ["web"]
        assert (
            out(await c.call_tool("services", {"action": "status", "name": "web"}))["services"][0]["state"]
            == "not started"
        )
        started = out(await c.call_tool("services", {"action": "start", "name": "web"}))
        port = started["ports"]["8080"]
        assert started["env"] == {"WEB_HOST": "127.0.0.1", "WEB_PORT": str(port), "WEB_PORT_8080": str(port)}
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode() == INDEX
        (status,) = out(await c.call_tool("services", {"action": "status"}))["services"]
        assert (
            status["state"] == "running"
            and status["health"] == "healthy"
            and status["ports"] == {"8080": port}
        )
        logs = out(await c.call_tool("services", {"action": "logs", "name": "web", "tail": 5}))
        assert isinstance(logs["logs"], str)
        assert out(await c.call_tool("services", {"action": "stop", "name": "web"}))["stopped"] is True
        removed = out(await c.call_tool("services", {"action": "remove", "name": "web"}))
        assert removed["removed"] == "web" and Path(removed["keptAt"], "manifest.yaml").is_file()
        assert out(await c.call_tool("services", {"action": "list"}))["services"] == []
    assert not (service_root / "services" / "web").exists()


async def test_errors_and_read_only(service_root: Path, busybox_image: str) -> None:
    async with (
        served([service_root], EngineOptions(read_only=True)) as (_, server),
        Client(server.server) as c,
    ):
        refused = await c.call_tool("services", {"action": "define", **definition(busybox_image)})
        assert refused.is_error and "read-only" in str(refused.content[0])
        unknown = await c.call_tool("services", {"action": "start", "name": "nope"})
        assert unknown.is_error and "no service 'nope' is served" in str(unknown.content[0])
        assert out(await c.call_tool("services", {"action": "list"})) == {"services": []}
