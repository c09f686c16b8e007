"""SEP-2663 + SEP-2322: gathers user_name synchronously, then works long enough to become a task."""

from __future__ import annotations

import json
import sys
import time


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


request = json.loads(sys.stdin.readline())
schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
send(
    {
        "id": 2,
        "key": "user_name",
        "method": "elicitation/create",
        "params": {"message": "What is your name?", "requestedSchema": schema},
    }
)
reply = json.loads(sys.stdin.readline()).get("result") or {}
name = (reply.get("content") or {}).get("name")
time.sleep(0.5)  # the async part of the work
send({"id": 1, "result": f"Hello, {name}! (from the task)"})
