"""SEP-2322: one sampling request under the key `capital_question`; the result is the model's text."""

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
message = {"role": "user", "content": {"type": "text", "text": "What is the capital of France?"}}
ask(2, "capital_question", "sampling/createMessage", {"messages": [message], "maxTokens": 100})
content = answer().get("content") or {}
send({"id": 1, "result": f"The model says: {content.get('text') if isinstance(content, dict) else content}"})
