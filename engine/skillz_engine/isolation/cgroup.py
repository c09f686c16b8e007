"""The pids cgroup of one run: how ``limits.processes`` counts exactly that run's processes.

The kernel does not apply ``RLIMIT_NPROC`` to root, and for other users it counts all their
processes, so when a ``pids`` cgroup (v1 or v2) is writable each run with a process limit gets its
own; so does every unsandboxed run, whose descendants (even one in a new session) are then all
killed with it (without a cgroup, :mod:`~skillz_engine.isolation.reaper` stands in).
:func:`new_cgroup_path` names it when the command line is built, the runner creates it with
``pids.max`` before the start (:func:`setup_cgroup`) and empties (SIGKILL) and removes it
afterwards (:func:`release_cgroup`). Only without one does ``prlimit --nproc`` stand in.

How the child gets in before it runs anything, without a wrapper process: on cgroup v1 a single
thread can change cgroup, so the spawning thread joins the run's cgroup, starts the child (which
inherits the cgroup of the thread that forks it) and goes back home (:func:`joined`, about 30 us).
While it is inside, the thread itself counts against ``pids.max``, so :func:`setup_cgroup` allows
one more and :func:`joined` takes it back after leaving: at no moment can the run's processes
exceed the limit. On cgroup v2 a thread cannot leave its process's cgroup (the pids controller is
threaded only inside a threaded subtree), so there :func:`cgroup_argv` makes the child join
itself with one ``sh`` exec before it runs the tool (:func:`joins_at_spawn` says which applies).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from skillz_engine.errors import RuntimeFailure

__all__ = [
    "cgroup_argv",
    "joined",
    "joins_at_spawn",
    "new_cgroup_path",
    "pids_cgroup_base",
    "release_cgroup",
    "setup_cgroup",
]

log = logging.getLogger("skillz_engine.sandbox")

CGROUP_NAME = "skillz-engine"
V1_ROOT = Path("/sys/fs/cgroup/pids")
RELEASE_WAIT = 2.0  # seconds to keep killing what is left before giving up on removing the cgroup
_JOIN = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
_JOIN_UNSET_PWD = 'echo $$ > "$0/cgroup.procs" && unset PWD && exec "$@"'  # sh exports a PWD of its own
_counter = itertools.count()


@functools.cache
def pids_cgroup_base() -> Path | None:
    """A writable directory of the ``pids`` cgroup controller (v1 or v2) for our runs, or ``None``."""
    v1 = V1_ROOT
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


def joins_at_spawn() -> bool:
    """Whether the spawning thread carries the child into its cgroup (v1), so no ``sh`` joins it."""
    base = pids_cgroup_base()
    return base is not None and base.parent == V1_ROOT


def _thread_home() -> Path:
    """The v1 pids cgroup the calling thread is in now."""
    with open("/proc/thread-self/cgroup", encoding="ascii") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "pids" in controllers.split(","):
                return V1_ROOT / path.lstrip("/")
    raise OSError("this thread is in no pids cgroup")


@contextlib.contextmanager
def joined(cgroup: Path | None) -> Iterator[None]:
    """The calling thread inside ``cgroup`` (v1): a child it starts meanwhile starts there. A no-op
    without a cgroup or on v2, where :func:`cgroup_argv` joins instead. Raises :class:`RuntimeFailure`
    if the thread cannot get in (the run must not start outside its limit)."""
    if cgroup is None or not joins_at_spawn():
        yield
        return
    # "0" names the writing thread itself (about 50 us for the move in and the move back)
    try:
        home = _thread_home()
        (cgroup / "tasks").write_text("0")
    except OSError as exc:
        raise RuntimeFailure(f"cannot start the run in its pids cgroup {cgroup}: {exc}") from exc
    try:
        yield
    finally:
        try:
            (home / "tasks").write_text("0")
            limit = (cgroup / "pids.max").read_text().strip()
            if limit != "max":  # the place the thread held is not the run's to use
                (cgroup / "pids.max").write_text(str(int(limit) - 1))
        except OSError as exc:  # release_cgroup never kills this process, whatever is listed
            log.error("could not leave pids cgroup %s: %s", cgroup, exc)


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
    processes so all of them are killed after it); raises :class:`RuntimeFailure` if the kernel refuses.
    Where the spawning thread joins (:func:`joins_at_spawn`) it holds one place until :func:`joined`
    gives it back."""
    spare = 1 if joins_at_spawn() else 0
    try:
        cgroup.mkdir(exist_ok=True)
        (cgroup / "pids.max").write_text("max" if processes is None else str(processes + spare))
    except OSError as exc:
        raise RuntimeFailure(f"cannot set up the process limit (pids cgroup {cgroup}): {exc}") from exc


def release_cgroup(cgroup: Path) -> None:
    """Kill whatever is left in ``cgroup`` and remove it (best effort, never raises). This process
    is never killed, even if a thread of it failed to leave (:func:`joined`)."""
    deadline = time.monotonic() + RELEASE_WAIT
    me = os.getpid()
    while True:
        try:
            pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split() if int(p) != me]
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
