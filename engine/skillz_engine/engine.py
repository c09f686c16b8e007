"""The engine, the composition root: one object owns everything a served tree needs.

``async with Engine.open(roots, options) as engine:`` puts together, in this order:

1. the :class:`~skillz_engine.build.compile.Tree` of ``roots`` (``skillz.yaml`` plus the overrides of
   :class:`EngineOptions`); with ``strict``, a tree with errors stops here (:class:`TreeHasErrors`);
2. the state directory (:class:`~skillz_engine.state.store.Store`: token, ``server.json``), its
   one-server lock when ``server_lock`` asks (``serve`` only) and the audit log, by the policy of
   :attr:`EngineOptions.audit` (below);
3. the live registry: the :class:`~skillz_engine.live.reload.Reloader` scans the tree, fetches and
   mounts its git sources, starts the stateful entries and opens the
   :class:`~skillz_engine.live.registry.LiveRegistry` (``live=False``: one compile, served as it is,
   nothing fetched or started, for commands that only look);
4. the watcher task (``watch``), feeding file changes to the reloader until the engine closes;
5. in a cluster (``cluster.redis``, live engines only), the :class:`~skillz_engine.live.replica.Replica`:
   its change-bus subscriber and audit stream run beside the watcher, its writers' lock replaces
   the local one, and the bearer token is the cluster's (docs/scale-out.md, "Shared state").

Closing stops the watcher, then every stateful entry. The engine is the
:class:`~skillz_engine.build.contract.EngineHandle` built-in writers reach through their call context.
The MCP adapter (:mod:`skillz_engine.mcp`) and the CLI receive an engine; the engine imports neither.

The audit policy, one for every caller, chosen per caller by what its user expects:

* ``off`` (``call``, ``list``, ``build``, most tests): no audit log; the state directory is left alone.
* ``optional`` (stdio): the client launched the server and waits on its stdout. An audit log the
  state directory cannot hold (a read-only home, a file in the way) is not worth failing that
  client over, so the engine serves without one and says so once on stderr, the one channel a
  stdio server has besides the protocol.
* ``required`` (HTTP): the bearer token and ``server.json`` live in the state directory too, so a
  server without it could neither authenticate a client nor be found; opening raises the
  ``OSError`` at once, before a port is bound.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio

from skillz_engine.build.compile import Tree
from skillz_engine.build.diff import Delta
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.builtins import catalog
from skillz_engine.errors import EngineError, ToolNotFound
from skillz_engine.live.registry import LiveRegistry
from skillz_engine.live.reload import Reloader
from skillz_engine.live.reload import watch as watch_tree
from skillz_engine.live.replica import Replica, quietly
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from skillz_engine.state.cluster import cluster_of
from skillz_engine.state.serverlock import ServerLock
from skillz_engine.state.sources import GitSources
from skillz_engine.state.store import AuditLog, AuditRecord, Store, redact, secret_values
from skillz_engine.state.writelock import WriterLock
from skillz_engine.tree.config import DISCLOSURE_MODES, Config, WatchSettings
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.model import Args, ToolResult
from skillz_engine.tree.specs import Duration, McpServerSpec, ToolSpec
from skillz_engine.units import parse_duration

log = logging.getLogger("skillz_engine.engine")

AuditMode = Literal["off", "optional", "required"]
AUDIT_MODES: tuple[AuditMode, ...] = ("off", "optional", "required")


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How to open an engine; every field defaults to what a library caller (or a test) wants."""

    watch: bool = False  # reload on file changes
    debounce_ms: int | None = None  # the watcher's debounce; None: watch.debounce of skillz.yaml
    strict: bool = False  # refuse to open a tree with errors (TreeHasErrors)
    read_only: bool = False  # turn off every built-in that writes (overrides skillz.yaml)
    disclosure: str | None = None  # one of DISCLOSURE_MODES (overrides skillz.yaml)
    state_dir: Path | None = (
        None  # None: the tree's (``state`` in skillz.yaml, else .skillz/ in the first root)
    )
    audit: AuditMode = "off"  # see the module docstring
    live: bool = True  # False: serve one compile as it is (no git fetch, nothing started, no watcher)
    lenient: bool = True  # compile what compiles; False: the strict compiler of ``validate``
    cache: bool = False  # the spec cache in the state directory (a faster second start)
    config: Mapping[str, Any] = field(default_factory=dict)  # further skillz.yaml overrides
    server_lock: str | None = None  # "stdio"/"http" (serve): hold the state directory's one-server lock
    redis: str | None = None  # the cluster's Redis URL (overrides ``cluster.redis`` of skillz.yaml)

    def __post_init__(self) -> None:
        if self.disclosure is not None and self.disclosure not in DISCLOSURE_MODES:
            raise ValueError(f"disclosure must be one of {', '.join(DISCLOSURE_MODES)}: {self.disclosure!r}")
        if self.audit not in AUDIT_MODES:
            raise ValueError(f"audit must be one of {', '.join(AUDIT_MODES)}: {self.audit!r}")
        if self.watch and not self.live:
            raise ValueError("a watching engine must be live")

    def overrides(self) -> dict[str, Any]:
        """The ``skillz.yaml`` keys these options replace."""
        out = dict(self.config)
        if self.disclosure:
            out["disclosure"] = self.disclosure
        if self.read_only:
            out["readOnly"] = True
        if self.redis:
            out["redis"] = self.redis
        return out


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One call as the engine records it: what observers of :meth:`Engine.observe_calls` get."""

    method: str
    tool: str
    ms: float
    error: str | None
    session: str | None


CallObserver = Callable[[CallEvent], None]


class TreeHasErrors(EngineError):
    """A ``strict`` engine's tree has errors: ``diagnostics`` says where, ``entries`` is how many
    entries were checked."""

    def __init__(self, diagnostics: Sequence[Diagnostic], entries: int) -> None:
        self.diagnostics = tuple(diagnostics)
        self.entries = entries
        super().__init__(self.diagnostics[0].format() if self.diagnostics else "manifest errors")


def _ms(duration: Duration) -> int:
    return max(1, round(parse_duration(duration) * 1000))


DEFAULT_DEBOUNCE_MS = _ms(WatchSettings().debounce)


def debounce_ms(config: Config, default: int = DEFAULT_DEBOUNCE_MS) -> int:
    """``watch.debounce`` of the tree config in milliseconds (``"50ms"``, ``0.2``, ...); ``default``
    for a value that is not a duration."""
    try:
        return _ms(config.watch.debounce)
    except ValueError:
        return default


def secret_names(snapshot: Snapshot) -> tuple[str, ...]:
    """Every secret any entry of the snapshot names (a nested call may reach any of them)."""
    names: set[str] = set()
    for spec in snapshot.specs.values():
        r = spec.record
        for n in r.secrets if isinstance(r, ToolSpec | McpServerSpec) else ():
            if isinstance(n, str):
                names.add(n)
    return tuple(sorted(names))


def open_audit(store: Store, mode: AuditMode) -> AuditLog | None:
    """The audit log of ``store`` by the policy of ``mode`` (see the module docstring)."""
    if mode == "off":
        return None
    try:
        store.ensure()
    except OSError as exc:
        if mode == "required":
            raise
        print(
            f"skillz-engine: warning: no audit log ({store.path} cannot be created: {exc})",
            file=sys.stderr,
            flush=True,
        )
        return None
    return store.audit_log()


def take_server_lock(store: Store, options: EngineOptions) -> ServerLock | None:
    """The one-server lock of ``store`` when ``options.server_lock`` asks for it (see
    :mod:`skillz_engine.state.serverlock`); a second server raises ``ServerRunning``. A state directory
    that cannot be created fails an HTTP server (as its audit log would) and leaves stdio unlocked,
    since it then shares no state with anyone."""
    if options.server_lock is None:
        return None
    try:
        return ServerLock.acquire(store, options.server_lock)
    except OSError:
        if options.audit == "required":
            raise
        return None


class Engine:
    """A tree served live: its snapshot, its state directory, its audit log and its watcher."""

    def __init__(
        self,
        tree: Tree,
        options: EngineOptions,
        live: LiveRegistry,
        reloader: Reloader | None,
        store: Store,
        audit: AuditLog | None,
        replica: Replica | None = None,
    ) -> None:
        self.tree = tree
        self.replica = replica  # None: a single process (no cluster configured, or not live)
        self.writer_lock = replica.writer_lock if replica is not None else WriterLock()
        self.options = options
        self.live = live
        self.reloader = reloader  # None when not live
        self.store = store
        self.audit = audit
        self._audit_warned = False
        self._call_observers: list[CallObserver] = []
        self._redacted: list[str] = []  # values no observer may see (the bearer token)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, roots: Iterable[Path], options: EngineOptions | None = None) -> AsyncIterator[Engine]:
        """Open an engine on ``roots`` (see the module docstring); closed when the block ends."""
        o = options if options is not None else EngineOptions()
        tree = Tree(
            roots,
            lenient=o.lenient,
            state_dir=o.state_dir,
            config_overrides=o.overrides(),
            cache=o.cache,
            builtins=catalog(),
            sources=GitSources(),
        )
        if o.strict:
            tree.full_scan()
            snap = tree.snapshot()
            if snap.errors:
                raise TreeHasErrors(snap.errors, len(tree.results))
        store = Store(tree.state_dir)
        lock = take_server_lock(store, o)  # before anything starts: a second server stops here
        try:
            audit = open_audit(store, o.audit)
            reloader = Reloader(tree) if o.live else None
            if reloader is not None:
                live = await reloader.start()
            else:
                tree.full_scan()
                live = LiveRegistry(tree.snapshot())
            cluster = cluster_of(tree.config) if reloader is not None else None
            replica = Replica(cluster, reloader) if cluster is not None else None
            engine = cls(tree, o, live, reloader, store, audit, replica)
            try:
                async with engine._clustered(), engine._watching():
                    yield engine
            finally:
                if reloader is not None:  # a live engine started its entries: stop them
                    with anyio.CancelScope(shield=True):
                        await live.close()
        finally:
            if lock is not None:
                lock.release()

    @contextlib.asynccontextmanager
    async def _clustered(self) -> AsyncIterator[None]:
        """A replica's bus subscriber and audit sender around the engine's use (none alone);
        the caller's exception leaves unwrapped, as in :meth:`_watching`."""
        replica = self.replica
        if replica is None:
            yield
            return
        detach = self.live.add_listener(replica.on_delta)
        failure: BaseException | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(replica.run)
                try:
                    yield
                except anyio.get_cancelled_exc_class():
                    raise
                except BaseException as exc:
                    failure = exc
                finally:
                    tg.cancel_scope.cancel()
        finally:
            detach()
            await replica.aclose()
        if failure is not None:
            raise failure

    @contextlib.asynccontextmanager
    async def _watching(self) -> AsyncIterator[None]:
        """The watcher task around the engine's use. The caller's own exception leaves unwrapped
        (a task group would turn it into an ExceptionGroup the CLI's crash boundary cannot read)."""
        if not self.options.watch:
            yield
            return
        assert self.reloader is not None
        stop = anyio.Event()  # stops the watcher thread promptly (cancelling alone waits for its timeout)
        ms = self.options.debounce_ms or debounce_ms(self.tree.config)
        batches = watch_tree(self.tree.roots, debounce_ms=ms, stop_event=stop)
        failure: BaseException | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.reloader.run, batches)
            try:
                yield
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as exc:  # KeyboardInterrupt included: re-raised as it is below
                failure = exc
            finally:
                stop.set()
                tg.cancel_scope.cancel()
        if failure is not None:
            raise failure

    # ------------------------------------------------------------------ what callers read

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot serving right now (a request reads one through ``live.reading()``)."""
        return self.live.current

    @property
    def config(self) -> Config:
        return self.tree.config

    # ------------------------------------------------------------------ EngineHandle (built-in writers)

    @property
    def roots(self) -> tuple[Path, ...]:
        return tuple(self.tree.roots)

    @property
    def state_dir(self) -> Path:
        return self.tree.state_dir

    async def apply(self, paths: Iterable[Path]) -> Delta | None:
        """Apply these changed paths now, as the watcher would; ``None`` when nothing served changed.
        A replica publishes them, so every replica serves them at once."""
        if self.replica is None:
            return await self._reloader().apply(paths)
        batch = list(paths)
        await self.replica.announce(batch)
        with quietly():
            return await self._reloader().apply(batch)

    def writing(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The writers' lock (``state.writelock``): one writer at a time, across the cluster too."""
        return self.writer_lock.hold()

    async def reload(self, paths: Sequence[Path]) -> Snapshot:
        """Apply ``paths`` now and return the snapshot that serves them."""
        await self.apply(paths)
        return self.live.current

    async def mount_sources(self) -> Snapshot:
        """Re-read the git source pins and serve their clones as roots (``add_skill_repo``)."""
        return await self._reloader().mount_sources()

    def _reloader(self) -> Reloader:
        if self.reloader is None:
            raise RuntimeError("this engine serves one compile as it is (live=False): it cannot reload")
        return self.reloader

    # ------------------------------------------------------------------ state

    def token(self) -> str:
        """The HTTP bearer token (made once in the state directory; a replica's is the cluster's,
        kept in Redis and copied there); the audit log redacts it."""
        if self.replica is not None:
            token = self.replica.token = self.replica.link.shared_token()
            self.store.keep_token(token)
        else:
            token = self.store.token()
        if token not in self._redacted:
            self._redacted.append(token)
        if self.audit is not None:
            self.audit.redact_also(token)
        return token

    def record(
        self,
        snapshot: Snapshot,
        method: str,
        tool: str,
        started: float,
        error: str | None,
        session: str | None,
    ) -> None:
        """One audit line for a call that began at ``perf_counter()`` ``started`` (none without a
        log), and the call told to every observer (:meth:`observe_calls`).

        A failed write is reported once: a full disk must not flood stderr, nor fail the call."""
        ms = (time.perf_counter() - started) * 1000
        names = snapshot.derived("secret-names", lambda: secret_names(snapshot))
        if self._call_observers:
            # observers print and show errors: the same redaction as the audit log, before anything
            shown = None if error is None else redact(error, [*secret_values(names), *self._redacted])
            event = CallEvent(method, tool, ms, shown, session)
            for observer in list(self._call_observers):
                try:
                    observer(event)
                except Exception:  # a broken observer must not fail the call
                    log.exception("call observer failed")
        if self.audit is None:
            return
        record = AuditRecord(method, tool, ms, error is None, error, session, names)
        if self.replica is not None:
            self.replica.audit.push(self.audit.line(record))
        if not self.audit.append(record) and not self._audit_warned:
            self._audit_warned = True
            log.warning("cannot write the audit log %s: %s", self.audit.path, self.audit.failed)

    def observe_calls(self, observer: CallObserver) -> Callable[[], None]:
        """Tell ``observer`` of every call the MCP adapter records (the ``serve`` console, metrics);
        returns the function that stops it."""
        self._call_observers.append(observer)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._call_observers.remove(observer)

        return stop

    # ------------------------------------------------------------------ running a tool without a client

    async def call(
        self, name: str, arguments: Args, *, sink: list[tuple[str, Any]] | None = None
    ) -> ToolResult:
        """Run tool ``name`` as a client would, with no client behind it: logs and progress go to
        ``sink``. Raises :class:`~skillz_engine.errors.ToolNotFound` for a name nothing serves."""
        with self.live.reading() as snap:
            tool = snap.tools.get(name)
            if tool is None:
                raise ToolNotFound(name, snap.suggest(name))
            ctx = LocalCallContext(snap, name, sink=sink if sink is not None else [], engine=self)
            return await run_tool(tool, arguments, ctx)
