"""Hot reload: file-change batches in, snapshots swapped out.

:class:`Reloader` consumes any async iterable of path batches: :func:`watch` (watchfiles) in
production, a plain list in tests. For each batch it rescans only what the paths touch, compiles
what changed, starts new stateful entries before the swap, and swaps. Scanning and compiling
(reading and parsing manifests) run in a worker thread, one at a time under the reloader's lock, so
a slow or hostile tree never blocks the event loop that serves requests.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path

import anyio

from skillz_engine.build.compile import Tree
from skillz_engine.build.diff import Delta
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.live.registry import LiveRegistry
from skillz_engine.state.writelock import WriterLock
from skillz_engine.tree.config import CONFIG_NAMES
from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.scan import ignored_name

log = logging.getLogger("skillz_engine.live.reload")


class Reloader:
    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.live: LiveRegistry | None = None
        self._lock = anyio.Lock()
        self._writers = WriterLock()  # as an EngineHandle of its own (tests); an Engine has its own
        tree.on_changed = self.refresh

    async def start(self) -> LiveRegistry:
        """Scan and compile the whole tree, start its entries, and open the live registry."""
        await anyio.to_thread.run_sync(self.tree.full_scan)
        if await self.fetch_sources():
            await anyio.to_thread.run_sync(self.tree.full_scan)
        snap = await self._build(None)
        self.live = LiveRegistry(snap)
        return self.live

    async def _build(self, previous: Snapshot | None) -> Snapshot:
        """Start what is new, then assemble the snapshot that serves it (once)."""
        await self._start_new(previous)
        self.tree.recompile_dirty()  # what the started entries found out (an upstream's listing)
        return self.tree.snapshot(previous)

    async def refresh(self) -> None:
        """Serve what runtimes marked changed (:meth:`Tree.recompile_dirty`): one new snapshot,
        swapped and announced like a file change. A no-op before :meth:`start` (the first build
        picks them up) and when a build already took them."""
        if self.live is None:
            return
        async with self._lock:
            revision = self.tree.revision
            if not self.tree.recompile_dirty() or self.tree.revision == revision:
                return
            snap = await self._build(self.live.current)
            await self.live.swap(snap)

    async def _start_new(self, previous: Snapshot | None) -> None:
        """Make-before-break: start every compiled entry ``previous`` does not already run. One
        that fails to start is recorded on the tree, so the snapshot leaves it out (while
        serving, its previous version stays, stale)."""
        starting = []  # the few stateful entries, started in listing order
        for key, r in self.tree.results.items():
            c = r.compiled
            if c is not None and c.start is not None:
                starting.append((key, c, c.start))
        for key, c, start in sorted(starting, key=lambda item: item[0]):
            if previous is not None and previous.entries.get(key) is c:
                continue
            try:
                await start()
            except Exception as exc:
                d = Diagnostic(
                    c.spec.display,
                    1,
                    1,
                    "SKZ502",
                    Severity.ERROR,
                    f"{c.spec.kind} {c.spec.name!r} failed to start: {exc}",
                    hint="Fix the cause; the previous version (if any) stays live.",
                )
                self.tree.failed_to_start(key, d)

    async def apply(self, paths: Iterable[Path]) -> Delta | None:
        """Apply one batch of changed paths; ``None`` when nothing served changed."""
        assert self.live is not None, "call start() first"
        async with self._lock:
            revision = self.tree.revision
            batch = list(paths)
            full = await anyio.to_thread.run_sync(self.tree.rescan, batch)
            if full and await self.fetch_sources():
                await anyio.to_thread.run_sync(self.tree.full_scan)
            if not full and self.tree.revision == revision:
                return None
            snap = await self._build(self.live.current)
            delta = await self.live.swap(snap)
            if delta.summary:
                log.info("snapshot %d: %s", snap.generation, ", ".join(delta.summary))
            return delta

    @property
    def roots(self) -> tuple[Path, ...]:
        return tuple(self.tree.roots)

    def writing(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The :class:`~skillz_engine.build.contract.EngineHandle`'s writers' lock (this process)."""
        return self._writers.hold()

    @property
    def state_dir(self) -> Path:
        return self.tree.state_dir

    async def reload(self, paths: Sequence[Path]) -> Snapshot:
        """The :class:`~skillz_engine.build.contract.EngineHandle` of a running engine: apply ``paths``
        now and return the snapshot that serves them."""
        await self.apply(paths)
        assert self.live is not None
        return self.live.current

    async def fetch_sources(self) -> bool:
        """Fetch the git sources the tree pins but has not fetched (in a worker thread; a failure
        becomes an error diagnostic on the pin); returns whether the tree must be rescanned."""
        return await anyio.to_thread.run_sync(self.tree.fetch_sources)

    async def mount_sources(self) -> Snapshot:
        """The :class:`~skillz_engine.build.contract.EngineHandle` hook for ``add_skill_repo``: re-read the
        pins, mount the clones that exist as roots, and serve the result (one swap)."""
        assert self.live is not None, "call start() first"
        async with self._lock:
            await anyio.to_thread.run_sync(lambda: self.tree.mount_sources(compile_now=True))
            snap = await self._build(self.live.current)
            await self.live.swap(snap)
            return snap

    async def run(self, batches: AsyncIterable[Iterable[Path]]) -> None:
        """Apply every batch until ``batches`` ends; meanwhile, stop the entries the swaps
        replaced as soon as their readers have left (:meth:`LiveRegistry.retire`)."""
        assert self.live is not None, "call start() first"
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.live.retire)
            async for batch in batches:
                try:
                    await self.apply(batch)
                except Exception:  # the watcher must survive anything a tree can do
                    log.exception("reload failed")
            tg.cancel_scope.cancel()


def _make_filter(roots: list[Path]) -> Callable[[object, str], bool]:
    """Skip ignored names *below* a root (a root may itself live in a dot-directory)."""
    resolved = [r.resolve() for r in roots]

    def keep(change: object, path: str) -> bool:
        p = Path(path)
        for r in resolved:
            try:
                rel = p.relative_to(r)
            except ValueError:
                continue
            return not any(ignored_name(part) for part in rel.parts) or rel.name in CONFIG_NAMES
        return False

    return keep


async def watch(
    roots: Iterable[Path], *, debounce_ms: int = 50, stop_event: anyio.Event | None = None
) -> AsyncIterator[set[Path]]:
    """Batches of changed paths under ``roots`` (watchfiles; inotify on Linux)."""
    from watchfiles import awatch

    roots = [Path(r).resolve() for r in roots]
    async for changes in awatch(
        *roots,
        watch_filter=_make_filter(roots),
        debounce=debounce_ms,
        step=10,
        stop_event=stop_event,
        yield_on_timeout=False,
        ignore_permission_denied=True,
        rust_timeout=200,  # ms: how soon a cancelled watcher's thread notices (default 5 s)
    ):
        yield {Path(p) for _, p in changes}
