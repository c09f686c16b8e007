"""Per-tool dependency environments: pip virtualenvs and npm prefixes, the pre-commit way.

A script entry asks for packages with ``dependencies: {pip: [...], npm: [...]}`` in its manifest
and, for a Python entry, with PEP 723 inline script metadata (a ``# /// script`` block holding
``dependencies`` and ``requires-python``). :func:`plan_for` reads both at compile time (reading
files only, no processes) into a :class:`Plan`.

At call time (or in ``skillz-engine build``) :meth:`Plan.activate` turns the plan into a ready
environment:

* each environment is identified by :class:`EnvSpec`: the kind (``pip`` / ``npm``), the real path
  and version of the base interpreter, and the sorted, normalised requirements; its sha256 names
  the directory ``<state_dir>/envs/<kind>-<hash>/``, so tools asking for the same set share one;
* it is built in a temporary directory next to that one (``uv venv --relocatable`` + ``uv pip
  install`` when ``uv`` is found, else ``python -m venv`` + pip; ``npm install --prefix``), a
  marker file is written last, and the directory is renamed into place: an environment either
  does not exist or is complete. A per-environment ``fcntl`` lock makes concurrent first calls
  (or a server and ``build``) install once;
* the whole install has a deadline (``dependencies.timeout`` in skillz.yaml, default 10 minutes);
  a failure raises :class:`InstallError` carrying the tail of the installer's output, and leaves
  nothing behind.

A ready environment costs a ``stat`` per call: the base interpreter's version is probed once per
process. Rust Skillz trees keep working: an ``env/`` directory inside the tool (a venv with
``env/bin/python``, or ``env/node_modules``) is used as is when the manifest declares no
dependencies, or when the entry is in the Rust format (which installed its dependencies there).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillz_engine.errors import RuntimeFailure
from skillz_engine.tree.diagnostics import Diagnostic, Severity, display_path
from skillz_engine.tree.model import EntrySpec

if TYPE_CHECKING:
    from skillz_engine.tree.config import Config

__all__ = [
    "DEFAULT_INSTALL_TIMEOUT",
    "MARKER",
    "Activation",
    "EnvSpec",
    "InstallError",
    "Plan",
    "Settings",
    "ensure",
    "find_uv",
    "inline_metadata",
    "plan_for",
]

MARKER = ".skillz-env.json"  # written last: its presence means "installed"
DEFAULT_INSTALL_TIMEOUT = 600.0  # seconds for one whole environment install
LOCK_POLL = 0.1  # seconds between attempts to take an environment's lock
OUTPUT_TAIL = 4000  # characters of installer output kept in an error
PROBE_TIMEOUT = 30.0

Report = Callable[[str], Awaitable[None]]

# PEP 723, the reference regular expression
_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
_OPENER = re.compile(r"(?m)^# /// script[ \t]*$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$", re.S)


class InstallError(RuntimeFailure):
    """An environment could not be installed. ``output`` is the tail of what the installer said."""

    def __init__(self, message: str, output: str = "") -> None:
        self.message = message
        self.output = output
        super().__init__(message + (f"\ninstaller output (tail):\n{output}" if output else ""))


# --------------------------------------------------------------------------- PEP 723


def inline_metadata(text: str, display: str) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """The ``script`` metadata block of a Python file (PEP 723), or ``None`` when there is none.

    Malformed blocks (several ``script`` blocks, a block never closed, TOML that does not parse,
    keys of the wrong type, dependencies that are not PEP 508) give error diagnostics.
    """

    def diag(offset: int, message: str, hint: str) -> Diagnostic:
        line = text.count("\n", 0, offset) + 1
        return Diagnostic(display, line, 1, "SKZ520", Severity.ERROR, message, "$", hint)

    matches = [m for m in _BLOCK.finditer(text) if m.group("type") == "script"]
    if not matches:
        opener = _OPENER.search(text)
        if opener is None:
            return None, []
        return None, [
            diag(
                opener.start(),
                "PEP 723 `# /// script` block is not closed",
                "End the block with a line `# ///`; every line inside starts with `#`.",
            )
        ]
    if len(matches) > 1:
        return None, [
            diag(
                matches[1].start(),
                "more than one PEP 723 `# /// script` block",
                "Keep one `# /// script` block per file.",
            )
        ]
    m = matches[0]
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in m.group("content").splitlines(keepends=True)
    )
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        return None, [
            diag(
                m.start(),
                f"PEP 723 block is not valid TOML: {exc}",
                'Write TOML inside the block, e.g. `# dependencies = ["requests<3"]`.',
            )
        ]
    problems: list[Diagnostic] = []
    deps = data.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        problems.append(
            diag(
                m.start(),
                "PEP 723 `dependencies` must be an array of strings",
                'Example: `# dependencies = ["requests<3", "rich"]`.',
            )
        )
    else:
        from packaging.requirements import InvalidRequirement, Requirement

        for d in deps:
            try:
                Requirement(d)
            except InvalidRequirement as exc:
                problems.append(
                    diag(
                        m.start(),
                        f"PEP 723 dependency {d!r} is not a PEP 508 requirement: {exc}",
                        "Write a requirement such as `requests>=2.31`.",
                    )
                )
    rp = data.get("requires-python")
    if rp is not None:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(str(rp)) if isinstance(rp, str) else None
        except InvalidSpecifier as exc:
            problems.append(
                diag(
                    m.start(),
                    f"PEP 723 `requires-python` is not a version specifier: {exc}",
                    'Example: `# requires-python = ">=3.11"`.',
                )
            )
        if not isinstance(rp, str):
            problems.append(
                diag(
                    m.start(),
                    "PEP 723 `requires-python` must be a string",
                    'Example: `# requires-python = ">=3.11"`.',
                )
            )
    return (None, problems) if problems else (data, [])


# --------------------------------------------------------------------------- requirements


def normalise_pip(req: str, base: Path) -> str:
    """One pip requirement in a canonical spelling: paths made absolute, names PEP 503-normalised."""
    req = " ".join(req.split())
    if req.startswith(("./", "../")) or req in (".", ".."):
        return str((base / req).resolve())
    if "://" in req or req.startswith(("/", "-")):
        return req
    m = _NAME.match(req)
    if m is None:
        return req
    name, rest = m.groups()
    return re.sub(r"[-_.]+", "-", name).lower() + rest.replace(" ", "")


@dataclass(frozen=True, slots=True)
class Settings:
    """How environments are installed: the deadline and the pip installer (``auto`` | ``uv`` | ``pip``)."""

    timeout: float = DEFAULT_INSTALL_TIMEOUT
    installer: str = "auto"

    @classmethod
    def from_config(cls, config: Config | None) -> Settings:
        from skillz_engine.units import UnitError, parse_duration

        if config is None:
            return cls()
        raw = config.get("dependencies") or {}
        timeout = DEFAULT_INSTALL_TIMEOUT
        if raw.get("timeout") is not None:
            try:
                timeout = parse_duration(raw["timeout"])
            except UnitError:
                timeout = DEFAULT_INSTALL_TIMEOUT
        return cls(timeout=timeout, installer=str(raw.get("installer") or "auto"))


@dataclass(frozen=True, slots=True)
class EnvSpec:
    """The identity of one environment: what installs it and where it lives."""

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


# --------------------------------------------------------------------------- installing


def find_uv() -> str | None:
    """``uv`` next to the running Python (a venv's bin dir), else on the server's PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("uv")


def _installer_env() -> dict[str, str]:
    """The server's environment (proxies, index and cache settings), minus the active venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "UV_PYTHON", "CONDA_PREFIX")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    env.setdefault("npm_config_update_notifier", "false")
    return env


async def _step(argv: Sequence[str], cwd: Path, deadline: float, what: str) -> None:
    """Run one installer command before ``deadline``; :class:`InstallError` when it fails."""
    from skillz_engine.isolation.limits import Limits
    from skillz_engine.isolation.process import Command, run

    left = deadline - time.monotonic()
    if left <= 0:
        raise InstallError(f"{what}: out of time (dependencies.timeout)")
    cmd = Command(tuple(argv), cwd, _installer_env(), Limits(timeout=left))
    proc = await run(cmd)
    if proc.ok:
        return
    output = (proc.stdout_text() + "\n" + proc.stderr.decode("utf-8", "replace")).strip()
    output = output[-OUTPUT_TAIL:]
    if proc.timed_out:
        raise InstallError(f"{what} timed out (dependencies.timeout in skillz.yaml raises the limit)", output)
    raise InstallError(f"{what} failed: {Path(argv[0]).name} {proc.exit_description()}", output)


def _rewrite_prefix(bin_dir: Path, old: Path, new: Path) -> None:
    """After the rename, point the venv's scripts (shebangs, activate) at the final directory."""
    old_b, new_b = os.fsencode(old), os.fsencode(new)
    for f in bin_dir.iterdir():
        if f.is_symlink() or not f.is_file():
            continue
        data = f.read_bytes()
        if old_b in data and b"\0" not in data[:1024]:
            f.write_bytes(data.replace(old_b, new_b))


async def _install(env: EnvSpec, tmp: Path, final: Path, settings: Settings, report: Report) -> str:
    """Build ``env`` in ``tmp`` (to be renamed to ``final``); returns the installer used."""
    deadline = time.monotonic() + settings.timeout
    n = len(env.requirements)
    what = f"{n} {env.kind} package{'s' if n != 1 else ''}"
    if env.kind == "npm":
        npm = shutil.which("npm", path=os.environ.get("PATH"))
        if npm is None:
            raise InstallError("npm not found on PATH: install Node.js with npm to use `dependencies.npm`")
        tmp.mkdir(parents=True)
        (tmp / "package.json").write_text('{"name": "skillz-env", "private": true}\n', encoding="utf-8")
        await report(f"installing {what} with npm")
        await _step(
            [
                npm,
                "install",
                "--prefix",
                str(tmp),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--",
                *env.requirements,
            ],
            tmp,
            deadline,
            "npm install",
        )
        return "npm"
    uv = find_uv() if settings.installer in ("auto", "uv") else None
    if settings.installer == "uv" and uv is None:
        raise InstallError("dependencies.installer is `uv` but uv is not installed")
    if uv is not None:
        await report(f"creating a virtualenv with uv for {env.base} {env.version}")
        await _step(
            [uv, "venv", "--quiet", "--relocatable", "--python", env.base, str(tmp)],
            tmp.parent,
            deadline,
            "uv venv",
        )
        await report(f"installing {what} with uv")
        await _step(
            [uv, "pip", "install", "--python", str(tmp / "bin" / "python"), *env.requirements],
            tmp.parent,
            deadline,
            "uv pip install",
        )
        return "uv"
    await report(f"creating a virtualenv with {env.base} -m venv")
    await _step([env.base, "-m", "venv", str(tmp)], tmp.parent, deadline, "python -m venv")
    await report(f"installing {what} with pip")
    await _step(
        [str(tmp / "bin" / "python"), "-m", "pip", "install", "--no-input", *env.requirements],
        tmp.parent,
        deadline,
        "pip install",
    )
    _rewrite_prefix(tmp / "bin", tmp, final)
    return "pip"


@contextlib.asynccontextmanager
async def _locked(path: Path, wait: float, report: Report) -> AsyncIterator[None]:
    """Hold an exclusive ``flock`` on ``path``, polling (so the wait is cancellable and bounded)."""
    import anyio

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InstallError(f"gave up waiting for another install of {path.stem}") from None
                if not told:
                    told = True
                    await report("waiting for another install of the same environment")
                await anyio.sleep(LOCK_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


async def ensure(
    env: EnvSpec, state_dir: Path, settings: Settings, report: Report, *, force: bool = False
) -> tuple[Path, bool]:
    """The installed environment's directory, and whether this call installed it."""
    import anyio

    final = env.path(state_dir)
    if not force and (final / MARKER).is_file():
        return final, False
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    async with _locked(root / f"{env.dirname}.lock", settings.timeout + 60, report):
        if not force and (final / MARKER).is_file():  # installed while we waited
            return final, False
        for stale in root.glob(f".{env.dirname}.*"):  # left by a crashed install (we hold the lock)
            await anyio.to_thread.run_sync(_remove, stale)
        tmp = root / f".{env.dirname}.{secrets.token_hex(4)}.tmp"
        started = time.monotonic()
        try:
            installer = await _install(env, tmp, final, settings, report)
            marker = {
                "kind": env.kind,
                "base": env.base,
                "version": env.version,
                "requirements": list(env.requirements),
                "installer": installer,
                "installed": time.time(),
                "seconds": round(time.monotonic() - started, 3),
            }
            part = tmp / (MARKER + ".part")
            part.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            part.replace(tmp / MARKER)
            if final.exists() or final.is_symlink():
                trash = root / f".{env.dirname}.{secrets.token_hex(4)}.old"
                final.rename(trash)
                tmp.rename(final)
                await anyio.to_thread.run_sync(_remove, trash)
            else:
                tmp.rename(final)
        finally:
            with anyio.CancelScope(shield=True):
                if tmp.exists():
                    await anyio.to_thread.run_sync(_remove, tmp)
    await report(f"installed {env.dirname} in {time.monotonic() - started:.1f}s")
    return final, True


# --------------------------------------------------------------------------- interpreters

_PROBES: dict[tuple[str, int], tuple[str, str]] = {}


async def probe(program: str, kind: str) -> tuple[str, str]:
    """The real path and version of a python (``kind`` pip) or node (npm); probed once per process.

    For Python the path is the real ``sys.executable`` (a pyenv shim or a venv's python resolves
    to the interpreter behind it).
    """
    from skillz_engine.isolation.limits import Limits
    from skillz_engine.isolation.process import Command, run

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
    proc = await run(Command(tuple(argv), Path(real).parent, _installer_env(), Limits(timeout=PROBE_TIMEOUT)))
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


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class Activation:
    """How to run a script in its environments: the interpreter to use and variables to add."""

    program: list[str]
    env: dict[str, str] = field(default_factory=dict)
    installed: tuple[str, ...] = ()  # environments this activation had to install
    cached: tuple[str, ...] = ()  # environments that were ready


@dataclass(frozen=True, slots=True)
class Plan:
    """What one script entry needs, read from its manifest and its PEP 723 block at compile time."""

    name: str
    entry_dir: Path
    pip: tuple[str, ...] = ()
    npm: tuple[str, ...] = ()
    requires_python: str | None = None
    local_env: Path | None = None  # a Rust Skillz ``env/`` directory to use when present
    python_like: bool = False  # the script's interpreter is a Python (gets the venv's python)

    @property
    def installs(self) -> bool:
        return bool(self.pip or self.npm)

    async def env_specs(self, program: Sequence[str], search_path: str) -> list[EnvSpec]:
        """The environments this plan needs, for the script started by ``program``."""
        specs: list[EnvSpec] = []
        python = program[0] if self.python_like and program else shutil.which("python3", path=search_path)
        if self.pip or self.requires_python:
            if python is None:
                raise InstallError("no python3 on PATH to build the pip environment with")
            real, version = await probe(python, "pip")
            if self.requires_python:
                from packaging.specifiers import SpecifierSet

                if version not in SpecifierSet(self.requires_python):
                    raise InstallError(
                        f"the script requires Python {self.requires_python} (PEP 723 "
                        f"requires-python) but {real} is {version}"
                    )
            if self.pip:
                specs.append(EnvSpec("pip", real, version, self.pip))
        if self.npm:
            node = shutil.which("node", path=search_path) or shutil.which("nodejs", path=search_path)
            if node is None:
                raise InstallError("node not found on PATH: install Node.js to use `dependencies.npm`")
            real, version = await probe(node, "npm")
            specs.append(EnvSpec("npm", real, version, self.npm))
        return specs

    async def activate(
        self,
        program: list[str],
        search_path: str,
        state_dir: Path,
        settings: Settings,
        report: Report,
        *,
        force: bool = False,
        rebuilt: set[str] | None = None,
    ) -> Activation:
        """Install what is missing (or everything with ``force``) and say how to run the script.

        ``rebuilt`` collects the environments forced so far, so one build forces each only once.
        """
        env: dict[str, str] = {}
        installed: list[str] = []
        cached: list[str] = []
        paths: list[str] = []
        specs = await self.env_specs(program, search_path)  # checks requires-python too
        if not specs:
            return self._local(program, search_path)
        for spec in specs:
            again = force and (rebuilt is None or spec.dirname not in rebuilt)
            where, fresh = await ensure(spec, state_dir, settings, report, force=again)
            if again and rebuilt is not None:
                rebuilt.add(spec.dirname)
            (installed if fresh else cached).append(spec.dirname)
            if spec.kind == "pip":
                env["VIRTUAL_ENV"] = str(where)
                paths.append(str(where / "bin"))
                if self.python_like:
                    program = [str(where / "bin" / "python")]
            else:
                env["NODE_PATH"] = str(where / "node_modules")
                paths.append(str(where / "node_modules" / ".bin"))
        env["PATH"] = os.pathsep.join([*paths, search_path])
        return Activation(program, env, tuple(installed), tuple(cached))

    def _local(self, program: list[str], search_path: str) -> Activation:
        """A Rust Skillz ``env/`` inside the tool: its python for Python, its node_modules for node."""
        local = self.local_env
        if local is None:
            return Activation(program)
        python = local / "bin" / "python"
        if python.exists():
            return Activation(
                [str(python)] if self.python_like else program,
                {"VIRTUAL_ENV": str(local), "PATH": os.pathsep.join([str(local / "bin"), search_path])},
            )
        modules = local / "node_modules"
        if modules.is_dir():
            return Activation(program, {"NODE_PATH": str(modules)})
        return Activation(program)


def _is_python(program_name: str) -> bool:
    return Path(program_name).name.startswith("python")


def plan_for(
    spec: EntrySpec, entry: Path, interpreter_name: str | None
) -> tuple[Plan | None, list[Diagnostic]]:
    """The dependency plan of a script entry (``None`` when it needs nothing), and problems found.

    ``interpreter_name`` is the program the script runs with (``python3``, ``node``, a path), or
    ``None`` for an executable run directly. Reads the entry file for PEP 723; spawns nothing.
    """
    deps: Mapping[str, Any] = spec.data.get("dependencies") or {}
    pip = [normalise_pip(str(r), spec.dir) for r in deps.get("pip") or ()]
    npm = [" ".join(str(r).split()) for r in deps.get("npm") or ()]
    python_like = interpreter_name is not None and _is_python(interpreter_name)
    requires_python: str | None = None
    diags: list[Diagnostic] = []
    if python_like or entry.suffix == ".py":
        try:
            text = entry.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        if "# /// script" in text:
            meta, diags = inline_metadata(text, display_path(entry))
            if meta is not None:
                pip += [normalise_pip(r, spec.dir) for r in meta.get("dependencies", [])]
                rp = meta.get("requires-python")
                requires_python = str(rp) if rp else None
    local = spec.dir / "env"
    local_env = local if (spec.legacy or not (pip or npm)) and local.is_dir() else None
    if not (pip or npm or requires_python or local_env):
        return None, diags
    plan = Plan(
        spec.name,
        spec.dir,
        tuple(sorted(set(pip))),
        tuple(sorted(set(npm))),
        requires_python,
        local_env,
        python_like,
    )
    if spec.legacy and local_env is not None:  # Rust Skillz installed these into env/ already
        plan = Plan(spec.name, spec.dir, (), (), requires_python, local_env, python_like)
    return plan, diags
