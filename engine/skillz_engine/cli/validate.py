"""``skillz-engine validate``: check manifests and report file:line:col diagnostics.

parse (paths -> roots, and the entries a pre-commit run names) -> build (a strict, non-lenient
tree, scanned once) -> execute (filter to the named entries, report in the chosen format).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from skillz_engine.errors import ExitCode, UsageError


def tree_root(entry: Path) -> Path:
    """The root a single entry belongs to, so references to its siblings resolve.

    The nearest ancestor holding ``skillz.yaml``; else the current directory when the entry is
    inside it (pre-commit runs at the repository's top); else the entry's parent.
    """
    from skillz_engine.tree.config import CONFIG_NAMES

    for d in entry.parents:
        if any((d / n).is_file() for n in CONFIG_NAMES):
            return d
    cwd = Path.cwd().resolve()
    if cwd in entry.parents:
        return cwd
    return entry.parent


def targets(paths: Sequence[str]) -> tuple[list[Path], set[Path] | None]:
    """Directories are roots; files name entries (pre-commit passes files)."""
    from skillz_engine.tree.config import CONFIG_NAMES
    from skillz_engine.tree.parse import MANIFEST_NAMES, SKILL_FILE

    roots: list[Path] = []
    only: set[Path] = set()
    for raw in paths or ["."]:
        p = Path(raw).expanduser()
        if p.is_dir():
            roots.append(p)
        elif p.is_file():
            if p.name in CONFIG_NAMES:
                roots.append(p.parent)
                continue
            if p.name not in (*MANIFEST_NAMES, SKILL_FILE):
                raise UsageError(f"{raw}: not a manifest, SKILL.md or directory")
            entry = p.parent.resolve()
            only.add(entry)
            roots.append(tree_root(entry))
        else:
            raise UsageError(f"{raw}: no such file or directory")
    unique: list[Path] = []
    for r in roots:
        if r.resolve() not in [u.resolve() for u in unique]:
            unique.append(r)
    files_only = bool(only) and all(Path(x).is_file() for x in paths or ["."])
    return unique, (only if files_only else None)


def run(args: argparse.Namespace) -> int:
    from skillz_engine.build.compile import Tree
    from skillz_engine.builtins import catalog
    from skillz_engine.cli.report import REPORTERS
    from skillz_engine.state.sources import GitSources
    from skillz_engine.tree.diagnostics import display_path

    roots, only = targets(args.paths)
    tree = Tree(roots, lenient=False, builtins=catalog(), sources=GitSources())
    tree.full_scan()
    snap = tree.snapshot()
    diags = list(snap.diagnostics)
    entries = len(tree.results)
    if only is not None:
        prefixes = [display_path(e) for e in only]
        diags = [d for d in diags if any(d.path == p or d.path.startswith(p + "/") for p in prefixes)]
        entries = len(only)
    if args.strict:
        diags = [d.as_error() for d in diags]
    REPORTERS[args.format](diags, sys.stdout, entries)
    return ExitCode.MANIFEST_ERRORS if any(d.is_error for d in diags) else ExitCode.OK
