"""Reaping what an unsandboxed run leaves behind when no cgroup can hold it: a subreaper per run.

A sandbox gives each run its own PID namespace, and a pids cgroup holds every process of a run
whatever it does; killing the run's process group alone does not reach a descendant that called
``setsid`` (a daemon's double fork). So an unsandboxed run (``sandbox: none``, or ``auto`` on a
machine without a sandbox) gets a cgroup whenever one is writable
(:mod:`~skillz_engine.isolation.cgroup`), and only without one does this fallback apply.

The run starts under a small supervisor (:func:`reaper_argv`: the engine's own Python, isolated,
running :data:`SUPERVISOR`) that makes itself a **child subreaper** (``prctl(PR_SET_CHILD_SUBREAPER)``
through ctypes) and then runs the tool as its child. Every descendant the tool orphans, in
whatever session, is reparented to the supervisor instead of to init; when the tool exits the
supervisor kills (SIGKILL) and reaps them all, repeating while killed ones leave orphans of their
own, then exits with the tool's status. When the run ends early (timeout, cancellation: SIGTERM
to the process group) it gives the tool :data:`TERM_GRACE` seconds, then does the same.

Why not the server process itself as subreaper: then every orphan of every process the server
starts (git, installers, upstream servers) would become the server's child and, once exited, a
zombie nobody waits for. One supervisor per run confines that to the run it reaps.
"""

from __future__ import annotations

import sys

__all__ = ["SUPERVISOR", "TERM_GRACE", "reaper_argv"]

TERM_GRACE = 1.0  # seconds the tool has after SIGTERM before its leftovers are killed (< KILL_GRACE)

SUPERVISOR = r"""
import ctypes, os, signal, sys, time
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
grace, argv, me = float(sys.argv[1]), sys.argv[3:], os.getpid()

def children():
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(b")") + 2:].split()[1]) == me:
                out.append(int(name))
    return out

def sweep():
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        for pid in children():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.005)

def ended(sig, frame):
    end = time.monotonic() + grace
    while time.monotonic() < end:
        try:
            if os.waitpid(child, os.WNOHANG)[0]:
                break
        except ChildProcessError:
            break
        time.sleep(0.01)
    sweep()
    os._exit(128 + sig)

child = os.fork()
if child == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(2, ("cannot start %r: %s\n" % (argv[0], exc.strerror)).encode())
    os._exit(127)
signal.signal(signal.SIGTERM, ended)
status = os.waitpid(child, 0)[1]
sweep()
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(me, os.WTERMSIG(status))
os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)
"""


def reaper_argv() -> list[str]:
    """The prefix that runs a command under its own subreaper supervisor (isolated Python: no
    site, no environment variables read, so the tool's clean environment cannot steer it)."""
    return [sys.executable, "-I", "-S", "-c", SUPERVISOR, str(TERM_GRACE), "--"]
