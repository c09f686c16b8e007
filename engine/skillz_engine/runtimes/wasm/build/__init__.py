"""Building WebAssembly modules from source: Rust (cargo), C (clang + wasi-libc) and WAT.

A build never happens inside the tree. Its inputs (language, the source files' bytes, the crate
dependencies and the toolchain's version) are hashed; the build runs in
``<state>/cache/wasm-build/<hash>/`` and its output, ``module.wasm``, is written there atomically.
A second build of the same inputs is a cache hit and does nothing, across restarts too.

One module per job: :mod:`.source` (what is built, staging), :mod:`.cargo` (Rust),
:mod:`.clang` (C), :mod:`.wat` (WAT), :mod:`.process` (running a compiler: clean environment,
timeout, bubblewrap), :mod:`.compilelog` (compiler output -> diagnostics into the tree). This
module keys, caches and dispatches, and is what the rest of the engine imports.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from skillz_engine.runtimes.wasm.bindings import wasmtime_version
from skillz_engine.runtimes.wasm.build.cargo import cargo_toml, compile_rust, parse_dependency, rust_toolchain
from skillz_engine.runtimes.wasm.build.clang import clang_toolchain, compile_c
from skillz_engine.runtimes.wasm.build.source import BuildError, BuildResult, Source, source_from_dir
from skillz_engine.runtimes.wasm.build.wat import compile_wat, wat_diagnostic

__all__ = [
    "BUILD_TIMEOUT",
    "BuildError",
    "BuildResult",
    "Source",
    "build",
    "build_key",
    "cached_module",
    "cargo_toml",
    "forget",
    "parse_dependency",
    "rust_toolchain",
    "source_from_dir",
    "wat_diagnostic",
]

BUILD_TIMEOUT = 300.0  # seconds for one compiler run

Progress = Callable[[str], None]


def toolchain_id(language: str) -> str:
    """The compiler's identity, part of the build key: a new toolchain rebuilds."""
    if language == "rust":
        tc = rust_toolchain()
        return f"{tc.version} {tc.target}" if tc else "none"
    if language == "c":
        c = clang_toolchain()
        return c[1] if c else "none"
    return f"wasmtime {wasmtime_version()}"


def build_key(source: Source) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([source.language, source.main, list(source.dependencies)]).encode())
    for rel in sorted(source.files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(source.files[rel]).digest())
    h.update(toolchain_id(source.language).encode())
    return h.hexdigest()[:32]


def _build_root(state_dir: Path) -> Path:
    return state_dir / "cache" / "wasm-build"


def cached_module(state_dir: Path, source: Source) -> Path | None:
    """The built module for ``source`` if it was built before (no work), else ``None``."""
    out = _build_root(state_dir) / build_key(source) / "module.wasm"
    return out if out.is_file() else None


def forget(state_dir: Path, source: Source) -> None:
    """Drop the cached build of ``source`` (``build --force``)."""
    shutil.rmtree(_build_root(state_dir) / build_key(source), ignore_errors=True)


def build(
    state_dir: Path,
    source: Source,
    *,
    progress: Progress | None = None,
    timeout: float = BUILD_TIMEOUT,
) -> BuildResult:
    """Build ``source`` (or find it built); raises :class:`BuildError` with diagnostics."""
    say = progress or (lambda _m: None)
    started = time.monotonic()
    root = _build_root(state_dir)
    key = build_key(source)
    final = root / key / "module.wasm"
    if final.is_file():
        return BuildResult(final, True, 0.0)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{key}.work-", dir=root))
    try:
        say(f"building {source.language} ({len(source.files)} file(s))")
        if source.language == "rust":
            out, log = compile_rust(source, work, root, timeout, say)
        elif source.language == "c":
            out, log = compile_c(source, work, timeout, say)
        elif source.language == "wat":
            out, log = compile_wat(source, work)
        else:
            raise BuildError(f"unknown language {source.language!r}: use rust, c or wat")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".module.{os.getpid()}.{time.time_ns()}.tmp")
        shutil.copyfile(out, tmp)
        os.replace(tmp, final)
        (final.parent / "build.log").write_text(log, encoding="utf-8")
        say("built")
        return BuildResult(final, False, time.monotonic() - started, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
