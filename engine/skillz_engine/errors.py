"""The exception tree of skillz-engine.

    EngineError                     anything the engine raises on purpose
    ├── ManifestError               a tree does not compile; carries the diagnostics
    ├── UsageError                  the command line or an argument is wrong (exit 2)
    ├── ToolNotFound                a call names no tool of the current snapshot
    └── RuntimeFailure              a runtime could not run a tool (not the tool's own error)
        └── SandboxUnavailable      a manifest demands a sandbox this machine lacks

A tool that runs and fails is not an exception: it is a ``ToolResult`` with ``is_error=True``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skillz_engine.tree.diagnostics import Diagnostic


class ExitCode(enum.IntEnum):
    """Exit codes of the CLI (the command-line table in README.md)."""

    OK = 0
    MANIFEST_ERRORS = 1
    USAGE = 2
    INTERNAL = 3
    INTERRUPTED = 130


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class ManifestError(EngineError):
    """The tree has errors; ``diagnostics`` says where."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        first = self.diagnostics[0].format() if self.diagnostics else "manifest errors"
        super().__init__(first)


class UsageError(EngineError):
    """The caller asked for something that cannot be done as asked."""


class ToolNotFound(EngineError):
    """No tool of that name in the snapshot the request reads."""

    def __init__(self, name: str, suggestions: Sequence[str] = ()) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown tool {name!r}.{hint}")


class RuntimeFailure(EngineError):
    """A runtime could not run a tool (interpreter missing, spawn failed, ...)."""


class SandboxUnavailable(RuntimeFailure):
    """The manifest asks for a sandbox that is not installed here; we fail closed."""
