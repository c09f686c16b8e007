"""Which sandbox this machine has and which one works: what ``auto`` runs, and what ``doctor`` shows.

``auto`` picks the first of bwrap, firejail, nsjail that is installed *and* works (one probe per
process, cached: ``true`` run in the sandbox exactly as tools are run); when none does, tools run
unsandboxed and a warning is logged once. A manifest that names a sandbox this machine lacks fails
closed (:class:`SandboxUnavailable`), naming the missing program and how to install it.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from skillz_engine.errors import SandboxUnavailable
from skillz_engine.isolation.argv import sandbox_argv
from skillz_engine.isolation.limits import prlimit_program
from skillz_engine.isolation.policy import Mounts
from skillz_engine.isolation.programs import SYSTEM_PATH, which

__all__ = ["AUTO_ORDER", "BINARIES", "INSTALL_HINTS", "Detection", "auto_choice", "detect", "resolve_mode"]

log = logging.getLogger("skillz_engine.sandbox")

AUTO_ORDER = ("bwrap", "firejail", "nsjail")  # what `auto` prefers, best first
BINARIES = {"bwrap": "bwrap", "firejail": "firejail", "nsjail": "nsjail"}
INSTALL_HINTS = {
    "bwrap": "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`)",
    "firejail": "install firejail (Debian/Ubuntu: `apt-get install firejail`)",
    "nsjail": "build nsjail from https://github.com/google/nsjail (it is not packaged for Debian 12)",
    "prlimit": "install util-linux (`apt-get install util-linux`)",
}
PROBE_TIMEOUT = 10.0  # seconds a sandbox gets to run `true` when `auto` checks it works


@dataclass(frozen=True, slots=True)
class Detection:
    """Which sandboxes this machine has (path or ``None``), and whether each one works."""

    paths: Mapping[str, str | None]
    works: Mapping[str, bool]
    errors: Mapping[str, str]
    prlimit: str | None
    auto: str  # what `auto` resolves to: a sandbox name, or "none"


def _probe(mode: str, binary: str) -> tuple[bool, str]:
    """Run ``true`` in the sandbox exactly as tools are run: does this sandbox work here?"""
    true = which("true") or "/bin/true"
    argv = [*sandbox_argv(mode, binary, Mounts(ro=(), rw=(), cwd=Path("/")), network=False), true]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT, cwd="/",
                              env={"PATH": SYSTEM_PATH}, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return False, err[-1] if err else f"exit code {proc.returncode}"
    return True, ""


@functools.cache
def _check(mode: str) -> tuple[str | None, bool, str]:
    """Path of sandbox ``mode``, whether it works here, and why not (probed once per process)."""
    path = which(BINARIES[mode])
    if path is None:
        return None, False, "not installed"
    works, error = _probe(mode, path)
    return path, works, error


@functools.cache
def auto_choice() -> tuple[str, str | None, str]:
    """What ``auto`` runs: the first sandbox that works (probing stops there), its path, or
    ``("none", None, reasons)``."""
    reasons = []
    for mode in AUTO_ORDER:
        path, works, error = _check(mode)
        if works:
            return mode, path, ""
        reasons.append(f"{mode}: {error}")
    return "none", None, "; ".join(reasons)


def detect() -> Detection:
    """Every sandbox, found and probed (``doctor``); each probe runs once per process."""
    checks = {mode: _check(mode) for mode in AUTO_ORDER}
    return Detection(
        paths={m: c[0] for m, c in checks.items()},
        works={m: c[1] for m, c in checks.items()},
        errors={m: c[2] for m, c in checks.items()},
        prlimit=prlimit_program(),
        auto=auto_choice()[0],
    )


_warned_unsandboxed = False


def resolve_mode(mode: str) -> tuple[str, str | None]:
    """The sandbox to use for ``mode`` and its program (``("none", None)`` for no sandbox).

    ``auto`` falls back to no sandbox (warning once); a named sandbox that is missing raises
    :class:`SandboxUnavailable`.
    """
    global _warned_unsandboxed
    if mode == "none":
        return "none", None
    if mode == "auto":
        chosen, path, reasons = auto_choice()
        if chosen == "none":
            if not _warned_unsandboxed:
                _warned_unsandboxed = True
                log.warning("sandbox auto: no working sandbox on this machine (%s); tools run without "
                            "one. %s, or set `sandbox: none` in skillz.yaml to silence this.",
                            reasons, INSTALL_HINTS["bwrap"].capitalize())  # fmt: skip
            return "none", None
        return chosen, path
    path = which(BINARIES[mode])
    if path is None:
        raise SandboxUnavailable(
            f"this tool requires the {mode} sandbox (sandbox.mode: {mode}), but `{BINARIES[mode]}` is "
            f"not installed on this machine, so it was not run. To fix: {INSTALL_HINTS[mode]}, or "
            "set `sandbox: auto` to use whichever sandbox is installed (`skillz-engine doctor` lists them)."
        )
    return mode, path
