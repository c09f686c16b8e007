"""Starting one tool process, as cheaply as the kernel allows, and waiting for it without threads.

Why not ``anyio.open_process``: on Python 3.11 asyncio's subprocess support starts a thread per
child (``ThreadedChildWatcher``) that blocks in ``waitpid``, and the spawning task waits until that
thread runs; with two busy cores that alone cost 2-4 ms a call. Here:

* the child is started by :class:`subprocess.Popen` (``vfork`` + ``exec`` in ``_posixsubprocess``,
  with ``close_fds`` and the working directory; ``os.posix_spawn`` measured only ~0.15 ms faster and
  can neither change directory nor close inherited descriptors), as the leader of a new process
  group, optionally inside a pids cgroup joined from the spawning thread (:func:`.cgroup.joined`),
  so no wrapper process runs before the tool;
* it leads a new **session** too when the server has a controlling terminal
  (:func:`has_terminal`), so the tool has none: one that asks for a password on ``/dev/tty``
  fails at once instead of prompting in the server's terminal, and a sandboxed one cannot inject
  input into it (``TIOCSTI``). Without a terminal there is nothing to detach from, and the session
  is not made: with scheduler autogroups on (``kernel.sched_autogroup_enabled``, the default of
  most distributions) every ``setsid`` creates a scheduling group, measured at +1.5 ms for
  ``echo`` and +6 ms around bwrap on 2 busy cores. Under bwrap the engine never makes one: bwrap's
  ``--new-session`` gives the tool its session, so a second one would only cost;
* its exit is awaited on a **pidfd** (``os.pidfd_open``, Linux 5.3+) with ``anyio.wait_readable``
  (polled with a short sleep where there is none), and reaped with ``waitpid`` by this process;
* its three pipes are plain non-blocking descriptors read and written with ``anyio.wait_readable`` /
  ``wait_writable``: no transport, no protocol objects.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
import anyio.abc
import anyio.lowlevel

from skillz_engine.isolation.cgroup import joined

__all__ = ["PipeReader", "PipeWriter", "Process", "has_terminal", "spawn"]

READ_SIZE = 65536
POLL_WAIT = 0.005  # seconds between waitpid polls where the kernel has no pidfd
UNKNOWN_STATUS = 255  # the exit code reported when someone else reaped the child


@functools.cache
def _terminal() -> bool:
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
    except OSError:  # ENXIO: no controlling terminal
        return False
    return True


def has_terminal() -> bool:
    """Whether this process has a controlling terminal (asked once: a process that is not a
    session leader never gains one). Only then do tools get a session of their own."""
    return _terminal()


class PipeReader(anyio.abc.ByteReceiveStream):
    """The read end of a child's stdout or stderr."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd

    async def receive(self, max_bytes: int = READ_SIZE) -> bytes:
        while True:
            if self._fd < 0:
                raise anyio.ClosedResourceError
            try:
                data = os.read(self._fd, max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(self._fd)
                continue
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            if not data:
                raise anyio.EndOfStream
            await anyio.lowlevel.checkpoint()  # a child writing without pause cannot starve the loop
            return data

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            anyio.notify_closing(fd)
            os.close(fd)

    async def aclose(self) -> None:
        self.close()


class PipeWriter(anyio.abc.ByteSendStream):
    """The write end of a child's stdin."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd

    async def send(self, item: bytes) -> None:
        view = memoryview(item)
        while view:
            if self._fd < 0:
                raise anyio.ClosedResourceError
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                await anyio.wait_writable(self._fd)
            except OSError as exc:  # EPIPE: the child closed its stdin or exited
                raise anyio.BrokenResourceError from exc

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            anyio.notify_closing(fd)
            os.close(fd)

    async def aclose(self) -> None:
        self.close()


class Process:
    """A started child: its pid, its pipes, and its exit status once :meth:`wait` has reaped it."""

    def __init__(self, popen: subprocess.Popen[bytes], stdin: int, stdout: int, stderr: int) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.returncode: int | None = None
        self.stdin = PipeWriter(stdin)
        self.stdout = PipeReader(stdout)
        self.stderr = PipeReader(stderr)
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # no pidfd on this kernel: wait() polls
            self._pidfd = -1
        self._lock = anyio.Lock()

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, code = self.pid, UNKNOWN_STATUS
        else:
            code = os.waitstatus_to_exitcode(status) if pid else 0
        if pid:
            self.returncode = code
            self._popen.returncode = code  # reaped: Popen's finaliser must not track it
            if self._pidfd >= 0:
                fd, self._pidfd = self._pidfd, -1
                anyio.notify_closing(fd)
                os.close(fd)

    async def wait(self) -> int:
        """The exit code (negative: the signal that ended it); the child is reaped on return."""
        async with self._lock:  # one waiter on the pidfd at a time; the others find it reaped
            if self.returncode is None:
                self._reap()
            while self.returncode is None:
                if self._pidfd >= 0:
                    await anyio.wait_readable(self._pidfd)
                else:
                    await anyio.sleep(POLL_WAIT)
                self._reap()
            return self.returncode

    async def aclose(self) -> None:
        """Close the pipes (the caller has reaped the child already)."""
        self.stdin.close()
        self.stdout.close()
        self.stderr.close()


def spawn(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    cgroup: Path | None = None,
    *,
    session: bool = True,
) -> Process:
    """Start ``argv`` as the leader of a new process group (and of a new session unless
    ``session`` is false) with three pipes, inside ``cgroup`` when given (its processes are counted
    from the first instruction on). Raises ``OSError`` or ``ValueError`` (a NUL byte) as
    :class:`subprocess.Popen` does when the program cannot be started."""
    ends: list[int] = []
    try:
        for _ in range(3):
            ends += os.pipe()  # close-on-exec (PEP 446): only the child's dup2'd copies survive exec
        in_r, in_w, out_r, out_w, err_r, err_w = ends
        with joined(cgroup):
            popen = subprocess.Popen(list(argv), stdin=in_r, stdout=out_w, stderr=err_w, cwd=cwd,
                                     env=dict(env), close_fds=True, start_new_session=session,
                                     process_group=None if session else 0)  # fmt: skip
    except BaseException:
        for fd in ends:
            os.close(fd)
        raise
    for fd in (in_r, out_w, err_w):  # the child's ends: only the child holds them now
        os.close(fd)
    return Process(popen, in_w, out_r, err_r)
