"""SEP-2322 A1: one elicitation under the key `user_name`, then "Hello, <name>!"."""

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
ask(
    2, "user_name", "elicitation/create", {"message": "What is your name?", "requestedSchema": schema("name")}
)
name = (answer().get("content") or {}).get("name")
send({"id": 1, "result": f"Hello, {name}!"})
