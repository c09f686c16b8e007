"""SEP-2663: a JSON-RPC error as the final answer: as a task its status is failed with that error."""

from __future__ import annotations

import json
import sys
import time

request = json.loads(sys.stdin.readline())
time.sleep(0.5)
error = {"code": -32603, "message": "protocol_error_job broke on purpose"}
print(json.dumps({"jsonrpc": "2.0", "id": 1, "error": error}), flush=True)
