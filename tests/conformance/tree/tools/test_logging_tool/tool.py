"""SEP-2575: a log notification the engine forwards only when the request asked for logs."""

from __future__ import annotations

import json
import sys


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


request = json.loads(sys.stdin.readline())
send({"method": "notifications/message", "params": {"level": "info", "data": "test_logging_tool ran"}})
send({"id": 1, "result": "logged one message"})
