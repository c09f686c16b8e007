"""Discovery: which directories of a tree are entries.

A directory holding a manifest (``manifest.yaml|yml|json``) or a ``SKILL.md`` is an entry. Inside
an entry nothing is walked, except a skill, whose nested entries belong to it. Ignored everywhere:
dot-directories, ``node_modules``, ``__pycache__``, ``venv``/``.venv``, editor swap and backup
files. Symlinked directories are followed only while they stay inside the root, and each real
directory is walked once: a link back to a directory already walked (``ln -s . self``, a loop) or a
second link to the same one is reported (SKZ209), not followed. A scan is bounded: at most
:data:`MAX_SCAN_DIRS` directories and :data:`MAX_SCAN_DEPTH` levels below its start, so pointing
it at a huge directory ends with a diagnostic instead of running away.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from skillz_engine.tree.diagnostics import Diagnostic, Severity, display_path
from skillz_engine.tree.parse import MANIFEST_NAMES, SKILL_FILE
from skillz_engine.tree.paths import is_inside
from skillz_engine.tree.singlefile import COMMENTS, has_metadata, is_candidate

IGNORED_DIRS = frozenset({"node_modules", "__pycache__", "venv", ".venv"})
SWAP_SUFFIXES = (".swp", ".swo", ".swx", "~", ".bak", ".tmp", ".orig", ".rej")
MAX_SCAN_DIRS = 50_000
MAX_SCAN_DEPTH = 32


def ignored_name(name: str) -> bool:
    """Names the scanner and the watcher skip (dot files, editor temp files, tool envs)."""
    return (
        name.startswith(".")
        or name in IGNORED_DIRS
        or name.endswith(SWAP_SUFFIXES)
        or (name.startswith("#") and name.endswith("#"))
        or name == "4913"  # vim's write test file
    )


@dataclass(frozen=True, slots=True)
class Found:
    """One entry directory found by the scan."""

    root: Path
    dir: Path
    manifest: Path | None  # manifest.yaml/json (None for a plain skill)
    skill_md: Path | None  # SKILL.md, for skills
    owner: str | None = None  # enclosing skill's name
    owner_dir: Path | None = None
    # the entry's fingerprint, made by the scan from the listing it had read anyway (an entry
    # without subdirectories); None: :func:`fingerprint` walks the entry
    scanned_fp: str | None = field(default=None, repr=False, compare=False)
    key: str = field(init=False, repr=False, compare=False)  # the entry's identity: its directory

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", self.dir.as_posix())  # read for every entry of every snapshot

    @property
    def primary(self) -> Path:
        """The file diagnostics about the entry as a whole point at."""
        p = self.skill_md or self.manifest
        assert p is not None
        return p


def _manifests_in(names: set[str]) -> list[str]:
    return [n for n in MANIFEST_NAMES if n in names]


# Rust Skillz keeps its Docker services as `services/<name>.json` at the top of its tools dir
SKILLZ_SERVICES_DIR = "services"
_SKILLZ_SERVICE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})\.json$")


def skillz_services(root: Path, d: Path, names: set[str]) -> list[Found]:
    """The Rust Skillz service definitions ``<root>/services/<name>.json`` in ``d``: each is an
    entry whose directory is ``services/<name>`` (it need not exist; a real directory of that name,
    such as the one ``migrate`` writes, wins). Read with a warning (see tree/compat.py)."""
    if d.name != SKILLZ_SERVICES_DIR or d.parent != root:
        return []
    out = []
    for name in sorted(names):
        m = _SKILLZ_SERVICE.match(name)
        if m is not None and not (d / m.group(1)).is_dir() and name not in MANIFEST_NAMES:
            out.append(Found(root, d / m.group(1), d / name, None))
    return out


def is_virtual(found: Found) -> bool:
    """Whether ``found`` is one file whose entry directory is virtual (the manifest is beside it):
    a Rust Skillz ``services/<name>.json`` or a single-file tool."""
    # such a file is never named as a manifest is: a name test, read for every entry at every
    # start, instead of comparing two paths
    return found.manifest is not None and found.manifest.name not in MANIFEST_NAMES


def is_skillz_service(found: Found) -> bool:
    """Whether ``found`` is a Rust Skillz ``services/<name>.json``."""
    return is_virtual(found) and found.manifest is not None and found.manifest.suffix == ".json"


def is_single_file(found: Found) -> bool:
    """Whether ``found`` is a single-file tool (a script carrying its manifest, tree/singlefile.py)."""
    return is_virtual(found) and found.manifest is not None and found.manifest.suffix in COMMENTS


def _shadowed(d: Path, message: str) -> Diagnostic:
    return Diagnostic(display_path(d), 1, 1, "SKZ210", Severity.WARNING, message,
                      hint="Rename one of the two; an entry has one name.")  # fmt: skip


def single_files(
    root: Path, d: Path, names: set[str], owner: str | None, owner_dir: Path | None
) -> tuple[list[Found], list[Diagnostic]]:
    """The single-file tools among the files ``names`` of the directory ``d`` (not an entry): each
    is an entry whose directory is ``d/<stem>`` (virtual, like a Skillz service). A directory of
    that name beside the file, or an earlier file with the same stem, wins; the file is then
    reported (SKZ210, warning) and not served."""
    out: list[Found] = []
    diags: list[Diagnostic] = []
    taken: dict[str, str] = {}
    for name in sorted(names):
        if not is_candidate(name) or ignored_name(name) or not has_metadata(d / name):
            continue
        stem = Path(name).stem
        if (d / name).is_symlink() and not is_inside(d / name, root):
            diags.append(Diagnostic(display_path(d / name), 1, 1, "SKZ206", Severity.ERROR,
                                    "single-file tool is a symlink that leads outside the root",
                                    hint="Copy the file into the tree instead of linking it."))  # fmt: skip
        elif stem in taken:
            diags.append(_shadowed(d / name, f"{name} is not served: {taken[stem]} is the entry {stem!r}"))
        elif (d / stem).is_dir():
            diags.append(_shadowed(d / name, f"{name} is not served: the directory {stem}/ is beside it"))
        else:
            taken[stem] = name
            out.append(Found(root, d / stem, d / name, None, owner, owner_dir))
    return out, diags


def _is_file(e: os.DirEntry[str]) -> bool:
    try:
        return e.is_file()
    except OSError:  # a link that loops or dangles is no file
        return False


def _identity(d: Path) -> tuple[int, int] | None:
    """The real directory behind ``d`` (device, inode), or ``None`` when it cannot be reached."""
    try:
        st = d.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _not_walked(d: Path, message: str, hint: str) -> Diagnostic:
    return Diagnostic(display_path(d), 0, 0, "SKZ209", Severity.WARNING, message, hint=hint)


def scan_dir(
    root: Path,
    start: Path,
    owner: str | None = None,
    owner_dir: Path | None = None,
) -> tuple[list[Found], list[Diagnostic]]:
    """Every entry at or below ``start`` (which lies inside ``root``)."""
    found: list[Found] = []
    diags: list[Diagnostic] = []
    stack: list[tuple[Path, str | None, Path | None]] = [(start, owner, owner_dir)]
    walked: dict[tuple[int, int], Path] = {}
    base_depth = len(start.parts)
    while stack:
        d, own, own_dir = stack.pop()
        ident = _identity(d)
        if ident is None:
            continue
        if ident in walked:
            diags.append(
                _not_walked(
                    d,
                    f"directory is {display_path(walked[ident])} again (through a symlink: a loop "
                    "or a second link); not scanned twice",
                    "Remove the link; a directory is served from one place.",
                )
            )
            continue
        if len(walked) >= MAX_SCAN_DIRS:
            diags.append(
                _not_walked(
                    d,
                    f"scan stopped after {MAX_SCAN_DIRS:,} directories; the rest of the tree is not served",
                    "Point the engine at the directory that holds your entries, not a large parent.",
                )
            )
            break
        walked[ident] = d
        try:
            with os.scandir(d) as it:
                items = sorted(it, key=lambda e: e.name)
        except PermissionError:
            diags.append(
                Diagnostic(
                    display_path(d),
                    0,
                    0,
                    "SKZ005",
                    Severity.WARNING,
                    "directory cannot be read (permission denied); skipped",
                )
            )
            continue
        except OSError:  # gone meanwhile, not a directory, a link that loops
            continue
        names = {e.name for e in items if _is_file(e)}
        manifests = _manifests_in(names)
        has_skill = SKILL_FILE in names
        entry: Found | None = None
        if len(manifests) > 1:
            diags.append(
                Diagnostic(
                    display_path(d / manifests[1]),
                    1,
                    1,
                    "SKZ205",
                    Severity.ERROR,
                    f"two manifests in one directory: {' and '.join(manifests)}",
                    hint="Keep one manifest per directory; delete or rename the other.",
                )
            )
        if (manifests or has_skill) and d != root:
            for m in [d / n for n in manifests] + ([d / SKILL_FILE] if has_skill else []):
                if m.is_symlink() and not is_inside(m, root):
                    diags.append(
                        Diagnostic(
                            display_path(m),
                            1,
                            1,
                            "SKZ206",
                            Severity.ERROR,
                            "manifest is a symlink that leads outside the root",
                            hint="Copy the file into the tree instead of linking it.",
                        )
                    )
                    manifests = []
                    has_skill = False
        if not (manifests or has_skill):
            found.extend(skillz_services(root, d, names))
            files, file_diags = single_files(root, d, names, own, own_dir)
            found.extend(files)
            diags.extend(file_diags)
        if (manifests or has_skill) and d != root:
            entry = Found(
                root,
                d,
                d / manifests[0] if manifests else None,
                d / SKILL_FILE if has_skill else None,
                own,
                own_dir,
                None if has_skill else _flat_fingerprint(items),
            )
            found.append(entry)
            if not has_skill:
                continue  # inside an entry nothing is walked, except a skill
            own, own_dir = d.name, d
        for e in reversed(items):
            if ignored_name(e.name):
                continue
            try:
                is_dir = e.is_dir()
            except OSError:
                continue
            if not is_dir:
                continue
            p = Path(e.path)
            if len(p.parts) - base_depth > MAX_SCAN_DEPTH:
                diags.append(
                    _not_walked(
                        p,
                        f"directory is more than {MAX_SCAN_DEPTH} levels below "
                        f"{display_path(start)}; not scanned",
                        "Keep entries within a few levels of the root.",
                    )
                )
                continue
            if e.is_symlink() and not is_inside(p, root):
                diags.append(
                    Diagnostic(
                        display_path(p),
                        0,
                        0,
                        "SKZ206",
                        Severity.WARNING,
                        "symlinked directory leads outside the root; not followed",
                        hint="Add its target as another root instead.",
                    )
                )
                continue
            stack.append((p, own, own_dir))
    found.sort(key=lambda f: f.dir.as_posix())
    return found, diags


def scan(roots: list[Path] | tuple[Path, ...]) -> tuple[list[Found], list[Diagnostic]]:
    found: list[Found] = []
    diags: list[Diagnostic] = []
    for root in roots:
        if not root.is_dir():
            diags.append(
                Diagnostic(
                    display_path(root),
                    0,
                    0,
                    "SKZ005",
                    Severity.ERROR,
                    "root is not a directory",
                    hint="Pass an existing directory, or create it first.",
                )
            )
            continue
        f, d = scan_dir(root, root)
        found.extend(f)
        diags.extend(d)
    return found, diags


def _file_line(e: os.DirEntry[str], st: os.stat_result) -> bytes:
    return f"{e.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode()


def _flat_fingerprint(items: list[os.DirEntry[str]]) -> str | None:
    """:func:`fingerprint` of an entry from its directory's sorted listing, when it holds no
    subdirectory (None otherwise): a start reads each entry's directory once, not twice."""
    h = hashlib.blake2b(digest_size=16)
    for e in items:
        if ignored_name(e.name):
            continue
        try:
            st = e.stat()
            if e.is_dir():
                return None
        except OSError:
            continue
        h.update(_file_line(e, st))
    return h.hexdigest()


def fingerprint(found: Found) -> str:
    """Digest of every file of the entry (paths, sizes, mtimes), subdirectories included."""
    h = hashlib.blake2b(digest_size=16)
    if is_virtual(found):
        assert found.manifest is not None
        with contextlib.suppress(OSError):
            st = found.manifest.stat()
            h.update(f"{found.manifest}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    stack = [found.dir]
    walked: set[tuple[int, int]] = set()  # each real directory once: a symlink loop ends here
    while stack and len(walked) < MAX_SCAN_DIRS:
        d = stack.pop()
        ident = _identity(d)
        if ident is None or ident in walked:
            continue
        walked.add(ident)
        try:
            with os.scandir(d) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for e in items:
            if ignored_name(e.name):
                continue
            try:
                st = e.stat()
                if e.is_dir():
                    stack.append(Path(e.path))
                    continue
            except OSError:
                continue
            h.update(_file_line(e, st))
    return h.hexdigest()
