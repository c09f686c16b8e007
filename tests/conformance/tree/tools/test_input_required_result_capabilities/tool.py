"""SEP-2322: reads context.capabilities and asks only for what the client declared."""

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
caps = request["params"]["context"]["capabilities"]
asked = []
if caps.get("elicitation"):
    ask(
        2,
        "user_name",
        "elicitation/create",
        {"message": "What is your name?", "requestedSchema": schema("name")},
    )
    asked.append(2)
if caps.get("sampling"):
    hello = {"role": "user", "content": {"type": "text", "text": "Say hello"}}
    ask(3, "greeting", "sampling/createMessage", {"messages": [hello], "maxTokens": 50})
    asked.append(3)
for _ in asked:
    sys.stdin.readline()
send({"id": 1, "result": f"asked {len(asked)} question(s) the client can answer"})
