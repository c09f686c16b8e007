"""SEP-2322: roots/list under the key `client_roots`; the result names the roots it got."""

from __future__ import annotations

import json
import sys


def send(message: dict) -> None:
    print(json.dumps({"jsonrpc": "2.0", **message}), flush=True)


def ask(rid: int, key: str, method: str, params: dict) -> None:
    """A question to the client named `key` (its answer comes back under that key on 2026-07-28)."""
    send({"id": rid, "key": key, "method": method, "params": params})


def answer() -> dict:
    reply = json.loads(sys.stdin.readline())
    return reply.get("result") or {"error": reply.get("error")}


request = json.loads(sys.stdin.readline())
ask(2, "client_roots", "roots/list", {})
roots = answer().get("roots") or []
send({"id": 1, "result": "Roots: " + ", ".join(r.get("uri", "") for r in roots)})
