"""``register_script``: a model writes a new script tool into the tree and can call it at once.

Arguments are Skillz's (``name``, ``description``, ``code``, ``interpreter``, ``inputSchema`` or
``input_schema``, ``outputSchema`` or ``output_schema``, ``annotations``, ``dependencies``,
``requires_services``, ``overwrite``; Skillz's unused ``extension`` is accepted and ignored).
They become a modern entry directory, ``<root>/tools/<name>/`` with ``manifest.yaml`` (``kind:
script``) and ``main.<ext>``, written through :mod:`skillz_engine.builtins.writers` (checked name,
atomic write, backup of what is replaced, served before return, rollback when it does not
compile). Declared dependencies are then installed through the script runtime's ``build`` hook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from skillz_engine.build.contract import CallContext, EngineHandle
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.builtins.writers import WriterError, check_name, existing_entry, serve_written, write_entry
from skillz_engine.tree.model import Args, ToolDef, ToolResult

# interpreter -> the entry file's name (a script without interpreter runs by its #! line as `main`)
ENTRY_FILES: Mapping[str, str] = {
    "python": "main.py",
    "python3": "main.py",
    "node": "main.js",
    "nodejs": "main.js",
    "bash": "main.sh",
    "sh": "main.sh",
    "ruby": "main.rb",
    "perl": "main.pl",
}
_PIP = frozenset({"python", "python3"})
_NPM = frozenset({"node", "nodejs"})


def _schema(args: Args, *names: str) -> dict[str, Any] | None:
    for n in names:
        value = args.get(n)
        if value is not None:
            if not isinstance(value, Mapping):
                raise WriterError(f"{n} must be a JSON Schema object")
            schema = dict(value)
            if schema.get("type") in (None, ""):  # Skillz stores {"type": ""} for "no schema"
                schema["type"] = "object"
            return schema
    return None


def _dependencies(raw: Any, interpreter: str | None) -> dict[str, list[str]] | None:
    """Skillz's ``dependencies`` (a list, pip or npm by interpreter) or ours (``{pip, npm}``)."""
    if raw is None or raw == [] or raw == {}:
        return None
    if isinstance(raw, Mapping):
        out: dict[str, list[str]] = {}
        for key, specs in raw.items():
            if key not in ("pip", "npm"):
                raise WriterError(f"dependencies: unknown installer {key!r} (use pip or npm)")
            out[str(key)] = _specs(specs)
        return out
    specs = _specs(raw)
    if interpreter in _PIP:
        return {"pip": specs}
    if interpreter in _NPM:
        return {"npm": specs}
    raise WriterError(
        "dependencies need a python or node interpreter (or the form {pip: [...], npm: [...]}); "
        f"interpreter is {interpreter!r}"
    )


def _specs(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise WriterError("dependencies must be a list of package specs (strings)")
    return [s.strip() for s in value]


def script_files(args: Args) -> tuple[dict[str, str], str]:
    """The entry's files (``manifest.yaml`` + the script) and the script's file name."""
    description = args.get("description")
    code = args.get("code")
    if not isinstance(description, str) or not description.strip():
        raise WriterError("description must be a non-empty string: it is what models read to pick the tool")
    if not isinstance(code, str) or not code.strip():
        raise WriterError("code must be the script's source text")
    raw = args.get("interpreter")
    interpreter = raw.strip() if isinstance(raw, str) and raw.strip() else None
    if interpreter is None:
        if not code.startswith("#!"):
            raise WriterError(
                "give an interpreter (python3, node, bash, ...) or start the code with a #! line"
            )
        entry = "main"
    elif interpreter in ENTRY_FILES:
        entry = ENTRY_FILES[interpreter]
    elif "/" in interpreter or "\x00" in interpreter:
        raise WriterError(
            f"interpreter {interpreter!r} must be a program name (python3, node, ...), not a path"
        )
    else:
        entry = "main"
    manifest: dict[str, Any] = {"kind": "script", "description": description.strip()}
    if interpreter is not None:
        manifest["interpreter"] = interpreter
    manifest["entry"] = entry
    for key in ("inputSchema", "outputSchema"):
        schema = _schema(args, key, key.replace("S", "_s"))
        if schema is not None:
            manifest[key] = schema
    annotations = args.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, Mapping):
            raise WriterError("annotations must be an object (title, readOnlyHint, destructiveHint, ...)")
        manifest["annotations"] = dict(annotations)
    deps = _dependencies(args.get("dependencies"), interpreter)
    if deps:
        manifest["dependencies"] = deps
    services = args.get("requires_services")
    if services:
        if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
            raise WriterError("requires_services must be a list of service names")
        manifest["requires"] = {"services": list(dict.fromkeys(services))}
    text = "# written by register_script\n" + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
    return {"manifest.yaml": text, entry: code if code.endswith("\n") else code + "\n"}, entry


