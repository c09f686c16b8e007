"""``import_tool`` and ``skillz-engine import``: copy tool directories out of a git repository.

Unlike ``add_skill_repo``, which mounts a clone as an extra root, an import *copies* entries into
the tree: they become the user's files (editable, versioned with the tree), and each carries a
provenance file, :data:`PROVENANCE` (URL, rev, commit, path in the repository, content digest), so
where it came from and whether it was edited since stay known.

The repository (``https://``, ``file://``, or a GitHub gist's page, a gist being a git repository)
is fetched at the pinned ``rev`` through :mod:`skillz_engine.state.sources`, the only module that
runs git. ``path`` names a directory inside it: an entry itself, or a directory of entries found
the way the tree finds them (a lenient compile of the clone, so only entries that compile are
copied). Before anything is written, every file is read and checked: a symlink leading out of the
repository, a directory symlink, a file over :data:`MAX_FILE` or an import over :data:`MAX_TOTAL`,
an invalid name, and a name clash (with an entry of the tree, a built-in, or another entry of the
import) refuse the whole import. Then each entry goes through the writers' path
(:func:`~skillz_engine.builtins.writers.write_entry` and ``serve_written``): atomic, served before
return; if one does not compile, the entries already written by this import are rolled back.

Updating is explicit: ``update: true`` re-fetches the rev and replaces entries whose provenance
names the same URL; an entry of that name from anywhere else is still a clash.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillz_engine.build.contract import CallContext, EngineHandle
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.builtins.writers import WriterError, Written, check_name, serve_written, write_entry
from skillz_engine.state.sources import MARKER, Source, SourceError, check_path, check_url, clone_url, fetch
from skillz_engine.tree.model import Args, ToolDef, ToolResult
from skillz_engine.tree.parse import MANIFEST_NAMES, SKILL_FILE
from skillz_engine.tree.paths import PathEscape, safe_join
from skillz_engine.tree.scan import ignored_name

__all__ = ["IMPORT_TOOL", "MAX_FILE", "MAX_TOTAL", "PROVENANCE", "Imported", "import_entries"]

PROVENANCE = ".skillz-import.json"
MAX_FILE = 5 * 1024 * 1024  # bytes of one imported file
MAX_TOTAL = 20 * 1024 * 1024  # bytes of one import, all entries


@dataclass(frozen=True, slots=True)
class _Planned:
    """One entry to copy: its name, kind, files and where it was in the repository."""

    name: str
    kind: str
    repo_path: str
    files: dict[str, bytes]
    executable: tuple[str, ...]
    digest: str
    replaces: Path | None


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: the repository's commit and each entry written (name -> directory)."""

    url: str
    rev: str | None
    commit: str
    entries: dict[str, Path]
    replaced: tuple[str, ...]


def content_digest(files: Mapping[str, bytes], executable: tuple[str, ...]) -> str:
    """``sha256:`` of an entry's files: each path, whether it is executable, and its content."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{'x' if rel in executable else '-'}\0".encode())
        h.update(hashlib.sha256(files[rel]).digest())
    return "sha256:" + h.hexdigest()


def _read_entry(clone: Path, entry: Path, budget: list[int]) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """Every file of ``entry`` (inside ``clone``), checked: links stay in the repository, sizes fit."""
    files: dict[str, bytes] = {}
    executable: list[str] = []
    for dirpath, dirnames, filenames in os.walk(entry):
        here = Path(dirpath)
        for d in list(dirnames):
            if ignored_name(d):
                dirnames.remove(d)
            elif (here / d).is_symlink():
                raise WriterError(f"{(here / d).relative_to(clone)} is a directory symlink; it is not copied")
        for f in filenames:
            path = here / f
            rel_repo = path.relative_to(clone).as_posix()
            rel = path.relative_to(entry).as_posix()
            if rel in (PROVENANCE, MARKER):  # an earlier import's record; the clone's marker
                continue
            try:
                real = safe_join(clone, rel_repo, allow_hidden=True)  # a link out of the clone raises
            except PathEscape as exc:
                raise WriterError(f"{rel_repo} leads outside the repository ({exc.reason}); refused") from exc
            info = real.stat()
            if not stat.S_ISREG(info.st_mode):
                raise WriterError(f"{rel_repo} is not a regular file; refused")
            if info.st_size > MAX_FILE:
                raise WriterError(f"{rel_repo} is {info.st_size} bytes, over the {MAX_FILE} byte limit")
            budget[0] -= info.st_size
            if budget[0] < 0:
                raise WriterError(f"the import is over its {MAX_TOTAL} byte limit (at {rel_repo})")
            files[rel] = real.read_bytes()
            if info.st_mode & 0o111:
                executable.append(rel)
    return files, tuple(sorted(executable))


def _default_name(url: str) -> str:
    """The name of an entry that is a whole repository: the repository's name."""
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")


