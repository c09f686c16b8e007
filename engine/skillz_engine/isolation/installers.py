"""The installers of dependency environments: uv, pip and npm, run under one deadline.

:func:`install` builds the environment an :class:`EnvSpec` names in a fresh directory:
``uv venv --relocatable`` + ``uv pip install`` when ``uv`` is found (``dependencies.installer:
auto`` or ``uv``), else ``python -m venv`` + pip, or ``npm install --prefix`` (install scripts
off unless ``dependencies.installScripts``). Every step runs as a process (no shell), confined by
:mod:`~skillz_engine.isolation.confine` (clean environment, the tree's sandbox with the network
on and only the new environment writable), before the deadline of ``dependencies.timeout`` in
skillz.yaml (default 10 minutes); a failure raises
:class:`InstallError` carrying the tail of the installer's output. :func:`probe` tells the real
path and version of the base interpreter, once per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.cgroup import cgroup_argv, joins_at_spawn, new_cgroup_path
from skillz_engine.isolation.confine import Confinement, confined, passed_env
from skillz_engine.isolation.limits import Limits
from skillz_engine.isolation.process import Command, run
from skillz_engine.tree.config import Config, DependencySettings
from skillz_engine.tree.specs import DEFAULT_SANDBOX, Sandbox
from skillz_engine.units import UnitError, parse_duration

__all__ = ["DEFAULT_INSTALL_TIMEOUT", "EnvSpec", "InstallError", "Report", "Settings", "find_uv", "install",
           "probe"]  # fmt: skip

_DEFAULTS = DependencySettings()
DEFAULT_INSTALL_TIMEOUT = parse_duration(_DEFAULTS.timeout)  # seconds for one whole environment install
OUTPUT_TAIL = 4000  # characters of installer output kept in an error
PROBE_TIMEOUT = 30.0

Report = Callable[[str], Awaitable[None]]


class InstallError(RuntimeFailure):
    """An environment could not be installed. ``output`` is the tail of what the installer said."""

    def __init__(self, message: str, output: str = "") -> None:
        self.message = message
        self.output = output
        super().__init__(message + (f"\ninstaller output (tail):\n{output}" if output else ""))


@dataclass(frozen=True, slots=True)
class Settings:
    """How environments are installed: the deadline, the pip installer (``auto`` | ``uv`` | ``pip``),
    the sandbox the installers run in, and whether npm install scripts run."""

    timeout: float = DEFAULT_INSTALL_TIMEOUT
    installer: str = _DEFAULTS.installer
    sandbox: str = str(DEFAULT_SANDBOX.mode)
    scripts: bool = _DEFAULTS.install_scripts

    @classmethod
    def from_config(cls, config: Config | None) -> Settings:
        if config is None:
            return cls()
        deps = config.dependencies
        try:
            timeout = parse_duration(deps.timeout)
        except UnitError:
            timeout = DEFAULT_INSTALL_TIMEOUT
        mode = str(config.sandbox.over(Sandbox(mode=DEFAULT_SANDBOX.mode)).mode)
        return cls(timeout, deps.installer, mode, deps.install_scripts)


@dataclass(frozen=True, slots=True)
class EnvSpec:
    """The identity of one environment: what installs it and where it lives.

    Its sha256 (:attr:`key`) over the kind, the real path and version of the base interpreter and
    the sorted, normalised requirements names the environment's directory in the cache."""

    kind: str  # "pip" | "npm"
    base: str  # real path of the base interpreter (python for pip, node for npm)
    version: str  # its version
    requirements: tuple[str, ...]  # sorted, normalised, unique

    @property
    def key(self) -> str:
        blob = json.dumps([self.kind, self.base, self.version, list(self.requirements)])
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    @property
    def dirname(self) -> str:
        return f"{self.kind}-{self.key}"

    def path(self, state_dir: Path) -> Path:
        return state_dir / "envs" / self.dirname


def find_uv() -> str | None:
    """``uv`` next to the running Python (a venv's bin dir), else on the server's PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("uv")


async def _step(argv: Sequence[str], box: Confinement, cwd: Path, deadline: float, what: str) -> None:
    """Run one confined installer command before ``deadline``; :class:`InstallError` when it fails."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise InstallError(f"{what}: out of time (dependencies.timeout)")
    cgroup = new_cgroup_path() if box.mode == "none" else None  # holds what an unsandboxed step leaves
    argv = box.argv(argv)
    if cgroup is not None and not joins_at_spawn():  # on cgroup v1 the spawner starts it inside
        argv = [*cgroup_argv(cgroup), *argv]
    cmd = Command(tuple(argv), cwd, box.env, Limits(timeout=left), sandbox=box.mode, cgroup=cgroup)
    proc = await run(cmd)
    if proc.ok:
        return
    output = (proc.stdout_text() + "\n" + proc.stderr.decode("utf-8", "replace")).strip()
    output = output[-OUTPUT_TAIL:]
    if proc.timed_out:
        raise InstallError(f"{what} timed out (dependencies.timeout in skillz.yaml raises the limit)", output)
    raise InstallError(f"{what} failed: {Path(argv[0]).name} {proc.exit_description()}", output)


