"""``delete_tool``: take an entry out of the tree, into its history (never a recursive delete).

Skillz's ``delete_tool(tool_name)`` ran ``remove_dir_all`` on ``TOOLS_DIR/<name>`` (with ``..``, on
its parent). Here the name must be an entry of the served tree: not a built-in, not an entry of a
mounted repository (``add_skill_repo``), and not one another entry names (a pipeline's step, a
bundle's skill, a skill's ``dependsOn``, a tool's required service): those are named in the refusal.
The directory is moved into ``<state>/versions/<entry>/`` as a *deleted* version
(:func:`~skillz_engine.builtins.writers.remove_entry`), so ``version rollback`` brings it back.
"""

from __future__ import annotations

from skillz_engine.build.contract import CallContext, EngineHandle
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.builtins.writers import (
    WriterError,
    check_name,
    entry_path,
    refuse_single_file,
    remove_entry,
)
from skillz_engine.tree.kinds import KINDS
from skillz_engine.tree.model import Args, EntrySpec, ToolDef, ToolResult


def what_it_is(spec: EntrySpec) -> str:
    """What other entries call an entry of this kind in their references."""
    becomes = KINDS[spec.kind].becomes if spec.kind in KINDS else spec.kind
    return "tool" if becomes == "tool" else becomes


def referrers(snap: Snapshot, spec: EntrySpec) -> list[str]:
    """``kind name`` of every other entry of the snapshot that names ``spec``."""
    what = what_it_is(spec)
    out = []
    for other in snap.specs.values():
        if other.dir != spec.dir and any(r.what == what and r.name == spec.name for r in other.refs):
            out.append(f"{other.kind} {other.name!r} ({other.display})")
    return sorted(set(out))


def refuse_referenced(snap: Snapshot, spec: EntrySpec) -> None:
    users = referrers(snap, spec)
    if users:
        raise WriterError(f"{spec.name!r} is used by " + ", ".join(users) + ": change or delete those first")


def find_entry(engine: EngineHandle, snap: Snapshot, name: str, kind: str | None = None) -> EntrySpec:
    """The tree's entry called ``name`` (of ``kind``), or a refusal saying why there is none to delete."""
    tool = snap.tools.get(name)
    if tool is not None and tool.entry is None:
        raise WriterError(f"{name!r} is a built-in tool: switch it off with `builtins.disabled` instead")
    specs = [s for s in snap.specs.values() if s.name == name and (kind is None or s.kind == kind)]
    if not specs:
        raise WriterError(f"no entry called {name!r}" + (f" of kind {kind}" if kind else "") + " in the tree")
    if len(specs) > 1:
        kinds = ", ".join(sorted(s.kind for s in specs))
        raise WriterError(f"{name!r} names several entries ({kinds}): pass kind")
    spec = specs[0]
    if spec.owner is not None:
        raise WriterError(f"{name!r} belongs to skill {spec.owner!r}: delete the skill, or edit it")
    refuse_single_file(spec)
    entry_path(engine, spec.dir)  # outside the tree's roots (a mounted repository) refuses
    return spec


async def delete(engine: EngineHandle, snap: Snapshot, name: str, kind: str | None = None) -> str:
    spec = find_entry(engine, snap, name, kind)
    refuse_referenced(snap, spec)
    version, after = await remove_entry(engine, spec.dir, spec.kind)
    if any(s.dir == spec.dir for s in after.specs.values()):
        raise WriterError(f"{name!r} is still served after its directory was moved away")
    return (
        f"Deleted {spec.kind} {name!r}: {version.entry} is now version {version.id} of its history "
        f"(deleted). `version` action=rollback tool_name={version.entry} brings it back."
    )


async def _delete_tool(args: Args, ctx: CallContext) -> ToolResult:
    engine = ctx.engine
    if engine is None:
        return ToolResult.error("delete_tool needs a running engine (it changes the served tree)")
    try:
        name = check_name(args.get("tool_name") or args.get("name"))
        kind = args.get("kind")
        return ToolResult.text(await delete(engine, ctx.snapshot, name, str(kind) if kind else None))
    except WriterError as exc:
        return ToolResult.error(f"delete_tool: {exc}")


DELETE_TOOL = ToolDef(
    name="delete_tool",
    title="Delete an entry",
    description=(
        "Remove a tool (or another entry: prompt, skill, pipeline, ...) from the tree. It is moved "
        "into the entry's history, so `version` rollback restores it. Refused for built-ins, entries "
        "of mounted repositories and entries other entries use (they are named)."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "tool_name": {"type": "string", "description": "The entry's name."},
            "name": {"type": "string", "description": "Same as tool_name."},
            "kind": {"type": "string", "description": "Its kind, when several entries share the name."},
        },
    },
    invoke=_delete_tool,
    annotations={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False},
    digest="builtin:delete_tool:1",
)
