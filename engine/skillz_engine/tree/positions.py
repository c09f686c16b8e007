"""Where things are in a parsed document: JSON paths and the 1-based (line, col) of each value and key.

Every check that reports on a manifest (schema, semantics, a runtime compiling it) points through a
:class:`Positions` at the exact spot; the parser fills it, the spec cache stores it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from skillz_engine.tree.diagnostics import Diagnostic, Severity

JsonPath = tuple[str | int, ...]
Pos = tuple[int, int]


def format_json_path(path: JsonPath) -> str:
    """``("steps", 0, "tool")`` -> ``$.steps[0].tool``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


@dataclass(frozen=True, slots=True)
class Positions:
    """Where each value (and each mapping key) of a document starts."""

    values: Mapping[JsonPath, Pos] = field(default_factory=dict)
    keys: Mapping[JsonPath, Pos] = field(default_factory=dict)
    line_offset: int = 0

    def value(self, path: JsonPath) -> Pos:
        """Position of the value at ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            if p in self.values:
                line, col = self.values[p]
                return line + self.line_offset, col
            if not p:
                return 1 + self.line_offset, 1
            p = p[:-1]

    def key(self, path: JsonPath) -> Pos:
        """Position of the key that names ``path`` (falls back to the value)."""
        p = tuple(path)
        if p in self.keys:
            line, col = self.keys[p]
            return line + self.line_offset, col
        return self.value(p)

    def diagnostic(
        self,
        display: str,
        path: JsonPath,
        code: str,
        message: str,
        hint: str | None = None,
        severity: Severity = Severity.ERROR,
        *,
        at_key: bool = False,
    ) -> Diagnostic:
        """A diagnostic at ``path`` (its value, or its key with ``at_key``) of the file ``display``."""
        line, col = self.key(path) if at_key else self.value(path)
        return Diagnostic(display, line, col, code, severity, message, format_json_path(path), hint)
