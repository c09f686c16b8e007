"""Compiler output -> diagnostics pointing at the source files in the tree.

clang writes ``file:line:col: error: message``; rustc writes ``error[E0425]: message`` and, a few
lines further, ``--> file:line:col``. Only errors in files of the build's :class:`Source` count
(the paths the compiler saw are mapped back to the paths the tree shows); warnings are dropped.
"""

from __future__ import annotations

import re

from skillz_engine.runtimes.wasm.build.source import Source
from skillz_engine.tree.diagnostics import Diagnostic, Severity

__all__ = ["compiler_diag", "diagnostics_from_log"]

_CLANG_LINE = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): (?P<msg>.*)$"
)
_RUST_HEAD = re.compile(r"^(?P<sev>error|warning)(?:\[(?P<code>E\d+)\])?: (?P<msg>.*)$")
_RUST_AT = re.compile(r"^\s*--> (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+)")


def diagnostics_from_log(log: str, source: Source, prefix: str) -> list[Diagnostic]:
    """Compiler errors (``file:line:col: error: ...`` or rustc's ``error: ...`` / ``--> f:l:c``)
    as diagnostics pointing at the source files in the tree; only files of ``source`` count."""
    out: list[Diagnostic] = []

    def where(file: str) -> str | None:
        rel = file[len(prefix) :] if file.startswith(prefix) else file
        rel = rel.removeprefix("./")
        return source.display.get(rel)

    pending: tuple[str, str] | None = None
    for line in log.splitlines():
        m = _CLANG_LINE.match(line)
        if m and m["sev"] == "error":
            shown = where(m["file"])
            if shown is not None:
                out.append(compiler_diag(shown, int(m["line"]), int(m["col"]), m["msg"]))
            continue
        h = _RUST_HEAD.match(line)
        if h:
            pending = (
                (h["sev"], (f"[{h['code']}] " if h["code"] else "") + h["msg"])
                if h["sev"] == "error"
                else None
            )
            continue
        a = _RUST_AT.match(line)
        if a and pending is not None:
            shown = where(a["file"])
            if shown is not None:
                out.append(compiler_diag(shown, int(a["line"]), int(a["col"]), pending[1]))
            pending = None
    return out


def compiler_diag(path: str, line: int, col: int, message: str) -> Diagnostic:
    """A compiler's error at ``path:line:col`` of a source file (SKZ531)."""
    return Diagnostic(
        path,
        line,
        col,
        "SKZ531",
        Severity.ERROR,
        message,
        "$",
        "Fix the source; the compiler's output follows.",
    )
