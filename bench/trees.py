"""Generated manifest trees: N entries in a temporary directory, realistic and valid.

``mix="mixed"``: about 60% ``kind: command`` tools, 20% prompts (half a Jinja2 template file, half
inline ``messages``) and 20% resources (half inline ``text``, half a ``file``). ``mix="tools"``: every
entry is a command tool, so a tree of N entries serves N tools (plus the engine's built-ins).

Command tools run ``argv: ["echo", "{{ text }}"]`` with a few optional, templated flags, so any of
them answers ``{"text": "hi"}``. :func:`add_echo_tools` adds the tools the call scenarios use:
``echo-cmd`` (command), ``echo-plain`` and ``echo-jsonrpc`` (Python scripts, both protocols).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

VERBS = ("fetch", "render", "convert", "summarise", "lookup", "format", "check", "count", "split", "merge")
NOUNS = ("invoice", "ticket", "commit", "log", "report", "image", "table", "config", "email", "release")
TAGS = ("text", "git", "data", "ops", "files", "web", "math", "time", "search", "docs")
LANGS = ("python", "rust", "go", "typescript", "bash", "sql")


@dataclass(frozen=True)
class TreeInfo:
    root: Path
    entries: int
    tools: int
    prompts: int
    resources: int
    manifests: tuple[Path, ...]
    tool_names: tuple[str, ...]

    def first_tool_manifest(self) -> Path:
        return next(p for p in self.manifests if p.parent.parent.name == "tools")


def _words(i: int) -> tuple[str, str]:
    return VERBS[i % len(VERBS)], NOUNS[(i // len(VERBS)) % len(NOUNS)]


def command_manifest(name: str, i: int) -> str:
    verb, noun = _words(i)
    tag1, tag2 = TAGS[i % len(TAGS)], TAGS[(i * 7 + 3) % len(TAGS)]
    tags = f"[{tag1}]" if tag1 == tag2 else f"[{tag1}, {tag2}]"
    return f"""\
kind: command
title: {verb.capitalize()} {noun} {i}
description: >-
  {verb.capitalize()} a {noun} given as text and print it back, optionally upper-cased
  and prefixed with a label. Returns the text exactly as the command printed it.
  Generated benchmark tool number {i}; use it when you need to {verb} a {noun}.
version: "1.{i % 10}.0"
tags: {tags}
argv: ["echo", "{{{{ text }}}}"]
inputSchema:
  type: object
  properties:
    text:
      type: string
      maxLength: 10000
      description: The {noun} text to {verb}.
    label:
      type: string
      pattern: "^[a-z0-9-]{{1,32}}$"
      description: Optional label (lower case, digits, hyphens) to tag the output with.
    repeat:
      type: integer
      minimum: 1
      maximum: 5
      default: 1
      description: How many times the text is meant to be repeated (informational).
  required: [text]
  additionalProperties: false
annotations:
  readOnlyHint: true
  idempotentHint: true
  openWorldHint: false
limits:
  timeout: 10s
  output: 64KiB
"""


def prompt_manifest(i: int) -> tuple[str, dict[str, str]]:
    verb, noun = _words(i)
    head = f"""\
kind: prompt
title: {verb.capitalize()} {noun} prompt {i}
description: >-
  Ask the model to {verb} a {noun} carefully, in the language and tone you pick,
  and list anything it is unsure about. Generated benchmark prompt number {i}.
version: "1.0.0"
tags: [{TAGS[i % len(TAGS)]}]
arguments:
  - name: subject
    description: The {noun} to work on.
    required: true
  - name: language
    description: Language of the answer or code.
    values: [{", ".join(LANGS)}]
  - name: tone
    description: How formal the answer should be.
    values: [formal, neutral, casual]
"""
    if i % 2 == 0:
        body = (
            f"Please {verb} the following {noun}.\n\n{{{{ subject }}}}\n\n"
            "{% if language %}Answer for {{ language }}.{% endif %}\n"
            "{% if tone %}Keep a {{ tone }} tone.{% endif %}\n"
            "List anything you are unsure about at the end.\n"
        )
        return head + "template: prompt.md.j2\n", {"prompt.md.j2": body}
    return (
        head
        + f"""\
messages:
  - role: user
    content: "Please {verb} this {noun}: {{{{ subject }}}}"
  - role: assistant
    content: "Sure. Anything I should know about the {noun} first?"
  - role: user
    content:
      type: text
      text: "{{% if tone %}}Keep a {{{{ tone }}}} tone. {{% endif %}}Go ahead."
""",
        {},
    )


def resource_manifest(name: str, i: int) -> tuple[str, dict[str, str]]:
    verb, noun = _words(i)
    head = f"""\
