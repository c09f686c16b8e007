"""elicitation/create with a default for every primitive type (SEP-1034)."""

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


json.loads(sys.stdin.readline())
schema = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
    "required": [],
}
message = "Please review and update the form fields with defaults"
answer = ask("elicitation/create", {"message": message, "requestedSchema": schema})
text = f"Elicitation completed: action={answer.get('action')}, content={json.dumps(answer.get('content'))}"
send({"id": 1, "result": text})
