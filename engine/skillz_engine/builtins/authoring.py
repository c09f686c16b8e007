"""Built-in authoring prompts: how to add to this server, rendered live when a client asks.

Skillz ships six prompts for a model extending its own server; these are their counterparts:
``create_script_tool``, ``create_wasm_tool``, ``create_pipeline``, ``create_skill``,
``import_mcp_server`` and ``debug_tool``. Each is rendered from the kind's JSON Schema (every key
with its description, so the prompt never drifts from what ``validate`` accepts) and from the
current snapshot: where the entry would be written, whether the name is taken, the input schemas
of the tools a pipeline would call, and for ``debug_tool`` the tool's manifest, its diagnostics and
its recent failed calls from the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.tree.kinds import KINDS
from skillz_engine.tree.model import Args, PromptArgument, PromptDef

__all__ = ["AUTHORING_PROMPTS", "schema_keys"]

AUDIT_SHOWN = 10  # recent failed calls a debug prompt shows
MANIFEST_SHOWN = 8000  # characters of a manifest a debug prompt shows
_SKIPPED_KEYS = frozenset({"$schema", "icons"})


def schema_keys(schema_name: str) -> str:
    """The keys of a kind's JSON Schema, one line each: name, ``required``, description."""
    from skillz_engine.tree import schemas

    schema = schemas.load(schema_name)
    required = set(schema.get("required", ()))
    lines = []
    for key, prop in schema.get("properties", {}).items():
        if key in _SKIPPED_KEYS:
            continue
        description = " ".join(str(prop.get("description", "")).split()) if isinstance(prop, dict) else ""
        lines.append(f"- `{key}`{' (required)' if key in required else ''}: {description}")
    return "\n".join(lines)


def _where(snapshot: Snapshot, kind: str, name: str) -> str:
    """Where a new entry goes, or which entry holds the name already."""
    for spec in snapshot.specs.values():
        if spec.name == name:
            return f"The name {name!r} is taken by the {spec.kind} at {spec.display}: pick another."
    home = KINDS[kind].home
    root = snapshot.roots[0] if snapshot.roots else Path()
    return f"Write it as {root / home / name}/ (the name {name!r} is free)."


def _tools_line(snapshot: Snapshot) -> str:
    names = sorted(snapshot.tools)
    shown = ", ".join(names[:60]) + (f" and {len(names) - 60} more" if len(names) > 60 else "")
    return f"Tools served now ({len(names)}): {shown}."


