"""One replica of a cluster: its part of the change bus, its writers' lock and its audit stream.

The engine makes a :class:`Replica` when ``cluster.redis`` is set (nothing of this runs, and
``redis`` is never imported, for a single process). It ties the Redis backends of
:mod:`skillz_engine.state` to the live registry:

* **Out**: the paths a writer of this replica wrote are published before this replica applies
  them (:meth:`announce`), so the others reload them while this one does (the same files a shared
  volume's watcher would show them; each replica's own swap tells its own clients). Every other
  swap of this replica (its watcher's, an upstream's list) is published with the lists and
  resources it changed (:meth:`on_delta`, a registry listener), and relayed as such.
* **In**: another replica's message (:meth:`receive`) first reloads the paths it names, here, at
  once (the swap notifies this replica's clients as any swap does), then hands the notifications
  that reload did not already cause to the relays (the MCP hub: both eras' clients). Nothing
  done here while handling a message is published again (:func:`quietly`), so nothing loops.
* **After an outage** (:meth:`catch_up`): messages sent while this replica was cut off are lost
  (pub/sub keeps nothing), so it reloads its whole tree and tells every client to list again,
  instead of serving what may be stale.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import anyio

from skillz_engine.build.diff import Change, Delta
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.live.reload import Reloader
from skillz_engine.state.auditstream import AuditStream
from skillz_engine.state.changebus import ChangeMessage, RedisChangeBus
from skillz_engine.state.cluster import Cluster
from skillz_engine.state.redislink import link_for
from skillz_engine.state.writelock import WriterLock

log = logging.getLogger("skillz_engine.live.replica")

Relay = Callable[[frozenset[Change], frozenset[str]], Awaitable[None]]
ALL_LISTS = frozenset(Change)
LATENCIES = 256  # how many recent bus latencies the status's median is of

_QUIET: ContextVar[bool] = ContextVar("skillz_replica_quiet", default=False)


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Swaps inside the block are not published (they relay, or are published by the caller)."""
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


class Replica:
    """This process as one replica of ``cluster``."""

    def __init__(self, cluster: Cluster, reloader: Reloader | None) -> None:
        self.cluster = cluster
        self.link = link_for(cluster)
        self.reloader = reloader
        self.bus = RedisChangeBus(self.link)
        self.audit = AuditStream(self.link)
        self.writer_lock = WriterLock(self.link)
        self.relays: list[Relay] = []
        self.latencies: list[float] = []  # seconds from a sender's publish to receipt here
        self.received = 0
        self.token: str | None = None  # the cluster's bearer token, once this replica serves with it

    @property
    def id(self) -> str:
        return self.cluster.replica

    def add_relay(self, relay: Relay) -> Callable[[], None]:
        """Hand other replicas' notifications to ``relay`` too; returns the function that stops it."""
        self.relays.append(relay)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self.relays.remove(relay)

        return remove

    # ------------------------------------------------------------------ out

    def _message(self, delta: Delta | None, paths: Sequence[Path] = ()) -> ChangeMessage:
        roots = self.reloader.roots if self.reloader is not None else ()
        rel: list[tuple[int, str]] = []
        for p in paths:
            for i, root in enumerate(roots):
                with contextlib.suppress(ValueError):
                    rel.append((i, Path(p).resolve().relative_to(root.resolve()).as_posix()))
                    break
        lists = tuple(sorted(c.value for c in delta.lists)) if delta is not None else ()
        updated = tuple(sorted(delta.updated)) if delta is not None else ()
        return ChangeMessage(self.id, tuple(rel), lists, updated, time.time())

    async def on_delta(self, delta: Delta, snapshot: Snapshot) -> None:
        """Registry listener: publish what a swap of this replica's own changed."""
        if _QUIET.get() or not (delta.lists or delta.updated):
            return
        await self.bus.publish(self._message(delta))

    async def announce(self, paths: Sequence[Path]) -> None:
        """Publish the paths a writer of this replica is about to apply: every replica reloads
        them at once, in parallel, and notifies its own clients of what its reload changed."""
        await self.bus.publish(self._message(None, paths))

    # ------------------------------------------------------------------ in

    def _local_paths(self, message: ChangeMessage) -> list[Path]:
        roots = self.reloader.roots if self.reloader is not None else ()
        out = []
        for i, rel in message.paths:
            if 0 <= i < len(roots) and not Path(rel).is_absolute() and ".." not in Path(rel).parts:
                out.append(roots[i] / rel)
        return out

    async def receive(self, message: ChangeMessage) -> None:
        """Another replica's change: reload its paths here, then relay what that did not notify."""
        self.received += 1
        if message.sent:
            self.latencies = [*self.latencies[-(LATENCIES - 1) :], max(0.0, time.time() - message.sent)]
        local: Delta | None = None
        paths = self._local_paths(message)
        if paths and self.reloader is not None and self.reloader.live is not None:
            with quietly():
                local = await self.reloader.apply(paths)
        lists = frozenset(Change(v) for v in message.lists if v in {c.value for c in Change})
        updated = frozenset(message.updated)
        if local is not None:
            lists, updated = lists - local.lists, updated - local.updated
        if lists or updated:
            await self._relay(lists, updated)

    async def _relay(self, lists: frozenset[Change], updated: frozenset[str]) -> None:
        for relay in list(self.relays):
            try:
                await relay(lists, updated)
            except Exception:  # a broken relay must not stop the others
                log.exception("relaying a change failed")

    async def catch_up(self) -> None:
        """After an outage: reload the whole tree and have every client list again."""
        log.warning("reconnected to the cluster's Redis: reloading the whole tree to catch up")
        if self.token is not None:
            await self.link.reseed_token(self.token)
        if self.reloader is not None and self.reloader.live is not None:
            with quietly():
                await self.reloader.apply(list(self.reloader.roots))
        await self._relay(ALL_LISTS, frozenset())

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """The subscriber and the audit sender, until cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.audit.run)
            await self.bus.run(self.receive, self.catch_up)

    def status(self) -> dict[str, Any]:
        """The link's state plus this replica's bus and audit counters."""
        out = self.link.status()
        out["changesReceived"] = self.received
        if self.latencies:  # publish to receipt, as the sender's and this replica's clocks see it
            out["busLatencyMs"] = round(statistics.median(self.latencies) * 1000, 3)
        out["auditDropped"] = self.audit.dropped
        return out

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.link.aclose()
