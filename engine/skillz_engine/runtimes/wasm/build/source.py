"""What a build compiles (:class:`Source`), read from the tree, and how its files are staged.

A source is the bytes of its files, read once, so the build hashes and compiles exactly what it
read; the tree is never built in. Staging writes those files into a build directory, each path
checked by :func:`skillz_engine.tree.paths.safe_join` so none lands outside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skillz_engine.errors import EngineError
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.paths import PathEscape, safe_join

__all__ = ["EXTENSIONS", "BuildError", "BuildResult", "Source", "source_from_dir", "write_sources"]

MAX_SOURCE_FILES = 200
MAX_SOURCE_BYTES = 8 << 20
EXTENSIONS = {"rust": (".rs",), "c": (".c", ".h"), "wat": (".wat",)}


class BuildError(EngineError):
    """A build that could not run or did not succeed; ``diagnostics`` point into the tree."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = (), log: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.diagnostics = tuple(diagnostics)
        self.log = log


@dataclass(frozen=True, slots=True)
class Source:
    """What a build compiles: the source files (relative path -> bytes), the main file among them,
    and where they live in the tree (for diagnostics)."""

    language: str
    files: Mapping[str, bytes]
    main: str
    dependencies: tuple[str, ...] = ()
    origin: Path | None = None  # the directory the relative paths are relative to
    display: Mapping[str, str] = field(default_factory=dict)  # relative path -> path as shown


@dataclass(frozen=True, slots=True)
class BuildResult:
    module: Path
    cached: bool
    seconds: float
    log: str = ""


def source_from_dir(
    language: str, base: Path, rel: str, dependencies: Sequence[str] = (), display_base: str = ""
) -> Source:
    """The source a manifest names: one file, or the matching files of a directory."""
    path = base / rel
    files: dict[str, bytes] = {}
    if path.is_file():
        files[Path(rel).name] = path.read_bytes()
        main = Path(rel).name
        shown = {main: f"{display_base}/{rel}" if display_base else rel}
    elif path.is_dir():
        exts = EXTENSIONS[language]
        shown = {}
        for p in sorted(path.rglob("*")):
            if (
                p.is_file()
                and p.suffix in exts
                and not any(s.startswith(".") for s in p.relative_to(path).parts)
            ):
                r = p.relative_to(path).as_posix()
                files[r] = p.read_bytes()
                shown[r] = f"{display_base}/{rel}/{r}" if display_base else f"{rel}/{r}"
        if len(files) > MAX_SOURCE_FILES:
            raise BuildError(f"{rel}: more than {MAX_SOURCE_FILES} source files")
        main = _main_of(language, files, rel)
    else:
        raise BuildError(f"source {rel!r} does not exist")
    if sum(len(b) for b in files.values()) > MAX_SOURCE_BYTES:
        raise BuildError(f"{rel}: the sources are larger than {MAX_SOURCE_BYTES >> 20} MiB")
    return Source(language, files, main, tuple(dependencies), base, shown)


def _main_of(language: str, files: Mapping[str, bytes], rel: str) -> str:
    if language == "rust":
        for candidate in ("src/main.rs", "main.rs"):
            if candidate in files:
                return candidate
        raise BuildError(f"{rel}/: a Rust source directory needs main.rs or src/main.rs")
    if language == "c":
        if not any(r.endswith(".c") for r in files):
            raise BuildError(f"{rel}/: no .c file")
        return next(r for r in sorted(files) if r.endswith(".c"))
    wats = sorted(r for r in files if r.endswith(".wat"))
    if len(wats) != 1:
        raise BuildError(f"{rel}/: a WAT source directory needs exactly one .wat file")
    return wats[0]


def write_sources(src_dir: Path, files: Mapping[str, bytes]) -> None:
    """Stage ``files`` under ``src_dir``; a path that would leave it is refused."""
    for rel, data in files.items():
        try:
            target = safe_join(src_dir, rel, allow_hidden=True)
        except PathEscape as exc:
            raise BuildError(f"source file {rel!r} would land outside the build directory") from exc
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
