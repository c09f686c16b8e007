"""elicitation/create with every enum variant of SEP-1330."""

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


def titled(*pairs: tuple[str, str]) -> list[dict]:
    return [{"const": value, "title": title} for value, title in pairs]


json.loads(sys.stdin.readline())
schema = {
    "type": "object",
    "properties": {
        "untitledSingle": {
            "type": "string",
            "description": "Untitled single-select",
            "enum": ["option1", "option2", "option3"],
        },
        "titledSingle": {
            "type": "string",
            "description": "Titled single-select",
            "oneOf": titled(
                ("value1", "First Option"), ("value2", "Second Option"), ("value3", "Third Option")
            ),
        },
        "legacyEnum": {
            "type": "string",
            "description": "Legacy titled enum",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "description": "Untitled multi-select",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "description": "Titled multi-select",
            "items": {
                "anyOf": titled(
                    ("value1", "First Choice"), ("value2", "Second Choice"), ("value3", "Third Choice")
                )
            },
        },
    },
    "required": [],
}
message = "Please select options from the enum fields"
answer = ask("elicitation/create", {"message": message, "requestedSchema": schema})
text = f"Elicitation completed: action={answer.get('action')}, content={json.dumps(answer.get('content'))}"
send({"id": 1, "result": text})
