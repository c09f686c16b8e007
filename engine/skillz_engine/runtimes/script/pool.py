"""The workers of one ``worker:`` script: at most ``max`` processes, each serving one call at a time.

A call takes a free worker (the most recently used, so idle ones can age out), starting a new one
when none is free and fewer than ``max`` run; further calls wait. After the call the worker goes
back to the free list, unless it died, was killed (timeout, cancellation, too much output), or has
served ``recycleAfter`` calls: then it is stopped, and the next call starts a fresh one. A worker
free for ``idle`` is stopped. A worker that exited cleanly after its last answer (a script that
answers one request and exits) is found out by the next call, which then runs on a new worker.

The pool is the entry's stateful part (:attr:`~skillz_engine.tree.model.Compiled.stop` is
:meth:`WorkerPool.close`): a manifest edit compiles a new pool, the new snapshot uses it at once,
and the live registry closes the old one once the requests reading the old snapshot have drained
(make-before-break); server shutdown closes every pool, so no worker outlives the server.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from skillz_engine.build.contract import CallContext
from skillz_engine.isolation.process import Command
from skillz_engine.runtimes.script.session import Session
from skillz_engine.runtimes.script.worker import Worker
from skillz_engine.tree.model import Args, ToolResult
from skillz_engine.tree.specs import Worker as WorkerKeys
from skillz_engine.units import parse_duration

__all__ = ["PoolSettings", "WorkerPool"]

MakeCommand = Callable[[CallContext], Awaitable[Command]]
MakeSession = Callable[[Command, CallContext], Session]


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """The manifest's ``worker`` keys, parsed: ``idle`` in seconds, ``recycle_after`` calls."""

    max: int = 1
    idle: float = 300.0
    recycle_after: int | None = None

    @classmethod
    def of(cls, keys: WorkerKeys) -> PoolSettings:
        return cls(max(1, keys.max), parse_duration(keys.idle), keys.recycle_after)


class WorkerPool:
    """The running workers of tool ``name``."""

    def __init__(self, name: str, settings: PoolSettings) -> None:
        self.name = name
        self.settings = settings
        self.started = 0  # workers started so far (each start is a new process)
        self.busy = 0  # calls being served right now
        self._free: list[Worker] = []
        self._workers: set[Worker] = set()
        self._slots: anyio.Semaphore | None = None  # made in the event loop, on the first call
        self._stopping: set[asyncio.Task[None]] = set()
        self._timers: dict[Worker, asyncio.TimerHandle] = {}  # idle timers of free workers
        self._closed = False

    @property
    def running(self) -> int:
        """Worker processes alive now (busy or free)."""
        return sum(1 for w in self._workers if w.alive)

    async def call(
        self, arguments: Args, ctx: CallContext, make_command: MakeCommand, make_session: MakeSession
    ) -> ToolResult:
        """Serve one call on a worker; waits while ``max`` calls are being served."""
        if self._slots is None:
            self._slots = anyio.Semaphore(self.settings.max)
        async with self._slots:
            if self._closed:
                message = "this version of the tool was replaced or stopped; call it again"
                return ToolResult.error(f"{self.name}: {message}")
            self.busy += 1
            try:
                result = await self._serve(self._take(), arguments, ctx, make_command, make_session)
                if result is None:  # the call never ran: once more, on a new worker
                    result = await self._serve(None, arguments, ctx, make_command, make_session)
                if result is None:
                    return ToolResult.error(f"{self.name}: its worker exited before the call reached it")
                return result
            finally:
                self.busy -= 1

    async def _serve(
        self,
        worker: Worker | None,
        arguments: Args,
        ctx: CallContext,
        make_command: MakeCommand,
        make_session: MakeSession,
    ) -> ToolResult | None:
        """One call on ``worker``, or on a new one; the worker goes back to the pool after it.
        ``None``: the worker had exited before the call reached it (see :meth:`Worker.serve`)."""
        if worker is None:
            worker = Worker(self.name, await make_command(ctx))
            self._workers.add(worker)
            self.started += 1
        try:
            return await worker.serve(make_session(worker.cmd, ctx), arguments)
        finally:
            self._give_back(worker)

    def _take(self) -> Worker | None:
        while self._free:
            worker = self._free.pop()
            self._cancel_timer(worker)
            if worker.alive:
                return worker
            self._workers.discard(worker)
        return None

    def _cancel_timer(self, worker: Worker) -> None:
        timer = self._timers.pop(worker, None)
        if timer is not None:
            timer.cancel()

    def _give_back(self, worker: Worker) -> None:
        recycle = self.settings.recycle_after
        if not worker.alive:
            self._workers.discard(worker)
        elif self._closed or (recycle is not None and worker.calls >= recycle):
            self._stop_soon(worker)
        else:
            self._free.append(worker)
            if math.isfinite(self.settings.idle):
                loop = asyncio.get_running_loop()
                self._timers[worker] = loop.call_later(self.settings.idle, self._expire, worker)

    def _expire(self, worker: Worker) -> None:
        """The idle timer of ``worker`` (cancelled when a call takes it): it stayed free for ``idle``."""
        self._timers.pop(worker, None)
        if worker in self._free:
            self._free.remove(worker)
            self._stop_soon(worker)

    def _stop_soon(self, worker: Worker) -> None:
        """Stop ``worker`` in the background (it may take its grace to exit); :meth:`close` waits."""
        self._workers.discard(worker)
        task = asyncio.get_running_loop().create_task(worker.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        """Stop every worker: free ones are asked to exit, busy ones (calls that outlived the
        drain) are killed. Returns when every worker process has ended."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        free, self._free = set(self._free), []
        for worker in self._workers - free:
            worker.kill()
        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as tg:
                for worker in self._workers:
                    tg.start_soon(worker.stop)
                for task in list(self._stopping):
                    tg.start_soon(_wait_task, task)
        self._workers.clear()


async def _wait_task(task: asyncio.Task[None]) -> None:
    await asyncio.wait([task])