kind: resource
title: {noun.capitalize()} notes {i}
description: Reference notes about how we {verb} a {noun}; generated benchmark resource {i}.
tags: [{TAGS[i % (len(TAGS) - 1)]}, docs]
"""
    if i % 2 == 0:
        text = (
            f"# {noun.capitalize()} notes {i}\n\nSteps to {verb} a {noun}:\n\n"
            f"1. Read it.\n2. {verb.capitalize()} it.\n"
        )
        return head + f"uri: notes://{name}\nfile: notes.md\nmimeType: text/markdown\n", {"notes.md": text}
    inline = f'text: "How to {verb} a {noun}: read it, then {verb} it."\n'
    return head + f"uri: notes://{name}\nmimeType: text/plain\n" + inline, {}


def make_tree(root: Path, n: int, mix: str = "mixed") -> TreeInfo:
    """Write ``n`` entries under ``root`` (created; must not hold a tree already)."""
    root.mkdir(parents=True, exist_ok=True)
    manifests: list[Path] = []
    tools: list[str] = []
    prompts = resources = 0
    for i in range(n):
        slot = i % 10 if mix == "mixed" else 0
        files: dict[str, str]
        if slot < 6:
            name = f"tool-{i:05d}"
            folder, text, files = "tools", command_manifest(name, i), {}
            tools.append(name)
        elif slot < 8:
            name = f"prompt-{i:05d}"
            folder = "prompts"
            text, files = prompt_manifest(i)
            prompts += 1
        else:
            name = f"notes-{i:05d}"
            folder = "resources"
            text, files = resource_manifest(name, i)
            resources += 1
        d = root / folder / name
        d.mkdir(parents=True)
        (d / "manifest.yaml").write_text(text, encoding="utf-8")
        for fname, content in files.items():
            (d / fname).write_text(content, encoding="utf-8")
        manifests.append(d / "manifest.yaml")
    return TreeInfo(root, n, len(tools), prompts, resources, tuple(manifests), tuple(tools))


PLAIN_ECHO = """\
import json, sys
args = json.load(sys.stdin)
sys.stdout.write(str(args.get("text", "")))
"""

JSONRPC_ECHO = """\
import json, sys
req = json.loads(sys.stdin.readline())
text = str(req["params"]["arguments"].get("text", ""))
sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": text}) + "\\n")
sys.stdout.flush()
"""

ECHO_SCHEMA = """\
inputSchema:
  type: object
  properties:
    text: {type: string, description: The text to echo.}
  required: [text]
"""


def add_echo_tools(root: Path) -> dict[str, str]:
    """The call scenarios' tools; returns ``{variant: tool name}``."""
    tools = root / "tools"
    d = tools / "echo-cmd"
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.yaml").write_text(
        'kind: command\ndescription: Echo the text back (runs echo).\nargv: ["echo", "{{ text }}"]\n'
        + ECHO_SCHEMA,
        encoding="utf-8",
    )
    for proto, code in (("plain", PLAIN_ECHO), ("jsonrpc", JSONRPC_ECHO)):
        d = tools / f"echo-{proto}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "echo.py").write_text(code, encoding="utf-8")
        (d / "manifest.yaml").write_text(
            f"kind: script\ndescription: Echo the text back (a Python script, {proto} protocol).\n"
            f"interpreter: python3\nentry: echo.py\nprotocol: {proto}\n" + ECHO_SCHEMA,
            encoding="utf-8",
        )
    d = root / "pipelines" / "echo-pipeline"
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.yaml").write_text(
        "kind: pipeline\ndescription: Echo the text back through one command step.\n"
        'steps:\n  - id: echo\n    tool: echo-cmd\n    args: {text: "{{ input.text }}"}\n' + ECHO_SCHEMA,
        encoding="utf-8",
    )
    return {
        "command": "echo-cmd",
        "script-plain": "echo-plain",
        "script-jsonrpc": "echo-jsonrpc",
        "pipeline": "echo-pipeline",
    }


def fastmcp_module(path: Path, n: int) -> Path:
    """A FastMCP server module with ``n`` echo tools registered in code (names as in a tools tree)."""
    lines = [
        "from __future__ import annotations",
        "import sys",
        "from fastmcp import FastMCP",
        "",
        'mcp = FastMCP("bench-fastmcp")',
        "",
    ]
    for i in range(n):
        verb, noun = _words(i)
        lines += [
            f'@mcp.tool(name="tool-{i:05d}", tags={{"{TAGS[i % len(TAGS)]}"}}, '
            f'annotations={{"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}})',
            f"def tool_{i:05d}(text: str, label: str | None = None, repeat: int = 1) -> str:",
            f'    """{verb.capitalize()} a {noun} given as text and print it back. Generated tool {i}."""',
            "    return text",
            "",
        ]
    lines += [
        "@mcp.tool",
        "def echo(text: str) -> str:",
        '    """Echo the text back."""',
        "    return text",
        "",
        'if __name__ == "__main__":',
        "    if len(sys.argv) > 1:",
        '        mcp.run(transport="http", host="127.0.0.1", port=int(sys.argv[1]), show_banner=False,',
        '                log_level="warning")',
        "    else:",
        "        mcp.run(show_banner=False)",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def describe(info: TreeInfo) -> str:
    return json.dumps(
        {"entries": info.entries, "tools": info.tools, "prompts": info.prompts, "resources": info.resources}
    )


if __name__ == "__main__":  # python -m bench.trees DIR N [mixed|tools]
    out = make_tree(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "mixed")
    print(describe(out))
