"""SEP-2575: asks for sampling unconditionally; without the capability the engine ends the call."""

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


request = json.loads(sys.stdin.readline())
hello = {"role": "user", "content": {"type": "text", "text": "Say hello"}}
ask(2, "greeting", "sampling/createMessage", {"messages": [hello], "maxTokens": 50})
reply = answer()
send({"id": 1, "result": f"sampled: {reply}"})
