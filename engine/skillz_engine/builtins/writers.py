"""The path every built-in writer takes: the filesystem is the single source of truth.

A writer (``register_script``, ``build_tool``, ...) never changes the served registry directly. It

1. checks the name (:func:`check_name`: no ``..``, no separators, no absolute paths, no NUL);
2. stages the entry's files in a dot-directory next to the target (ignored by the scanner and the
   watcher), then swaps it into place (:func:`write_entry`): a new entry is one ``rename``; a
   replaced one is exchanged atomically (``renameat2(RENAME_EXCHANGE)``) after the state it
   replaces is in the history (:class:`~skillz_engine.state.history.History`: recorded as
   ``external`` unless it is already the entry's latest version);
3. asks the engine to apply the change now (:func:`serve_written`) and returns only once the new
   snapshot serves it. When the written entry does not compile, the previous files come back
   (:meth:`Written.rollback`) and the diagnostics are the writer's error: nothing is lost. When it
   serves, the new state is the entry's next version, attributed to the writer and the client
   (:func:`attributed` wraps every writer built-in of the catalog, so a writer records who it is
   without passing it along), and with ``history: git`` one commit.

:func:`remove_entry` is the same path for a removal: the directory is moved into the history.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from skillz_engine.build.contract import CallContext, EngineHandle
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.errors import RuntimeFailure
from skillz_engine.state.history import Author, History, Version
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.kinds import KINDS
from skillz_engine.tree.model import Args, EntrySpec, ToolDef, ToolResult
from skillz_engine.tree.paths import PathEscape, is_inside, safe_join

log = logging.getLogger("skillz_engine.builtins.writers")

NAME_RULE = "1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class WriterError(RuntimeFailure):
    """A writer refused or failed; the message says why and what to do (it becomes ``isError``)."""


def check_name(name: object) -> str:
    """``name`` if it is a safe entry name, else :class:`WriterError`."""
    from skillz_engine.tree.validate import ENTRY_NAME

    if not isinstance(name, str) or not name:
        raise WriterError("name must be a non-empty string")
    if "\x00" in name or "/" in name or "\\" in name or ".." in name or Path(name).is_absolute():
        raise WriterError(f"invalid name {name!r}: no '..', path separators, absolute paths or NUL")
    if not ENTRY_NAME.fullmatch(name):
        raise WriterError(f"invalid name {name!r}: {NAME_RULE}")
    return name


_AUTHOR: contextvars.ContextVar[Author | None] = contextvars.ContextVar("skillz_writer", default=None)


def current_author() -> Author:
    """Who is writing now: the writer built-in being called and its client's session."""
    return _AUTHOR.get() or Author("unknown")


@contextlib.contextmanager
def writing_as(author: Author) -> Iterator[None]:
    """Attribute the writes made inside the block to ``author`` (the CLI's ``versions rollback``)."""
    token = _AUTHOR.set(author)
    try:
        yield
    finally:
        _AUTHOR.reset(token)


def attributed(tool: ToolDef) -> ToolDef:
    """``tool`` whose writes are recorded as made by it, for the client calling it, and which runs
    under the engine's writers' lock (one writer at a time, across a cluster's replicas too)."""
    invoke = tool.invoke

    async def run(args: Args, ctx: CallContext) -> ToolResult:
        with writing_as(Author(tool.name, ctx.session_id)):
            if ctx.engine is None:  # no engine, nothing to write into: the writer says so itself
                return await invoke(args, ctx)
            async with ctx.engine.writing():
                return await invoke(args, ctx)

    return replace(tool, invoke=run)


