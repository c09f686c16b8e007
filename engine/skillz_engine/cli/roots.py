"""Which tree roots a command works on: the ones named, else ``$SKILLZ_HOME``, ``$TOOLS_DIR`` or
``~/.skillz``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from skillz_engine.errors import UsageError


def default_root() -> Path:
    """``$SKILLZ_HOME``, else Rust Skillz's ``$TOOLS_DIR`` (so a Skillz setup serves as it is),
    else ``~/.skillz``."""
    home = os.environ.get("SKILLZ_HOME") or os.environ.get("TOOLS_DIR")
    return Path(home).expanduser() if home else Path.home() / ".skillz"


def roots_of(values: Sequence[str] | None) -> list[Path]:
    """The roots named on the command line, else the default root (not checked)."""
    return [Path(v).expanduser() for v in values] if values else [default_root()]


_START_HINT = (
    "create it with `skillz-engine new script hello` (writes {root}/tools/hello), "
    "set SKILLZ_HOME, or name the tree: `skillz-engine {verb} PATH`"
)


def read_roots(values: Sequence[str] | None, verb: str) -> list[Path]:
    """The roots of a command that only reads them (``list``, ``call``): each must be a directory.
    A missing default root is explained, not listed as an anonymous error or an unknown tool."""
    roots = roots_of(values)
    for r in roots:
        if not r.is_dir():
            if r == default_root() and not values:
                hint = _START_HINT.format(root=r, verb=verb)
                raise UsageError(f"no tree at {r} (the default root); {hint}")
            raise UsageError(f"{r}: not a directory")
    return roots


def existing_roots(values: Sequence[str] | None, say: Callable[[str], None] | None = None) -> list[Path]:
    """The roots of a command that serves or builds them: each must be a directory; the default
    root is created when it is what the user gets by naming none, and ``say`` is told so."""
    roots = roots_of(values)
    for r in roots:
        if not r.is_dir():
            if r == default_root() and not values:
                r.mkdir(parents=True, exist_ok=True)
                if say is not None:
                    say(
                        f"created an empty tree at {r} (only the built-in tools are served); add entries "
                        "with `skillz-engine new KIND NAME`, or set SKILLZ_HOME"
                    )
            else:
                raise UsageError(f"{r}: not a directory")
    return roots


def state_dir_of(value: str | None) -> Path | None:
    """``--state-dir``, resolved (``None``: the tree's own)."""
    return Path(value).expanduser().resolve() if value else None
