"""One persistent worker of a ``worker:`` script: a long-lived process that answers call after call.

The process is started exactly as a one-shot run is (:func:`skillz_engine.isolation.process.run`
with the tool's :class:`~skillz_engine.isolation.process.Command`: its sandbox, clean environment,
rlimits and pids cgroup), except that the run itself has no timeout and no stdout cap: those are
per call here. Each call writes one ``execute`` request line and reads the script's lines until
its final response, with the :class:`~.session.Session` a one-shot run uses, so logs, progress,
streaming, nested ``tools/call``, memory, resources, elicitation, sampling and roots work the same.

The process runs in a task of its own (it outlives the call that started it), which only moves
bytes: every line goes to the call in progress, whose own task handles it (its context, its cancel
scope), so a worker never holds a request's state. A line written between calls belongs to no call
and is dropped. A call that times out, is cancelled, or writes more than ``limits.output`` kills
the worker's process group (the work stops); a crash ends the call with ``isError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import math
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any, Literal

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.process import KILL_GRACE, Child, Command, PausableDeadline, ProcessResult, run
from skillz_engine.runtimes import results
from skillz_engine.runtimes.script.session import Session, failure
from skillz_engine.tree.model import Args, ToolResult

__all__ = ["STOP_GRACE", "Worker"]

STOP_GRACE = 2.0  # seconds a worker has to exit once its stdin is closed, before it is killed
_NO_CAP = 1 << 62  # the process's own stdout cap: the per-call cap is enforced here
Outcome = Literal["answered", "exited", "overflow", "timed out", "cancelled"]  # how a call ended


class _Call:
    """One call in progress on a worker, as the session and the host reach it (a
    :class:`~.host.Channel`): the worker's stdin, a deadline that stops while the client is asked
    something, and the tasks answering the script's requests (cancelled when the call ends)."""

    def __init__(self, worker: Worker, tg: anyio.abc.TaskGroup, lines: MemoryObjectSendStream[bytes]) -> None:
        self.worker = worker
        self.tg = tg
        self.lines = lines
        self.clock = PausableDeadline()  # its scope is set once the call's deadline starts
        self.finished = False

    async def send(self, data: bytes) -> bool:
        return await self.worker.send(data)

    def waiting(self) -> contextlib.AbstractContextManager[None]:
        """Time the script waits for the client does not count against ``limits.timeout`` (as
        :meth:`Child.waiting`, on this call's deadline)."""
        return self.clock.paused()

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        self.tg.start_soon(fn, *args)

    def finish(self, grace: float) -> None:
        """The final response came: the call is over, the worker stays for the next one."""
        self.finished = True

    async def close_stdin(self) -> None:
        """Nothing to close: the worker's stdin stays open for its next call."""


