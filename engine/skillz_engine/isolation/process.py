"""The one place tool processes are run: a :class:`Command` to the end, within its limits.

:func:`run` (anyio, no shell) guarantees:

* a process limit (``limits.processes``), and every unsandboxed run, gets its own pids cgroup,
  created before the start, entered before the program's first instruction (:mod:`.cgroup`), and
  emptied (SIGKILL) and removed after the run; an unsandboxed run on a machine without a writable
  cgroup runs under a subreaper of its own instead (:mod:`.reaper`);
* the child leads its own process group (and a session, if the server has a terminal:
  :mod:`.spawn`), and the whole group is killed when the run ends: on timeout, on cancellation of
  the awaiting scope, and after a normal exit (background jobs a tool leaves behind do not survive
  it); the child is always reaped;
* stdout and stderr are drained concurrently, so no output size deadlocks;
* stdout is capped at ``limits.output`` bytes: the rest is read and discarded and the result says
  so; stderr keeps only its last :data:`~skillz_engine.isolation.output.STDERR_KEEP` bytes;
* in line mode stdout is delivered line by line as it arrives, and the caller may write to the
  child's stdin while it runs.

What a command is (argv in its sandbox, clean environment) is decided by
:mod:`skillz_engine.isolation.command`; installers build a :class:`Command` directly. How the
child is started and awaited (one ``vfork`` + ``exec``, a pidfd, no helper thread) is
:mod:`skillz_engine.isolation.spawn`.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.cgroup import release_cgroup, setup_cgroup
from skillz_engine.isolation.limits import DEFAULT_OUTPUT, Limits
from skillz_engine.isolation.output import STDERR_KEEP, StderrTail, StdoutCap, drain
from skillz_engine.isolation.spawn import Process, has_terminal, spawn

__all__ = ["Child", "Command", "LineHandler", "ProcessResult", "run"]

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
LEFTOVER_GRACE = 0.05  # seconds background jobs of a finished run get between SIGTERM and SIGKILL
PIPE_DRAIN = 1.0  # seconds to wait for pipes after the group is gone (escaped holders)
OWN_SESSION = ("bwrap",)  # sandboxes that start the tool in a session of its own (--new-session)


@dataclass(frozen=True, slots=True)
class Command:
    """Exactly what is executed: argv (never a shell), working directory, environment, limits."""

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    limits: Limits
    secrets: tuple[str, ...] = ()  # names of the env vars that hold secrets (never logged)
    sandbox: str = "none"  # the sandbox the argv runs in (bwrap, firejail, nsjail or none)
    cgroup: Path | None = None  # the pids cgroup holding the run (limits.processes), made by run()

    def public_env(self) -> dict[str, str]:
        """The environment with secret variables left out (what may be shown or logged)."""
        return {k: v for k, v in self.env.items() if k not in self.secrets}


@dataclass(slots=True)
class ProcessResult:
    """How a run ended. ``returncode`` is negative when a signal ended the process."""

    returncode: int | None
    stdout: bytes  # empty in line mode (the lines went to the callback)
    stderr: bytes  # the last STDERR_KEEP bytes
    stdout_bytes: int = 0  # everything the child wrote to stdout, kept or not
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    duration: float = 0.0
    output_cap: int = DEFAULT_OUTPUT

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def truncation_note(self) -> str | None:
        """A line saying stdout was cut, or ``None``."""
        if not self.stdout_truncated:
            return None
        dropped = self.stdout_bytes - self.output_cap
        return (
            f"[output truncated: the tool wrote {self.stdout_bytes} bytes to stdout, more than "
            f"its limit of {self.output_cap} bytes (limits.output); {dropped} bytes were discarded]"
        )

    def exit_description(self) -> str:
        if self.timed_out:
            return "timed out"
        rc = self.returncode
        if rc is None:
            return "did not exit"
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            return f"was killed by {name}"
        return f"exited with code {rc}"


class PausableDeadline:
    """A run's deadline (a cancel scope's) that stops while the run waits for the client: a person
    answering an elicitation or a model sampling is not the tool's own time. Nested and concurrent
    waits stop the clock once; it runs on when the last one ends. ``scope`` None: no deadline."""

    __slots__ = ("_left", "_waiting", "scope")

    def __init__(self, scope: anyio.CancelScope | None = None) -> None:
        self.scope = scope
        self._waiting = 0
        self._left = 0.0

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        scope = self.scope
        if scope is None:
            yield
            return
        if self._waiting == 0:
            self._left = scope.deadline - anyio.current_time()
            scope.deadline = math.inf
        self._waiting += 1
        try:
            yield
        finally:
            self._waiting -= 1
            if self._waiting == 0:
                scope.deadline = anyio.current_time() + max(self._left, 0.0)


LineHandler = Callable[[bytes, "Child"], Awaitable[None]]


@dataclass(eq=False)
class Child:
    """The running child as the caller sees it: write to its stdin, run tasks for its lifetime."""

    pid: int
    _proc: Process = field(repr=False)
    _tg: anyio.abc.TaskGroup = field(repr=False)
    _finish: Callable[[float], None] = field(repr=False)
    _deadline: anyio.CancelScope | None = field(default=None, repr=False)
    _lock: anyio.Lock = field(default_factory=anyio.Lock, repr=False)
    stdin_closed: bool = False
    _clock: PausableDeadline = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._clock = PausableDeadline(self._deadline)

    def waiting(self) -> contextlib.AbstractContextManager[None]:
        """Time spent inside does not count against ``limits.timeout`` (:class:`PausableDeadline`)."""
        return self._clock.paused()

    async def send(self, data: bytes) -> bool:
        """Write to the child's stdin; ``False`` if it is closed (the child exited or closed it)."""
        if self.stdin_closed:
            return False
        async with self._lock:
            try:
                await self._proc.stdin.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                self.stdin_closed = True
                return False
        return True

    async def close_stdin(self) -> None:
        if self.stdin_closed:
            return
        self.stdin_closed = True
        async with self._lock:
            try:
                await self._proc.stdin.aclose()
            except (anyio.BrokenResourceError, OSError):
                pass

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Run ``fn(*args)`` alongside the child; it is cancelled when the run ends."""
        self._tg.start_soon(fn, *args)

    def finish(self, grace: float) -> None:
        """The conversation is over: the child has ``grace`` seconds to exit before it is killed."""
        self._finish(grace)


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


async def _end_group(proc: Process, grace: float) -> None:
    """Terminate the child's process group (SIGTERM, then SIGKILL after ``grace``) and reap it."""
    pgid = proc.pid
    if proc.returncode is not None and not _signal_group(pgid, 0):
        return
    _signal_group(pgid, signal.SIGTERM)
    if proc.returncode is None:
        with anyio.move_on_after(grace):
            await proc.wait()
    else:  # only leftovers of a finished run: a moment to act on SIGTERM
        await anyio.sleep(LEFTOVER_GRACE)
    # members that exited stay zombies until reaped by their parent, so the group cannot be
    # polled for emptiness: whoever is still there after the leader is gone gets SIGKILL
    _signal_group(pgid, signal.SIGKILL)
    await proc.wait()