def entry_path(engine: EngineHandle, directory: Path) -> tuple[Path, str]:
    """The root holding ``directory`` and the entry's path in it (``tools/hello``): what history
    knows it by. A directory in no root of the tree is refused, and so is anything in the state
    directory: the clones of mounted repositories (``add_skill_repo``) are roots too, but they
    live there and are the repositories' (their files come back at the next fetch)."""
    if is_inside(directory, engine.state_dir):
        raise WriterError(
            f"{directory} belongs to a mounted repository or the engine's state, not the tree: "
            "writers change only the tree (remove a repository by its pin)"
        )
    for root in engine.roots:
        if directory != root and directory.is_relative_to(root) and is_inside(directory, root):
            rel = directory.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                break  # hidden: not an entry the tree serves
            return root, rel.as_posix()
    raise WriterError(f"{directory} is not inside the tree's roots: writers change only the tree")


def writable_root(engine: EngineHandle) -> Path:
    """Where writers put new entries: the first root."""
    if not engine.roots:
        raise WriterError("the engine has no root to write into")
    return engine.roots[0]


def existing_entry(snapshot: Snapshot, name: str) -> Path | None:
    """The directory of the entry called ``name`` (any kind, any root), if there is one. A
    single-file tool refuses: writers write entry directories, and one beside the file would
    shadow it, so the file is edited (or removed) by hand."""
    for spec in snapshot.specs.values():
        if spec.name == name:
            refuse_single_file(spec)
            return spec.dir
    return None


def refuse_single_file(spec: EntrySpec) -> None:
    """Writers change entry directories; a single-file tool is a script of its author's, which
    they neither replace nor move (its history is the author's own, in git)."""
    if spec.single_file:
        raise WriterError(
            f"{spec.name!r} is the single-file tool {spec.display}: writers do not change it; "
            "edit or remove that file, or pick another name"
        )


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); ``False`` where that is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(rc == 0)


@dataclass
class Written:
    """An entry directory a writer put into the tree."""

    path: Path
    backup: Path | None  # the copy of what was replaced, in the history (None for a new entry)
    entry: str | None = None  # the entry's path in its root, as history knows it
    kind: str | None = None

    @property
    def replaced(self) -> bool:
        return self.backup is not None

    def rollback(self) -> None:
        """Put back what was there before (or remove the new entry)."""
        if self.backup is None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        restore = _scratch(self.path.parent, self.path.name, "restore")
        shutil.rmtree(restore)
        shutil.copytree(self.backup, restore, symlinks=True)
        if not _exchange(restore, self.path):
            shutil.rmtree(self.path, ignore_errors=True)
            restore.rename(self.path)
            return
        shutil.rmtree(restore, ignore_errors=True)


def _scratch(parent: Path, name: str, what: str) -> Path:
    """A new hidden directory next to the entry (the scanner and the watcher skip dot names),
    named with this process's id so a later writer can tell a dead process's leftovers."""
    return Path(tempfile.mkdtemp(prefix=f".{name}.{what}-{os.getpid()}-", dir=parent))


