"""Every ``tools/call`` result fits in one message an MCP client accepts.

The SDK's Streamable HTTP client reads a response as one server-sent event and refuses an event
over 1,048,576 bytes (``DEFAULT_MAX_SSE_EVENT_SIZE``); the whole call then fails in the client with
no result at all. The tool's output cap (``limits.output``, 1 MiB by default) counts bytes of
stdout, not bytes on the wire, and the wire is larger: the JSON-RPC envelope, the SSE framing, JSON
escaping (a control character becomes ``\\u0001``: six bytes for one) and ``structuredContent``,
which repeats a JSON result next to its text. So no cap on stdout alone can promise a deliverable
result, and every runtime (scripts, commands, wasm, pipelines, imported servers) would need its own.

:func:`fit_result` is the one place that promises it, on the result as it is about to be sent: it
measures the result as the SDK serializes it (``pydantic_core`` JSON, the same escaping) and, only
when it is over :data:`MAX_RESULT_BYTES`, drops ``structuredContent`` and cuts the content to fit,
with a note saying what was cut. A cut result is marked ``isError``: it is not the result the tool
produced, and a client would reject one that lacks the ``structuredContent`` its output schema asks for.
"""

from __future__ import annotations

import mcp.types as types
import pydantic_core

SSE_EVENT_LIMIT = 1 << 20  # mcp.client.streamable_http.DEFAULT_MAX_SSE_EVENT_SIZE
FRAMING_RESERVE = 4096  # "event: message", "id: ...", "data: ", the JSON-RPC envelope and its id
MAX_RESULT_BYTES = SSE_EVENT_LIMIT - FRAMING_RESERVE


def json_size(value: object) -> int:
    """Bytes of ``value`` as the SDK writes it (UTF-8, its escaping)."""
    return len(pydantic_core.to_json(value))


def result_size(result: types.CallToolResult) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True))


def fit_result(result: types.CallToolResult, limit: int = MAX_RESULT_BYTES) -> types.CallToolResult:
    """``result`` itself when it fits in ``limit`` bytes of JSON, else a cut copy that does."""
    size = result_size(result)
    if size <= limit:
        return result
    note = types.TextContent(
        type="text",
        text=(
            f"[result truncated: it is {size} bytes as JSON, more than the {limit} bytes an MCP client "
            f"accepts in one message; structuredContent was dropped and the content cut to fit]"
        ),
    )
    shell = types.CallToolResult(content=[note], is_error=True).model_copy(update={"meta": result.meta})
    room = limit - result_size(shell) - 2  # the ", " between blocks, with margin
    kept: list[types.ContentBlock] = []
    for block in result.content:
        data = block.model_dump(by_alias=True, exclude_none=True)
        need = json_size(data) + 1
        if need <= room:
            kept.append(block)
            room -= need
            continue
        if isinstance(block, types.TextContent):
            overhead = need - json_size(block.text)
            text = cut_text(block.text, room - overhead)
            if text:
                kept.append(block.model_copy(update={"text": text}))
        break  # the rest would not fit either: blocks keep their order, nothing after a cut
    return shell.model_copy(update={"content": [*kept, note]})


def cut_text(text: str, budget: int) -> str:
    """The longest prefix of ``text`` whose JSON string is at most ``budget`` bytes."""
    if budget <= 2:
        return ""
    lo, hi = 0, min(len(text), budget)  # every character costs at least one byte
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if json_size(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]
