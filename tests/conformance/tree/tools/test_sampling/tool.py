"""sampling/createMessage to the client through the engine, then "LLM response: <text>"."""

from __future__ import annotations

import json
import sys


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


def ask(method: str, params: dict) -> dict:
    """One request to the engine; the answer arrives on stdin (an error becomes the tool's error)."""
    send({"id": 2, "method": method, "params": params})
    reply = json.loads(sys.stdin.readline())
    error = reply.get("error") or (reply.get("result") or {}).get("error")
    if error:
        send({"id": 1, "error": {"code": -32603, "message": f"{method} failed: {error}"}})
        sys.exit(0)
    return reply["result"]


request = json.loads(sys.stdin.readline())
prompt = request["params"]["arguments"]["prompt"]
result = ask(
    "sampling/createMessage",
    {"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}], "maxTokens": 100},
)
content = result.get("content") or {}
text = content.get("text") if isinstance(content, dict) else json.dumps(content)
send({"id": 1, "result": f"LLM response: {text}"})
