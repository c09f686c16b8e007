"""C: ``clang --target=wasm32-wasi`` with the system wasi-libc, every ``.c`` file one unit."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path

from skillz_engine.runtimes.wasm.build.compilelog import diagnostics_from_log
from skillz_engine.runtimes.wasm.build.process import run, run_text, sandboxed
from skillz_engine.runtimes.wasm.build.source import BuildError, Source, write_sources

__all__ = ["clang_toolchain", "compile_c"]


@functools.cache
def clang_toolchain() -> tuple[str, str] | None:
    """(clang, version) when a clang with a wasm32 backend is installed."""
    clang = shutil.which("clang") or ("/usr/bin/clang" if Path("/usr/bin/clang").is_file() else None)
    if clang is None:
        return None
    version = (run_text([clang, "--version"]) or "").splitlines()
    return (clang, version[0]) if version else None


def compile_c(
    source: Source, work: Path, timeout: float, progress: Callable[[str], None]
) -> tuple[Path, str]:
    """Build ``source`` in ``work`` with clang; the module's path and the compiler's output."""
    cc = clang_toolchain()
    if cc is None:
        raise BuildError(
            "clang is not installed",
            log="Install clang with wasi-libc (Debian: apt-get install clang lld wasi-libc "
            "libclang-rt-dev-wasm32).",
        )
    write_sources(work / "src", source.files)
    units = [f"src/{r}" for r in sorted(source.files) if r.endswith(".c")]
    argv = [cc[0], "--target=wasm32-wasi", "-O2", "-s", "-fno-color-diagnostics", "-o", "out.wasm", *units]
    progress("clang --target=wasm32-wasi -O2")
    rc, log = run(
        sandboxed(argv, [work], network=False), work, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, timeout
    )
    out = work / "out.wasm"
    if rc != 0 or not out.is_file():
        raise BuildError("the C build failed", diagnostics_from_log(log, source, "src/"), log)
    return out, log