async def run(
    cmd: Command,
    *,
    input: bytes | None = None,
    close_stdin: bool = True,
    on_line: LineHandler | None = None,
    grace: float = KILL_GRACE,
) -> ProcessResult:
    """Run ``cmd`` to the end, within its limits.

    ``input`` is written to stdin, which is then closed unless ``close_stdin`` is false (line mode
    callers close it through :class:`Child`). With ``on_line``, each stdout line (without its line
    break) is handed to ``on_line(line, child)`` as it arrives, in order; requests that take time
    should be run with ``child.start_soon``. Raises :class:`RuntimeFailure` if the program cannot
    be started; every other outcome (exit code, signal, timeout) is in the result.
    """
    started = time.monotonic()
    if cmd.cgroup is not None:
        setup_cgroup(cmd.cgroup, cmd.limits.processes)
        try:
            return await _run(cmd, started, input, close_stdin, on_line, grace)
        finally:
            release_cgroup(cmd.cgroup)
    return await _run(cmd, started, input, close_stdin, on_line, grace)


def _spawn(cmd: Command) -> Process:
    """Start ``cmd`` as the leader of a new process group (in its cgroup), all three pipes open."""
    # a session only to leave the server's terminal (spawn.py), and only once: bwrap --new-session
    # makes it for the tool itself
    session = has_terminal() and cmd.sandbox not in OWN_SESSION
    try:
        return spawn(cmd.argv, cmd.cwd, cmd.env, cmd.cgroup, session=session)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RuntimeFailure(f"cannot start {cmd.argv[0]!r}: {reason}") from exc
    except ValueError as exc:  # a NUL byte in an argument or in the environment
        raise RuntimeFailure(f"cannot start {cmd.argv[0]!r}: {exc}") from exc


