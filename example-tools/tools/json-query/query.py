#!/usr/bin/env python3
"""json-query: pick a value out of a JSON document by a dotted path.

Protocol: skillz-engine's jsonrpc script protocol. The host writes one request line
``{"jsonrpc":"2.0","id":1,"method":"execute","params":{"arguments":{...}}}`` to stdin; we
answer with one response line on stdout. Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

INVALID_PARAMS = -32602

# One path segment: ["quoted key"], [index], [*], or a bare key up to the next . or [
_SEGMENT = re.compile(
    r"""\[\s*"((?:[^"\\]|\\.)*)"\s*\]     # ["key with.dots"]
      | \[\s*'((?:[^'\\]|\\.)*)'\s*\]     # ['key']
      | \[\s*(-?\d+|\*)\s*\]              # [0], [-1], [*]
      | ([^.\[\]]+)                       # bare key, or a number used as an index
      | (\.)                              # separator
    """,
    re.VERBOSE,
)


class QueryError(Exception):
    """Bad input: reported to the caller as a JSON-RPC error."""


WILDCARD = object()


def parse_path(path: str) -> list[Any]:
    """Split ``a.b[0]["c.d"]`` into ``["a", "b", 0, "c.d"]`` (bare digits stay strings)."""
    segments: list[Any] = []
    pos = 0
    path = path.strip()
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if m is None:
            raise QueryError(f"cannot parse path at character {pos + 1}: {path[pos:]!r}")
        pos = m.end()
        dq, sq, index, bare, _dot = m.groups()
        if dq is not None or sq is not None:
            try:
                segments.append(json.loads(f'"{dq}"') if dq is not None else sq)
            except ValueError:
                raise QueryError(f"bad escape in quoted key {dq!r}") from None
        elif index is not None:
            segments.append(WILDCARD if index == "*" else int(index))
        elif bare is not None:
            bare = bare.strip()
            segments.append(WILDCARD if bare == "*" else bare)
    return segments


def describe(segment: Any) -> str:
    if segment is WILDCARD:
        return "[*]"
    if isinstance(segment, int):
        return f"[{segment}]"
    return str(segment)


def step(value: Any, segment: Any) -> tuple[bool, Any]:
    """Apply one non-wildcard segment; ``(False, None)`` when it does not resolve."""
    if isinstance(value, dict):
        key = str(segment)
        return (True, value[key]) if key in value else (False, None)
    if isinstance(value, list):
        try:
            index = int(segment)
        except (TypeError, ValueError):
            return False, None
        if -len(value) <= index < len(value):
            return True, value[index]
    return False, None


def resolve(value: Any, segments: list[Any]) -> tuple[bool, Any, str | None]:
    """Walk ``segments``; returns ``(found, value, first missing segment)``."""
    for i, segment in enumerate(segments):
        if segment is WILDCARD:
            if isinstance(value, dict):
                items = list(value.values())
            elif isinstance(value, list):
                items = value
            else:
                return False, None, describe(segment)
            rest = segments[i + 1 :]
            # Elements where the rest of the path does not resolve are skipped (like jq's `.[]?`).
            out = [v for ok, v, _ in (resolve(item, rest) for item in items) if ok]
            return True, out, None
        ok, value = step(value, segment)
        if not ok:
            return False, None, describe(segment)
    return True, value, None


def run(arguments: dict[str, Any]) -> dict[str, Any]:
    path = arguments.get("path", "")
    if not isinstance(path, str):
        raise QueryError("`path` must be a string")
    if "data" in arguments:
        document = arguments["data"]
    elif "json" in arguments:
        try:
            document = json.loads(arguments["json"])
        except (TypeError, ValueError) as exc:
            raise QueryError(f"`json` is not valid JSON: {exc}") from None
    else:
        raise QueryError("give the document as `data` (a JSON value) or `json` (JSON text)")
    found, value, missing = resolve(document, parse_path(path))
    result: dict[str, Any] = {"found": found, "path": path}
    if found:
        result["value"] = value
    else:
        result["missing"] = missing
    return result


def reply(request_id: Any, message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, **message}) + "\n")
    sys.stdout.flush()


def answer(line: str) -> None:
    """Answer one execute request line with one response line."""
    try:
        request = json.loads(line)
    except ValueError as exc:
        reply(None, {"error": {"code": -32700, "message": f"could not parse the request: {exc}"}})
        return
    try:
        arguments = request.get("params", {}).get("arguments") or {}
        reply(request.get("id", 1), {"result": run(arguments)})
    except QueryError as exc:
        reply(request.get("id", 1), {"error": {"code": INVALID_PARAMS, "message": str(exc)}})


def main() -> None:
    # One call per request line until stdin closes: a worker (`worker` in the manifest) answers
    # many, a one-shot run one.
    for line in sys.stdin:
        if line.strip():
            answer(line)


if __name__ == "__main__":
    main()
