"""What a script entry needs from dependency environments, and how it runs in them.

A script entry asks for packages with ``dependencies: {pip: [...], npm: [...]}`` in its manifest
and, for a Python entry, with PEP 723 inline script metadata (:mod:`~skillz_engine.isolation.pep723`).
:func:`plan_for` reads both at compile time (reading files only, no processes) into a :class:`Plan`
with the requirements normalised (:func:`normalise_pip`), so equal sets share one environment.

At call time (or in ``skillz-engine build``) :meth:`Plan.activate` turns the plan into ready
environments (:func:`skillz_engine.isolation.envcache.ensure`, installing what is missing) and an
:class:`Activation`: the interpreter to run and the variables (``VIRTUAL_ENV``, ``NODE_PATH``,
``PATH``) that make the script find its packages.

Rust Skillz trees keep working: an ``env/`` directory inside the tool (a venv with
``env/bin/python``, or ``env/node_modules``) is used as is when the manifest declares no
dependencies, or when the entry is in the Rust format (which installed its dependencies there).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skillz_engine.isolation.depspecs import npm_problem, pip_problem
from skillz_engine.isolation.envcache import ensure
from skillz_engine.isolation.installers import EnvSpec, InstallError, Report, Settings, probe
from skillz_engine.isolation.pep723 import inline_metadata
from skillz_engine.tree.diagnostics import Diagnostic, Severity, display_path
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.specs import ScriptSpec

__all__ = ["Activation", "Plan", "normalise_pip", "plan_for"]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$", re.S)


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


def normalise_npm(req: str, base: Path) -> str:
    """One npm spec in a canonical spelling: a relative ``file:`` reference made absolute."""
    req = " ".join(req.split())
    at = req.find("@", 1)
    if at > 0 and req[at + 1 :].startswith("file:") and not req[at + 6 :].startswith("/"):
        return f"{req[: at + 1]}file:{(base / req[at + 6 :]).resolve()}"
    return req


def _checked(
    spec: EntrySpec, manager: str, reqs: Sequence[object], allow_direct: bool
) -> tuple[list[str], list[Diagnostic]]:
    """The manifest's ``dependencies.<manager>`` specs, and a positioned SKZ522 for each refused one."""
    check = pip_problem if manager == "pip" else npm_problem
    good: list[str] = []
    diags: list[Diagnostic] = []
    for i, raw in enumerate(reqs):
        problem = check(str(raw), allow_direct=allow_direct)
        if problem is not None:
            diags.append(spec.diag(("dependencies", manager, i), "SKZ522", problem[0], problem[1]))
        elif manager == "pip":
            good.append(normalise_pip(str(raw), spec.home))
        else:
            good.append(normalise_npm(str(raw), spec.home))
    return good, diags


def _inline_problems(text: str, reqs: Sequence[str], display: str, allow_direct: bool) -> list[Diagnostic]:
    """A SKZ522 at the line of each refused PEP 723 dependency of the script ``text``."""
    diags: list[Diagnostic] = []
    for req in reqs:
        problem = pip_problem(req, allow_direct=allow_direct)
        if problem is not None:
            at = max(text.find(f'"{req}"'), text.find(f"'{req}'"), 0)
            line = text.count("\n", 0, at) + 1
            col = at - (text.rfind("\n", 0, at) + 1) + 1
            diags.append(
                Diagnostic(display, line, col, "SKZ522", Severity.ERROR, problem[0], "$", problem[1])
            )
    return diags


def plan_for(
    spec: EntrySpec, entry: Path, interpreter_name: str | None, *, allow_direct: bool = False
) -> tuple[Plan | None, list[Diagnostic]]:
    """The dependency plan of a script entry (``None`` when it needs nothing), and problems found.

    ``interpreter_name`` is the program the script runs with (``python3``, ``node``, a path), or
    ``None`` for an executable run directly. Reads the entry file for PEP 723; spawns nothing.
    Specs other than package names with versions (paths, URLs, git references, options) are
    SKZ522 errors unless ``allow_direct`` (``dependencies.allowDirectReferences`` in skillz.yaml).
    """
    deps = spec.record_as(ScriptSpec).dependencies
    pip, diags = _checked(spec, "pip", deps.pip, allow_direct)
    npm, more = _checked(spec, "npm", deps.npm, allow_direct)
    diags += more
    python_like = interpreter_name is not None and _is_python(interpreter_name)
    requires_python: str | None = None
    if python_like or entry.suffix == ".py":
        try:
            text = entry.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        if "# /// script" in text:
            meta, more = inline_metadata(text, display_path(entry))
            diags += more
            if meta is not None:
                inline = [str(r) for r in meta.get("dependencies", [])]
                refused = _inline_problems(text, inline, display_path(entry), allow_direct)
                diags += refused
                if not refused:
                    pip += [normalise_pip(r, spec.home) for r in inline]
                rp = meta.get("requires-python")
                requires_python = str(rp) if rp else None
    local = spec.home / "env"
    local_env = local if (spec.legacy or not (pip or npm)) and local.is_dir() else None
    if not (pip or npm or requires_python or local_env):
        return None, diags
    plan = Plan(
        spec.name,
        spec.home,
        tuple(sorted(set(pip))),
        tuple(sorted(set(npm))),
        requires_python,
        local_env,
        python_like,
    )
    if spec.legacy and local_env is not None:  # Rust Skillz installed these into env/ already
        plan = Plan(spec.name, spec.home, (), (), requires_python, local_env, python_like)
    return plan, diags
