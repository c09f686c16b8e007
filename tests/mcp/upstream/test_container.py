"""An imported MCP server in its own container (`image`, Docker's gateway model), over stdio, against
the real Docker daemon: listed and called from both client eras, and a missing image explained.

The upstream is a tiny MCP server written in busybox sh (the only interpreter of an image made
without a registry): it answers initialize, tools/list and tools/call line by line."""

# ruff: noqa: E501  (the server below is a shell script: its JSON answers are one line each)
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from tests.mcp_helpers import served, write
from tests.runtimes.docker_images import SESSION, TEST_LABEL, docker_client, remove_tree, rootfs_tar

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

SH_SERVER = r"""B=/bin/busybox
while IFS= read -r line; do
  id=$(printf '%s' "$line" | $B sed -n 's/.*"id":\([0-9][0-9]*\).*/\1/p')
  where=host; [ -f /.dockerenv ] && where=container
  case "$line" in
    *'"method":"initialize"'*) printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"box","version":"1"}}}\n' "$id" ;;
    *'"method":"tools/list"'*) printf '{"jsonrpc":"2.0","id":%s,"result":{"tools":[{"name":"hello","description":"Greets from where it runs","inputSchema":{"type":"object"}}]}}\n' "$id" ;;
    *'"method":"tools/call"'*) printf '{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"hello from a %s"}]}}\n' "$id" "$where" ;;
    *) [ -n "$id" ] && printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"no such method"}}\n' "$id" ;;
  esac
done
"""


@pytest.fixture(scope="module")
def mcp_image() -> Iterator[str]:
    c = docker_client()
    tag = f"skillz-engine-test/mcp-sh:{SESSION}"
    c.api.import_image_from_data(rootfs_tar({"mcp.sh": SH_SERVER}), repository=tag.split(":")[0], tag=SESSION,
                                 changes=[f"LABEL {TEST_LABEL}={SESSION}"])  # fmt: skip
    yield tag
    c.images.remove(tag, force=True)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_container_upstream_is_listed_and_called(tmp_path: Path, mcp_image: str, mode: str) -> None:
    root = tmp_path / "tree"
    write(
        root / "servers" / "box" / "manifest.yaml",
        f"kind: mcp-server\nimage: {mcp_image}\nargs: [/bin/sh, /mcp.sh]\n",
    )
    try:
        async with served([root]) as (engine, server), Client(server.server, mode=mode) as client:
            assert not engine.snapshot.errors, engine.snapshot.errors
            assert "box_hello" in {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("box_hello", {})
            assert not result.is_error
            assert result.content[0].text == "hello from a container"  # type: ignore[union-attr]
    finally:
        remove_tree(root / ".skillz")


async def test_a_missing_image_is_a_clear_error(tmp_path: Path) -> None:
    """An image that is not on this machine is never pulled: the upstream is down with a reason
    naming the image and how to get it, and the rest of the server serves."""
    docker_client()
    root = tmp_path / "tree"
    write(root / "servers" / "gone" / "manifest.yaml", "kind: mcp-server\nimage: skillz-engine-test/nope:0\n")
    write(root / "tools" / "echo" / "manifest.yaml", "kind: command\ndescription: e\nargv: [echo, hi]\n")
    async with served([root]) as (engine, server), Client(server.server) as client:
        down = [d for d in engine.snapshot.diagnostics if "gone" in d.path]
        assert down and "skillz-engine-test/nope:0" in down[0].message, down
        assert not (await client.call_tool("echo", {})).is_error
