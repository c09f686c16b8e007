"""Building WebAssembly modules from source: Rust (cargo), C (clang + wasi-libc) and WAT.

A build never happens inside the tree. Its inputs (language, the source files' bytes, the crate
dependencies and the toolchain's version) are hashed; the build runs in
``<state>/cache/wasm-build/<hash>/`` and its output, ``module.wasm``, is written there atomically.
A second build of the same inputs is a cache hit and does nothing, across restarts too.

* Rust: a generated crate (``Cargo.toml`` written here from validated crate names and version
  requirements, so a dependency string cannot inject TOML, git or path dependencies), built with
  cargo for ``wasm32-wasip1`` when the toolchain has that target's std, else ``wasm32-wasi``. A
  Debian-style vendored registry (``/usr/share/cargo/registry``, or ``$SKILLZ_CARGO_REGISTRY``)
  makes the build offline. rustc is chosen by whether it can actually build for wasm (rustup's
  rustc without the wasm std is skipped in favour of ``/usr/bin/rustc``).
* C: ``clang --target=wasm32-wasi`` with the system wasi-libc.
* WAT: wasmtime's own text compiler, in-process.

Compilers run with a clean environment, a timeout, and under bubblewrap when it is installed
(network off when the crates come from the vendored registry). Their ``file:line:col`` errors
become :class:`Diagnostic` objects pointing at the source files in the tree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skillz_engine.errors import EngineError
from skillz_engine.tree.diagnostics import Diagnostic, Severity

__all__ = [
    "BUILD_TIMEOUT",
    "BuildError",
    "BuildResult",
    "Source",
    "build",
    "build_key",
    "cached_module",
    "forget",
    "parse_dependency",
    "rust_toolchain",
    "source_from_dir",
]

BUILD_TIMEOUT = 300.0  # seconds for one compiler run
MAX_SOURCE_FILES = 200
MAX_SOURCE_BYTES = 8 << 20
CRATE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$")
FEATURE_NAME = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_+.-]{0,63}$")
# one comparator of a Cargo version requirement: an optional operator, then a (partial) version
_COMPARATOR = re.compile(
    r"^(?:\^|~|=|>=|<=|>|<)?\s*(?:\*|\d+(?:\.(?:\d+|\*)(?:\.(?:\d+|\*))?)?)(?:-[0-9A-Za-z.-]+)?$"
)
VENDORED_REGISTRIES = ("/usr/share/cargo/registry",)
EXTENSIONS = {"rust": (".rs",), "c": (".c", ".h"), "wat": (".wat",)}

Progress = Callable[[str], None]


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


# --------------------------------------------------------------------------- dependencies


def _valid_requirement(req: str) -> bool:
    parts = [p.strip() for p in req.split(",")]
    return bool(parts) and all(p and _COMPARATOR.match(p) for p in parts)


def parse_dependency(spec: str) -> tuple[str, str, tuple[str, ...]]:
    """``name``, ``name@req`` or ``name@req[feat,...]`` -> (name, requirement, features).

    Raises ``ValueError`` for anything else: only registry crates with a semver requirement are
    accepted (no git, path or URL sources, nothing that could add TOML).
    """
    if not isinstance(spec, str) or len(spec) > 200:
        raise ValueError("a dependency is a string like `serde_json@1` or `serde@1[derive]`")
    features: tuple[str, ...] = ()
    body = spec.strip()
    if body.endswith("]") and "[" in body:
        body, _, feats = body[:-1].partition("[")
        features = tuple(f.strip() for f in feats.split(",") if f.strip())
        for f in features:
            if not FEATURE_NAME.match(f):
                raise ValueError(f"invalid feature name {f!r} in {spec!r}")
    name, _, req = body.partition("@")
    name, req = name.strip(), req.strip() or "*"
    if not CRATE_NAME.match(name):
        raise ValueError(f"invalid crate name {name!r} in {spec!r}: letters, digits, '_' and '-' only")
    if not _valid_requirement(req):
        raise ValueError(
            f"invalid version requirement {req!r} in {spec!r}: use a semver requirement such as "
            "`1`, `^1.0`, `~0.8.5`, `>=1.2, <2` or `*`"
        )
    return name, req, features


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string for these characters


def cargo_toml(package: str, dependencies: Sequence[str]) -> str:
    lines = [
        "[package]",
        f"name = {_toml_string(package)}",
        'version = "0.1.0"',
        'edition = "2021"',
        "build = false",
        "autobins = false",
        "",
        "[[bin]]",
        f"name = {_toml_string(package)}",
        'path = "src/main.rs"',
        "",
        "[dependencies]",
    ]
    for dep in dependencies:
        name, req, features = parse_dependency(dep)
        value = f"version = {_toml_string(req)}"
        if features:
            value += ", features = [" + ", ".join(_toml_string(f) for f in features) + "]"
        lines.append(f"{_toml_string(name)} = {{ {value} }}")
    lines += ["", "[profile.release]", 'opt-level = "s"', "strip = true", "debug = false", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- toolchains


def _run_text(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str | None:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, env=env, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


@dataclass(frozen=True, slots=True)
class RustToolchain:
    rustc: str
    cargo: str
    target: str
    version: str


def _rustc_candidates() -> list[str]:
    out = []
    for c in (os.environ.get("SKILLZ_RUSTC"), "/usr/bin/rustc", shutil.which("rustc")):
        if c and c not in out and Path(c).is_file():
            out.append(c)
    return out


@functools.cache
def rust_toolchain() -> RustToolchain | None:
    """The first rustc that has a wasm WASI std (wasip1 preferred), with a cargo beside it."""
    for rustc in _rustc_candidates():
        sysroot = (_run_text([rustc, "--print", "sysroot"]) or "").strip()
        targets = set((_run_text([rustc, "--print", "target-list"]) or "").split())
        version = (_run_text([rustc, "--version"]) or "").strip()
        if not sysroot or not version:
            continue
        for target in ("wasm32-wasip1", "wasm32-wasi"):
            if target in targets and (Path(sysroot) / "lib" / "rustlib" / target / "lib").is_dir():
                cargo = Path(rustc).with_name("cargo")
                found = str(cargo) if cargo.is_file() else shutil.which("cargo")
                if found:
                    return RustToolchain(rustc, found, target, version)
    return None


@functools.cache
def clang_toolchain() -> tuple[str, str] | None:
    """(clang, version) when a clang with a wasm32 backend is installed."""
    clang = shutil.which("clang") or ("/usr/bin/clang" if Path("/usr/bin/clang").is_file() else None)
    if clang is None:
        return None
    version = (_run_text([clang, "--version"]) or "").splitlines()
    return (clang, version[0]) if version else None


def _wasmtime_version() -> str:
    from importlib.metadata import version

    return f"wasmtime {version('wasmtime')}"


def toolchain_id(language: str) -> str:
    if language == "rust":
        tc = rust_toolchain()
        return f"{tc.version} {tc.target}" if tc else "none"
    if language == "c":
        c = clang_toolchain()
        return c[1] if c else "none"
    return _wasmtime_version()


def vendored_registry() -> Path | None:
    configured = os.environ.get("SKILLZ_CARGO_REGISTRY")
    if configured is not None:
        return Path(configured) if configured and Path(configured).is_dir() else None
    for candidate in VENDORED_REGISTRIES:
        if Path(candidate).is_dir():
            return Path(candidate)
    return None


# --------------------------------------------------------------------------- sources and keys


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


# --------------------------------------------------------------------------- running compilers


def _sandbox(argv: list[str], writable: Sequence[Path], *, network: bool) -> list[str]:
    """The build under bubblewrap (read-only system, writable build dirs, no network unless the
    crates come from the network) when bwrap works here, built by the one sandbox module; the bare
    argv otherwise. Only bwrap: firejail hides ``/var/tmp`` and paths under ``/tmp`` that
    toolchains use, and the build gains nothing from its extra filters."""
    from skillz_engine.isolation.argv import sandbox_argv
    from skillz_engine.isolation.detect import auto_choice
    from skillz_engine.isolation.policy import Mounts

    mode, binary, _ = auto_choice()
    if mode != "bwrap" or binary is None:
        return argv
    mounts = Mounts(ro=(), rw=tuple(dict.fromkeys(writable)), cwd=writable[0])
    return [*sandbox_argv(mode, binary, mounts, network=network), *argv]


def _run(argv: list[str], cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[int, str]:
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stderr or b"") if isinstance(exc.stderr, bytes) else b""
        raise BuildError(
            f"the build timed out after {timeout:g}s", log=out.decode("utf-8", "replace")
        ) from exc
    except OSError as exc:
        raise BuildError(f"cannot run {argv[0]}: {exc}") from exc
    log = proc.stderr.decode("utf-8", "replace") + proc.stdout.decode("utf-8", "replace")
    return proc.returncode, log


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
                out.append(_diag(shown, int(m["line"]), int(m["col"]), m["msg"]))
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
                out.append(_diag(shown, int(a["line"]), int(a["col"]), pending[1]))
            pending = None
    return out


def _diag(path: str, line: int, col: int, message: str) -> Diagnostic:
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


def _write_sources(src_dir: Path, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        target = (src_dir / rel).resolve()
        if not target.is_relative_to(src_dir.resolve()):
            raise BuildError(f"source file {rel!r} would land outside the build directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _compile_rust(
    source: Source, work: Path, cache_root: Path, timeout: float, progress: Progress
) -> tuple[Path, str]:
    tc = rust_toolchain()
    if tc is None:
        raise BuildError(
            "no Rust toolchain that can build for wasm32-wasip1 or wasm32-wasi was found",
            log="Install rustc, cargo and the wasm std (Debian: apt-get install rustc cargo "
            "libstd-rust-dev-wasm32), or `rustup target add wasm32-wasip1`.",
        )
    package = "skillz_tool"
    try:
        manifest = cargo_toml(package, source.dependencies)
    except ValueError as exc:
        raise BuildError(str(exc)) from exc
    files = dict(source.files)
    if source.main == "src/main.rs":  # a crate layout: only src/ is compiled (no build.rs)
        files = {r: b for r, b in files.items() if r.startswith("src/")}
    else:
        main = files.pop(source.main)
        base = str(Path(source.main).parent)
        files = {(f"src/{r[len(base) + 1 :]}" if base != "." else f"src/{r}"): b for r, b in files.items()}
        files["src/main.rs"] = main
    display = {
        ("src/main.rs" if r == source.main else (f"src/{r}" if not r.startswith("src/") else r)): s
        for r, s in source.display.items()
    }
    src = dataclasses.replace(source, display=display)
    _write_sources(work, files)
    (work / "Cargo.toml").write_text(manifest, encoding="utf-8")
    registry = vendored_registry()
    cargo_dir = work / ".cargo"
    cargo_dir.mkdir(exist_ok=True)
    config = [f"[build]\ntarget = {_toml_string(tc.target)}\n"]
    if registry is not None:
        config.append(
            '[source.crates-io]\nreplace-with = "vendored"\n'
            f"[source.vendored]\ndirectory = {_toml_string(str(registry))}\n[net]\noffline = true\n"
        )
    (cargo_dir / "config.toml").write_text("\n".join(config), encoding="utf-8")
    # crates compiled once per dependency set and toolchain, shared by every tool using them
    deps_key = hashlib.sha256(
        json.dumps([sorted(source.dependencies), tc.version, tc.target]).encode()
    ).hexdigest()
    target_dir = cache_root / f"target-{deps_key[:16]}"
    cargo_home = cache_root / "cargo-home"
    target_dir.mkdir(parents=True, exist_ok=True)
    cargo_home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{Path(tc.rustc).parent}:/usr/bin:/bin",
        "RUSTC": tc.rustc,
        "CARGO_HOME": str(cargo_home),
        "CARGO_TARGET_DIR": str(target_dir),
        "HOME": str(cargo_home),
        "CARGO_TERM_COLOR": "never",
        "LANG": "C.UTF-8",
    }
    argv = [tc.cargo, "build", "--release", "--target", tc.target]
    if registry is not None:
        argv.append("--offline")
    progress(f"cargo build --release --target {tc.target}")
    wrapped = _sandbox(argv, [work, target_dir, cargo_home], network=registry is None)
    # one target dir per dependency set: serialise builds of the same package name in it
    with _locked(target_dir / ".skillz-lock"):
        rc, log = _run(wrapped, work, env, timeout)
        built = target_dir / tc.target / "release" / f"{package}.wasm"
        if rc != 0 or not built.is_file():
            raise BuildError("the Rust build failed", diagnostics_from_log(log, src, ""), log)
        out = work / "out.wasm"
        shutil.copyfile(built, out)
    return out, log


@contextlib.contextmanager
def _locked(path: Path):  # type: ignore[no-untyped-def]
    import fcntl

    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _compile_c(source: Source, work: Path, timeout: float, progress: Progress) -> tuple[Path, str]:
    cc = clang_toolchain()
    if cc is None:
        raise BuildError(
            "clang is not installed",
            log="Install clang with wasi-libc (Debian: apt-get install clang lld wasi-libc "
            "libclang-rt-dev-wasm32).",
        )
    _write_sources(work / "src", source.files)
    units = [f"src/{r}" for r in sorted(source.files) if r.endswith(".c")]
    argv = [cc[0], "--target=wasm32-wasi", "-O2", "-s", "-fno-color-diagnostics", "-o", "out.wasm", *units]
    progress("clang --target=wasm32-wasi -O2")
    rc, log = _run(
        _sandbox(argv, [work], network=False), work, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, timeout
    )
    out = work / "out.wasm"
    if rc != 0 or not out.is_file():
        raise BuildError("the C build failed", diagnostics_from_log(log, source, "src/"), log)
    return out, log


_WAT_LOC = re.compile(r"--> (?:[^:]*):(?P<line>\d+):(?P<col>\d+)")


def wat_diagnostic(message: str, shown: str) -> Diagnostic:
    """wasmtime's WAT error (``msg`` then ``--> <anon>:line:col`` and the line) as a diagnostic."""
    m = _WAT_LOC.search(message)
    line, col = (int(m["line"]), int(m["col"])) if m else (1, 1)
    lines = message.strip().splitlines()
    first = lines[0] if lines else "invalid WAT"
    code = next((x.split("|", 1)[1].strip() for x in lines if re.match(rf"^\s*{line}\s*\|", x)), "")
    return _diag(shown, line, col, f"{first}: {code}" if code else first)


def _compile_wat(source: Source, work: Path) -> tuple[Path, str]:
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
            out, log = _compile_rust(source, work, root, timeout, say)
        elif source.language == "c":
            out, log = _compile_c(source, work, timeout, say)
        elif source.language == "wat":
            out, log = _compile_wat(source, work)
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
