"""``version``: list an entry's recorded versions, diff any two, roll back to one.

Skillz's arguments (``action``: list, info, rollback; ``tool_name``; ``version``) plus ``diff``
(``from`` and ``to``). The history is :mod:`skillz_engine.state.history`: every writer records the
state it leaves. A rollback writes a recorded state again through the writers' path (atomic,
served before it returns, refused and undone when it does not compile) and is itself recorded,
so a rollback is undone by rolling back to the version before it. The CLI's ``skillz-engine
versions`` calls the same functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skillz_engine.build.contract import CallContext, EngineHandle
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.builtins.writers import (
    WriterError,
    entry_path,
    remove_entry,
    serve_written,
    writable_root,
    write_entry,
)
from skillz_engine.state.history import History, HistoryError, Version
from skillz_engine.tree.model import Args, ToolDef, ToolResult


def resolve(engine: EngineHandle, snap: Snapshot, name: str) -> str:
    """The history path of the entry called ``name`` (served now, or with history only); a path
    like ``tools/hello`` is taken as it is."""
    if "/" in name:
        return name.strip("/")
    found: set[str] = set()
    for spec in snap.specs.values():
        if spec.name == name:
            try:
                found.add(entry_path(engine, spec.dir)[1])
            except WriterError:
                continue  # an entry of a mounted repository: not the tree's, no history
    found.update(History(engine.state_dir).find(name))
    if not found:
        raise HistoryError(f"no entry called {name!r} in the tree or its history")
    if len(found) > 1:
        raise HistoryError(f"{name!r} names several entries ({', '.join(sorted(found))}): pass the path")
    return found.pop()


def describe(v: Version) -> str:
    who = v.writer + (f" ({v.client})" if v.client else "")
    state = "deleted" if v.deleted else (v.digest or "")[:19]
    return f"{v.id}  {v.to_json()['time']}  {v.action:<8} {who:<32} {state}" + (
        f"  {v.note}" if v.note else ""
    )


def listing(history: History, entry: str | None) -> tuple[str, dict[str, Any]]:
    """Text and JSON of one entry's versions, or of every entry with history."""
    if entry is None:
        entries = history.entries()
        lines = [f"{e}: {len(history.versions(e))} versions" for e in entries]
        return ("\n".join(lines) or "No versions recorded yet."), {"entries": entries}
    versions = history.versions(entry)
    if not versions:
        raise HistoryError(f"{entry} has no recorded versions yet")
    text = f"{entry}: {len(versions)} versions (oldest first)\n" + "\n".join(describe(v) for v in versions)
    return text, {"entry": entry, "versions": [v.to_json() for v in versions]}


def _files(version: Version) -> tuple[dict[str, str | bytes], tuple[str, ...]]:
    files: dict[str, str | bytes] = {}
    executable: list[str] = []
    for path in sorted(version.files.rglob("*")):
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(version.files).as_posix()
            files[rel] = path.read_bytes()
            if path.stat().st_mode & 0o111:
                executable.append(rel)
    return files, tuple(executable)


def _current(engine: EngineHandle, entry: str) -> Path | None:
    return next((r / entry for r in engine.roots if (r / entry).is_dir()), None)


async def rollback(engine: EngineHandle, snap: Snapshot, entry: str, version: str | int | None) -> str:
    """Make ``entry`` what it was at ``version`` (default: the version before the latest), served
    before this returns; the rollback is recorded as the entry's next version."""
    from skillz_engine.builtins.delete import refuse_referenced

    history = History(engine.state_dir)
    target_version = history.get(entry, -2 if version is None else version)
    note = f"to version {target_version.id}"
    current = _current(engine, entry)
    if target_version.deleted:
        if current is None:
            raise WriterError(f"{entry} is already absent (as in version {target_version.id})")
        spec = next((s for s in snap.specs.values() if s.dir == current), None)
        if spec is not None:
            refuse_referenced(snap, spec)
        kind = spec.kind if spec is not None else (target_version.kind or "")
        done, _ = await remove_entry(engine, current, kind, action="rollback", note=note)
    else:
        files, executable = _files(target_version)
        target = current or writable_root(engine) / entry
        written = write_entry(
            engine,
            target.name,
            files,
            kind=target_version.kind or "",
            overwrite=True,
            existing=current,
            target=target,
            executable=executable,
        )
        await serve_written(engine, written, target.name, action="rollback", note=note)
        latest = history.latest(entry)
        assert latest is not None
        done = latest
    return (
        f"Rolled back {entry} to version {target_version.id}; it is served now and recorded as "
        f"version {done.id} (roll back to {int(done.id) - 1:04d} to undo)."
    )


async def _version(args: Args, ctx: CallContext) -> ToolResult:
    engine = ctx.engine
    if engine is None:
        return ToolResult.error("version needs a running engine (it reads the served tree's history)")
    action = str(args.get("action") or "list")
    raw = args.get("tool_name") or args.get("name")
    history = History(engine.state_dir)
    try:
        entry = resolve(engine, ctx.snapshot, str(raw)) if raw else None
        if action in ("list", "info"):
            text, payload = listing(history, entry)
            return ToolResult(({"type": "text", "text": text + "\n"},), payload, False)
        if entry is None:
            return ToolResult.error(f"version {action} needs tool_name (the entry)")
        if action == "diff":
            a, b = args.get("from", -2), args.get("to", -1)
            diff = history.diff(entry, a, b)
            va, vb = history.get(entry, a), history.get(entry, b)
            text = diff or f"versions {va.id} and {vb.id} of {entry} are the same"
            payload = {"entry": entry, "from": va.id, "to": vb.id, "diff": diff}
            return ToolResult(({"type": "text", "text": text},), payload, False)
        if action == "rollback":
            return ToolResult.text(await rollback(engine, ctx.snapshot, entry, args.get("version")))
        return ToolResult.error(f"unknown action {action!r}: use list, diff or rollback")
    except (HistoryError, WriterError) as exc:
        return ToolResult.error(f"version: {exc}")


VERSION = ToolDef(
    name="version",
    title="Entry versions: list, diff, roll back",
    description=(
        "The history of the tree's entries: every writer (register_script, build_tool, pipeline, "
        "delete_tool, ...) records the state it leaves. action=list (tool_name omitted: every entry "
        "with history), diff (from, to: version numbers, default the latest two), rollback (version: "
        "default the one before the latest; served before this returns, and itself undoable)."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["list", "info", "diff", "rollback"], "default": "list"},
            "tool_name": {"type": "string", "description": "The entry: its name, or its path (tools/x)."},
            "name": {"type": "string", "description": "Same as tool_name."},
            "version": {"type": ["string", "integer"], "description": "rollback: the version to restore."},
            "from": {"type": ["string", "integer"], "description": "diff: the older version (default -2)."},
            "to": {"type": ["string", "integer"], "description": "diff: the newer version (default -1)."},
        },
    },
    invoke=_version,
    annotations={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False},
    digest="builtin:version:1",
)
