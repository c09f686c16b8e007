"""Results an SDK client accepts: a tool printing at and past its 1 MiB output cap, with worst-case
JSON escaping and a structuredContent duplicate, called over HTTP by the SDK's real Streamable HTTP
client of both eras (its SSE event limit is 1,048,576 bytes), against a real ``serve`` process."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx2
import mcp.types as types
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from skillz_engine.mcp.fit import MAX_RESULT_BYTES, fit_result, result_size
from tests.mcp_helpers import write
from tests.served_process import ServerProcess, start_server

MIB = 1 << 20
PRINTS = """kind: command
description: Prints {what}
argv: ["python3", "-c", "import sys; sys.stdout.write({expr}); sys.stdout.flush()"]
"""
STRUCTURED = """kind: command
description: Prints a large JSON object, returned as text and as structuredContent
outputSchema: {type: object, properties: {data: {type: string}}}
argv: ["python3", "-c", "import json; print(json.dumps({'data': 'x' * 700000}))"]
"""
TOOLS = {
    "at-cap": PRINTS.format(what="exactly the output cap", expr=f"'a' * {MIB}"),
    "past-cap": PRINTS.format(what="three times the output cap", expr=f"'a' * {3 * MIB}"),
    "escapes": PRINTS.format(what="control characters (6 bytes each as JSON)", expr=f"chr(1) * {MIB}"),
    "quotes": PRINTS.format(what="quotes and newlines (2 bytes each)", expr=f"(chr(34) + chr(10)) * {MIB}"),
    "small": PRINTS.format(what="a little", expr="'fine'"),
    "structured": STRUCTURED,
}
BIG = ("at-cap", "past-cap", "escapes", "quotes", "structured")
pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("fit") / "tree"
    for name, manifest in TOOLS.items():
        write(root / "tools" / name / "manifest.yaml", manifest)
    srv = start_server(root, "--no-watch", log=root.parent / "stderr.txt")
    try:
        yield srv
    finally:
        srv.stop()


def check(name: str, result: types.CallToolResult) -> None:
    text = "".join(b.text for b in result.content if isinstance(b, types.TextContent))
    if name == "small":
        assert not result.is_error and text == "fine"
        return
    assert result.is_error and result.structured_content is None, name
    assert "[result truncated:" in text and "bytes an MCP client accepts" in text
    assert len(text) > 100_000, name  # what fits is kept, not thrown away


@pytest.mark.anyio
async def test_both_sdk_clients_receive_every_result_over_http(server: ServerProcess) -> None:
    auth = {"Authorization": f"Bearer {server.token}"}
    async with httpx2.AsyncClient(headers=auth, timeout=httpx2.Timeout(60)) as http:
        async with (
            streamable_http_client(server.url, http_client=http) as (r, w),
            ClientSession(r, w) as session,
        ):
            await session.initialize()
            for name in TOOLS:
                with anyio.fail_after(60):
                    check(name, await session.call_tool(name, {}))
        async with Client(streamable_http_client(server.url, http_client=http)) as client:
            for name in BIG:
                with anyio.fail_after(60):
                    check(name, await client.call_tool(name, {}))


def test_a_result_that_fits_is_returned_as_it_is() -> None:
    result = types.CallToolResult(content=[types.TextContent(type="text", text="a" * 1000)])
    assert fit_result(result) is result


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(min_size=0, max_size=3000), min_size=1, max_size=4),
    st.integers(min_value=300, max_value=6000),
    st.booleans(),
)
def test_a_cut_result_always_fits(texts: list[str], limit: int, structured: bool) -> None:
    """Any text (escapes, multi-byte characters, surrogates aside), any limit: the cut result's JSON fits."""
    content: list[types.ContentBlock] = [types.TextContent(type="text", text=t) for t in texts]
    result = types.CallToolResult(content=content, structured_content={"t": texts} if structured else None)
    fitted = fit_result(result, limit)
    assert result_size(fitted) <= limit
    if result_size(result) > limit:
        assert fitted.is_error and fitted.structured_content is None


def test_the_budget_leaves_room_for_the_framing() -> None:
    """The largest result plus its JSON-RPC envelope and SSE lines stays under the client's limit."""
    result = fit_result(types.CallToolResult(content=[types.TextContent(type="text", text="\x01" * MIB)]))
    envelope = f'event: message\nid: {"f" * 64}\ndata: {{"jsonrpc":"2.0","id":{2**53},"result":}}\n\n'
    assert result_size(result) <= MAX_RESULT_BYTES
    assert result_size(result) + len(envelope) < MIB