class Worker:
    """One worker process of tool ``name``, run as ``cmd`` (its ``limits.timeout`` and
    ``limits.output`` apply to each call)."""

    def __init__(self, name: str, cmd: Command) -> None:
        self.name = name
        self.cmd = cmd
        self.calls = 0  # calls given to it, for recycleAfter
        self.exited = anyio.Event()
        self.result: ProcessResult | None = None  # how the process ended
        self.pid: int | None = None  # known from the first line it writes
        self._child: Child | None = None
        self._call: _Call | None = None
        self._scope = anyio.CancelScope()
        self._task: asyncio.Task[None] | None = None
        self._failure: RuntimeFailure | None = None
        self._killed = False

    @property
    def alive(self) -> bool:
        """Whether the process runs and may serve another call (a killed one may not)."""
        return not self.exited.is_set() and not self._killed

    def _start(self, first: bytes) -> None:
        """Start the process with its first request on stdin. Its task runs in an empty context:
        it outlives the call that started it and must not carry that request's context along."""
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._main(first), context=contextvars.Context())

    async def _main(self, first: bytes) -> None:
        limits = dataclasses.replace(self.cmd.limits, timeout=math.inf, output=_NO_CAP)
        try:
            with self._scope:
                self.result = await run(
                    dataclasses.replace(self.cmd, limits=limits),
                    input=first,
                    close_stdin=False,
                    on_line=self._on_line,
                )
        except RuntimeFailure as exc:  # could not start at all
            self._failure = exc
        finally:
            self.exited.set()
            if self._call is not None:
                self._call.lines.close()  # every line it wrote was delivered before run returned

    async def _on_line(self, raw: bytes, child: Child) -> None:
        self._child = child
        self.pid = child.pid
        call = self._call
        if call is not None:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                call.lines.send_nowait(raw)

    async def send(self, data: bytes) -> bool:
        return self._child is not None and await self._child.send(data)

    def kill(self) -> None:
        """End the process group now (SIGKILL); the run reaps it and empties its cgroup."""
        if self.pid is not None and self.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        self._killed = True
        self._scope.cancel()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Close the worker's stdin (its loop reads EOF and exits); kill it after ``grace``."""
        if self._task is None:
            return
        if self._child is not None:
            await self._child.close_stdin()
        with anyio.move_on_after(grace):
            await self.exited.wait()
        if self.alive:
            self.kill()
        with anyio.CancelScope(shield=True):
            await self.exited.wait()

    async def serve(self, session: Session, arguments: Args) -> ToolResult | None:
        """Run one call on this worker (started by it when it is new). The worker is killed
        when the call does not end with the script's answer: a timeout, a cancellation, too
        much output; the caller replaces it. ``None``: the worker had exited cleanly after its
        previous answer (a script that answers one request and exits), so the call never ran."""
        self.calls += 1
        send, receive = anyio.create_memory_object_stream[bytes](math.inf)
        limits = self.cmd.limits
        outcome: Outcome = "cancelled"  # until _read says otherwise
        async with anyio.create_task_group() as tg:
            call = _Call(self, tg, send)
            try:
                line = await session.request(arguments, self.calls)
                with anyio.move_on_after(limits.timeout) as deadline:
                    call.clock.scope = deadline
                    self._call = call
                    if self._task is None:
                        self._start(line)
                    elif not await self.send(line):
                        send.close()
                    outcome = await self._read(session, call, receive, limits.output)
                if deadline.cancelled_caught:
                    outcome = "timed out"
            finally:
                self._call = None
                receive.close()
                if outcome != "answered":
                    if outcome != "exited":  # the work must stop with the call
                        self.kill()
                    await self._ended()
            tg.cancel_scope.cancel()
        if outcome == "timed out":
            return failure(self.name, self.cmd, ProcessResult(None, b"", b"", timed_out=True))
        if outcome == "overflow":
            return results.error_result(
                f"{self.name} wrote more than its limit of {limits.output} bytes to stdout in one call "
                "(limits.output); its worker was stopped"
            )
        if outcome == "answered":
            return session.outcome(ProcessResult(0, b"", b""))
        if self._failure is not None:
            raise self._failure
        if self.result is None:  # killed by the pool closing while the call ran
            return ToolResult.error(
                f"{self.name}: its worker was stopped (the tool was replaced or the server stops)"
            )
        if self.calls > 1 and self.result.returncode == 0 and not session.text and not session.chunks:
            return None  # it exited after its last answer (a one-call script): this call never ran
        return session.outcome(self.result)

    async def _read(
        self, session: Session, call: _Call, receive: anyio.abc.ObjectReceiveStream[bytes], cap: int
    ) -> Outcome:
        """Hand the call's lines to the session until its final response (``"answered"``), the
        process's end (``"exited"``) or more than ``cap`` bytes (``"overflow"``)."""
        written = 0
        async for raw in receive:
            written += len(raw) + 1
            if written > cap:
                return "overflow"
            await session.on_line(raw, call)
            if call.finished:
                return "answered"
        return "exited"

    async def _ended(self) -> None:
        """Wait for the process to be gone (and reaped), even in a cancelled call; one that is
        not gone after a grace (its stdin closed, yet running) is killed."""
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(KILL_GRACE):
                await self.exited.wait()
            if not self.exited.is_set():
                self.kill()
                with anyio.move_on_after(KILL_GRACE):
                    await self.exited.wait()
