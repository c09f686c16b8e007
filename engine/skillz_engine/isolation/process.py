"""The one place tool processes are spawned.

Every process a runtime starts goes through :func:`build_command` (argv, cwd and a clean
environment, wrapped by :func:`wrap_argv` in the sandbox and resource limits of
:mod:`skillz_engine.isolation.sandbox`)
and :func:`run` (anyio, no shell), which guarantees:

* a process limit (``limits.processes``) gets its own pids cgroup, created before the start and
  emptied (SIGKILL) and removed after the run;
* the child leads its own process group (``start_new_session``), and the whole group is killed
  when the run ends: on timeout, on cancellation of the awaiting scope, and after a normal exit
  (background jobs a tool leaves behind do not survive it); the child is always reaped;
* stdout and stderr are drained concurrently, so no output size deadlocks;
* stdout is capped at ``limits.output`` bytes: the rest is read and discarded and the result says
  so; stderr keeps only its last :data:`STDERR_KEEP` bytes;
* in line mode stdout is delivered line by line as it arrives, and the caller may write to the
  child's stdin while it runs.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

from skillz_engine.errors import RuntimeFailure
from skillz_engine.runtimes.base import DEFAULT_OUTPUT, DEFAULT_TIMEOUT
from skillz_engine.tree.model import EntrySpec
from skillz_engine.units import UnitError, parse_duration, parse_size

if TYPE_CHECKING:
    from skillz_engine.isolation.sandbox import Wrapped
    from skillz_engine.tree.config import Config

__all__ = ["BASE_VARS", "Child", "Command", "Limits", "ProcessResult", "build_command", "build_env",
           "limits_for", "run", "secret_names", "wrap_argv"]  # fmt: skip

BASE_VARS = ("PATH", "HOME", "LANG")  # the only variables a tool inherits from the server
DEFAULT_LANG = "C.UTF-8"
STDERR_KEEP = 64 * 1024  # bytes of stderr kept (the tail)
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
LEFTOVER_GRACE = 0.05  # seconds background jobs of a finished run get between SIGTERM and SIGKILL
PIPE_DRAIN = 1.0  # seconds to wait for pipes after the group is gone (escaped holders)
_CHUNK = 65536


# --------------------------------------------------------------------------- limits and command


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


def limits_for(spec: EntrySpec, config: Config | None = None) -> Limits:
    """The entry's ``limits``, falling back to ``limits`` in skillz.yaml, then to the defaults."""
    own = spec.data.get("limits") or {}
    tree = (config.get("limits") if config is not None else None) or {}

    def pick(key: str) -> Any:
        return own.get(key, tree.get(key))

    try:
        timeout = pick("timeout")
        output = pick("output")
        memory = pick("memory")
        cpu = pick("cpu")
        processes = pick("processes")
        open_files = pick("openFiles")
        return Limits(
            timeout=parse_duration(timeout) if timeout is not None else DEFAULT_TIMEOUT,
            output=parse_size(output) if output is not None else DEFAULT_OUTPUT,
            memory=parse_size(memory) if memory is not None else None,
            cpu=parse_duration(cpu) if cpu is not None else None,
            processes=int(processes) if processes is not None else None,
            open_files=int(open_files) if open_files is not None else None,
        )
    except UnitError as exc:  # the schema makes this unreachable for validated manifests
        raise RuntimeFailure(f"{spec.name}: bad limits: {exc}") from exc


def secret_names(spec: EntrySpec) -> tuple[str, ...]:
    """The ``SKILLZ_*`` variables the manifest asks for (anything else is ignored)."""
    names = spec.data.get("secrets") or ()
    return tuple(str(n) for n in names if str(n).startswith("SKILLZ_"))


