"""SEP-2322: the retry must echo requestState; the engine finds the parked run by it (state-ok)."""

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
    "confirm",
    "elicitation/create",
    {"message": "Please confirm", "requestedSchema": schema("ok", "boolean")},
)
ok = (answer().get("content") or {}).get("ok")
send({"id": 1, "result": f"state-ok: confirmed={ok}"})
