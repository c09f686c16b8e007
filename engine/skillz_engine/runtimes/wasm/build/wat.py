"""WAT: wasmtime's own text compiler, in-process (no toolchain to install)."""

from __future__ import annotations

import re
from pathlib import Path

from skillz_engine.runtimes.wasm.build.compilelog import compiler_diag
from skillz_engine.runtimes.wasm.build.source import BuildError, Source
from skillz_engine.tree.diagnostics import Diagnostic

__all__ = ["compile_wat", "wat_diagnostic"]

_WAT_LOC = re.compile(r"--> (?:[^:]*):(?P<line>\d+):(?P<col>\d+)")


def wat_diagnostic(message: str, shown: str) -> Diagnostic:
    """wasmtime's WAT error (``msg`` then ``--> <anon>:line:col`` and the line) as a diagnostic."""
    m = _WAT_LOC.search(message)
    line, col = (int(m["line"]), int(m["col"])) if m else (1, 1)
    lines = message.strip().splitlines()
    first = lines[0] if lines else "invalid WAT"
    code = next((x.split("|", 1)[1].strip() for x in lines if re.match(rf"^\s*{line}\s*\|", x)), "")
    return compiler_diag(shown, line, col, f"{first}: {code}" if code else first)


def compile_wat(source: Source, work: Path) -> tuple[Path, str]:
    """The module of a WAT source, written to ``work``; no log."""
    from wasmtime import WasmtimeError, wat2wasm

    text = source.files[source.main].decode("utf-8", "replace")
    try:
        binary = wat2wasm(text)
    except WasmtimeError as exc:
        shown = source.display.get(source.main, source.main)
        raise BuildError(
            "the WAT module does not compile", [wat_diagnostic(str(exc), shown)], str(exc)
        ) from exc
    out = work / "out.wasm"
    out.write_bytes(bytes(binary))
    return out, ""
