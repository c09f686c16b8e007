"""``pipeline``: create, list and delete pipeline tools (Skillz's arguments).

``create`` takes ``name``, ``description``, ``steps`` and ``tags``; a step is Skillz's ``{name?,
tool, args?, continue_on_error?, condition?}`` or this engine's ``{id, tool, args, when, onError,
retries, timeout}``. Every step's ``tool`` is resolved against the snapshot serving now *before*
anything is written (Skillz accepted unknown tools and failed on every call), then the pipeline is
one ``pipelines/<name>/manifest.yaml`` written through :mod:`skillz_engine.builtins.writers`
(atomic, recorded in the history, served before this returns). ``list`` filters by ``tag``;
``delete`` is ``delete_tool`` for a pipeline (refused while another entry uses it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from skillz_engine.build.contract import CallContext
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.builtins.writers import WriterError, check_name, existing_entry, serve_written, write_entry
from skillz_engine.tree.model import Args, ToolDef, ToolResult
from skillz_engine.tree.specs import PipelineSpec

_MODERN = ("id", "tool", "args", "when", "onError", "retries", "timeout")


def _step(raw: Any, i: int, snap: Snapshot, name: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise WriterError(f"steps[{i}] must be an object with at least `tool`")
    tool = raw.get("tool")
    if not isinstance(tool, str) or not tool:
        raise WriterError(f"steps[{i}].tool must name a tool")
    if tool == name:
        raise WriterError(f"steps[{i}] calls the pipeline {name!r} itself")
    if tool not in snap.tools:
        near = snap.suggest(tool)
        raise WriterError(
            f"steps[{i}].tool {tool!r} is not a tool this server serves"
            + (f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else "")
            + "; nothing was written"
        )
    step: dict[str, Any] = {"id": str(raw.get("id") or raw.get("name") or f"step{i + 1}"), "tool": tool}
    for key in _MODERN[2:]:
        if key in raw:
            step[key] = raw[key]
    if "when" not in step and raw.get("condition"):
        step["when"] = raw["condition"]
    if "onError" not in step and raw.get("continue_on_error"):
        step["onError"] = "continue"
    return step


def manifest(args: Args, snap: Snapshot, name: str) -> str:
    """The pipeline's manifest text, every step's tool resolved (or :class:`WriterError`)."""
    description = args.get("description")
    if not isinstance(description, str) or not description.strip():
        raise WriterError("description must be a non-empty string: it is what models read to pick the tool")
    steps = args.get("steps")
    if not isinstance(steps, list) or not steps:
        raise WriterError("steps must be a non-empty list of {tool, args, ...}")
    data: dict[str, Any] = {"kind": "pipeline", "description": description.strip()}
    tags = args.get("tags")
    if tags:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise WriterError("tags must be a list of strings")
        data["tags"] = list(tags)
    schema = args.get("inputSchema") or args.get("input_schema")
    if schema is not None:
        if not isinstance(schema, Mapping):
            raise WriterError("inputSchema must be a JSON Schema object")
        data["inputSchema"] = dict(schema)
    data["steps"] = [_step(s, i, snap, name) for i, s in enumerate(steps)]
    ids = [s["id"] for s in data["steps"]]
    if len(set(ids)) != len(ids):
        raise WriterError(f"step names must be unique: {ids}")
    return "# written by the pipeline built-in\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


async def _create(args: Args, ctx: CallContext) -> ToolResult:
    engine = ctx.engine
    if engine is None:
        return ToolResult.error("pipeline needs a running engine (it writes into the served tree)")
    snap = ctx.snapshot
    name = check_name(args.get("name"))
    tool = snap.tools.get(name)
    if tool is not None and tool.entry is None:
        raise WriterError(f"{name!r} is a built-in tool; pick another name")
    text = manifest(args, snap, name)
    written = write_entry(
        engine,
        name,
        {"manifest.yaml": text},
        kind="pipeline",
        overwrite=bool(args.get("overwrite", False)),
        existing=existing_entry(snap, name),
    )
    await serve_written(engine, written, name)
    return ToolResult.text(
        f"Created pipeline {name!r} in {written.path}; it is served now: call it as {name!r}."
    )


def _list(args: Args, snap: Snapshot) -> ToolResult:
    tag = args.get("tag")
    rows: list[dict[str, Any]] = []
    for key, spec in sorted(snap.specs.items()):
        record = spec.record
        if spec.kind != "pipeline" or not isinstance(record, PipelineSpec):
            continue
        if tag and tag not in record.tags:
            continue
        rows.append(
            {
                "name": spec.name,
                "description": record.description,
                "tags": list(record.tags),
                "steps": [s.tool for s in record.steps],
                "served": key in snap.entries,
            }
        )
    text = "\n".join(f"{r['name']}: {' -> '.join(r['steps'])}  {r['description']}" for r in rows)
    return ToolResult(
        ({"type": "text", "text": (text or "No pipelines.") + "\n"},), {"pipelines": rows}, False
    )


async def _pipeline(args: Args, ctx: CallContext) -> ToolResult:
    from skillz_engine.builtins.delete import delete

    action = str(args.get("action") or "")
    try:
        if action == "create":
            return await _create(args, ctx)
        if action == "list":
            return _list(args, ctx.snapshot)
        if action == "delete":
            if ctx.engine is None:
                return ToolResult.error("pipeline needs a running engine (it changes the served tree)")
            name = check_name(args.get("name"))
            return ToolResult.text(await delete(ctx.engine, ctx.snapshot, name, "pipeline"))
    except WriterError as exc:
        return ToolResult.error(f"pipeline {action}: {exc}")
    return ToolResult.error(f"pipeline: unknown action {action!r}: use create, list or delete")


_STEP = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "The step's id (later steps read `steps.<name>`)."},
        "tool": {"type": "string", "description": "A tool this server serves."},
        "args": {"description": "Arguments; strings are templates ({{ input.x }}, {{ prev }}, $prev.x)."},
        "continue_on_error": {"type": "boolean", "description": "Go on when this step fails."},
        "condition": {"type": "string", "description": "Run the step only when this holds."},
    },
    "required": ["tool"],
}

PIPELINE = ToolDef(
    name="pipeline",
    title="Pipelines: create, list, delete",
    description=(
        "Manage pipeline tools: tools that call other tools in sequence. action=create (name, "
        "description, steps: [{name, tool, args, continue_on_error, condition}], tags; every step's tool "
        "must exist; served before this returns), list (tag filters), delete (name)."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["create", "list", "delete"]},
            "name": {"type": "string", "description": "The pipeline's name (create, delete)."},
            "description": {"type": "string", "description": "What the pipeline does (create)."},
            "steps": {"type": "array", "items": _STEP, "description": "The steps, in order (create)."},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Labels (create)."},
            "tag": {"type": "string", "description": "list: only pipelines with this tag."},
            "inputSchema": {"type": "object", "description": "JSON Schema of the pipeline's arguments."},
            "overwrite": {"type": "boolean", "default": False, "description": "create: replace one."},
        },
        "required": ["action"],
    },
    invoke=_pipeline,
    annotations={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False},
    digest="builtin:pipeline:1",
)