def build_env(spec: EntrySpec, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The clean environment of a tool: PATH, HOME, LANG, the manifest's ``env``, its secrets.

    Nothing else of the server's environment leaks. A secret that is not set on the server is
    simply absent. ``LANG`` defaults to ``C.UTF-8`` so interpreters read and write UTF-8.
    """
    environ = os.environ if environ is None else environ
    env: dict[str, str] = {}
    for name in BASE_VARS:
        if name in environ:
            env[name] = environ[name]
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", DEFAULT_LANG)
    for key, value in (spec.data.get("env") or {}).items():
        env[str(key)] = str(value)
    for name in secret_names(spec):
        if name in environ:
            env[name] = environ[name]
    return env


def wrap_argv(
    argv: Sequence[str],
    spec: EntrySpec,
    *,
    cwd: Path,
    env: Mapping[str, str],
    limits: Limits,
    config: Config | None = None,
) -> Wrapped:
    """The seam for isolation: the sandbox (``sandbox`` of the tool over skillz.yaml's) and the
    rlimits wrap the argv here (see :func:`skillz_engine.isolation.sandbox.wrap`)."""
    from skillz_engine.isolation.sandbox import wrap

    return wrap(argv, spec, cwd=cwd, env=env, limits=limits, config=config)


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


def build_command(
    argv: Sequence[str],
    spec: EntrySpec,
    *,
    cwd: Path | None = None,
    config: Config | None = None,
    environ: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Command:
    """The command line of one run of ``spec``: clean env, limits, and the sandbox wrapper.

    ``extra_env`` is set by the engine on top of the clean environment (a dependency
    environment's ``PATH``, ``VIRTUAL_ENV``, ``NODE_PATH``).
    """
    if not argv:
        raise RuntimeFailure(f"{spec.name}: empty command line")
    env = build_env(spec, environ)
    env.update(extra_env or {})
    limits = limits_for(spec, config)
    workdir = cwd if cwd is not None else spec.dir
    wrapped = wrap_argv(argv, spec, cwd=workdir, env=env, limits=limits, config=config)
    secrets = tuple(n for n in secret_names(spec) if n in env)
    return Command(tuple(wrapped.argv), workdir, env, limits, secrets, wrapped.mode, wrapped.cgroup)


# --------------------------------------------------------------------------- running


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


LineHandler = Callable[[bytes, "Child"], Awaitable[None]]


@dataclass(eq=False)
class Child:
    """The running child as the caller sees it: write to its stdin, run tasks for its lifetime."""

    pid: int
    _proc: anyio.abc.Process = field(repr=False)
    _tg: anyio.abc.TaskGroup = field(repr=False)
    _finish: Callable[[float], None] = field(repr=False)
    _deadline: anyio.CancelScope | None = field(default=None, repr=False)
    _lock: anyio.Lock = field(default_factory=anyio.Lock, repr=False)
    stdin_closed: bool = False
    _waiting: int = field(default=0, repr=False)
    _left: float = field(default=0.0, repr=False)

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Time spent inside does not count against ``limits.timeout``: the child waits for the
        client (a person answering an elicitation, a model sampling), not for itself. Nested and
        concurrent waits stop the clock once; it runs on when the last one ends."""
        scope = self._deadline
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

    async def send(self, data: bytes) -> bool:
        """Write to the child's stdin; ``False`` if it is closed (the child exited or closed it)."""
        if self.stdin_closed or self._proc.stdin is None:
            return False
        async with self._lock:
            try:
                await self._proc.stdin.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                self.stdin_closed = True
                return False
        return True

    async def close_stdin(self) -> None:
        if self.stdin_closed or self._proc.stdin is None:
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


async def _end_group(proc: anyio.abc.Process, grace: float) -> None:
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


class _Stdout:
    """Stdout under the cap: kept bytes (or lines sent on), and how much was written."""

    def __init__(self, cap: int, lines: MemoryObjectSendStream[bytes] | None) -> None:
        self.cap = cap
        self.lines = lines
        self.kept = bytearray()  # whole mode: everything kept; line mode: the partial line
        self.total = 0
        self.truncated = False
        self.closed = False

    def feed(self, chunk: bytes) -> None:
        room = self.cap - min(self.total, self.cap)
        self.total += len(chunk)
        if len(chunk) > room:
            self.truncated = True
            chunk = chunk[:room]
        if not chunk or self.closed:
            return
        self.kept += chunk
        if self.lines is None or b"\n" not in chunk:
            return
        *complete, rest = bytes(self.kept).split(b"\n")
        self.kept = bytearray(rest)
        for line in complete:
            self.lines.send_nowait(line.rstrip(b"\r"))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.lines is not None:
            if self.kept:
                rest = bytes(self.kept).rstrip(b"\r")
                self.kept.clear()
                try:
                    self.lines.send_nowait(rest)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass
            await self.lines.aclose()


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
        from skillz_engine.isolation.sandbox import release_cgroup, setup_cgroup

        setup_cgroup(cmd.cgroup, cmd.limits.processes or 1)
        try:
            return await _run(cmd, started, input, close_stdin, on_line, grace)
        finally:
            release_cgroup(cmd.cgroup)
    return await _run(cmd, started, input, close_stdin, on_line, grace)


async def _run(
    cmd: Command,
    started: float,
    input: bytes | None,
    close_stdin: bool,
    on_line: LineHandler | None,
    grace: float,
) -> ProcessResult:
    try:
        proc = await anyio.open_process(
            list(cmd.argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cmd.cwd,
            env=dict(cmd.env),
            start_new_session=True,
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RuntimeFailure(f"cannot start {cmd.argv[0]!r}: {reason}") from exc
    except ValueError as exc:  # a NUL byte in an argument or in the environment
        raise RuntimeFailure(f"cannot start {cmd.argv[0]!r}: {exc}") from exc

    send_lines, receive_lines = anyio.create_memory_object_stream[bytes](float("inf"))
    out = _Stdout(cmd.limits.output, send_lines if on_line is not None else None)
    err = bytearray()
    err_total = 0
    stdout_done = anyio.Event()
    stderr_done = anyio.Event()
    lines_done = anyio.Event()

    async def read_stdout() -> None:
        assert proc.stdout is not None
        try:
            async for chunk in proc.stdout:
                out.feed(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            await out.close()
            stdout_done.set()

    async def read_stderr() -> None:
        nonlocal err, err_total
        assert proc.stderr is not None
        try:
            async for chunk in proc.stderr:
                err_total += len(chunk)
                err += chunk
                if len(err) > 2 * STDERR_KEEP:
                    err = err[-STDERR_KEEP:]
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            stderr_done.set()

    timed_out = False
    try:
        with anyio.move_on_after(cmd.limits.timeout) as deadline:
            async with anyio.create_task_group() as tg:

                def finish(after: float) -> None:
                    async def later() -> None:
                        await anyio.sleep(after)
                        await _end_group(proc, grace)

                    tg.start_soon(later)

                child = Child(proc.pid, proc, tg, finish, deadline)

                async def deliver(handler: LineHandler) -> None:
                    try:
                        async with receive_lines:
                            async for line in receive_lines:
                                await handler(line, child)
                    finally:
                        lines_done.set()

                async def write_input() -> None:
                    if input:
                        await child.send(input)
                    if close_stdin:
                        await child.close_stdin()

                tg.start_soon(read_stdout)
                tg.start_soon(read_stderr)
                if on_line is not None:
                    tg.start_soon(deliver, on_line)
                else:
                    send_lines.close()
                    receive_lines.close()
                    lines_done.set()
                tg.start_soon(write_input)
                await proc.wait()
                # the leader is gone: end what it left behind, then let the pipes drain
                await _end_group(proc, grace)
                with anyio.move_on_after(PIPE_DRAIN):
                    await stdout_done.wait()
                    await stderr_done.wait()
                if not stdout_done.is_set():  # a process outside the group holds the pipe
                    await out.close()
                await lines_done.wait()
                tg.cancel_scope.cancel()
        timed_out = deadline.cancelled_caught
    finally:
        with anyio.CancelScope(shield=True):
            await _end_group(proc, grace)
            try:
                await proc.aclose()  # closes the pipe transports too; the process is reaped already
            except Exception:
                pass
            # the subprocess transport closes itself a few loop turns later; closing it now keeps it
            # from being collected after the event loop is gone ("Event loop is closed" in __del__)
            transport = getattr(proc, "_transport", None)
            if transport is not None:
                transport.close()
    return ProcessResult(
        returncode=proc.returncode,
        stdout=bytes(out.kept) if on_line is None else b"",
        stderr=bytes(err[-STDERR_KEEP:]),
        stdout_bytes=out.total,
        stdout_truncated=out.truncated,
        stderr_truncated=err_total > STDERR_KEEP,
        timed_out=timed_out,
        duration=time.monotonic() - started,
        output_cap=cmd.limits.output,
    )
