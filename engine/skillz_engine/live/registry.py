"""The live registry: one reference to the current snapshot, swapped atomically.

Readers take :meth:`LiveRegistry.reading` once per request and use that snapshot from start to
end. :meth:`LiveRegistry.swap` replaces the reference (make-before-break: the new snapshot's
stateful entries were started by the caller) and tells every listener what changed. The entries
it replaced are *retired*: stopped once no request reads a snapshot older than the one that
replaced them (or after :data:`DRAIN_TIMEOUT`). Retiring never blocks a swap: a request that
triggers a reload (a writer built-in) is itself a reader of the old snapshot, so waiting for the
drain there would wait for itself. :meth:`LiveRegistry.retire` stops what has drained and runs
beside the watcher; :meth:`LiveRegistry.close` stops everything at shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from skillz_engine.build.diff import Delta, diff
from skillz_engine.tree.model import Compiled

if TYPE_CHECKING:
    from skillz_engine.build.snapshot import Snapshot

log = logging.getLogger("skillz_engine.live.registry")

Listener = Callable[[Delta, "Snapshot"], Awaitable[None]]
DRAIN_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True, eq=False)
class _Retiring:
    generation: int  # the snapshot that replaced them: older ones must drain first
    entries: tuple[Compiled, ...]
    deadline: float  # anyio.current_time() after which they stop regardless


def replaced(old: Snapshot, new: Snapshot) -> tuple[Compiled, ...]:
    """The stateful entries of ``old`` that ``new`` no longer runs (only ``old.stateful`` is looked
    at, so a swap costs nothing per stateless entry). A stale copy of an entry (its last good
    version, kept while the files have errors) shares the entry's ``stop``: it is the same running
    instance, not a replacement."""
    out = []
    for key in old.stateful:
        c = old.entries[key]
        n = new.entries.get(key)
        if n is None or n.stop is not c.stop:
            out.append(c)
    return tuple(out)


class LiveRegistry:
    def __init__(self, first: Snapshot) -> None:
        self._current = first
        self._inflight: dict[int, int] = {}
        self._drained = anyio.Event()  # see _wake()
        self._retiring: list[_Retiring] = []
        self._listeners: list[Listener] = []
        self._generation_event = anyio.Event()
        self._lock = anyio.Lock()

    def _wake(self) -> None:
        """Wake :meth:`retire`: a generation's last reader left, or there is more to retire."""
        event, self._drained = self._drained, anyio.Event()
        event.set()

    @property
    def current(self) -> Snapshot:
        return self._current

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    @contextlib.contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """The snapshot one request reads, counted until the request ends."""
        snap = self._current
        gen = snap.generation
        self._inflight[gen] = self._inflight.get(gen, 0) + 1
        try:
            yield snap
        finally:
            left = self._inflight[gen] - 1
            if left:
                self._inflight[gen] = left
            else:
                del self._inflight[gen]
                self._wake()

    def inflight(self, below: int | None = None) -> int:
        return sum(n for g, n in self._inflight.items() if below is None or g < below)

    async def swap(self, new: Snapshot) -> Delta:
        """Make ``new`` current, notify listeners, and retire what ``new`` no longer runs (stopped
        here when nothing reads an older snapshot any more, else by :meth:`retire`)."""
        async with self._lock:
            old = self._current
            self._current = new
            delta = diff(old, new)
            event, self._generation_event = self._generation_event, anyio.Event()
            event.set()
            for listener in list(self._listeners):
                try:
                    await listener(delta, new)
                except Exception:  # one broken client must not stop the others
                    log.exception("change listener failed")
            gone = replaced(old, new)
            if gone:
                deadline = anyio.current_time() + DRAIN_TIMEOUT
                self._retiring.append(_Retiring(new.generation, gone, deadline))
                self._wake()  # its deadline may be the next one
        await self._stop_due()
        return delta

    @property
    def retiring(self) -> int:
        """How many replaced entries wait for their readers to leave."""
        return sum(len(r.entries) for r in self._retiring)

    async def _stop_due(self) -> None:
        now = anyio.current_time()
        due = [r for r in self._retiring if r.deadline <= now or not self.inflight(below=r.generation)]
        if due:
            self._retiring = [r for r in self._retiring if r not in due]
            await _stop(c for r in due for c in r.entries)

    async def retire(self) -> None:
        """Stop replaced entries as soon as the snapshots that held them have drained; runs until
        cancelled (beside the watcher)."""
        while True:
            await self._stop_due()
            wake = min((r.deadline for r in self._retiring), default=math.inf)
            with anyio.move_on_after(max(0.0, wake - anyio.current_time())):
                await self._drained.wait()

    async def wait_for(self, generation: int, timeout: float = 10.0) -> bool:
        """Wait until the current snapshot is at least ``generation``."""
        with anyio.move_on_after(timeout):
            while self._current.generation < generation:
                await self._generation_event.wait()
            return True
        return False

    async def close(self) -> None:
        """Stop every stateful entry, current or retiring (server shutdown)."""
        retiring, self._retiring = self._retiring, []
        await _stop([*(c for r in retiring for c in r.entries), *self._current.entries.values()])


async def _stop(entries: Iterable[Compiled]) -> None:
    for c in entries:
        if c.stop is None:
            continue
        try:
            await c.stop()
        except Exception:  # one entry failing to stop must not keep the others running
            log.exception("stopping %s failed", c.spec.name)
