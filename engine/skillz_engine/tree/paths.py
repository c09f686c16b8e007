"""The one rule set for relative paths that must stay inside a base directory.

Every containment check in the engine goes through this module: a path a manifest names, a file a
resource or skill serves, a ``sandbox.writable`` entry, a file a writer or a build stages, a symlink
the scanner meets. The rules (:func:`check_relative` is the syntax half, :func:`safe_join` adds the
disk half):

* not empty; no NUL or other ASCII control character anywhere (a trailing ``\\n`` included);
* not absolute: ``/x``, ``\\x``, ``//server``, ``C:\\x`` and ``C:x`` are all refused;
* ``/`` and ``\\`` are both separators; empty and lone ``.`` segments are ignored;
* no ``..`` segment at all (even one that would come back down);
* no hidden segment (a name starting with ``.``) unless the caller allows hidden names;
* after joining, symlinks are resolved and the result must lie in (or be) the resolved base; a
  symlink loop is refused as such;
* ``kind="file"`` / ``kind="dir"`` also demand an existing regular file / directory.

A refusal is a :class:`PathEscape` with a short lower-case ``reason`` and a ``hint``. The checks are
point-in-time: a tree changed between the check and the use is not re-checked.
"""

from __future__ import annotations

import errno
import os
import re
from fnmatch import fnmatchcase
from pathlib import Path, PurePath
from typing import Final, Literal

from skillz_engine.errors import EngineError

EMPTY: Final = "empty path"
CONTROL: Final = "control character"
ABSOLUTE: Final = "absolute path"
PARENT: Final = "'..' segment"
HIDDEN: Final = "hidden name"
OUTSIDE: Final = "outside base"
LOOP: Final = "symlink loop"
NOT_FOUND: Final = "not found"
NOT_FILE: Final = "not a file"
NOT_DIR: Final = "not a directory"

HINTS: Final[dict[str, str]] = {
    EMPTY: "Name a path relative to the directory, e.g. `main.py`.",
    CONTROL: "Remove the control character (NUL, newline, tab, ...) from the path.",
    ABSOLUTE: "Use a path relative to the directory, e.g. `data/file.txt`, not `/...` or `C:...`.",
    PARENT: "Paths cannot go up with `..`; put the file inside the directory.",
    HIDDEN: "Rename it without the leading dot; hidden names are not used here.",
    OUTSIDE: "A symlink leads outside the directory; replace it with the file itself.",
    LOOP: "Remove or fix the symlink that points back at itself.",
    NOT_FOUND: "Create it or fix the path.",
    NOT_FILE: "Name a regular file, not a directory or a device.",
    NOT_DIR: "Name a directory, not a file.",
}

_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE_RE: Final = re.compile(r"[A-Za-z]:")
_SEP_RE: Final = re.compile(r"[\\/]")
_WILD_RE: Final = re.compile(r"[*?\[]")


class PathEscape(EngineError):
    """A relative path that would leave its base, or is not allowed there."""

    def __init__(self, rel: str, base: Path, reason: str, hint: str | None = None) -> None:
        self.rel = rel
        self.base = base
        self.reason = reason
        self.hint = hint if hint is not None else HINTS.get(reason, "Name a path inside the directory.")
        super().__init__(f"path {rel!r} in {base}: {reason}")


def _segments(rel: str) -> list[str]:
    """The meaningful segments of ``rel``: split on ``/`` and ``\\``, empty and ``.`` dropped."""
    return [part for part in _SEP_RE.split(rel) if part not in ("", ".")]


def check_relative(rel: str, *, allow_hidden: bool = False) -> str | None:
    """Pure syntax check (no disk access): None if `rel` is an acceptable relative path, else the reason."""
    if not rel:
        return EMPTY
    if _CONTROL_RE.search(rel):
        return CONTROL
    if rel[0] in "/\\" or _DRIVE_RE.match(rel):
        return ABSOLUTE
    parts = _segments(rel)
    if ".." in parts:
        return PARENT
    if not allow_hidden and any(part.startswith(".") for part in parts):
        return HIDDEN
    return None


