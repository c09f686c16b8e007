"""SEP-2663: a task that turns input_required, resumed by tasks/update."""

from __future__ import annotations

import json
import sys
import time


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


request = json.loads(sys.stdin.readline())
time.sleep(0.5)  # long enough to have become a task
schema = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}
send(
    {
        "id": 2,
        "key": "confirm",
        "method": "elicitation/create",
        "params": {"message": "Delete it?", "requestedSchema": schema},
    }
)
reply = json.loads(sys.stdin.readline()).get("result") or {}
confirmed = (reply.get("content") or {}).get("confirm")
send({"id": 1, "result": f"deleted={bool(confirmed)} (action {reply.get('action')})"})