def _message(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": {"type": "text", "text": text.strip() + "\n"}}]


def _arg(args: Args, key: str, default: str = "") -> str:
    value = args.get(key)
    return str(value).strip() if value is not None and str(value).strip() else default


async def _script(args: Args, ctx: CallContext | None) -> list[dict[str, Any]]:
    snap = _snapshot(ctx)
    name, interpreter = _arg(args, "name", "my-tool"), _arg(args, "interpreter", "python3")
    deps = _arg(args, "dependencies")
    return _message(f"""
Create a script tool named `{name}` that {_arg(args, "description", "does what its name says")}.

Call the `register_script` tool with `name`, `description` (what a model reads to pick the tool),
`code`, `interpreter: {interpreter}`, `inputSchema`{", `dependencies`: " + deps if deps else ""}; it
writes the entry and serves it before it returns. {_where(snap, "script", name)}
The script reads one JSON-RPC line, `{{"jsonrpc":"2.0","id":1,"method":"execute","params":
{{"arguments":{{...}},"context":{{...}}}}}}`, and answers with `{{"jsonrpc":"2.0","id":1,"result":
<value>}}` on stdout; it may also send `log`, `progress`, `memory/*` and `tools/call` requests.
It runs sandboxed with a clean environment and a timeout.

The manifest keys of `kind: script`:
{schema_keys("script")}

{_tools_line(snap)}""")


async def _wasm(args: Args, ctx: CallContext | None) -> list[dict[str, Any]]:
    snap = _snapshot(ctx)
    name, language = _arg(args, "name", "my-tool"), _arg(args, "language", "rust")
    return _message(f"""
Create a WebAssembly tool named `{name}` that {_arg(args, "description", "does what its name says")},
written in {language}. Call `build_tool` with the name, description, source and inputSchema: it
compiles the module, writes the entry and serves it. {_where(snap, "wasm", name)}
The module reads the arguments as JSON on stdin and writes its result to stdout (WASI); it has no
filesystem or network beyond its `wasi` mounts.

The manifest keys of `kind: wasm`:
{schema_keys("wasm")}

{_tools_line(snap)}""")


async def _pipeline(args: Args, ctx: CallContext | None) -> list[dict[str, Any]]:
    snap = _snapshot(ctx)
    name = _arg(args, "name", "my-pipeline")
    wanted = [t.strip() for t in _arg(args, "tools").split(",") if t.strip()]
    described = []
    for tool in wanted:
        t = snap.tools.get(tool)
        if t is None:
            near = snap.suggest(tool)
            described.append(
                f"- `{tool}`: not served" + (f" (did you mean {', '.join(near)}?)" if near else "")
            )
        else:
            described.append(f"- `{tool}`: {t.description} Input schema: {json.dumps(dict(t.input_schema))}")
    return _message(f"""
Create a pipeline named `{name}` that {_arg(args, "description", "chains tools")}.
{_where(snap, "pipeline", name)} Each step has an `id`, a `tool` and `args`; `{{{{ input.x }}}}`,
`{{{{ steps.<id>.field }}}}` and `{{{{ prev }}}}` reach the pipeline's arguments and earlier results
(a value that is exactly one `{{{{ expr }}}}` keeps its JSON type); `when` skips a step whose
expression is false; `onError` is fail, continue or retry.

The tools it would call:
{chr(10).join(described) or "- (name them in the `tools` argument, comma-separated)"}

The manifest keys of `kind: pipeline`:
{schema_keys("pipeline")}

{_tools_line(snap)}""")


async def _skill(args: Args, ctx: CallContext | None) -> list[dict[str, Any]]:
    snap = _snapshot(ctx)
    name = _arg(args, "name", "my-skill")
    return _message(f"""
Create an Agent Skill named `{name}`: {_arg(args, "description", "instructions for a task")}.
{_where(snap, "skill", name)} It is a directory with a `SKILL.md`: YAML front matter, then the
instructions in Markdown (what to do, step by step, and which tools to use). The name is
lowercase letters, digits and hyphens and matches the directory. Scripts, references and
assets go beside SKILL.md; tools of its own go in nested entries.

The front matter keys of SKILL.md:
{schema_keys("skill-md")}

{_tools_line(snap)}""")


async def _mcp_server(args: Args, ctx: CallContext | None) -> list[dict[str, Any]]:
    snap = _snapshot(ctx)
    name = _arg(args, "name", "my-server")
    package, runner = _arg(args, "package", "<package>"), _arg(args, "runner", "uvx")
    return _message(f"""
Import the MCP server `{package}` as `{name}`, started with `{runner} {package}` (stdio), so its
tools are served here under its namespace. {_where(snap, "mcp-server", name)}
Write `manifest.yaml` with `kind: mcp-server`, `command: {runner}`, `args: [{package}]`, and
`secrets` for the variables it needs; then check its tools with `list_tools`.

The manifest keys of `kind: mcp-server`:
{schema_keys("mcp-server")}""")


def _failures(snap: Snapshot, ctx: CallContext | None, tool: str) -> list[str]:
    """The tool's recent failed calls from the audit log (newest last)."""
    from skillz_engine.state.store import Store

    state = snap.state_dir or (ctx.engine.state_dir if ctx is not None and ctx.engine is not None else None)
    if state is None:
        return []
    try:
        lines = Store(state).audit_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out: list[str] = []
    for line in reversed(lines):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("tool") == tool and rec.get("success") is False:
            out.append(f"- {rec.get('time')} ({rec.get('method')}): {rec.get('error')}")
            if len(out) == AUDIT_SHOWN:
                break
    return out[::-1]


async def _debug(args: Args, ctx: CallContext | None) -> list[dict[str, Any]]:
    from skillz_engine.builtins.writers import diagnostics_under, format_diagnostics

    snap = _snapshot(ctx)
    name = _arg(args, "tool_name")
    tool = snap.tools.get(name)
    if tool is None:
        near = snap.suggest(name)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        return _message(f"There is no tool named {name!r} on this server.{hint} {_tools_line(snap)}")
    spec = snap.specs.get(tool.entry) if tool.entry else None
    if spec is None:
        return _message(f"`{name}` is a built-in tool: {tool.description}")
    try:
        manifest = spec.manifest.read_text(encoding="utf-8")[:MANIFEST_SHOWN]
    except OSError as exc:
        manifest = f"(cannot read it: {exc.strerror})"
    # a single-file tool is its script: the manifest shown is the script's head, with its block
    files = spec.manifest if spec.single_file else spec.dir
    diags = format_diagnostics(diagnostics_under(snap, files)) or "(none)"
    stale = (
        " It does not compile now: the server serves its last good version."
        if tool.entry in snap.stale
        else ""
    )
    failures = "\n".join(_failures(snap, ctx, name)) or "(none recorded)"
    return _message(f"""
The tool `{name}` ({spec.kind}, {spec.display}) is failing. Find out why and fix it.{stale}

Its manifest:
```
{manifest}
```

Diagnostics about its entry:
{diags}

Its recent failed calls (audit log):
{failures}

Its input schema: {json.dumps(dict(tool.input_schema))}
Read {files}{"" if spec.single_file else "/"}, fix the cause (the diagnostics name file:line:col),
then call the tool again; `skillz://tools/{name}` shows its full definition.""")


def _snapshot(ctx: CallContext | None) -> Snapshot:
    if ctx is None:
        raise RuntimeError("authoring prompts render against a request's snapshot")
    return ctx.snapshot


def _prompt(
    name: str, title: str, description: str, render: Callable[[Args, Any], Awaitable[list[dict[str, Any]]]],
    arguments: Mapping[str, tuple[str, bool]],
) -> PromptDef:  # fmt: skip
    args = tuple(PromptArgument(n, d, required) for n, (d, required) in arguments.items())
    return PromptDef(name, description, args, render, title=title, digest=f"builtin:{name}:1")


AUTHORING_PROMPTS: tuple[PromptDef, ...] = (
    _prompt("create_script_tool", "Create a script tool", "Write a new script tool (Python, Node, Bash, ...) "
            "with register_script, with every manifest key explained.", _script,
            {"name": ("The tool's name.", True), "description": ("What it does.", True),
             "interpreter": ("python3 (default), node, bash, ...", False),
             "dependencies": ("Packages it needs, comma-separated.", False)}),
    _prompt("create_wasm_tool", "Create a WebAssembly tool", "Write a new WebAssembly tool with build_tool.",
            _wasm, {"name": ("The tool's name.", True), "description": ("What it does.", True),
                    "language": ("rust (default), c or wat.", False)}),
    _prompt("create_pipeline", "Create a pipeline", "Chain tools of this server into a pipeline tool.",
            _pipeline, {"name": ("The pipeline's name.", True), "description": ("What it does.", True),
                        "tools": ("The tools it calls, comma-separated.", False)}),
    _prompt("create_skill", "Create a skill", "Write an Agent Skill (SKILL.md) for this server.", _skill,
            {"name": ("The skill's name.", True), "description": ("What it is for.", True)}),
    _prompt("import_mcp_server", "Import an MCP server", "Serve another MCP server's tools through this one.",
            _mcp_server, {"name": ("The name to serve it under.", True),
                          "package": ("Its package (npm or PyPI).", True),
                          "runner": ("uvx (default), npx, ...", False)}),
    _prompt("debug_tool", "Debug a failing tool", "Why a tool fails: its manifest, diagnostics and recent "
            "failed calls, with what to do.", _debug, {"tool_name": ("The failing tool.", True)}),
)  # fmt: skip
