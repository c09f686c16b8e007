#!/usr/bin/env python3
"""regex-tester: every match of a pattern in a text, with groups; optional replacement.

jsonrpc script protocol: one response line per request line, until stdin closes.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

INVALID_PARAMS = -32602
FLAGS = {
    "ignorecase": re.IGNORECASE,
    "multiline": re.MULTILINE,
    "dotall": re.DOTALL,
    "verbose": re.VERBOSE,
    "ascii": re.ASCII,
}


class ToolError(Exception):
    """Bad input, reported as a JSON-RPC error with this message."""


def compile_pattern(pattern: str, flag_names: list[str]) -> re.Pattern[str]:
    flags = 0
    for name in flag_names:
        if name not in FLAGS:
            raise ToolError(f"unknown flag {name!r}; use one of: {', '.join(FLAGS)}")
        flags |= FLAGS[name]
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise ToolError(f"invalid regular expression{where}: {exc.msg}") from None


def run(arguments: dict[str, Any]) -> dict[str, Any]:
    regex = compile_pattern(str(arguments["pattern"]), list(arguments.get("flags") or []))
    text = str(arguments["text"])
    limit = int(arguments.get("maxMatches") or 100)

    matches = []
    truncated = False
    for m in regex.finditer(text):
        if len(matches) == limit:
            truncated = True
            break
        matches.append(
            {
                "match": m.group(0),
                "start": m.start(),
                "end": m.end(),
                "groups": list(m.groups()),
                "named": m.groupdict(),
            }
        )
    result: dict[str, Any] = {"matchCount": len(matches), "truncated": truncated, "matches": matches}

    replacement = arguments.get("replacement")
    if replacement is not None:
        try:
            result["replaced"] = regex.sub(str(replacement), text)
        except (re.error, IndexError) as exc:
            raise ToolError(f"invalid replacement: {exc}") from None
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
    request_id = request.get("id", 1)
    arguments = request.get("params", {}).get("arguments") or {}
    try:
        if "pattern" not in arguments or "text" not in arguments:
            raise ToolError("both `pattern` and `text` are required")
        reply(request_id, {"result": run(arguments)})
    except ToolError as exc:
        reply(request_id, {"error": {"code": INVALID_PARAMS, "message": str(exc)}})


def main() -> None:
    # One call per request line until stdin closes: a worker (`worker` in the manifest) answers
    # many, a one-shot run one.
    for line in sys.stdin:
        if line.strip():
            answer(line)


if __name__ == "__main__":
    main()