def _is_entry(d: Path) -> bool:
    return any((d / n).is_file() for n in (*MANIFEST_NAMES, SKILL_FILE))


def _entry_dirs(base: Path) -> list[Path]:
    """The entry directories at or under ``base``, outermost only, found as the scanner finds them
    (dot-directories, ``node_modules``, environments skipped; symlinked directories not followed)."""
    if _is_entry(base):
        return [base]
    out: list[Path] = []
    for dirpath, dirnames, _ in os.walk(base):
        here = Path(dirpath)
        if here != base and _is_entry(here):
            out.append(here)
            dirnames.clear()
            continue
        dirnames[:] = sorted(d for d in dirnames if not ignored_name(d) and not (here / d).is_symlink())
    return sorted(out)


def _compiled(staged: Path, builtins: Any) -> dict[str, tuple[str, str]]:
    """Directory name -> (entry name, kind) of the staged entries that compile; :class:`WriterError`
    with the diagnostics when one does not."""
    from skillz_engine.build.compile import Tree
    from skillz_engine.builtins.writers import format_diagnostics

    tree = Tree([staged], lenient=True, state_dir=staged / ".skillz", builtins=builtins)
    tree.full_scan()
    snap = tree.snapshot()
    errors = [d for d in snap.diagnostics if d.is_error]
    if errors:
        detail = format_diagnostics(errors)
        raise WriterError(f"the imported entries do not compile; nothing was written:\n{detail}")
    return {
        spec.dir.name: (spec.name, spec.kind)
        for key, spec in snap.specs.items()
        if key in snap.entries and spec.owner is None
    }


