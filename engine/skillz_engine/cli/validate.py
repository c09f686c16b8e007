"""``skillz-engine validate``: check manifests and report file:line:col diagnostics.

parse (paths -> roots, and the entries named) -> build (a strict, non-lenient tree) -> execute
(report what lies in the paths given, in the chosen format).

It checks exactly the paths given: a directory that holds no manifest is a root and everything
under it is reported; a manifest, a SKILL.md or an entry's directory names that one entry. A named
entry is compiled inside the tree it belongs to (so its references to siblings resolve), but only
it is compiled unless it names other entries, and only it is reported: pointing ``validate`` at
one file under a huge directory costs a bounded scan, not a compile of everything.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skillz_engine.errors import ExitCode, UsageError


def tree_root(entry: Path) -> Path:
    """The root a single entry belongs to, so references to its siblings resolve.

    The nearest ancestor holding ``skillz.yaml``; else the parent of the nearest kind home folder
    (``tools/``, ``skills/``, ...) the entry sits in, a skill's own folders skipped (a tool nested
    in a skill belongs to the tree around the skill); else the entry's parent. Never the current
    directory as such: run from a large parent, that would compile all of it.
    """
    from skillz_engine.tree.config import CONFIG_NAMES
    from skillz_engine.tree.kinds import KINDS
    from skillz_engine.tree.parse import SKILL_FILE

    homes = {k.home for k in KINDS.values()}
    for d in entry.parents:
        if any((d / n).is_file() for n in CONFIG_NAMES):
            return d
    for d in entry.parents:
        if d.name in homes and not (d.parent / SKILL_FILE).is_file():  # a skill's own tools/ is inside
            return d.parent
    return entry.parent


@dataclass
class Targets:
    """What ``validate`` was asked about: the roots to scan, the directories reported whole, and
    the entries reported alone."""

    roots: list[Path] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)
    entries: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # single-file tools: reported by their file

    def add_root(self, root: Path) -> None:
        if root.resolve() not in [r.resolve() for r in self.roots]:
            self.roots.append(root)


def targets(paths: Sequence[str]) -> Targets:
    """Directories are roots; files (pre-commit passes files) and entry directories name entries."""
    from skillz_engine.tree.config import CONFIG_NAMES
    from skillz_engine.tree.parse import MANIFEST_NAMES, SKILL_FILE
    from skillz_engine.tree.singlefile import has_metadata

    entry_files = (*MANIFEST_NAMES, SKILL_FILE)
    out = Targets()
    for raw in paths or ["."]:
        p = Path(raw).expanduser()
        if p.is_dir() and not any((p / n).is_file() for n in entry_files):
            out.add_root(p)
            out.dirs.append(p.resolve())
        elif p.is_dir() or p.is_file():
            if p.is_file() and p.name in CONFIG_NAMES:
                out.add_root(p.parent)
                out.dirs.append(p.parent.resolve())
                continue
            if p.is_file() and p.name not in entry_files:
                if not has_metadata(p):
                    raise UsageError(f"{raw}: not a manifest, SKILL.md, single-file tool or directory")
                out.files.append(p.resolve())
                out.entries.append(p.resolve().with_suffix(""))  # its virtual entry directory
                out.add_root(tree_root(p.resolve()))
                continue
            entry = (p if p.is_dir() else p.parent).resolve()
            out.entries.append(entry)
            out.add_root(tree_root(entry))
        else:
            raise UsageError(f"{raw}: no such file or directory")
    return out


def _in_scope(path: str | Path, scope: Sequence[Path]) -> bool:
    """Whether ``path`` (a diagnostic's, relative to the cwd or absolute) lies in one of ``scope``."""
    p = Path(path).absolute()
    return any(p == s or s in p.parents for s in scope)


def run(args: argparse.Namespace) -> int:
    from skillz_engine.build.compile import Tree
    from skillz_engine.builtins import catalog
    from skillz_engine.cli.report import REPORTERS
    from skillz_engine.state.sources import GitSources

    t = targets(args.paths)
    tree = Tree(t.roots, lenient=False, builtins=catalog(), sources=GitSources())
    if t.dirs:
        tree.full_scan()
    else:
        tree.compile_only(e.as_posix() for e in t.entries)
    snap = tree.snapshot()
    scope = [*t.dirs, *t.entries, *t.files]
    diags = [d for d in snap.diagnostics if _in_scope(d.path, scope)]
    entries = sum(1 for r in tree.results.values() if _in_scope(r.found.dir, scope))
    if args.strict:
        diags = [d.as_error() for d in diags]
    REPORTERS[args.format](diags, sys.stdout, entries)
    return ExitCode.MANIFEST_ERRORS if any(d.is_error for d in diags) else ExitCode.OK
