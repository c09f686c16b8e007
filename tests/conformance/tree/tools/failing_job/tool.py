"""SEP-2663: a tool execution error after ~1 s: the task completes with result.isError."""

from __future__ import annotations

import json
import sys
import time

request = json.loads(sys.stdin.readline())
time.sleep(1)
result = {"content": [{"type": "text", "text": "the job failed"}], "isError": True}
print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}), flush=True)
