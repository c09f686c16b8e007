"""Reaping what an unsandboxed run leaves behind when no cgroup can hold it.

A sandbox gives each run its own PID namespace, and a pids cgroup holds every process of a run
whatever it does; killing the run's process group alone does not reach a descendant that called
``setsid`` (a daemon's double fork). So an unsandboxed run (``sandbox: none``, or ``auto`` on a
machine without a sandbox) gets a cgroup whenever one is writable
(:mod:`~skillz_engine.isolation.cgroup`), and only without one does this fallback apply:

* the server becomes a **child subreaper** (``prctl(PR_SET_CHILD_SUBREAPER)``, once, through
  ctypes): descendants orphaned by a run are reparented to the server instead of to init, so they
  stay ours to kill and to reap;
* the run carries a marker variable (:data:`RUN_VAR`) that every descendant inherits; after the run
  every process still carrying it is killed (SIGKILL, repeated while new orphans appear) and the
  ones that became our children are reaped. A descendant that scrubs its environment before it
  escapes is out of reach: a sandbox or a writable cgroup closes that gap.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import itertools
import logging
import os
import signal
import time
from pathlib import Path

__all__ = ["RUN_VAR", "enable_subreaper", "new_run_id", "reap_run"]

log = logging.getLogger("skillz_engine.sandbox")

RUN_VAR = "SKILLZ_ENGINE_RUN"  # the marker an unsandboxed run without a cgroup carries
PR_SET_CHILD_SUBREAPER = 36
REAP_WAIT = 2.0  # seconds to keep killing marked processes (and the orphans they leave)
_runs = itertools.count()


@functools.cache
def enable_subreaper() -> bool:
    """Make the server a child subreaper (once per process); ``False`` where the kernel refuses."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        ok = bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        ok = False
    if not ok:
        log.warning(
            "cannot become a child subreaper: processes a tool leaves in a new session may outlive it"
        )
    return ok


def new_run_id() -> str:
    """A marker value unique to one run of this server process."""
    return f"{os.getpid()}-{next(_runs)}-{time.monotonic_ns()}"


def _marked(run_id: str) -> list[int]:
    """The live processes whose environment carries ``RUN_VAR=run_id``."""
    needle = f"{RUN_VAR}={run_id}".encode()
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in Path(entry.path, "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _reap(pid: int) -> bool:
    """Collect ``pid`` if it became our child (a reparented orphan); whether it is still to collect."""
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except OSError:  # not our child (init or another subreaper collects it), or collected already
        return False


def reap_run(run_id: str) -> int:
    """Kill every process of the run ``run_id`` that is still there; returns how many were killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + REAP_WAIT
    while True:
        pids = [p for p in _marked(run_id) if p != os.getpid()]
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        if not pids or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    for pid in killed:  # reparented orphans are ours to collect once SIGKILL has landed
        while _reap(pid) and time.monotonic() < deadline:
            time.sleep(0.005)
    return len(killed)
