"""Three log notifications at info level, ~50 ms apart, then a text result."""

from __future__ import annotations

import json
import sys
import time


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


request = json.loads(sys.stdin.readline())
for i, text in enumerate(["Tool execution started", "Tool processing data", "Tool execution completed"]):
    if i:
        time.sleep(0.05)
    send({"method": "notifications/message", "params": {"level": "info", "data": text}})
send({"id": request["id"], "result": "Tool with logging executed successfully"})
