"""SEP-2663: `seconds` of work; a tasks/cancel kills it (the engine kills its process group)."""

from __future__ import annotations

import json
import sys
import time

request = json.loads(sys.stdin.readline())
seconds = float(request["params"]["arguments"].get("seconds", 1))
time.sleep(seconds)
print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": f"computed for {seconds:g}s"}), flush=True)
