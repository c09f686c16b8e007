"""SEP-2575: a log notification the engine forwards only when the request asked for logs."""

from __future__ import annotations

import json
import sys


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


def ask(rid: int, key: str, method: str, params: dict) -> None:
    """A question to the client named `key` (its answer comes back under that key on 2026-07-28)."""
    send({"id": rid, "key": key, "method": method, "params": params})


def answer() -> dict:
    reply = json.loads(sys.stdin.readline())
    return reply.get("result") or {"error": reply.get("error")}


def schema(name: str, kind: str = "string") -> dict:
    return {"type": "object", "properties": {name: {"type": kind}}, "required": [name]}


request = json.loads(sys.stdin.readline())
send({"method": "notifications/message", "params": {"level": "info", "data": "test_logging_tool ran"}})
send({"id": 1, "result": "logged one message"})
