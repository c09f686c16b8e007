"""The history of the tree's entries: every state a writer left behind, kept so it can be undone.

An entry is known by its path relative to its root (``tools/hello``, ``skills/pdf``). Its history is
``<state>/versions/<entry>/<NNNN>/``: ``meta.json`` (time, writer, client, action, digest, kind, note)
and ``files/`` (a copy of the entry directory as it was, tool environments left out). A version is a
*state*: ``0001`` what ``register_script`` wrote, ``0002`` what replaced it, ``0003`` "deleted" (its
``files/`` are the removed directory itself, moved there by ``delete_tool``), ``0004`` the state a
rollback restored. Rolling back is writing an old state again, so every rollback is undone by another.

A version is made in a hidden ``.<NNNN>.tmp-*`` directory and renamed into place once complete
(``meta.json`` written last): a kill at any moment leaves either no version or a whole one; hidden
leftovers are never listed and are cleared on the entry's next record. A state the writers did not
make (a hand edit, or a write killed before it was recorded) is recorded as ``external`` before the
next writer replaces it (:meth:`History.ensure`), so nothing a writer replaces is ever lost.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillz_engine.errors import EngineError
from skillz_engine.tree.scan import IGNORED_DIRS

HISTORY_DIR = "versions"
META = "meta.json"
FILES = "files"
_SKIP = IGNORED_DIRS | {"env", ".git"}  # tool environments and caches are rebuilt, not versioned
MAX_DIFF_FILE = 1 << 20  # a file larger than this is compared by digest only


class HistoryError(EngineError):
    """A version or an entry that history does not hold; the message names what there is."""


@dataclass(frozen=True, slots=True)
class Author:
    """Who made a change: the writer (a built-in, a CLI verb, or ``external``) and the client."""

    writer: str
    client: str | None = None


@dataclass(frozen=True, slots=True)
class Version:
    """One recorded state of an entry."""

    entry: str  # path relative to its root, POSIX
    id: str  # "0001", "0002", ... in order
    time: float
    writer: str
    client: str | None
    action: str  # write, delete, rollback, external
    digest: str | None  # None: the entry was deleted in this state
    kind: str | None
    note: str
    path: Path

    @property
    def files(self) -> Path:
        return self.path / FILES

    @property
    def deleted(self) -> bool:
        return self.digest is None

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "version": self.id,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time)),
            "writer": self.writer,
            "client": self.client,
            "action": self.action,
            "digest": self.digest,
            "kind": self.kind,
            "note": self.note,
        }


def _walk(directory: Path) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, path) of every file of an entry, sorted, environments skipped."""
    if not directory.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP)
        for name in sorted(filenames):
            path = Path(dirpath, name)
            yield path.relative_to(directory).as_posix(), path


def digest(directory: Path) -> str:
    """A digest of an entry's files: names, executable bits and contents (links by target)."""
    h = hashlib.sha256()
    for rel, path in _walk(directory):
        st = path.lstat()
        h.update(rel.encode() + b"\0")
        if stat.S_ISLNK(st.st_mode):
            h.update(b"link\0" + os.fsencode(path.readlink()))
        else:
            h.update(b"x\0" if st.st_mode & 0o111 else b"-\0")
            h.update(path.read_bytes())
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _SKIP and Path(directory, n).is_dir()}


