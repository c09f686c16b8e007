"""SEP-2322 on prompts/get: one elicitation under the key `user_context`, then the messages."""

from __future__ import annotations

import json
import sys


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


request = json.loads(sys.stdin.readline())
schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
question = {"message": "What context should the prompt use?", "requestedSchema": schema}
send({"id": 2, "key": "user_context", "method": "elicitation/create", "params": question})
reply = json.loads(sys.stdin.readline()).get("result") or {}
context = (reply.get("content") or {}).get("context", "")
text = f"Answer with this context in mind: {context}"
send({"id": 1, "result": {"messages": [{"role": "user", "content": {"type": "text", "text": text}}]}})
