"""The ``build_tool`` built-in: write a WebAssembly tool from source, build it, serve it.

Skillz-compatible arguments (``name``, ``code``, ``description``, ``inputSchema`` /
``input_schema``, ``outputSchema`` / ``output_schema``, ``annotations``, ``dependencies``,
``overwrite``) plus ``language`` (``rust``, the default as in Skillz; ``c``; ``wat``).

The source is built first, in the build cache (nothing is written when it does not compile: the
compiler's message is the ``isError`` result). Then the entry (``manifest.yaml`` + ``src.rs`` /
``main.c`` / ``module.wat``) is written through :mod:`skillz_engine.builtins.writers` (atomic,
backed up, rolled back if it does not serve), and the call returns once the tool is served; its
first call finds the module already built and compiled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.builtins.writers import (
    WriterError,
    check_name,
    existing_entry,
    serve_written,
    write_entry,
)
from skillz_engine.tree.model import Args, ToolDef, ToolResult

__all__ = ["BUILD_TOOL", "SOURCE_FILES"]

SOURCE_FILES = {"rust": "src.rs", "c": "main.c", "wat": "module.wat"}
MAX_CODE = 1 << 20


def _schema_arg(args: Args, *keys: str) -> Mapping[str, Any] | None:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str) and value.strip():
            value = json.loads(value)
        if value is not None:
            if not isinstance(value, Mapping):
                raise WriterError(f"`{key}` must be a JSON Schema object")
            schema = dict(value)
            if schema.get("type") in ("", None):  # Skillz writes {"type": ""} for "no schema"
                schema["type"] = "object"
            return schema
    return None


def _manifest(args: Args, language: str, source: str, deps: list[str]) -> str:
    import yaml

    data: dict[str, Any] = {"kind": "wasm", "description": str(args.get("description") or "").strip()}
    if not data["description"]:
        raise WriterError("`description` is required: say what the tool does and when to use it")
    input_schema = _schema_arg(args, "inputSchema", "input_schema")
    output_schema = _schema_arg(args, "outputSchema", "output_schema")
    if input_schema is not None:
        data["inputSchema"] = input_schema
    if output_schema is not None:
        data["outputSchema"] = output_schema
    annotations = args.get("annotations")
    if isinstance(annotations, Mapping) and annotations:
        data["annotations"] = dict(annotations)
    build: dict[str, Any] = {"language": language, "source": source}
    if deps:
        build["dependencies"] = deps
    data["build"] = build
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))


async def _build_tool(args: Args, ctx: CallContext) -> ToolResult:
    import anyio
    import anyio.from_thread

    from skillz_engine.runtimes.wasm import build as wasmbuild

    engine = ctx.engine
    if engine is None:
        return ToolResult.error("build_tool needs a running engine with a writable root")
    try:
        name = check_name(args.get("name"))
        code = args.get("code")
        if not isinstance(code, str) or not code.strip():
            raise WriterError("`code` is required: the tool's full source")
        if len(code.encode()) > MAX_CODE:
            raise WriterError(f"`code` is larger than {MAX_CODE >> 20} MiB")
        language = str(args.get("language") or "rust").lower()
        if language not in SOURCE_FILES:
            raise WriterError(f"unknown language {language!r}: use rust, c or wat")
        deps = [str(d) for d in args.get("dependencies") or ()]
        for dep in deps:
            try:
                wasmbuild.parse_dependency(dep)
            except ValueError as exc:
                raise WriterError(str(exc)) from exc
        if deps and language != "rust":
            raise WriterError("`dependencies` are Rust crates; only a rust build can use them")
        source_name = SOURCE_FILES[language]
        manifest = _manifest(args, language, source_name, deps)
        existing = existing_entry(ctx.snapshot, name)
        if existing is not None and not args.get("overwrite"):
            raise WriterError(f"a tool named {name!r} already exists; pass overwrite: true to replace it")
    except (WriterError, ValueError) as exc:
        return ToolResult.error(f"build_tool: {exc}")

    shown = f"{name}/{source_name}"
    source = wasmbuild.Source(language, {source_name: code.encode()}, source_name, tuple(deps),
                              None, {source_name: shown})  # fmt: skip
    steps = iter(range(1, 1000))

    def progress(message: str) -> None:
        try:
            anyio.from_thread.run(ctx.progress, float(next(steps)), None, message)
        except Exception:  # progress is best effort
            return

    await ctx.progress(0.0, None, f"building {name} ({language})")
    try:
        built = await anyio.to_thread.run_sync(
            lambda: wasmbuild.build(engine.state_dir, source, progress=progress)
        )
    except wasmbuild.BuildError as exc:
        where = "\n".join(d.format() for d in exc.diagnostics)
        text = f"build_tool: {name!r} does not build ({exc.message}); nothing was written."
        if where:
            text += f"\n{where}"
        if exc.log.strip():
            from skillz_engine.runtimes.results import tail

            text += f"\ncompiler output:\n{tail(exc.log, 6000)}"
        return ToolResult.error(text)
    try:
        written = write_entry(
            engine,
            name,
            {"manifest.yaml": manifest, source_name: code},
            kind="wasm",
            overwrite=bool(args.get("overwrite")),
            existing=existing,
        )
        snap = await serve_written(engine, written, name)
    except WriterError as exc:
        return ToolResult.error(f"build_tool: {exc}")
    tool = snap.tools.get(name)
    verb = "replaced" if written.replaced else "created"
    how = "from the build cache" if built.cached else f"in {built.seconds:.1f}s"
    info = {
        "name": name,
        "path": str(written.path),
        "language": language,
        "built": "cached" if built.cached else "compiled",
        "moduleBytes": built.module.stat().st_size,
        "served": tool is not None,
    }
    text = (
        f"{verb} wasm tool {name!r} ({language}, built {how}, {info['moduleBytes']} bytes) "
        f"at {written.path}; it is served now: call it as {name!r}."
    )
    return ToolResult.text(text, structured=info)


BUILD_TOOL = ToolDef(
    name="build_tool",
    title="Build a WebAssembly tool",
    description=(
        "Create (or with overwrite: true replace) a tool compiled to WebAssembly from source and serve "
        "it at once. The program reads its arguments as one JSON object on stdin and prints its result "
        "to stdout (JSON matching outputSchema if one is given); a non-zero exit is an error. language: "
        "rust (default; crates in `dependencies` such as `serde_json@1`), c (wasi-libc) or wat. It runs "
        "sandboxed (no network, no files) with time and memory limits. A build error returns the "
        "compiler's message."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Tool name: letters, digits, '.', '_', '-'."},
            "code": {
                "type": "string",
                "description": "The full source (Rust `fn main`, C `int main`, or WAT).",
            },
            "description": {"type": "string", "description": "What the tool does and when to use it."},
            "language": {"type": "string", "enum": ["rust", "c", "wat"], "default": "rust"},
            "inputSchema": {"type": ["object", "string"], "description": "JSON Schema of the arguments."},
            "input_schema": {"type": ["object", "string"], "description": "Alias of inputSchema."},
            "outputSchema": {"type": ["object", "string"], "description": "JSON Schema of the result."},
            "output_schema": {"type": ["object", "string"], "description": "Alias of outputSchema."},
            "annotations": {"type": "object", "description": "MCP tool annotations."},
            "dependencies": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Rust crates: `name`, `name@1.0` or `name@1.0[feature,...]`.",
            },
            "overwrite": {"type": "boolean", "default": False, "description": "Replace an existing tool."},
        },
        "required": ["name", "code", "description"],
    },
    invoke=_build_tool,
    annotations={"destructiveHint": False, "idempotentHint": True, "openWorldHint": False},
    digest="builtin:build_tool:1",
)
