"""The one place a tool's command line is wrapped in its sandbox and resource limits.

:func:`wrap` turns a tool's argv into the argv actually executed::

    [prlimit --as --cpu --nproc --nofile --]  [SANDBOX ... [env -u PWD --]]  ARGV

* the **sandbox** (``sandbox.mode``: ``bwrap``, ``firejail``, ``nsjail``, ``auto`` or ``none``,
  chosen by :mod:`~skillz_engine.isolation.detect`) shows the process what
  :mod:`~skillz_engine.isolation.policy` allows, in the options of
  :mod:`~skillz_engine.isolation.argv`; ``env -u`` removes what the sandbox adds to the environment;
* **rlimits** are set by ``prlimit`` around the sandbox (:mod:`~skillz_engine.isolation.limits`),
  only for a tool that has some;
* the **process count** is enforced by a ``pids`` cgroup when one is writable
  (:mod:`~skillz_engine.isolation.cgroup`): the spawner starts the child inside it on cgroup v1, a
  ``sh -c`` prefix joins it on v2; only without one does ``prlimit --nproc`` stand in;
* the program is resolved to the real one (a version-manager shim replaced by the interpreter it
  runs, :mod:`~skillz_engine.isolation.programs`).

The part that does not change from run to run (the policy, the sandbox's program and options with
their mounts, the resolved program) is made once by :func:`prepare` and kept by the entry's
:class:`~skillz_engine.isolation.command.Launcher`; :func:`finish` adds each run's arguments,
cgroup and limit prefixes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skillz_engine.errors import RuntimeFailure, SandboxUnavailable
from skillz_engine.isolation.argv import sandbox_argv, unset_argv
from skillz_engine.isolation.cgroup import cgroup_argv, joins_at_spawn, new_cgroup_path
from skillz_engine.isolation.detect import INSTALL_HINTS, resolve_mode
from skillz_engine.isolation.limits import Limits, limits_argv, prlimit_program
from skillz_engine.isolation.policy import mounts_for, policy_for
from skillz_engine.isolation.programs import resolve_program
from skillz_engine.isolation.reaper import reaper_argv

if TYPE_CHECKING:
    from skillz_engine.tree.config import Config
    from skillz_engine.tree.model import EntrySpec

__all__ = ["Prepared", "Wrapped", "finish", "prepare", "wrap"]


@dataclass(frozen=True, slots=True)
class Wrapped:
    """The argv to execute, which sandbox it uses, and the pids cgroup to create for it (if any)."""

    argv: list[str]
    mode: str = "none"
    cgroup: Path | None = None


def _check_startable(given: str, program: str, cwd: Path) -> None:
    """Raise the same :class:`RuntimeFailure` a direct start would for a program that is not there."""
    path = Path(program) if program.startswith("/") else Path(cwd) / program if "/" in program else None
    if path is None or not path.is_file() or not os.access(path, os.X_OK):
        reason = "No such file or directory" if path is None or not path.exists() else "Permission denied"
        raise RuntimeFailure(f"cannot start {given!r}: {reason}")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What every run of one entry with one program and environment shares: the sandbox chosen,
    the program resolved (``given`` as the manifest wrote it), the sandbox's argv before it."""

    mode: str
    given: str
    program: str
    sandbox: tuple[str, ...] = ()


def prepare(
    program: str, spec: EntrySpec, *, cwd: Path, env: Mapping[str, str], config: Config | None = None
) -> Prepared:
    """The sandbox and program of ``spec``'s runs of ``program`` in ``cwd`` with ``env``.

    Raises :class:`SandboxUnavailable` when the tool demands a sandbox this machine lacks, and
    :class:`RuntimeFailure` for a bad ``writable`` path.
    """
    policy = policy_for(spec, config)
    mode, binary = resolve_mode(policy.mode)
    resolved = resolve_program(program, cwd, env)
    if mode == "none":
        return Prepared(mode, program, resolved)
    mounts = mounts_for(spec, policy, cwd, resolved, env)
    box = sandbox_argv(mode, binary, mounts, network=policy.network) + unset_argv(mode, env)
    return Prepared(mode, program, resolved, tuple(box))


def finish(
    prepared: Prepared, args: Sequence[str], *, cwd: Path, env: Mapping[str, str], limits: Limits
) -> Wrapped:
    """One run's full command line: [cgroup join] [prlimit] prepared sandbox, program, ``args``.

    Raises :class:`SandboxUnavailable` when the tool has rlimits but ``prlimit`` is missing.
    """
    mode = prepared.mode
    inner = [*prepared.sandbox, prepared.program, *args]
    # a pids cgroup counts exactly this run's processes; RLIMIT_NPROC counts every process of the
    # user (and is ignored for root), so it is only the fallback when no cgroup is writable. An
    # unsandboxed run gets one too: nothing else kills a descendant that left its session
    cgroup = new_cgroup_path() if limits.processes is not None or mode == "none" else None
    if mode == "none" and cgroup is None:  # nothing else holds a descendant that left the session
        inner = reaper_argv() + inner
    rlimits = dataclasses.replace(limits, processes=None) if cgroup is not None else limits
    prefix: list[str] = []
    if rlimits.rlimited:
        prlimit = prlimit_program()
        if prlimit is None:
            raise SandboxUnavailable(
                f"this tool has resource limits (limits), but `prlimit` is not installed, so it was not "
                f"run. To fix: {INSTALL_HINTS['prlimit']}."
            )
        prefix = limits_argv(prlimit, rlimits)
    if cgroup is not None and not joins_at_spawn():
        prefix = cgroup_argv(cgroup, keep_pwd="PWD" in env) + prefix
    if (cgroup is not None or mode == "none") and (prefix or inner[0] != prepared.program):
        _check_startable(prepared.given, prepared.program, cwd)  # a wrapper would only exit 127
    return Wrapped(prefix + inner, mode, cgroup)


def wrap(
    argv: Sequence[str],
    spec: EntrySpec,
    *,
    cwd: Path,
    env: Mapping[str, str],
    limits: Limits,
    config: Config | None = None,
) -> Wrapped:
    """The full command line of one run, prepared and finished at once (see :func:`prepare`)."""
    prepared = prepare(argv[0], spec, cwd=cwd, env=env, config=config)
    return finish(prepared, argv[1:], cwd=cwd, env=env, limits=limits)
