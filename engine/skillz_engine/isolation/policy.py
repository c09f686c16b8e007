"""The sandbox policy of a tool: what it asked for, and which paths its sandbox shows.

:func:`policy_for` merges the tool's ``sandbox`` over the default in skillz.yaml;
:func:`mounts_for` turns it into :class:`Mounts`: the tool's tree, program and environment
read-only, its ``writable`` paths read-write. The argv builders of
:mod:`skillz_engine.isolation.argv` only translate these into each sandbox's options.

Relative ``writable`` paths are contained by :mod:`skillz_engine.tree.paths` (no ``..``, no
symlink leading out, created when missing); absolute ones are taken as written and must exist.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from skillz_engine.errors import RuntimeFailure
from skillz_engine.tree.paths import OUTSIDE, PARENT, PathEscape, safe_join
from skillz_engine.tree.specs import DEFAULT_SANDBOX, Sandbox, SandboxMode, ToolSpec, process_keys

if TYPE_CHECKING:
    from skillz_engine.tree.config import Config
    from skillz_engine.tree.model import EntrySpec

__all__ = [
    "DEFAULT_MODE",
    "HIDDEN_TMP",
    "MODES",
    "Mounts",
    "Policy",
    "environment_sandbox",
    "hidden",
    "mounts_for",
    "policy_for",
]

MODES: tuple[str, ...] = get_args(SandboxMode)
DEFAULT_MODE = str(DEFAULT_SANDBOX.mode)
HIDDEN_TMP = ("/tmp",)  # what the sandboxes replace with a private tmpfs
ENV_PATHS = ("VIRTUAL_ENV", "NODE_PATH", "PATH")  # variables naming what the tool runs and imports
# SKILLZ_SANDBOX values (Rust Skillz) -> modes
SKILLZ_SANDBOX_MODES: dict[str, SandboxMode] = {
    "bubblewrap": "bwrap",
    "bwrap": "bwrap",
    "firejail": "firejail",
    "nsjail": "nsjail",
}


@dataclass(frozen=True, slots=True)
class Policy:
    """What a tool asked for: ``sandbox`` of its manifest over the default in skillz.yaml."""

    mode: str = DEFAULT_MODE
    network: bool = False
    writable: tuple[str, ...] = ()


def environment_sandbox(environ: Mapping[str, str] | None = None) -> Sandbox:
    """Rust Skillz's sandbox settings, honoured under ``sandbox`` in skillz.yaml: ``SKILLZ_SANDBOX``
    (``bubblewrap``/``bwrap``, ``firejail``, ``nsjail``; other values are ignored) picks the mode,
    and ``SKILLZ_SANDBOX_NETWORK`` being set allows the network."""
    environ = os.environ if environ is None else environ
    mode = SKILLZ_SANDBOX_MODES.get(environ.get("SKILLZ_SANDBOX", "").strip().lower())
    return Sandbox(mode=mode, network=True if "SKILLZ_SANDBOX_NETWORK" in environ else None)


def policy_for(spec: EntrySpec, config: Config | None = None) -> Policy:
    """The tool's ``sandbox``, key by key over ``sandbox`` in skillz.yaml, over Skillz's environment
    variables (:func:`environment_sandbox`), over the defaults."""
    tree = config.sandbox if config is not None else Sandbox()
    record = process_keys(spec.record)
    merged = record.sandbox.over(tree).over(environment_sandbox()).over(DEFAULT_SANDBOX)
    mode = str(merged.mode)
    if mode not in MODES:  # the schema makes this unreachable for validated manifests
        raise RuntimeFailure(f"unknown sandbox mode {mode!r}; use one of {', '.join(MODES)}")
    network = bool(merged.network)
    if isinstance(record, ToolSpec) and record.requires.services and record.sandbox.network is None:
        network = True  # a tool that requires a service must reach its published port
    return Policy(mode, network, tuple(str(p) for p in merged.writable or ()))


@dataclass(frozen=True, slots=True)
class Mounts:
    """Paths the sandbox shows: ``ro`` read-only, ``rw`` read-write, and the working directory."""

    ro: tuple[Path, ...]
    rw: tuple[Path, ...]
    cwd: Path


def hidden(path: Path) -> bool:
    """Whether ``path`` (resolved) lies in a directory the sandbox replaces with a private tmpfs."""
    return any(path.is_relative_to(h) for h in HIDDEN_TMP)


def _refused(raw: str, spec: EntrySpec, exc: PathEscape) -> RuntimeFailure:
    """The error for a relative ``writable`` entry that :func:`safe_join` refused."""
    if exc.reason == PARENT:
        return RuntimeFailure(f"sandbox.writable {raw!r} leaves the entry's directory ('..' is not allowed)")
    if exc.reason == OUTSIDE:
        target = (spec.home / raw).resolve()
        return RuntimeFailure(f"sandbox.writable {raw!r} leads outside the entry's directory (symlink to "
                              f"{target}); use an absolute path if that is intended")  # fmt: skip
    return RuntimeFailure(f"sandbox.writable {raw!r}: {exc.reason}. {exc.hint}")


def _writable_path(spec: EntrySpec, raw: str) -> Path:
    """A ``writable`` entry as a real path: relative ones stay inside the entry (created if missing)."""
    if "\x00" in raw:
        raise RuntimeFailure(f"sandbox.writable {raw!r}: NUL byte in path")
    if raw.startswith("/"):
        path = Path(raw)
        if not path.exists():
            raise RuntimeFailure(f"sandbox.writable {raw!r} does not exist; create it or remove it")
        return path.resolve()
    try:
        target = safe_join(spec.home, raw, allow_hidden=True)  # checked before anything is created
        if not target.exists():
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RuntimeFailure(f"sandbox.writable {raw!r}: cannot create it: {exc.strerror}") from exc
        # still inside after creating it; an existing file may be named too (bound writable as is)
        return safe_join(spec.home, raw, allow_hidden=True)
    except PathEscape as exc:
        raise _refused(raw, spec, exc) from exc


def mounts_for(
    spec: EntrySpec,
    policy: Policy,
    cwd: Path,
    program: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Mounts:
    """What the tool sees: its tree (read-only), its program, its working dir, the server's working
    dir (read-only), its writable paths.

    The program (as given and resolved) and the directories its environment names (a dependency
    environment's ``VIRTUAL_ENV``, ``NODE_PATH``, ``PATH`` entries) are shown read-only too, so they
    stay visible when they live where the sandbox puts a private tmpfs.
    """
    candidates: list[Path] = [Path(spec.root), Path(spec.home), Path(cwd)]
    # the server's own working directory is the user's project as a client launched it (Claude
    # Code, an IDE, CI): tools that take a path into it must see it even when it lies under /tmp
    with contextlib.suppress(OSError):
        candidates.append(Path.cwd())
    if program and program.startswith("/"):
        given = Path(program)
        # PREFIX/bin/prog (a venv, a node install): the prefix holds what the program loads
        candidates += [given.parent.parent if given.parent.name == "bin" else given.parent, given]
    for name in ENV_PATHS:
        candidates += [Path(p) for p in (env or {}).get(name, "").split(os.pathsep) if p.startswith("/")]
    # the paths compared below are all resolved already: plain lexical containment decides
    ro: list[Path] = []
    for p in candidates:
        try:
            real = p.resolve()
        except OSError:
            continue
        if any(Path(h).is_relative_to(real) for h in HIDDEN_TMP):  # "/" or "/tmp": never re-expose /tmp
            continue
        if real.exists() and not any(real.is_relative_to(r) for r in ro):
            ro = [r for r in ro if not r.is_relative_to(real)] + [real]
    rw = tuple(dict.fromkeys(_writable_path(spec, raw) for raw in policy.writable))
    return Mounts(tuple(ro), rw, Path(cwd).resolve())