def _local_paths(requirements: Sequence[str]) -> list[Path]:
    """Local packages named by requirements (allowed by ``allowDirectReferences``): the installer
    reads them, so the sandbox shows them."""
    paths: list[Path] = []
    for req in requirements:
        for part in req.split():
            where = part.split("file:", 1)[1] if "file:" in part else part
            where = "/" + where.lstrip("/") if "file:" in part else where
            if where.startswith("/") and Path(where).exists():
                paths.append(Path(where))
    return paths


def _rewrite_prefix(bin_dir: Path, old: Path, new: Path) -> None:
    """After the rename, point the venv's scripts (shebangs, activate) at the final directory."""
    old_b, new_b = os.fsencode(old), os.fsencode(new)
    for f in bin_dir.iterdir():
        if f.is_symlink() or not f.is_file():
            continue
        data = f.read_bytes()
        if old_b in data and b"\0" not in data[:1024]:
            f.write_bytes(data.replace(old_b, new_b))


async def install(env: EnvSpec, tmp: Path, final: Path, settings: Settings, report: Report) -> str:
    """Build ``env`` in ``tmp`` (to be renamed to ``final``); returns the installer used."""
    deadline = time.monotonic() + settings.timeout
    n = len(env.requirements)
    what = f"{n} {env.kind} package{'s' if n != 1 else ''}"
    local = _local_paths(env.requirements)
    if env.kind == "npm":
        npm = shutil.which("npm", path=os.environ.get("PATH"))
        if npm is None:
            raise InstallError("npm not found on PATH: install Node.js with npm to use `dependencies.npm`")
        with confined(settings.sandbox, tmp, [npm, env.base], local) as box:
            (tmp / "package.json").write_text('{"name": "skillz-env", "private": true}\n', encoding="utf-8")
            await report(f"installing {what} with npm" + (f" in {box.mode}" if box.mode != "none" else ""))
            scripts = [] if settings.scripts else ["--ignore-scripts"]
            argv = [npm, "install", "--prefix", str(tmp), "--no-audit", "--no-fund", "--loglevel=error"]
            await _step([*argv, *scripts, "--", *env.requirements], box, tmp, deadline, "npm install")
        return "npm"
    uv = find_uv() if settings.installer in ("auto", "uv") else None
    if settings.installer == "uv" and uv is None:
        raise InstallError("dependencies.installer is `uv` but uv is not installed")
    if uv is not None:
        with confined(settings.sandbox, tmp, [uv, env.base], local) as box:
            await report(f"creating a virtualenv with uv for {env.base} {env.version}")
            venv = [uv, "venv", "--quiet", "--relocatable", "--python", env.base, str(tmp)]
            await _step(venv, box, tmp, deadline, "uv venv")
            await report(f"installing {what} with uv")
            python = str(tmp / "bin" / "python")
            await _step([uv, "pip", "install", "--python", python, "--", *env.requirements],
                        box, tmp, deadline, "uv pip install")  # fmt: skip
        return "uv"
    with confined(settings.sandbox, tmp, [env.base], local) as box:
        await report(f"creating a virtualenv with {env.base} -m venv")
        await _step([env.base, "-m", "venv", str(tmp)], box, tmp, deadline, "python -m venv")
        await report(f"installing {what} with pip")
        pip = [str(tmp / "bin" / "python"), "-m", "pip", "install", "--no-input", "--", *env.requirements]
        await _step(pip, box, tmp, deadline, "pip install")
    _rewrite_prefix(tmp / "bin", tmp, final)
    return "pip"


# --------------------------------------------------------------------------- interpreters

_PROBES: dict[tuple[str, int], tuple[str, str]] = {}


async def probe(program: str, kind: str) -> tuple[str, str]:
    """The real path and version of a python (``kind`` pip) or node (npm); probed once per process.

    For Python the path is the real ``sys.executable`` (a pyenv shim or a venv's python resolves
    to the interpreter behind it).
    """
    real = os.path.realpath(program)
    try:
        mtime = Path(real).stat().st_mtime_ns
    except OSError as exc:
        raise InstallError(f"cannot use interpreter {program!r}: {exc.strerror}") from exc
    key = (real, mtime)
    cached = _PROBES.get(key)
    if cached is not None:
        return cached
    if kind == "pip":
        code = "import os, sys; print('%d.%d.%d' % sys.version_info[:3]); "
        code += "print(os.path.realpath(sys.executable))"
        argv = [real, "-c", code]
    else:
        argv = [real, "--version"]
    proc = await run(Command(tuple(argv), Path(real).parent, passed_env(), Limits(timeout=PROBE_TIMEOUT)))
    lines = proc.stdout_text().strip().splitlines()
    version = lines[0].lstrip("v") if lines else ""
    if kind == "pip" and len(lines) > 1:
        real = lines[1].strip()
    if not proc.ok or not version:
        raise InstallError(
            f"cannot tell the version of {program!r}: it {proc.exit_description()}",
            proc.stderr.decode("utf-8", "replace")[-OUTPUT_TAIL:],
        )
    _PROBES[key] = (real, version)
    return real, version
