"""How a script entry is started: its ``interpreter``, else the one its extension names, else the
file itself (an executable with a ``#!`` line).

Named interpreters are looked up on the tool's ``PATH`` at call time, not at compile time, so a
tree compiles the same on a machine that lacks one; the call then fails saying which.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from skillz_engine.errors import RuntimeFailure
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.specs import ScriptSpec

__all__ = ["EXTENSIONS", "INTERPRETERS", "Interpreter", "choose_interpreter"]

# interpreter name -> programs tried on PATH, in order
INTERPRETERS: dict[str, tuple[str, ...]] = {
    "python": ("python3", "python"),
    "python3": ("python3", "python"),
    "node": ("node", "nodejs"),
    "nodejs": ("nodejs", "node"),
    "bash": ("bash",),
    "sh": ("sh",),
    "ruby": ("ruby",),
    "perl": ("perl",),
}
EXTENSIONS = {".py": "python3", ".js": "node", ".mjs": "node", ".cjs": "node", ".sh": "bash",
              ".rb": "ruby", ".pl": "perl"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Interpreter:
    """How to start the entry: programs looked up on PATH at call time, a fixed path, or none."""

    names: tuple[str, ...] = ()
    path: Path | None = None

    def resolve(self, search_path: str) -> list[str]:
        if self.path is not None:
            return [str(self.path)]
        for name in self.names:
            found = shutil.which(name, path=search_path)
            if found:
                return [found]
        if self.names:
            raise RuntimeFailure(f"interpreter {self.names[0]!r} not found on PATH ({search_path})")
        return []

    @property
    def name(self) -> str | None:
        return str(self.path) if self.path is not None else (self.names[0] if self.names else None)


def choose_interpreter(spec: EntrySpec, entry: Path) -> tuple[Interpreter, list[Diagnostic]]:
    """The interpreter of ``spec`` (whose entry file is ``entry``), and the problems found."""
    from skillz_engine.tree.validate import entry_path

    raw = spec.record_as(ScriptSpec).interpreter
    if raw:
        if raw in INTERPRETERS:
            return Interpreter(INTERPRETERS[raw]), []
        if raw.startswith("/"):
            return Interpreter(path=Path(raw)), []
        if "/" in raw or "\\" in raw:
            path, diags = entry_path(spec, ("interpreter",), raw)
            return Interpreter(path=path), diags
        return Interpreter((raw,)), []
    by_ext = EXTENSIONS.get(entry.suffix.lower())
    if by_ext is not None:
        return Interpreter(INTERPRETERS[by_ext]), []
    if not entry.stat().st_mode & 0o111:
        return Interpreter(), [
            spec.diag(("entry",), "SKZ505",
                      f"cannot tell how to run {entry.name!r}: no `interpreter`, no known extension, "
                      "and the file is not executable",
                      "Add `interpreter: python3` (or node, bash, ...), or make the file executable "
                      "with a `#!` line.")
        ]  # fmt: skip
    return Interpreter(), []
