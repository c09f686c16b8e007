"""SEP-2322: three questions sent together (user_name, greeting, client_roots) go out in one round."""

from __future__ import annotations

import json
import sys


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


def ask(rid: int, key: str, method: str, params: dict) -> None:
    """A question to the client named `key` (its answer comes back under that key on 2026-07-28)."""
    send({"id": rid, "key": key, "method": method, "params": params})


def schema(name: str, kind: str = "string") -> dict:
    return {"type": "object", "properties": {name: {"type": kind}}, "required": [name]}


request = json.loads(sys.stdin.readline())
ask(
    2, "user_name", "elicitation/create", {"message": "What is your name?", "requestedSchema": schema("name")}
)
greet = {"role": "user", "content": {"type": "text", "text": "Generate a greeting"}}
ask(3, "greeting", "sampling/createMessage", {"messages": [greet], "maxTokens": 50})
ask(4, "client_roots", "roots/list", {})
replies = {}
for _ in range(3):
    reply = json.loads(sys.stdin.readline())
    replies[reply["id"]] = reply.get("result") or {}
name = (replies[2].get("content") or {}).get("name")
text = (replies[3].get("content") or {}).get("text")
roots = [r.get("uri") for r in replies[4].get("roots") or []]
send({"id": 1, "result": f"name={name}; greeting={text}; roots={roots}"})
