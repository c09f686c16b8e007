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
from collections.abc import Iterable
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


def display_path(path: Path | str, base: Path | None = None) -> str:
    """A path as diagnostics show it: relative to ``base`` (or the cwd) when it lies inside."""
    p = Path(path)
    for b in (base, Path.cwd()):
        if b is None:
            continue
        try:
            return p.resolve().relative_to(b.resolve()).as_posix()
        except (ValueError, OSError):
            continue
    return p.as_posix()


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diags)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.path, d.line, d.col, d.code)
