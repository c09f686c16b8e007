"""``skillz-engine new KIND NAME``: write a valid, working entry to start from."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from skillz_engine.errors import UsageError
from skillz_engine.tree.kinds import KINDS
from skillz_engine.tree.validate import ENTRY_NAME, SKILL_NAME

_SCHEMA_HEADER = "# yaml-language-server: $schema=https://skillz-engine.dev/schemas/{kind}.schema.json\n"

_PY = '''#!/usr/bin/env python3
"""{name}: returns the text it is given and its length (replace with what your tool does).

skillz-engine sends one JSON-RPC `execute` request on stdin and reads the response from stdout.
"""
import json
import sys


def main() -> None:
    request = json.loads(sys.stdin.readline())
    args = request["params"]["arguments"]
    text = args.get("text", "")
    # log lines are forwarded to the client while the tool runs
    print(json.dumps({{"jsonrpc": "2.0", "method": "log",
                      "params": {{"level": "info",
                                 "message": f"got {{len(text)}} characters"}}}}), flush=True)
    result = {{"text": text, "length": len(text)}}
    print(json.dumps({{"jsonrpc": "2.0", "id": request["id"], "result": result}}), flush=True)


if __name__ == "__main__":
    main()
'''

_NODE = """#!/usr/bin/env node
// {name}: skillz-engine sends one JSON-RPC `execute` request on stdin; answer on stdout.
const readline = require("readline");
const rl = readline.createInterface({{ input: process.stdin }});
rl.once("line", (line) => {{
  const request = JSON.parse(line);
  const text = request.params.arguments.text || "";
  const result = {{ text, length: text.length }};
  process.stdout.write(JSON.stringify({{ jsonrpc: "2.0", id: request.id, result }}) + "\\n");
  rl.close();
}});
"""

_BASH = """#!/usr/bin/env bash
# {name}: with `protocol: plain` the arguments arrive as JSON on stdin and stdout is the result.
set -euo pipefail
input=$(cat)
printf 'received %s bytes of arguments: %s\\n' "${{#input}}" "$input"
"""

_RUBY = """#!/usr/bin/env ruby
# {name}: skillz-engine sends one JSON-RPC `execute` request on stdin; answer on stdout.
require "json"
request = JSON.parse($stdin.gets)
text = request["params"]["arguments"]["text"] || ""
puts JSON.generate({{ jsonrpc: "2.0", id: request["id"], result: {{ text: text, length: text.length }} }})
$stdout.flush
"""

_INTERPRETERS = {
    "python": ("main.py", _PY, "jsonrpc"),
    "python3": ("main.py", _PY, "jsonrpc"),
    "node": ("main.js", _NODE, "jsonrpc"),
    "bash": ("main.sh", _BASH, "plain"),
    "ruby": ("main.rb", _RUBY, "jsonrpc"),
}

_TEXT_SCHEMA = """inputSchema:
  type: object
  properties:
    text:
      type: string
      description: The text to work on.
  required: [text]