def _move(source: Path, dest: Path) -> None:
    """Move an entry directory into the history: one rename (the state directory is normally in
    the tree). Across filesystems it is first renamed aside in its own parent (so the tree loses it
    atomically), then copied, and only that hidden copy is removed."""
    try:
        source.rename(dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        aside = source.with_name(f".{source.name}.deleted-{time.monotonic_ns()}")
        source.rename(aside)
        shutil.copytree(aside, dest, symlinks=True)
        shutil.rmtree(aside)


class History:
    """The versions kept in one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / HISTORY_DIR

    # ------------------------------------------------------------------ reading

    def _entry_dir(self, entry: str) -> Path:
        parts = Path(entry).parts
        if (
            not parts
            or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
            or Path(entry).is_absolute()
        ):
            raise HistoryError(f"{entry!r} is not an entry path (like tools/hello)")
        return self.dir.joinpath(*parts)

    def versions(self, entry: str) -> list[Version]:
        """Every complete version of ``entry``, oldest first (empty when it has none)."""
        d = self._entry_dir(entry)
        if not d.is_dir():
            return []
        out = []
        with os.scandir(d) as it:
            for item in it:
                if item.name.isdigit() and item.is_dir(follow_symlinks=False):  # _read: has meta.json
                    v = self._read(entry, Path(item.path))
                    if v is not None:
                        out.append(v)
        return sorted(out, key=lambda v: int(v.id))

    def _read(self, entry: str, path: Path) -> Version | None:
        try:
            m = json.loads((path / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Version(
            entry,
            path.name,
            float(m.get("time", 0)),
            str(m.get("writer", "")),
            m.get("client"),
            str(m.get("action", "write")),
            m.get("digest"),
            m.get("kind"),
            str(m.get("note", "")),
            path,
        )

    def latest(self, entry: str) -> Version | None:
        versions = self.versions(entry)
        return versions[-1] if versions else None

    def get(self, entry: str, version: str | int) -> Version:
        """Version ``version`` of ``entry`` (``3``, ``"0003"``; ``-1`` the latest, ``-2`` the one before)."""
        versions = self.versions(entry)
        if not versions:
            raise HistoryError(f"{entry} has no recorded versions")
        try:
            n = int(version)
        except (TypeError, ValueError):
            raise HistoryError(f"version must be a number like 3 or 0003, not {version!r}") from None
        if n < 0:
            if -n > len(versions):
                raise HistoryError(f"{entry} has only {len(versions)} versions")
            return versions[n]
        for v in versions:
            if int(v.id) == n:
                return v
        known = ", ".join(v.id for v in versions)
        raise HistoryError(f"{entry} has no version {version!r} (it has {known})")

    def entries(self) -> list[str]:
        """Every entry with at least one version. A version is a numbered directory *with* a
        ``meta.json``: an entry may be called ``1234`` too, and its directory has none."""
        out = []
        if self.dir.is_dir():
            for dirpath, dirnames, _ in os.walk(self.dir):
                versions = {d for d in dirnames if d.isdigit() and Path(dirpath, d, META).is_file()}
                if versions and dirpath != str(self.dir):
                    out.append(Path(dirpath).relative_to(self.dir).as_posix())
                dirnames[:] = [d for d in dirnames if d not in versions and not d.startswith(".")]
        return sorted(out)

    def find(self, name: str) -> list[str]:
        """The entries with history called ``name`` (its last path part) or at path ``name``."""
        return [e for e in self.entries() if e == name or e.rsplit("/", 1)[-1] == name]

    # ------------------------------------------------------------------ writing

    def record(
        self,
        entry: str,
        source: Path,
        author: Author,
        action: str,
        *,
        kind: str | None = None,
        note: str = "",
        move: bool = False,
    ) -> Version:
        """Record ``source`` (an entry directory) as ``entry``'s next version: copied, or with
        ``move`` renamed into history as a deleted state (``delete_tool``: never a recursive delete)."""
        d = self._entry_dir(entry)
        d.mkdir(parents=True, exist_ok=True)
        for stale in d.glob(".*.tmp-*"):  # a record killed half-way: never listed, cleared here
            shutil.rmtree(stale, ignore_errors=True)
        tmp = d / f".new.tmp-{os.getpid()}-{time.monotonic_ns()}"
        tmp.mkdir()
        if move:
            _move(source, tmp / FILES)
            dig = None
        else:
            shutil.copytree(source, tmp / FILES, symlinks=True, ignore=_ignore)
            dig = digest(tmp / FILES)
        meta = {
            "time": time.time(),
            "writer": author.writer,
            "client": author.client,
            "action": action,
            "digest": dig,
            "kind": kind,
            "note": note,
        }
        (tmp / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        while True:  # the next free number; a concurrent writer taking it makes us try the one after
            last = self.latest(entry)
            vid = f"{(int(last.id) if last else 0) + 1:04d}"
            try:
                tmp.rename(d / vid)
            except OSError:
                if (d / vid).exists():
                    continue
                raise
            version = self._read(entry, d / vid)
            assert version is not None
            return version

    def ensure(self, entry: str, current: Path, author: Author, *, kind: str | None = None) -> Version:
        """The version holding ``current``'s files: the latest one when it has the same digest,
        else a new ``external`` one (a hand edit, or a write that was never recorded)."""
        last = self.latest(entry)
        if last is not None and not last.deleted and last.digest == digest(current):
            return last
        return self.record(entry, current, Author("external", author.client), "external", kind=kind)

    # ------------------------------------------------------------------ comparing

    def diff(self, entry: str, a: str | int, b: str | int) -> str:
        """A unified diff of every file of two versions (a deleted state has no files)."""
        va, vb = self.get(entry, a), self.get(entry, b)
        return diff_dirs(
            None if va.deleted else va.files,
            None if vb.deleted else vb.files,
            f"{entry}@{va.id}",
            f"{entry}@{vb.id}",
        )


def _lines(path: Path | None) -> list[str] | None:
    """A file's lines, or ``None`` for a binary or too large one (compared by digest)."""
    if path is None:
        return []
    if path.is_symlink():
        return [f"-> {path.readlink()}\n"]
    if path.stat().st_size > MAX_DIFF_FILE:
        return None
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def diff_dirs(a: Path | None, b: Path | None, label_a: str, label_b: str) -> str:
    """The unified diff between two entry directories (``None``: absent)."""
    files_a = dict(_walk(a)) if a is not None else {}
    files_b = dict(_walk(b)) if b is not None else {}
    out: list[str] = []
    for rel in sorted(files_a.keys() | files_b.keys()):
        pa, pb = files_a.get(rel), files_b.get(rel)
        la, lb = _lines(pa), _lines(pb)
        name_a = f"{label_a}/{rel}" if pa else "/dev/null"
        name_b = f"{label_b}/{rel}" if pb else "/dev/null"
        if la is None or lb is None:
            if pa is None or pb is None or pa.read_bytes() != pb.read_bytes():
                out.append(f"Binary files {name_a} and {name_b} differ\n")
            continue
        for line in difflib.unified_diff(la, lb, name_a, name_b):
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
