"""The pids cgroup of one run: how ``limits.processes`` counts exactly that run's processes.

The kernel does not apply ``RLIMIT_NPROC`` to root, and for other users it counts all their
processes, so when a ``pids`` cgroup (v1 or v2) is writable each run with a process limit gets its
own; so does every unsandboxed run, whose descendants (even one in a new session) are then all
killed with it (without a cgroup, :mod:`~skillz_engine.isolation.reaper` stands in).
:func:`new_cgroup_path` names it when the command line is built, :func:`cgroup_argv` makes the
child join it before anything else runs, the runner creates it with ``pids.max`` before the start
(:func:`setup_cgroup`) and empties (SIGKILL) and removes it afterwards (:func:`release_cgroup`).
Only without one does ``prlimit --nproc`` stand in.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import signal
import time
from pathlib import Path

from skillz_engine.errors import RuntimeFailure

__all__ = ["cgroup_argv", "new_cgroup_path", "pids_cgroup_base", "release_cgroup", "setup_cgroup"]

log = logging.getLogger("skillz_engine.sandbox")

CGROUP_NAME = "skillz-engine"
RELEASE_WAIT = 2.0  # seconds to keep killing what is left before giving up on removing the cgroup
_JOIN = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
_JOIN_UNSET_PWD = 'echo $$ > "$0/cgroup.procs" && unset PWD && exec "$@"'  # sh exports a PWD of its own
_counter = itertools.count()


@functools.cache
def pids_cgroup_base() -> Path | None:
    """A writable directory of the ``pids`` cgroup controller (v1 or v2) for our runs, or ``None``."""
    v1 = Path("/sys/fs/cgroup/pids")
    v2 = Path("/sys/fs/cgroup")
    try:
        if (v1 / "cgroup.procs").exists():
            ours = v1 / CGROUP_NAME
            ours.mkdir(exist_ok=True)
            return ours
        if "pids" in (v2 / "cgroup.subtree_control").read_text().split():
            ours = v2 / CGROUP_NAME
            ours.mkdir(exist_ok=True)
            (ours / "cgroup.subtree_control").write_text("+pids")
            return ours
    except OSError:
        return None
    return None


def cgroup_argv(cgroup: Path, *, keep_pwd: bool = False) -> list[str]:
    """A prefix that moves the process into ``cgroup`` before it runs anything else; the ``PWD`` the
    shell adds is removed again unless the command's environment had one (``keep_pwd``)."""
    return ["/bin/sh", "-c", _JOIN if keep_pwd else _JOIN_UNSET_PWD, str(cgroup)]


def new_cgroup_path() -> Path | None:
    """A fresh cgroup path for one run (not created yet), or ``None`` when no pids cgroup is writable."""
    base = pids_cgroup_base()
    return None if base is None else base / f"{os.getpid()}-{next(_counter)}"


def setup_cgroup(cgroup: Path, processes: int | None) -> None:
    """Create ``cgroup`` with ``pids.max`` (``None``: no cap, the cgroup only holds the run's
    processes so all of them are killed after it); raises :class:`RuntimeFailure` if the kernel refuses."""
    try:
        cgroup.mkdir(exist_ok=True)
        (cgroup / "pids.max").write_text("max" if processes is None else str(processes))
    except OSError as exc:
        raise RuntimeFailure(f"cannot set up the process limit (pids cgroup {cgroup}): {exc}") from exc


def release_cgroup(cgroup: Path) -> None:
    """Kill whatever is left in ``cgroup`` and remove it (best effort, never raises)."""
    deadline = time.monotonic() + RELEASE_WAIT
    while True:
        try:
            pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                log.warning("could not remove pids cgroup %s", cgroup)
                return
            time.sleep(0.01)
