"""Progress 0, 50, 100 of 100, ~50 ms apart; the engine sends them with the client's token."""

from __future__ import annotations

import json
import sys
import time


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


request = json.loads(sys.stdin.readline())
for i, progress in enumerate((0, 50, 100)):
    if i:
        time.sleep(0.05)
    send({"method": "notifications/progress", "params": {"progress": progress, "total": 100}})
send({"id": request["id"], "result": "Tool with progress executed successfully"})
