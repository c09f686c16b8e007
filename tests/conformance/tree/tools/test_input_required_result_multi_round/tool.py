"""SEP-2322: a second question after the first answer, so a second round with a fresh requestState."""

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
    2,
    "step1",
    "elicitation/create",
    {"message": "Step 1: What is your name?", "requestedSchema": schema("name")},
)
name = (answer().get("content") or {}).get("name")
color_q = {"message": "Step 2: What is your favorite color?", "requestedSchema": schema("color")}
ask(3, "step2", "elicitation/create", color_q)
color = (answer().get("content") or {}).get("color")
send({"id": 1, "result": f"{name} likes {color}"})