def _resolve(path: Path) -> Path | None:
    """``path`` with every symlink resolved, or None when a symlink loop stands in the way."""
    try:
        real = path.resolve()
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return None
    try:
        real.stat()
    except OSError as exc:  # a missing target is fine: only a loop is refused
        if exc.errno == errno.ELOOP:
            return None
    return real


def _within(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def safe_join(
    base: Path,
    rel: str | PurePath,
    *,
    kind: Literal["any", "file", "dir"] = "any",
    allow_hidden: bool = False,
) -> Path:
    """`base / rel`, resolved, guaranteed inside `base` (resolved); raises PathEscape."""
    text = rel.as_posix() if isinstance(rel, PurePath) else rel
    reason = check_relative(text, allow_hidden=allow_hidden)
    if reason is not None:
        raise PathEscape(text, base, reason)
    root = _resolve(base)
    target = None if root is None else _resolve(root.joinpath(*_segments(text)))
    if root is None or target is None:
        raise PathEscape(text, base, LOOP)
    if not _within(target, root):
        raise PathEscape(text, base, OUTSIDE)
    if kind == "file" and not target.is_file():
        raise PathEscape(text, base, NOT_FILE if target.exists() else NOT_FOUND)
    if kind == "dir" and not target.is_dir():
        raise PathEscape(text, base, NOT_DIR if target.exists() else NOT_FOUND)
    return target


def _match(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Whether the segments ``parts`` match the glob segments ``pattern`` (``**``: any directories)."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        if not rest:  # a trailing ``**`` matches any file at any depth
            return bool(parts)
        return any(_match(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _match(rest, parts[1:])


def safe_glob(
    base: Path, pattern: str, *, allow_hidden: bool = False, limit: int | None = None
) -> list[Path]:
    """Files under `base` matching a glob `pattern` (`**` allowed), sorted, each inside `base` after
    resolving symlinks; hidden names skipped unless allow_hidden; symlinks leading out silently
    excluded. An invalid pattern (absolute, `..`, NUL, ...) raises PathEscape.

    ``*``, ``?`` and ``[...]`` match within one segment; ``**`` matches any number of directories
    (as the last segment: any file at any depth). Each result is ``base / <matched relative path>``
    (the name as seen in the tree, not resolved). Symlinked directories are not descended unless
    the pattern names them literally. ``limit`` stops the walk after that many matches.
    """
    reason = check_relative(pattern, allow_hidden=allow_hidden)
    if reason is not None:
        raise PathEscape(pattern, base, reason)
    pat = tuple(_segments(pattern))
    root = _resolve(base)
    if not pat or root is None:
        return []
    fixed: list[str] = []
    for part in pat[:-1]:
        if _WILD_RE.search(part):
            break
        fixed.append(part)
    start = base.joinpath(*fixed)
    if not is_inside(start, base):
        return []
    deep = "**" in pat
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        here = Path(dirpath)
        depth = len(here.relative_to(base).parts)
        keep = (n for n in dirnames if allow_hidden or not n.startswith("."))
        dirnames[:] = sorted(keep) if deep or depth < len(pat) - 1 else []
        for name in sorted(filenames):
            if not allow_hidden and name.startswith("."):
                continue
            path = here / name
            if not _match(pat, path.relative_to(base).parts):
                continue
            real = _resolve(path)
            if real is None or not _within(real, root) or not real.is_file():
                continue
            found.append(path)
            if limit is not None and len(found) >= limit:
                return sorted(found)
    return sorted(found)


def is_inside(path: Path, base: Path) -> bool:
    """True when `path` resolved lies in (or is) `base` resolved. Never raises (loops -> False)."""
    try:
        real, root = _resolve(path), _resolve(base)
    except (OSError, ValueError):
        return False
    return real is not None and root is not None and _within(real, root)