def _provenance_url(entry: Path) -> str | None:
    try:
        data = json.loads((entry / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("url") if isinstance(data, dict) else None
    return url if isinstance(url, str) else None


def _plan(
    snapshot: Snapshot,
    clone: Path,
    base: Path,
    default_name: str,
    url: str,
    *,
    update: bool,
    name: str | None,
) -> list[_Planned]:
    """Every entry to copy, read and checked, or :class:`WriterError` refusing the whole import."""
    dirs = _entry_dirs(base)
    if not dirs:
        where = base.relative_to(clone).as_posix()
        raise WriterError(f"no entry (a manifest or SKILL.md) at {where!r} of {url} or below it")
    if name is not None and len(dirs) != 1:
        raise WriterError(f"`name` renames a single entry; this import holds {len(dirs)}")
    budget = [MAX_TOTAL]
    read: dict[str, tuple[Path, dict[str, bytes], tuple[str, ...]]] = {}
    for d in dirs:
        dir_name = name or (default_name if d == clone else d.name)
        check_name(dir_name)
        if dir_name in read:
            raise WriterError(f"the import holds two entries named {dir_name!r}")
        files, executable = _read_entry(clone, d, budget)
        read[dir_name] = (d, files, executable)
    with tempfile.TemporaryDirectory(prefix="skillz-import-") as tmp:
        staged = Path(tmp) / "tree"
        for dir_name, (_, files, executable) in read.items():
            for rel, content in files.items():
                target = staged / dir_name / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                if rel in executable:
                    target.chmod(0o755)
        compiled = _compiled(staged, snapshot.builtins)
    builtin_names = {t.name for t in snapshot.builtins.tools}
    existing = {spec.name: spec.dir for spec in snapshot.specs.values()}
    planned: list[_Planned] = []
    for dir_name, (d, files, executable) in read.items():
        entry_name, kind = compiled.get(dir_name, (dir_name, ""))
        if not kind:
            raise WriterError(f"{d.relative_to(clone).as_posix()} was not compiled; nothing was written")
        if entry_name in builtin_names:
            raise WriterError(f"{entry_name!r} is a built-in tool's name; import it under another `name`")
        replaces = existing.get(entry_name)
        if replaces is not None and not (update and _provenance_url(replaces) == url):
            same = _provenance_url(replaces) == url
            why = "pass update: true to update it" if same else "it was not imported from this URL"
            raise WriterError(f"an entry named {entry_name!r} already exists ({replaces}); {why}")
        repo_path = d.relative_to(clone).as_posix()
        planned.append(
            _Planned(
                dir_name, kind, repo_path, files, executable, content_digest(files, executable), replaces
            )
        )
    return planned


async def import_entries(
    engine: EngineHandle,
    snapshot: Snapshot,
    url: str,
    *,
    rev: str | None = None,
    path: str | None = None,
    update: bool = False,
    name: str | None = None,
) -> Imported:
    """Import the entries at ``path`` of ``url`` at ``rev`` into the tree and serve them.

    Raises :class:`WriterError` (nothing written) when the repository cannot be fetched or the
    import is refused, or when an entry does not compile (the import's entries are rolled back).
    """
    import anyio

    url = clone_url(url)
    path = (path or "").strip().strip("/") or None
    problem = check_url(url) or check_path(path)
    if problem:
        raise WriterError(problem)
    source = Source(url, rev or None, path, "import")
    try:
        fetched = await anyio.to_thread.run_sync(lambda: fetch(engine.state_dir, source, refresh=update))
        base = fetched.root
    except SourceError as exc:
        raise WriterError(f"cannot import from {url}: {exc}") from None
    except PathEscape as exc:
        raise WriterError(f"{url} has no directory {path!r} to import ({exc.reason})") from None
    planned = await anyio.to_thread.run_sync(
        lambda: _plan(snapshot, fetched.dir, base, _default_name(url), url, update=update, name=name)
    )
    served: list[Written] = []
    try:
        for p in planned:
            provenance = {
                "url": url,
                "rev": rev,
                "commit": fetched.commit,
                "path": p.repo_path,
                "digest": p.digest,
                "imported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            files: dict[str, str | bytes] = {**p.files, PROVENANCE: json.dumps(provenance, indent=2) + "\n"}
            w = write_entry(
                engine,
                p.name,
                files,
                kind=p.kind,
                overwrite=p.replaces is not None,
                existing=p.replaces,
                executable=p.executable,
            )
            await serve_written(engine, w, p.name)  # rolls ``w`` back itself when it fails
            served.append(w)
    except WriterError:
        for w in served:
            w.rollback()
        if served:
            await engine.reload([w.path for w in served])
        raise
    return Imported(
        url,
        rev,
        fetched.commit,
        {w.path.name: w.path for w in served},
        tuple(p.name for p in planned if p.replaces is not None),
    )


async def _import_tool(args: Args, ctx: CallContext) -> ToolResult:
    engine = ctx.engine
    if engine is None:
        return ToolResult.error("import_tool needs a running engine (skillz-engine serve)")
    url = args.get("url")
    if not isinstance(url, str) or not url.strip():
        return ToolResult.error("import_tool needs `url`: a git repository (https:// or file://) or a gist")
    texts = {k: args.get(k) for k in ("rev", "path", "name")}
    if any(v is not None and not isinstance(v, str) for v in texts.values()):
        return ToolResult.error("rev, path and name must be strings")
    try:
        done = await import_entries(
            engine,
            ctx.snapshot,
            url,
            rev=texts["rev"] or None,
            path=texts["path"],
            update=args.get("update") is True,
            name=texts["name"] or None,
        )
    except WriterError as exc:
        return ToolResult.error(f"import_tool: {exc}")
    payload = {
        "url": done.url,
        "rev": done.rev,
        "commit": done.commit,
        "entries": {n: str(p) for n, p in done.entries.items()},
        "replaced": list(done.replaced),
    }
    text = (
        f"Imported {', '.join(done.entries)} from {done.url} at commit {done.commit[:12]}; served now"
        + (f" (updated: {', '.join(done.replaced)})" if done.replaced else "")
        + "."
    )
    if done.rev is None:
        text += f" No rev given: pin `rev: {done.commit}` next time for the same files."
    return ToolResult.text(text, structured=payload)


IMPORT_TOOL = ToolDef(
    name="import_tool",
    title="Import a tool from git",
    description=(
        "Copy tool (or skill, prompt, ...) directories from a git repository or a GitHub gist into this "
        "server's tree and serve them at once. `url`: https:// or file:// clone URL, or a gist's page; "
        "`rev`: a commit or tag to pin; `path`: the entry directory, or a directory of entries, inside "
        "the repository; `name`: rename a single entry; `update: true` replaces entries imported "
        "earlier from the same URL. Each entry records its provenance in .skillz-import.json."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "Clone URL (https:// or file://) or gist URL."},
            "rev": {"type": "string", "description": "Commit SHA or tag (a branch works but moves)."},
            "path": {"type": "string", "description": "Directory in the repository (default: its root)."},
            "name": {"type": "string", "description": "The entry's name in this tree (a single entry)."},
            "update": {"type": "boolean", "description": "Re-fetch; replace an earlier import of this URL."},
        },
        "required": ["url"],
        "additionalProperties": False,
    },
    invoke=_import_tool,
    annotations={
        "readOnlyHint": False,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": True,
    },
    digest="builtin:import_tool:1",
)