"""


def _script(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    interp = interpreter or "python"
    if interp not in _INTERPRETERS:
        raise UsageError(f"--interpreter {interp!r}: choose python, node, bash or ruby")
    entry, body, protocol = _INTERPRETERS[interp]
    return {
        "manifest.yaml": head + f"kind: script\ndescription: Describe what {name} does and when to use it.\n"
        f"interpreter: {'python3' if interp == 'python' else interp}\nentry: {entry}\n"
        f"protocol: {protocol}\n" + _TEXT_SCHEMA + "limits:\n  timeout: 30s\n",
        entry: body.format(name=name),
    }


def _command(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    return {
        "manifest.yaml": head + f"kind: command\ndescription: Describe what {name} does and when "
        "to use it.\n" + _TEXT_SCHEMA + 'argv: ["echo", "{{ text }}"]\nstdout: text\n'
    }


def _wasm(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    return {
        "manifest.yaml": head + f"kind: wasm\ndescription: Describe what {name} does.\n"
        "build:\n  language: wat\n  source: main.wat\n",
        "main.wat": ";; A WASI module: reads nothing, prints a JSON value.\n(module\n"
        '  (import "wasi_snapshot_preview1" "fd_write"\n'
        "    (func $fd_write (param i32 i32 i32 i32) (result i32)))\n"
        '  (memory (export "memory") 1)\n  (data (i32.const 16) "{\\"ok\\": true}\\n")\n'
        '  (func (export "_start")\n    (i32.store (i32.const 0) (i32.const 16))\n'
        "    (i32.store (i32.const 4) (i32.const 13))\n"
        "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))\n",
    }


def _pipeline(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    return {
        "manifest.yaml": head
        + f"kind: pipeline\ndescription: Describe what {name} does.\n"
        + _TEXT_SCHEMA
        + "steps:\n  - id: first\n    tool: search_tools\n"
        '    args:\n      query: "{{ input.text }}"\n'
    }


def _prompt(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    return {
        "manifest.yaml": head + f"kind: prompt\ndescription: Describe what the {name} prompt asks for.\n"
        "arguments:\n  - name: topic\n    description: What the prompt is about.\n    required: true\n"
        "    values: [testing, security, performance]\ntemplate: prompt.md.j2\n",
        "prompt.md.j2": "Write a short checklist about {{ topic }}.\n",
    }


def _resource(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    return {
        "manifest.yaml": head + f"kind: resource\ndescription: Describe the {name} resource.\n"
        f"uri: notes://{name}\nfile: content.md\nmimeType: text/markdown\n",
        "content.md": f"# {name}\n\nWrite the resource's content here.\n",
    }


def _skill(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    return {
        "SKILL.md": f"---\nname: {name}\ndescription: Describe what this skill does and when to use "
        "it, with the words a user would say.\nlicense: MIT\n---\n\n"
        f"# {name}\n\n## When to use\n\n## Steps\n\n1. ...\n"
    }


def _bundle(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    if not skills:
        raise UsageError(
            "a bundle lists skills, and this tree has none yet: run `skillz-engine new skill NAME` first"
        )
    listed = "".join(f"  - {s}\n" for s in skills[:5])
    return {
        "manifest.yaml": head + f"kind: bundle\ndescription: Describe the {name} bundle.\nskills:\n" + listed
    }


def _service(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    return {
        "manifest.yaml": head + f"kind: service\ndescription: Describe the {name} service.\n"
        'image: redis:7-alpine\nports: ["6379"]\nautostart: false\n'
    }


def _mcp_server(name: str, head: str, interpreter: str | None, skills: list[str]) -> dict[str, str]:
    return {
        "manifest.yaml": head + f"kind: mcp-server\ndescription: Describe the {name} server.\n"
        "command: uvx\nargs: [mcp-server-time]\n"
    }


# (name, schema header, --interpreter, the tree's skills) -> the entry's files, by relative path
Template = Callable[[str, str, str | None, list[str]], dict[str, str]]

TEMPLATES: Mapping[str, Template] = MappingProxyType(
    {
        "script": _script,
        "command": _command,
        "wasm": _wasm,
        "pipeline": _pipeline,
        "prompt": _prompt,
        "resource": _resource,
        "skill": _skill,
        "bundle": _bundle,
        "service": _service,
        "mcp-server": _mcp_server,
    }
)
"""One starting entry per kind; a test checks it covers :data:`~skillz_engine.tree.kinds.KINDS`."""


def scaffold(kind: str, name: str, root: Path, *, interpreter: str | None = None) -> list[Path]:
    pattern = SKILL_NAME if kind == "skill" else ENTRY_NAME
    if not pattern.fullmatch(name) or len(name) > 64:
        rule = (
            "lowercase letters, digits and single hyphens"
            if kind == "skill"
            else "letters, digits, '.', '_' and '-'"
        )
        raise UsageError(f"{name!r} is not a valid {kind} name ({rule}, at most 64 characters)")
    target = root / KINDS[kind].home / name
    if target.exists():
        raise UsageError(f"{target} already exists; pick another name or delete it first")
    skills = sorted(p.parent.name for p in root.glob("**/SKILL.md")) if kind == "bundle" else []
    template = TEMPLATES.get(kind)
    if template is None:
        raise UsageError(f"unknown kind {kind!r}")
    files = template(name, _SCHEMA_HEADER.format(kind=kind), interpreter, skills)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    written = []
    for rel, content in files.items():
        p = staging / rel
        p.write_text(content, encoding="utf-8")
        if re.search(r"\.(py|js|sh|rb)$", rel):
            p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(target / rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)  # the entry appears whole, never half-written
    return written
