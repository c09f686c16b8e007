"""elicitation/create to the client through the engine, then "User response: <answer>"."""

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
schema = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}
message = request["params"]["arguments"]["message"]
answer = ask("elicitation/create", {"message": message, "requestedSchema": schema})
content = json.dumps(answer.get("content"))
send({"id": 1, "result": f"User response: action={answer.get('action')}, content={content}"})
