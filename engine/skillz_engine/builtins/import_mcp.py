"""``import_mcp``: a model imports another MCP server, whose tools are served before this returns.

Arguments are Skillz's (``name``: the namespace, ``command``, ``args``, ``env``, ``description``,
``overwrite``) plus ``url``/``headers``/``transport`` for an HTTP upstream and ``secrets``. They
become ``<root>/servers/<name>/manifest.yaml`` (``kind: mcp-server``), written through
:mod:`skillz_engine.builtins.writers`; the write is served (the upstream started and listed) before
the answer, which names the tools it brought. An upstream that cannot start is rolled back and
its reason is the error: nothing half-imported stays in the tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from skillz_engine.build.contract import CallContext
from skillz_engine.builtins.writers import (
    WriterError,
    check_name,
    diagnostics_under,
    existing_entry,
    format_diagnostics,
    serve_written,
    write_entry,
)
from skillz_engine.tree.model import Args, ToolDef, ToolResult

DOWN = "SKZ544"  # the mcp-server runtime's "upstream unavailable" diagnostic


def _strings(args: Args, key: str, kind: type) -> Any:
    value = args.get(key)
    if value is None:
        return None
    if kind is list and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        raise WriterError(f"{key} must be a list of strings")
    if kind is dict and (
        not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values())
    ):
        raise WriterError(f"{key} must be an object of strings")
    if kind is str and not isinstance(value, str):
        raise WriterError(f"{key} must be a string")
    return dict(value) if kind is dict else value


def manifest_of(args: Args) -> str:
    """The ``manifest.yaml`` text of the entry ``args`` describe (``WriterError`` when they are wrong)."""
    command, url = _strings(args, "command", str), _strings(args, "url", str)
    if bool(command) == bool(url):
        raise WriterError("give either command (a stdio server) or url (an HTTP server)")
    data: dict[str, Any] = {"kind": "mcp-server"}
    if args.get("description"):
        data["description"] = _strings(args, "description", str)
    keys: list[tuple[str, type]] = [("command", str), ("args", list), ("env", dict)] if command else []
    keys += [("url", str), ("headers", dict), ("transport", str)] if url else []
    for key, kind in [*keys, ("secrets", list)]:
        value = _strings(args, key, kind)
        if value:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


async def import_mcp(args: Args, ctx: CallContext) -> ToolResult:
    engine = ctx.engine
    if engine is None:
        return ToolResult.error("import_mcp needs a running engine (it writes into the served tree)")
    try:
        name = check_name(args.get("name"))
        written = write_entry(
            engine,
            name,
            {"manifest.yaml": manifest_of(args)},
            kind="mcp-server",
            overwrite=bool(args.get("overwrite", False)),
            existing=existing_entry(ctx.snapshot, name),
        )
        snap = await serve_written(engine, written, name)
        down = [d for d in diagnostics_under(snap, written.path) if d.code == DOWN]
        if down:
            written.rollback()
            await engine.reload([written.path])
            kept = "the previous version is back" if written.replaced else "nothing was kept"
            raise WriterError(f"{name!r} cannot be reached ({kept}):\n{format_diagnostics(down)}")
    except WriterError as exc:
        return ToolResult.error(f"import_mcp: {exc}")
    key = written.path.as_posix()
    tools = [t.name for t in snap.tools.values() if t.entry == key]
    prompts = [p.name for p in snap.prompts.values() if p.entry == key]
    lines = [f"Imported MCP server {name!r} into {written.path}; it serves {len(tools)} tools:"]
    lines += [f"- {t}" for t in tools]
    if prompts:
        lines.append("Prompts: " + ", ".join(prompts))
    return ToolResult.text("\n".join(lines), structured={"name": name, "tools": tools, "prompts": prompts})


_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Entry name and namespace: tools become <name>_<tool>."},
        "command": {"type": "string", "description": "stdio: the program to start (e.g. uvx, npx, python)."},
        "args": {"type": "array", "items": {"type": "string"}, "description": "stdio: its arguments."},
        "env": {**_STRINGS, "description": "stdio: extra environment variables."},
        "url": {"type": "string", "description": "HTTP: the upstream MCP endpoint (instead of command)."},
        "headers": {**_STRINGS, "description": "HTTP: request headers; values may say ${SKILLZ_NAME}."},
        "transport": {"enum": ["streamable-http", "sse"], "description": "HTTP: sse for a legacy server."},
        "secrets": {
            "type": "array",
            "items": {"type": "string"},
            "description": "SKILLZ_* variables it gets.",
        },
        "description": {"type": "string", "description": "What the server offers."},
        "overwrite": {"type": "boolean", "default": False, "description": "Replace an existing entry."},
    },
    "required": ["name"],
}

IMPORT_MCP = ToolDef(
    name="import_mcp",
    title="Import an MCP server",
    description=(
        "Import another MCP server (stdio command or HTTP url): its tools, prompts and resources are "
        "served under the namespace `name` (tools as <name>_<tool>) before this returns. The entry is "
        "written into the server's tree; a server that cannot be reached is rolled back."
    ),
    input_schema=_SCHEMA,
    invoke=import_mcp,
    output_schema={
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tools": {"type": "array", "items": {"type": "string"}},
            "prompts": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "tools"],
    },
    annotations={
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": False,
        "openWorldHint": True,
    },
    digest="builtin:import_mcp:1",
)
