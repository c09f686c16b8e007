"""``skillz-engine call``: run one tool as the server would, with no client.

parse (the tool's arguments: JSON, ``@file.json`` or ``-`` for stdin) -> build (a live engine, no
watcher) -> execute (the call; its logs and progress on stderr, its result on stdout; exit 1 when
the result is an error).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillz_engine.cli.roots import read_roots
from skillz_engine.errors import ExitCode, ToolNotFound, UsageError

if TYPE_CHECKING:
    from skillz_engine.tree.model import ToolResult


def read_args(raw: str | None) -> Any:
    if raw is None:
        return {}
    if raw == "-":
        raw = sys.stdin.read()
    elif raw.startswith("@"):
        raw = Path(raw[1:]).read_text(encoding="utf-8")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--args is not valid JSON: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.engine import Engine

    arguments = read_args(args.args)
    sink: list[tuple[str, Any]] = []

    async def go() -> ToolResult:
        async with Engine.open(read_roots(args.roots, "call")) as engine:
            return await engine.call(args.tool, arguments, sink=sink)

    try:
        result = anyio.run(go)
    except ToolNotFound as exc:
        sugg = exc.suggestions
        raise UsageError(
            f"unknown tool {args.tool!r}" + (f"; did you mean {', '.join(sugg)}?" if sugg else "")
        ) from None
    for kind, payload in sink:
        print(f"[{kind}] {json.dumps(payload, ensure_ascii=False)}", file=sys.stderr)
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for block in result.content:
            if block.get("type") == "text":
                sys.stdout.write(str(block.get("text", "")).rstrip("\n") + "\n")
            else:
                sys.stdout.write(json.dumps(dict(block), ensure_ascii=False)[:500] + "\n")
    return ExitCode.MANIFEST_ERRORS if result.is_error else ExitCode.OK
