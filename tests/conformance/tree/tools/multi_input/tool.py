"""SEP-2663: two questions pending at once; answering one leaves the other pending."""

from __future__ import annotations

import json
import sys
import time


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


request = json.loads(sys.stdin.readline())
time.sleep(0.5)  # long enough to have become a task
for rid, key in ((2, "first_name"), (3, "last_name")):
    schema = {"type": "object", "properties": {"value": {"type": "string"}}, "required": ["value"]}
    send(
        {
            "id": rid,
            "key": key,
            "method": "elicitation/create",
            "params": {"message": f"{key}?", "requestedSchema": schema},
        }
    )
answers = {}
for _ in range(2):
    reply = json.loads(sys.stdin.readline())
    answers[reply["id"]] = ((reply.get("result") or {}).get("content") or {}).get("value")
send({"id": 1, "result": f"{answers.get(2)} {answers.get(3)}"})