async def _release(proc: Process, grace: float) -> None:
    """After the run, whatever happened: the group is gone, the child reaped, the pipes closed."""
    with anyio.CancelScope(shield=True):
        await _end_group(proc, grace)
        await proc.aclose()


class _Run:
    """One started child while it runs: its capped outputs, its stdin, and the tasks around it."""

    def __init__(self, cmd: Command, proc: Process, on_line: LineHandler | None, grace: float):
        self.proc = proc
        self.grace = grace
        self.on_line = on_line
        self.send_lines, self.receive_lines = anyio.create_memory_object_stream[bytes](float("inf"))
        self.out = StdoutCap(cmd.limits.output, self.send_lines if on_line is not None else None)
        self.err = StderrTail()
        self.stdout_done = anyio.Event()
        self.stderr_done = anyio.Event()
        self.lines_done = anyio.Event()

    async def read_stdout(self) -> None:
        try:
            await drain(self.proc.stdout, self.out.feed)
        finally:
            await self.out.close()
            self.stdout_done.set()

    async def read_stderr(self) -> None:
        try:
            await drain(self.proc.stderr, self.err.feed)
        finally:
            self.stderr_done.set()

    async def deliver(self, handler: LineHandler, child: Child) -> None:
        try:
            async with self.receive_lines:
                async for line in self.receive_lines:
                    await handler(line, child)
        finally:
            self.lines_done.set()

    async def end_after(self, delay: float) -> None:
        await anyio.sleep(delay)
        await _end_group(self.proc, self.grace)

    async def supervise(self, timeout: float, input: bytes | None, close_stdin: bool) -> bool:
        """Run the child to its end (or ``timeout``) with its readers, writer and line delivery;
        whether the timeout ended it."""
        with anyio.move_on_after(timeout) as deadline:
            async with anyio.create_task_group() as tg:

                def finish(after: float) -> None:
                    tg.start_soon(self.end_after, after)

                child = Child(self.proc.pid, self.proc, tg, finish, deadline)

                async def write_input() -> None:
                    if input:
                        await child.send(input)
                    if close_stdin:
                        await child.close_stdin()

                tg.start_soon(self.read_stdout)
                tg.start_soon(self.read_stderr)
                if self.on_line is not None:
                    tg.start_soon(self.deliver, self.on_line, child)
                else:
                    self.send_lines.close()
                    self.receive_lines.close()
                    self.lines_done.set()
                tg.start_soon(write_input)
                await self.proc.wait()
                # the leader is gone: end what it left behind, then let the pipes drain
                await _end_group(self.proc, self.grace)
                with anyio.move_on_after(PIPE_DRAIN):
                    await self.stdout_done.wait()
                    await self.stderr_done.wait()
                if not self.stdout_done.is_set():  # a process outside the group holds the pipe
                    await self.out.close()
                await self.lines_done.wait()
                tg.cancel_scope.cancel()
        return deadline.cancelled_caught

    def result(self, cmd: Command, started: float, timed_out: bool) -> ProcessResult:
        return ProcessResult(
            returncode=self.proc.returncode,
            stdout=bytes(self.out.kept) if self.on_line is None else b"",
            stderr=bytes(self.err.kept[-STDERR_KEEP:]),
            stdout_bytes=self.out.total,
            stdout_truncated=self.out.truncated,
            stderr_truncated=self.err.total > STDERR_KEEP,
            timed_out=timed_out,
            duration=time.monotonic() - started,
            output_cap=cmd.limits.output,
        )


async def _run(
    cmd: Command,
    started: float,
    input: bytes | None,
    close_stdin: bool,
    on_line: LineHandler | None,
    grace: float,
) -> ProcessResult:
    proc = _spawn(cmd)
    running = _Run(cmd, proc, on_line, grace)
    try:
        timed_out = await running.supervise(cmd.limits.timeout, input, close_stdin)
    finally:
        await _release(proc, grace)
    return running.result(cmd, started, timed_out)
