"""SSE polling (SEP-1699, ``http.streamPollAfter``): a long 2025-11-25 call's response stream is
closed mid-call and the answer arrives on the stream the client resumes with ``Last-Event-ID``,
spoken as raw HTTP the way the conformance suite's ``server-sse-polling`` scenario does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.mcp.test_http import INIT, MCP_HEADERS, auth, http_app
from tests.mcp.test_protocol_ext import SLOW, tool
from tests.mcp_helpers import write

pytestmark = pytest.mark.anyio


def events(text: str) -> list[dict[str, str]]:
    """The SSE events of a response body: ``id`` and ``data`` of each."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            fields[key] = value
        if fields:
            out.append(fields)
    return out


def answer(evs: list[dict[str, str]], request_id: int) -> dict[str, Any] | None:
    for e in evs:
        if e.get("data", "").startswith("{") and json.loads(e["data"]).get("id") == request_id:
            return dict(json.loads(e["data"]))
    return None


async def handshake(http: httpx2.AsyncClient, url: str) -> dict[str, str]:
    r = await http.post(url, json=INIT, headers={**auth(), **MCP_HEADERS})
    headers = {**auth(), **MCP_HEADERS, "Mcp-Session-Id": r.headers["mcp-session-id"]}
    headers["MCP-Protocol-Version"] = "2025-11-25"
    await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    return headers


async def test_a_long_call_is_answered_on_the_resumed_stream(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    write(root / "skillz.yaml", "http:\n  streamPollAfter: 1s\n")
    tool(root, "slow", SLOW)
    async with http_app(root) as served, httpx2.AsyncClient(timeout=30) as http:
        headers = await handshake(http, served.url)
        call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call"}
        call["params"] = {"name": "slow", "arguments": {"seconds": 2.2}}
        first = events((await http.post(served.url, json=call, headers=headers)).text)
        assert first[0]["data"] == "" and first[0]["retry"] == "1000"  # the priming event
        assert answer(first, 7) is None  # closed mid-call, before the result
        resume = {**headers, "Accept": "text/event-stream", "Last-Event-ID": first[-1]["id"]}
        async with http.stream("GET", served.url, headers=resume) as r:
            body = ""
            async for chunk in r.aiter_text():
                body += chunk
                if answer(events(body), 7) is not None:
                    break
        done = answer(events(body), 7)
        assert done is not None and done["result"]["content"][0]["text"] == "slept"

        fast = {**call, "id": 8, "params": {"name": "slow", "arguments": {"seconds": 0}}}
        quick = events((await http.post(served.url, json=fast, headers=headers)).text)
        assert answer(quick, 8) is not None  # a call shorter than streamPollAfter is untouched
