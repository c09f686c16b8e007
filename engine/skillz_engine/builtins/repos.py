"""``add_skill_repo``: mount a git repository of skills (and tools) as an extra root.

The repository is cloned at the pinned revision into the state directory (see
:mod:`skillz_engine.state.sources`), its tree is compiled leniently on the side to report what it holds
and what is wrong with it, then the pin is written to ``<state>/sources.json`` and the engine
mounts the clone in one snapshot swap: the repository is served whole or not at all. Calling it
again for the same repository and ``path`` replaces the pin (a new ``rev`` is an update; the same
branch is re-fetched). Pins in ``skillz.yaml`` belong to the user and are not overridden.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skillz_engine.build.compile import Tree
from skillz_engine.build.contract import CallContext
from skillz_engine.build.snapshot import Builtins, Snapshot
from skillz_engine.tree.model import Args, ToolDef, ToolResult

MAX_REPORTED = 20


def _inventory(root: Path, builtins: Builtins) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """What a clone holds (names by kind) and its diagnostics, compiled leniently on the side,
    beside the same built-ins as the served tree (a clash with one is reported)."""
    tree = Tree([root], lenient=True, state_dir=root / ".skillz", builtins=builtins)
    tree.full_scan()
    snap = tree.snapshot()
    kinds: dict[str, list[str]] = {}
    for key, spec in snap.specs.items():
        if key in snap.entries:
            kinds.setdefault(spec.kind, []).append(spec.name)
    return {k: sorted(v) for k, v in kinds.items()}, [d.to_json() for d in snap.diagnostics]


def _served_from(snap: Snapshot, root: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, spec in snap.specs.items():
        if key in snap.entries and spec.root == root:
            out.setdefault(spec.kind, []).append(spec.name)
    return {k: sorted(v) for k, v in out.items()}


async def _add_skill_repo(args: Args, ctx: CallContext) -> ToolResult:
    import anyio

    from skillz_engine.state.sources import (
        Source,
        SourceError,
        check_path,
        check_url,
        config_sources,
        fetch,
        pin_commit,
        read_pins,
        write_pins,
    )

    url = str(args.get("url") or "").strip()
    rev = str(args.get("rev") or "").strip() or None
    path = str(args.get("path") or "").strip().strip("/") or None
    problem = check_url(url) or check_path(path)
    if problem:
        return ToolResult.error(problem)
    engine = ctx.engine
    if engine is None:
        return ToolResult.error("add_skill_repo needs a running engine (skillz-engine serve)")
    snap = ctx.snapshot
    source = Source(url, rev, path, "pins")
    for pinned in config_sources(snap.config):
        if pinned.ident == source.ident:
            return ToolResult.error(
                f"{url} is pinned in skillz.yaml (rev {pinned.rev}); edit `sources` there to change it"
            )
    try:
        fetched = await anyio.to_thread.run_sync(lambda: fetch(engine.state_dir, source, refresh=True))
        ref = fetched.ref  # "default" when no rev was given: reported, then pinned as the commit
        fetched = pin_commit(engine.state_dir, fetched)
    except (SourceError, OSError) as exc:
        return ToolResult.error(f"cannot add {url}: {exc}. Nothing was changed.")
    kinds, diags = await anyio.to_thread.run_sync(_inventory, fetched.root, snap.builtins)
    if not kinds:
        return ToolResult.error(
            f"{url} at {rev or 'HEAD'} ({fetched.commit[:12]}) holds no skills or tools"
            + (f" under {path!r}" if path else "")
            + ". Nothing was changed. Expected skills/<name>/SKILL.md or <name>/SKILL.md."
        )
    pins = [p for p in read_pins(engine.state_dir) if p.ident != source.ident]
    # no rev: pin the commit we fetched, so the next start serves exactly this
    pinned = Source(url, rev if rev is not None else fetched.commit, path, "pins")
    write_pins(engine.state_dir, [*pins, pinned])
    new = await engine.mount_sources()
    served = _served_from(new, fetched.root.resolve())
    warnings = []
    if ref == "branch":
        warnings.append(
            f"rev {rev!r} is a branch, which moves: serving commit {fetched.commit[:12]}; call "
            "add_skill_repo again to update, or pin a tag or commit"
        )
    elif ref == "default":
        warnings.append(f"no rev given: pinned the default branch's current commit {fetched.commit[:12]}")
    errors = [d for d in diags if d.get("severity") == "error"]
    payload: dict[str, Any] = {
        "url": url,
        "rev": pinned.rev,
        "ref": ref,
        "commit": fetched.commit,
        "path": path,
        "root": str(fetched.root),
        "served": served,
        "found": kinds,
        "errors": len(errors),
        "warnings": len(diags) - len(errors),
        "diagnostics": diags[:MAX_REPORTED],
        "notes": warnings,
    }
    skills = served.get("skill", [])
    text = (
        f"Mounted {url} at {pinned.rev} (commit {fetched.commit[:12]}): {len(skills)} skills"
        + (f" ({', '.join(skills[:20])})" if skills else "")
        + f", {sum(len(v) for k, v in served.items() if k != 'skill')} other entries."
    )
    skipped = sorted(set(kinds.get("skill", [])) - set(skills))
    if skipped:
        text += f" Not served (name clashes): {', '.join(skipped)}."
    if diags:
        text += (
            f" {len(errors)} errors, {len(diags) - len(errors)} warnings in the repository (entries with "
            "errors are skipped; the rest is served): see `diagnostics`."
        )
    for w in warnings:
        text += f"\nWarning: {w}."
    return ToolResult(({"type": "text", "text": text + "\n"},), payload, False)


REPO_TOOLS: tuple[ToolDef, ...] = (
    ToolDef(
        name="add_skill_repo",
        title="Add a skill repository",
        description=(
            "Clone a git repository of Agent Skills (https:// or file:// URL) at a pinned revision and "
            "serve its skills (layouts skills/<name>/SKILL.md or <name>/SKILL.md). Call again with a new "
            "rev to update."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "url": {"type": "string", "description": "Clone URL (https:// or file://)."},
                "rev": {
                    "type": "string",
                    "description": "Commit SHA or tag (a branch works but moves). Default: the current "
                    "commit of the default branch, pinned.",
                },
                "path": {"type": "string", "description": "Subdirectory of the repository to serve."},
            },
            "required": ["url"],
        },
        invoke=_add_skill_repo,
        annotations={"readOnlyHint": False, "destructiveHint": False, "openWorldHint": True},
        digest="builtin:add_skill_repo:1",
    ),
)
