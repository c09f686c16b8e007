"""The live registry: one reference to the current snapshot, swapped atomically.

Readers take :meth:`LiveRegistry.reading` once per request and use that snapshot from start to
end. :meth:`LiveRegistry.swap` replaces the reference (make-before-break: the new snapshot's
stateful entries were started by the caller), tells every listener what changed, and stops the
replaced entries only after the requests still reading an older snapshot have drained.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import anyio

from skillz_engine.build.diff import Delta, diff
from skillz_engine.tree.model import Compiled

if TYPE_CHECKING:
    from skillz_engine.build.snapshot import Snapshot

log = logging.getLogger("skillz_engine.live.registry")

Listener = Callable[[Delta, "Snapshot"], Awaitable[None]]
DRAIN_TIMEOUT = 30.0


class LiveRegistry:
    def __init__(self, first: Snapshot) -> None:
        self._current = first
        self._inflight: dict[int, int] = {}
        self._drained = anyio.Event()
        self._listeners: list[Listener] = []
        self._generation_event = anyio.Event()
        self._lock = anyio.Lock()

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
                self._drained.set()

    def inflight(self, below: int | None = None) -> int:
        return sum(n for g, n in self._inflight.items() if below is None or g < below)

    async def swap(self, new: Snapshot) -> Delta:
        """Make ``new`` current, notify listeners, then stop what ``new`` no longer holds."""
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
            replaced = [
                c for key, c in old.entries.items() if c.stop is not None and new.entries.get(key) is not c
            ]
        if replaced:
            await self._stop_after_drain(new.generation, replaced)
        return delta

    async def _stop_after_drain(self, generation: int, replaced: list[Compiled]) -> None:
        with anyio.move_on_after(DRAIN_TIMEOUT):
            while self.inflight(below=generation):
                self._drained = anyio.Event()
                await self._drained.wait()
        for c in replaced:
            assert c.stop is not None
            try:
                await c.stop()
            except Exception:
                log.exception("stopping %s failed", c.spec.name)

    async def wait_for(self, generation: int, timeout: float = 10.0) -> bool:
        """Wait until the current snapshot is at least ``generation``."""
        with anyio.move_on_after(timeout):
            while self._current.generation < generation:
                await self._generation_event.wait()
            return True
        return False

    async def close(self) -> None:
        """Stop every stateful entry of the current snapshot (server shutdown)."""
        for c in self._current.entries.values():
            if c.stop is not None:
                with contextlib.suppress(Exception):
                    await c.stop()
