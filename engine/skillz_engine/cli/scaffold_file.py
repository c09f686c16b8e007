"""``skillz-engine new script NAME --single-file``: one script carrying its manifest in a
``/// skillz`` block (tree/singlefile.py), written as ``tools/NAME.<ext>``."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from skillz_engine.errors import UsageError
from skillz_engine.tree.kinds import KINDS
from skillz_engine.tree.validate import ENTRY_NAME

_BLOCK = """/// skillz
description = "Describe what {name} does and when to use it."
protocol = "plain"

[inputSchema]
type = "object"
required = ["text"]

[inputSchema.properties.text]
type = "string"
description = "The text to work on."

[limits]
timeout = "30s"
///"""

_PY = '''"""{name}: with protocol plain the arguments arrive as JSON on stdin, and stdout is the result."""
import json
import sys

args = json.load(sys.stdin)
text = args.get("text", "")
print(json.dumps({{"text": text, "length": len(text)}}))
'''

_NODE = """// {name}: with protocol plain the arguments arrive as JSON on stdin, and stdout is the result.
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {{
  const text = JSON.parse(input || "{{}}").text || "";
  process.stdout.write(JSON.stringify({{ text, length: text.length }}) + "\\n");
}});
"""

_BASH = """# {name}: with protocol plain the arguments arrive as JSON on stdin, and stdout is the result.
set -euo pipefail
input=$(cat)
printf 'received %s bytes of arguments: %s\\n' "${{#input}}" "$input"
"""

_RUBY = """# {name}: with protocol plain the arguments arrive as JSON on stdin, and stdout is the result.
require "json"
text = JSON.parse($stdin.read)["text"] || ""
puts JSON.generate({{ text: text, length: text.length }})
"""

# --interpreter -> (extension, #! program, line comment, body)
_LANGUAGES = {
    "python": (".py", "python3", "#", _PY),
    "python3": (".py", "python3", "#", _PY),
    "node": (".js", "node", "//", _NODE),
    "bash": (".sh", "bash", "#", _BASH),
    "ruby": (".rb", "ruby", "#", _RUBY),
}


def source(name: str, interpreter: str | None) -> tuple[str, str]:
    """The file name and text of a single-file tool called ``name``."""
    language = interpreter or "python"
    if language not in _LANGUAGES:
        raise UsageError(f"--interpreter {language!r}: choose python, node, bash or ruby")
    ext, program, comment, body = _LANGUAGES[language]
    block = "\n".join(
        f"{comment} {line}" if line else comment for line in _BLOCK.format(name=name).split("\n")
    )
    return f"{name}{ext}", f"#!/usr/bin/env {program}\n{block}\n{body.format(name=name)}"


def scaffold_file(name: str, root: Path, *, interpreter: str | None = None) -> Path:
    """Write ``tools/NAME.<ext>`` under ``root``; refuses a name taken by a file or a directory."""
    if not ENTRY_NAME.fullmatch(name) or len(name) > 64:
        raise UsageError(
            f"{name!r} is not a valid script name (letters, digits, '.', '_' and '-', at most 64)"
        )
    filename, text = source(name, interpreter)
    home = root / KINDS["script"].home
    target = home / filename
    for taken in (target, home / name):
        if taken.exists():
            raise UsageError(f"{taken} already exists; pick another name or delete it first")
    home.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", dir=home)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    Path(tmp).chmod(0o644 | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(tmp, target)  # the tool appears whole, never half-written
    return target