async def _build(snap: Snapshot, engine: EngineHandle, name: str) -> list[str] | None:
    """Install the new entry's dependencies through the script runtime's build hook: the
    problems found (empty when it worked), or ``None`` when the runtime has no hook (the first
    call installs them then)."""
    from skillz_engine.runtimes import RUNTIMES
    from skillz_engine.runtimes.base import Buildable, BuildOptions, Services

    runtime = RUNTIMES.get("script")
    found = existing_entry(snap, name)
    spec = next((s for s in snap.specs.values() if s.dir == found), None)
    if not isinstance(runtime, Buildable) or spec is None:
        return None
    steps: list[str] = []
    services = Services(snap.config, engine.state_dir, engine.roots)
    diags = await runtime.build(spec, services, steps.append, BuildOptions())
    return [d.format() + (f" (hint: {d.hint})" if d.hint else "") for d in diags if d.is_error]


async def register_script(args: Args, ctx: CallContext) -> ToolResult:
    engine = ctx.engine
    if engine is None:
        return ToolResult.error("register_script needs a running engine (it writes into the served tree)")
    try:
        name = check_name(args.get("name"))
        tool = ctx.snapshot.tools.get(name)
        if tool is not None and tool.entry is None:
            raise WriterError(f"{name!r} is a built-in tool; pick another name")
        files, entry = script_files(args)
        existing = existing_entry(ctx.snapshot, name)
        written = write_entry(
            engine,
            name,
            files,
            kind="script",
            overwrite=bool(args.get("overwrite", False)),
            existing=existing,
            executable=(entry,),
        )
        snap = await serve_written(engine, written, name)
    except WriterError as exc:
        return ToolResult.error(f"register_script: {exc}")
    lines = [f"Registered script tool {name!r} in {written.path} (entry {entry})."]
    if written.backup is not None:
        lines.append(f"The previous version is kept in {written.backup}.")
    if "dependencies" in files["manifest.yaml"]:
        problems = await _build(snap, engine, name)
        if problems:
            lines.append(
                "Installing its dependencies failed (the next call retries):\n" + "\n".join(problems)
            )
            return ToolResult.error("\n".join(lines))
        lines.append(
            "Its dependencies are installed."
            if problems is not None
            else "Its dependencies are installed on its first call."
        )
    lines.append(f"It is served now: call it as {name!r}.")
    return ToolResult.text("\n".join(lines))


_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Tool name: letters, digits, '.', '_' or '-' (1-64)."},
        "description": {"type": "string", "description": "What the tool does, for the model that picks it."},
        "code": {
            "type": "string",
            "description": (
                "The script. It reads one JSON-RPC line from stdin: "
                '{"method": "execute", "params": {"arguments": {...}, "context": {...}}, "id": 1} and '
                'answers {"jsonrpc": "2.0", "id": 1, "result": ...} on stdout (see the skillz://guide '
                "resource for logs, progress, memory, elicitation and sampling)."
            ),
        },
        "interpreter": {"type": "string", "description": "python3, node, bash, sh, ruby, perl, ..."},
        "inputSchema": {"type": "object", "description": "JSON Schema of the arguments."},
        "input_schema": {"type": "object", "description": "Same as inputSchema (Skillz spelling)."},
        "outputSchema": {"type": "object", "description": "JSON Schema of the result (structured output)."},
        "output_schema": {"type": "object", "description": "Same as outputSchema (Skillz spelling)."},
        "annotations": {"type": "object", "description": "MCP tool annotations (readOnlyHint, ...)."},
        "dependencies": {
            "description": "Packages: a list (pip for python, npm for node) or {pip: [...], npm: [...]}.",
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {
                    "type": "object",
                    "properties": {
                        "pip": {"type": "array", "items": {"type": "string"}},
                        "npm": {"type": "array", "items": {"type": "string"}},
                    },
                },
            ],
        },
        "requires_services": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Names of service entries (Docker) the tool needs running.",
        },
        "overwrite": {"type": "boolean", "default": False, "description": "Replace an existing tool."},
        "extension": {"type": "string", "description": "Ignored (accepted for Skillz compatibility)."},
    },
    "required": ["name", "description", "code"],
}

REGISTER_SCRIPT = ToolDef(
    name="register_script",
    title="Register a script tool",
    description=(
        "Create (or with overwrite: true replace) a script tool from source code. It is written into the "
        "server's tree, compiled and served before this returns, so you can call it right away; a "
        "replaced version is kept as a backup, and code that does not compile is rolled back."
    ),
    input_schema=_SCHEMA,
    invoke=register_script,
    annotations={
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": False,
        "openWorldHint": False,
    },
    digest="builtin:register_script:1",
)
