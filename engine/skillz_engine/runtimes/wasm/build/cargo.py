"""Rust: crate dependencies, the generated crate, the toolchain, and the cargo build.

The crate is generated here: ``Cargo.toml`` is written from validated crate names and version
requirements (:func:`parse_dependency`), so a dependency string cannot inject TOML, git or path
dependencies. cargo builds it for ``wasm32-wasip1`` when the toolchain has that target's std,
else ``wasm32-wasi``. A Debian-style vendored registry (``/usr/share/cargo/registry``, or
``$SKILLZ_CARGO_REGISTRY``) makes the build offline. rustc is chosen by whether it can actually
build for wasm (rustup's rustc without the wasm std is skipped in favour of ``/usr/bin/rustc``).
Compiled crates are shared by every tool with the same dependency set and toolchain.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from skillz_engine.runtimes.wasm.build.compilelog import diagnostics_from_log
from skillz_engine.runtimes.wasm.build.process import locked, run, run_text, sandboxed
from skillz_engine.runtimes.wasm.build.source import BuildError, Source, write_sources

__all__ = [
    "RustToolchain",
    "cargo_toml",
    "compile_rust",
    "parse_dependency",
    "rust_toolchain",
    "vendored_registry",
]

CRATE_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]{0,63}")
FEATURE_NAME = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9_+.-]{0,63}")
# one comparator of a Cargo version requirement: an optional operator, then a (partial) version
_COMPARATOR = re.compile(
    r"^(?:\^|~|=|>=|<=|>|<)?\s*(?:\*|\d+(?:\.(?:\d+|\*)(?:\.(?:\d+|\*))?)?)(?:-[0-9A-Za-z.-]+)?$"
)
VENDORED_REGISTRIES = ("/usr/share/cargo/registry",)
PACKAGE = "skillz_tool"

# --------------------------------------------------------------------------- dependencies


def _valid_requirement(req: str) -> bool:
    parts = [p.strip() for p in req.split(",")]
    return bool(parts) and all(p and _COMPARATOR.fullmatch(p) for p in parts)


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
            if not FEATURE_NAME.fullmatch(f):
                raise ValueError(f"invalid feature name {f!r} in {spec!r}")
    name, _, req = body.partition("@")
    name, req = name.strip(), req.strip() or "*"
    if not CRATE_NAME.fullmatch(name):
        raise ValueError(f"invalid crate name {name!r} in {spec!r}: letters, digits, '_' and '-' only")
    if not _valid_requirement(req):
        raise ValueError(
            f"invalid version requirement {req!r} in {spec!r}: use a semver requirement such as "
            "`1`, `^1.0`, `~0.8.5`, `>=1.2, <2` or `*`"
        )
    return name, req, features


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string for these characters


def cargo_toml(package: str, dependencies: Sequence[str]) -> str:
    lines = [
        "[package]",
        f"name = {toml_string(package)}",
        'version = "0.1.0"',
        'edition = "2021"',
        "build = false",
        "autobins = false",
        "",
        "[[bin]]",
        f"name = {toml_string(package)}",
        'path = "src/main.rs"',
        "",
        "[dependencies]",
    ]
    for dep in dependencies:
        name, req, features = parse_dependency(dep)
        value = f"version = {toml_string(req)}"
        if features:
            value += ", features = [" + ", ".join(toml_string(f) for f in features) + "]"
        lines.append(f"{toml_string(name)} = {{ {value} }}")
    lines += ["", "[profile.release]", 'opt-level = "s"', "strip = true", "debug = false", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the toolchain


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
        sysroot = (run_text([rustc, "--print", "sysroot"]) or "").strip()
        targets = set((run_text([rustc, "--print", "target-list"]) or "").split())
        version = (run_text([rustc, "--version"]) or "").strip()
        if not sysroot or not version:
            continue
        for target in ("wasm32-wasip1", "wasm32-wasi"):
            if target in targets and (Path(sysroot) / "lib" / "rustlib" / target / "lib").is_dir():
                cargo = Path(rustc).with_name("cargo")
                found = str(cargo) if cargo.is_file() else shutil.which("cargo")
                if found:
                    return RustToolchain(rustc, found, target, version)
    return None


def vendored_registry() -> Path | None:
    configured = os.environ.get("SKILLZ_CARGO_REGISTRY")
    if configured is not None:
        return Path(configured) if configured and Path(configured).is_dir() else None
    for candidate in VENDORED_REGISTRIES:
        if Path(candidate).is_dir():
            return Path(candidate)
    return None


# --------------------------------------------------------------------------- the build


def _crate(source: Source) -> tuple[dict[str, bytes], Source]:
    """The crate's files (``src/main.rs`` and the rest under ``src/``), and ``source`` with its
    display paths renamed to match, so compiler errors point at the files in the tree."""
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
    return files, dataclasses.replace(source, display=display)


def _cargo_config(tc: RustToolchain, registry: Path | None) -> str:
    config = [f"[build]\ntarget = {toml_string(tc.target)}\n"]
    if registry is not None:
        config.append(
            '[source.crates-io]\nreplace-with = "vendored"\n'
            f"[source.vendored]\ndirectory = {toml_string(str(registry))}\n[net]\noffline = true\n"
        )
    return "\n".join(config)


def compile_rust(
    source: Source, work: Path, cache_root: Path, timeout: float, progress: Callable[[str], None]
) -> tuple[Path, str]:
    """Build ``source`` in ``work`` with cargo; the module's path and the build log."""
    tc = rust_toolchain()
    if tc is None:
        raise BuildError(
            "no Rust toolchain that can build for wasm32-wasip1 or wasm32-wasi was found",
            log="Install rustc, cargo and the wasm std (Debian: apt-get install rustc cargo "
            "libstd-rust-dev-wasm32), or `rustup target add wasm32-wasip1`.",
        )
    try:
        manifest = cargo_toml(PACKAGE, source.dependencies)
    except ValueError as exc:
        raise BuildError(str(exc)) from exc
    files, src = _crate(source)
    write_sources(work, files)
    (work / "Cargo.toml").write_text(manifest, encoding="utf-8")
    registry = vendored_registry()
    cargo_dir = work / ".cargo"
    cargo_dir.mkdir(exist_ok=True)
    (cargo_dir / "config.toml").write_text(_cargo_config(tc, registry), encoding="utf-8")
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
    wrapped = sandboxed(argv, [work, target_dir, cargo_home], network=registry is None)
    # one target dir per dependency set: serialise builds of the same package name in it
    with locked(target_dir / ".skillz-lock"):
        rc, log = run(wrapped, work, env, timeout)
        built = target_dir / tc.target / "release" / f"{PACKAGE}.wasm"
        if rc != 0 or not built.is_file():
            raise BuildError("the Rust build failed", diagnostics_from_log(log, src, ""), log)
        out = work / "out.wasm"
        shutil.copyfile(built, out)
    return out, log
