#!/usr/bin/env python3
"""uuid: generate version 4, 5 or 7 UUIDs (7 is built by hand: Python 3.11 has no uuid7).

jsonrpc script protocol: one response line per request line, until stdin closes.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any

INVALID_PARAMS = -32602
NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}


class ToolError(Exception):
    """Bad input, reported as a JSON-RPC error."""


def uuid7() -> uuid.UUID:
    """RFC 9562 version 7: 48-bit Unix time in milliseconds, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= int.from_bytes(os.urandom(10), "big") & ((1 << 80) - 1)
    value &= ~(0xF << 76)
    value |= 0x7 << 76  # version
    value &= ~(0x3 << 62)
    value |= 0x2 << 62  # RFC 4122 variant
    return uuid.UUID(int=value)


def namespace_of(text: str) -> uuid.UUID:
    if text.lower() in NAMESPACES:
        return NAMESPACES[text.lower()]
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ToolError(f"namespace {text!r} is neither dns, url, oid, x500 nor a UUID") from None


def run(arguments: dict[str, Any]) -> dict[str, Any]:
    version = arguments.get("version", 4)
    count = int(arguments.get("count", 1))
    if version == 5:
        name = arguments.get("name")
        if not isinstance(name, str):
            raise ToolError("version 5 needs `name` (and optionally `namespace`, default `url`)")
        ids = [uuid.uuid5(namespace_of(str(arguments.get("namespace", "url"))), name)]
    elif version == 4:
        ids = [uuid.uuid4() for _ in range(count)]
    elif version == 7:
        # Sorted, so a batch minted within one millisecond is still in order.
        ids = sorted(uuid7() for _ in range(count))
    else:
        raise ToolError(f"unsupported version {version!r}; use 4, 5 or 7")
    text = [str(u).upper() if arguments.get("uppercase") else str(u) for u in ids]
    return {"version": version, "uuids": text}


def reply(request_id: Any, message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, **message}) + "\n")
    sys.stdout.flush()


def answer(line: str) -> None:
    """Answer one execute request line with one response line."""
    try:
        request = json.loads(line)
    except ValueError as exc:
        reply(None, {"error": {"code": -32700, "message": f"could not parse the request: {exc}"}})
        return
    request_id = request.get("id", 1)
    try:
        reply(request_id, {"result": run(request.get("params", {}).get("arguments") or {})})
    except ToolError as exc:
        reply(request_id, {"error": {"code": INVALID_PARAMS, "message": str(exc)}})


def main() -> None:
    # One call per request line until stdin closes: a worker (`worker` in the manifest) answers
    # many, a one-shot run one.
    for line in sys.stdin:
        if line.strip():
            answer(line)


if __name__ == "__main__":
    main()
