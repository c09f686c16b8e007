"""A tree's settings: its configuration, and where its state lives.

The configuration is ``skillz.yaml`` of the first root with the caller's overrides (command-line
flags) on top; it is read again when that file changes. The state directory (memory, audit log,
token, clones, caches) is ``state:`` from the configuration, else ``<first root>/.skillz``; it is
chosen once, when the tree is opened, so a running server never moves its state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skillz_engine.tree.config import Config, load_config
from skillz_engine.tree.diagnostics import Diagnostic

GITIGNORE = ".gitignore"


def read_config(roots: Sequence[Path], overrides: Mapping[str, Any]) -> tuple[Config, list[Diagnostic]]:
    """The configuration of ``roots`` (``skillz.yaml`` of the first) with ``overrides`` applied."""
    config, diags = load_config(tuple(roots))
    return config.with_overrides(**overrides), diags


def state_dir_for(config: Config, roots: Sequence[Path]) -> Path:
    """Where a tree keeps its state: ``state:`` (relative to the first root), else ``.skillz``."""
    base = roots[0] if roots else Path.cwd()
    configured = config.get("state")
    if configured:
        p = Path(str(configured)).expanduser()
        return (base / p).resolve() if not p.is_absolute() else p
    return base / ".skillz"


def ensure_state_dir(path: Path) -> Path:
    """Create the state directory (0700) with a ``.gitignore`` that keeps all of it out of git
    (it usually sits inside the tree, which is often a repository); raises ``OSError``."""
    created = not path.exists()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if created:
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    with contextlib.suppress(FileExistsError), (path / GITIGNORE).open("x", encoding="utf-8") as f:
        f.write("*\n")
    return path