def _clear_leftovers(parent: Path, name: str) -> None:
    """Remove the scratch directories of ``name`` left by a writer process that died mid-write
    (kill -9): its pid is gone. A live process's (this one's included) are left alone."""
    for leftover in parent.glob(f".{glob.escape(name)}.*-*-*"):
        _, _, rest = leftover.name[len(name) + 2 :].partition("-")
        pid = rest.partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_entry(
    engine: EngineHandle,
    name: str,
    files: Mapping[str, str | bytes],
    *,
    kind: str,
    overwrite: bool = False,
    existing: Path | None = None,
    executable: tuple[str, ...] = (),
    target: Path | None = None,
) -> Written:
    """Write the entry ``name`` with ``files`` (relative path -> content) into the tree.

    ``existing`` is the directory of an entry of that name found in the snapshot: it is replaced
    in place (it may live under any root) when ``overwrite`` is true, refused otherwise.
    ``target`` is where a new entry goes (default: ``<first root>/<kind's home>/<name>``).
    """
    check_name(name)
    if target is None:
        target = writable_root(engine) / (KINDS[kind].home if kind in KINDS else "tools") / name
    target = existing or target
    _, entry = entry_path(engine, target)
    if (existing is not None or target.exists()) and not overwrite:
        raise WriterError(
            f"an entry named {name!r} already exists ({target}); pass overwrite: true to replace it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(target.parent, name)
    stage = _scratch(target.parent, name, "new")
    try:
        for rel, content in files.items():
            try:
                path = safe_join(stage, rel, allow_hidden=True)
            except PathEscape as exc:
                raise WriterError(f"file {rel!r} cannot be written in the entry: {exc.reason}") from exc
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
            if rel in executable:
                path.chmod(0o755)
        stage.chmod(0o755)
        if not target.exists():
            stage.rename(target)
            return Written(target, None, entry, kind)
        backup = History(engine.state_dir).ensure(entry, target, current_author(), kind=kind).files
        if not _exchange(stage, target):
            old = _scratch(target.parent, name, "old")
            old.rmdir()
            target.rename(old)
            stage.rename(target)
            stage = old
        return Written(target, backup, entry, kind)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def diagnostics_under(snapshot: Snapshot, directory: Path) -> list[Diagnostic]:
    """The snapshot's diagnostics about files in ``directory`` (or about the file ``directory``)."""
    directory = directory.resolve()
    out = []
    for d in snapshot.diagnostics:
        with contextlib.suppress(OSError, ValueError):
            if Path(d.path).resolve().is_relative_to(directory):
                out.append(d)
    return out


def format_diagnostics(diags: list[Diagnostic]) -> str:
    return "\n".join(d.format() + (f" (hint: {d.hint})" if d.hint else "") for d in diags)


async def serve_written(
    engine: EngineHandle, written: Written, name: str, *, action: str = "write", note: str = ""
) -> Snapshot:
    """Make the engine serve ``written`` now; on compile errors roll back and raise. Once it
    serves, the new state is recorded as the entry's next version (``action``, ``note``)."""
    snap = await engine.reload([written.path])
    errors = [d for d in diagnostics_under(snap, written.path) if d.is_error]
    served = any(spec.dir == written.path for key, spec in snap.specs.items() if key in snap.entries)
    if errors or not served or written.path.as_posix() in snap.stale:
        written.rollback()
        await engine.reload([written.path])
        detail = format_diagnostics(errors) or "the entry was not compiled"
        restored = "the previous version is back" if written.replaced else "nothing was kept"
        raise WriterError(f"{name!r} does not compile ({restored}):\n{detail}")
    root, entry = entry_path(engine, written.path)
    try:
        version = History(engine.state_dir).record(
            entry, written.path, current_author(), action, kind=written.kind, note=note
        )
    except OSError as exc:  # served already: a full disk must not turn the write into an error
        log.warning("history: cannot record %s: %s (the next write records it as external)", entry, exc)
        return snap
    commit_version(snap, root, version)
    return snap


async def remove_entry(
    engine: EngineHandle, directory: Path, kind: str, *, action: str = "delete", note: str = ""
) -> tuple[Version, Snapshot]:
    """Take the entry at ``directory`` out of the tree by moving it into the history (its state
    is recorded first, unless it is the latest version), and return once nothing serves it."""
    root, entry = entry_path(engine, directory)
    history = History(engine.state_dir)
    author = current_author()
    history.ensure(entry, directory, author, kind=kind)
    version = history.record(entry, directory, author, action, kind=kind, note=note, move=True)
    snap = await engine.reload([directory])
    commit_version(snap, root, version)
    return version, snap


def commit_version(snap: Snapshot, root: Path, version: Version) -> None:
    """With ``history: git``, the change of ``version`` becomes one commit of the tree's repository
    (none when ``root`` is not in one). A commit that fails is logged: the change is served and in
    the file history already, and git is a mirror of it."""
    if snap.config.history != "git":
        return
    from skillz_engine.state.githistory import commit_entry

    commit_entry(root, version)
