"""The limits of one run: what a manifest asks for, and the ``prlimit`` options that apply them.

A run always has a wall-clock timeout and a stdout cap (enforced by the runner, see
:mod:`skillz_engine.isolation.process`); the rlimits (``limits.memory`` as address space,
``limits.cpu`` seconds, ``limits.processes``, ``limits.openFiles``) are set by ``prlimit`` around
the sandbox. Limits can only be lowered: ``prlimit`` cannot raise a hard limit without
``CAP_SYS_RESOURCE``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.programs import which
from skillz_engine.tree import specs
from skillz_engine.tree.specs import DEFAULT_LIMITS, DEFAULT_OUTPUT, DEFAULT_TIMEOUT, process_keys
from skillz_engine.units import UnitError, parse_duration, parse_size

if TYPE_CHECKING:
    from skillz_engine.tree.config import Config
    from skillz_engine.tree.model import EntrySpec

__all__ = ["DEFAULT_OUTPUT", "DEFAULT_TIMEOUT", "Limits", "limits_argv", "limits_for", "prlimit_program"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits of one run: wall-clock seconds, stdout bytes, and the rlimits (``None``: no cap).

    ``memory`` is the address space in bytes, ``cpu`` CPU seconds, ``processes`` the number of
    processes, ``open_files`` the number of open file descriptors.
    """

    timeout: float = DEFAULT_TIMEOUT
    output: int = DEFAULT_OUTPUT
    memory: int | None = None
    cpu: float | None = None
    processes: int | None = None
    open_files: int | None = None

    @property
    def rlimited(self) -> bool:
        """Whether any rlimit is set (then ``prlimit`` must wrap the run)."""
        return any(v is not None for v in (self.memory, self.cpu, self.processes, self.open_files))


def limits_for(spec: EntrySpec, config: Config | None = None) -> Limits:
    """The entry's ``limits``, falling back to ``limits`` in skillz.yaml, then to the defaults."""
    tree = config.limits if config is not None else specs.Limits()
    raw = process_keys(spec.record).limits.over(tree).over(DEFAULT_LIMITS)
    try:
        return Limits(
            timeout=parse_duration(raw.timeout),  # never None over DEFAULT_LIMITS
            output=parse_size(raw.output),
            memory=parse_size(raw.memory) if raw.memory is not None else None,
            cpu=parse_duration(raw.cpu) if raw.cpu is not None else None,
            processes=int(raw.processes) if raw.processes is not None else None,
            open_files=int(raw.open_files) if raw.open_files is not None else None,
        )
    except UnitError as exc:  # the schema makes this unreachable for validated manifests
        raise RuntimeFailure(f"{spec.name}: bad limits: {exc}") from exc


@functools.cache
def prlimit_program() -> str | None:
    """Where ``prlimit`` is (looked up once per process), or ``None``."""
    return which("prlimit")


def limits_argv(prlimit: str, limits: Limits) -> list[str]:
    """``prlimit`` options for the rlimits in ``limits`` (soft = hard), or ``[]`` when there are none."""
    opts: list[str] = []
    if limits.memory is not None:
        opts.append(f"--as={limits.memory}")
    if limits.cpu is not None:
        opts.append(f"--cpu={max(1, math.ceil(limits.cpu))}")
    if limits.processes is not None:
        opts.append(f"--nproc={limits.processes}")
    if limits.open_files is not None:
        opts.append(f"--nofile={limits.open_files}")
    return [prlimit, *opts, "--"] if opts else []
