"""Diagnostics: one problem found in a tree, with where it is and how to fix it.

Codes are stable; `docs/diagnostics.md` lists every one. Families:

    SKZ0xx  reading files (syntax, encoding, size, empty)
    SKZ1xx  schema (types, required keys, values)
    SKZ2xx  names, layout and paths (duplicates, escapes, missing files)
    SKZ3xx  references between entries (tools, skills, services)
    SKZ4xx  compatibility (Rust Skillz format, deprecated keys)
    SKZ5xx  compile and runtime preparation (templates, interpreters)
    SKZ9xx  internal (a bug in the engine: please report it)
"""

from __future__ import annotations

import enum
import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One problem. ``line`` and ``col`` are 1-based; 0 means "the whole file"."""

    path: str
    line: int
    col: int
    code: str
    severity: Severity
    message: str
    json_path: str = "$"
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self) -> str:
        """``path:line:col: error CODE message`` (the text reporter's line)."""
        loc = f"{self.path}:{max(self.line, 1)}:{max(self.col, 1)}"
        return f"{loc}: {self.severity.value} {self.code} {self.message}"

    def as_error(self) -> Diagnostic:
        return replace(self, severity=Severity.ERROR)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "jsonPath": self.json_path,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


@functools.lru_cache(maxsize=8)
def _resolved(directory: str) -> str:
    return os.path.realpath(directory)


def display_path(path: Path | str, base: Path | None = None) -> str:
    """A path as diagnostics show it: relative to ``base`` (or the cwd) when it lies inside.

    Called once per manifest, so it avoids ``Path.resolve()`` (a syscall per component) for the
    absolute paths the scanner produces; only the base directory is resolved, once.
    """
    p = os.fspath(path)
    full = os.path.normpath(p) if os.path.isabs(p) else os.path.realpath(p)  # noqa: PTH117 - str ops: called per manifest
    for b in (base, os.getcwd()):  # noqa: PTH109
        if b is None:
            continue
        root = _resolved(os.fspath(b))
        if full == root:
            return "."
        if full.startswith(root.rstrip("/") + "/"):
            return full[len(root.rstrip("/")) + 1 :]
    return Path(p).as_posix()


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.path, d.line, d.col, d.code)
