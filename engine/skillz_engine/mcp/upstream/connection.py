"""One upstream MCP server: its supervisor task and its lifecycle.

An :class:`Upstream` owns one connection at a time, held by a supervisor task (a transport is
entered and left in one task). The supervisor connects, runs ``initialize``, lists
everything, and then waits for one of: the connection closing (a crash: restart with backoff, its
tools answer ``isError`` saying why meanwhile), ``stop`` (the entry was replaced or the server
closes), ``idleTimeout`` without a request (stopped; the next request starts it again), or an
upstream ``list_changed`` (list again). Whenever what it serves changes (a new listing, a crash,
a recovery) it calls ``changed``: the entry is compiled again from :attr:`Upstream.listing` and
:attr:`Upstream.state` and a new snapshot is swapped in and announced to every client, the path a
file change takes.

What travels over a connection (handshake, listing, relays of in-request features both ways) is
:mod:`~skillz_engine.mcp.upstream.client` over the lean JSON-RPC session of
:mod:`~skillz_engine.mcp.upstream.rpc`, imported only when an upstream connects: an engine whose
upstreams are all lazy loads neither at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.mcp.upstream.launch import Launch, open_transport
from skillz_engine.mcp.upstream.listing import Listing, load, save
from skillz_engine.mcp.upstream.rpc import UpstreamError
from skillz_engine.tree.model import ToolResult

if TYPE_CHECKING:
    from skillz_engine.mcp.upstream.client import Relay
    from skillz_engine.mcp.upstream.rpc import RpcSession

log = logging.getLogger("skillz_engine.mcp.upstream")

State = Literal["stopped", "starting", "ready", "backoff"]
BACKOFF_FIRST = 0.5  # seconds before the first restart; doubled per failure
BACKOFF_MAX = 30.0
IDLE_POLL = 0.5


def describe(exc: BaseException) -> str:
    """One line for why a connection failed (the first leaf of an exception group)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, RuntimeFailure | OSError) else f"{type(exc).__name__}: {text}"


class Upstream:
    """One upstream server, shared by every snapshot that serves the same launch of one entry."""

    def __init__(
        self,
        name: str,
        key: str,
        launch: Launch,
        *,
        timeout: float,
        idle: float | None,
        cache: Path,
        changed: Callable[[str], Awaitable[None]] | None,
        gone: Callable[[Upstream], None],
    ) -> None:
        self.name, self.key, self.launch = name, key, launch
        self.timeout, self.idle = timeout, idle
        self.cache = cache
        self.listing: Listing | None = load(cache)
        self.state: State = "stopped"
        self.reason = ""  # why it is down (state backoff)
        self._down = False  # it failed since it was last ready (a recovery rebuilds too)
        self.restarts = 0
        self.retry_at = 0.0  # time.time() of the next attempt (state backoff)
        self._changed, self._gone = changed, gone
        self._session: RpcSession | None = None
        self._caps: dict[str, Any] = {}  # the connected upstream's capabilities
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = anyio.Event()  # state changed, stop asked, list_changed, connection closed
        self._relist = False
        self._updated: set[str] = set()
        self._subscribed: set[str] = set()  # resource URIs subscribed on the current connection
        self.versions: dict[str, int] = {}  # resource URI -> how often the upstream said it changed
        self._relay: Relay | None = None  # made on the first connection (it loads the SDK)
        self._last_use = time.monotonic()
        # stable callables: every snapshot serving this upstream shares them, so a swap that keeps
        # the upstream does not retire it (LiveRegistry.replaced compares `stop`)
        self.start_hook: Callable[[], Awaitable[None]] = self._start
        self.prime_hook: Callable[[], Awaitable[None]] = self._prime
        self.stop_hook: Callable[[], Awaitable[None]] = self._stop

    # ----------------------------------------------------------------- state

    def status(self) -> dict[str, Any]:
        """What ``/health`` and the diagnostics say about it."""
        out: dict[str, Any] = {"state": self.state, "restarts": self.restarts}
        out["target"] = self.launch.describe()
        if self.state == "backoff":
            out["reason"] = self.reason
            out["retryIn"] = round(max(0.0, self.retry_at - time.time()), 1)
        return out

    def _set(self, state: State, reason: str = "") -> None:
        self.state, self.reason = state, reason
        self._poke()

    def _poke(self) -> None:
        event, self._wake = self._wake, anyio.Event()
        event.set()

    async def _tell(self) -> None:
        if self._changed is not None:
            try:
                await self._changed(self.key)
            except Exception:  # the rebuild is the server's business; never kill the supervisor
                log.exception("rebuilding after a change of upstream %s failed", self.name)

    # ----------------------------------------------------------------- lifecycle

    async def _start(self) -> None:
        """``Compiled.start`` of an autostarted upstream: connect and wait for the first outcome.
        A failure does not raise: the entry stays served, its tools say why (and it retries)."""
        with contextlib.suppress(RuntimeFailure):
            await self.session()

    async def _prime(self) -> None:
        """``Compiled.start`` of a lazy upstream whose listing is not known yet (none kept in the
        state directory): connect once to list it, then close until first use."""
        await self._start()
        await self._close()

    async def _stop(self) -> None:
        """``Compiled.stop``: close the connection (ends the process) and forget the upstream."""
        await self._close()
        self._gone(self)

    async def _close(self) -> None:
        self._stopping = True
        self._poke()
        task, self._task = self._task, None
        if task is not None and not task.done():
            with anyio.move_on_after(5):
                await asyncio.shield(task)
            task.cancel()

    def _launch(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._set("starting")
            self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def session(self) -> RpcSession:
        """The connected session, starting the upstream if needed; raises ``RuntimeFailure``
        saying why when it is down."""
        self._last_use = time.monotonic()
        if self.state == "ready" and self._session is not None:
            return self._session
        if self.state == "backoff":
            raise RuntimeFailure(self.down_message())
        task = self._task
        if task is not None and not task.done() and self.state != "starting":
            with anyio.move_on_after(5):  # a connection closing (idle): let it go, then start anew
                await asyncio.shield(task)
        self._launch()
        return await self._ready()

    async def _ready(self) -> RpcSession:
        with anyio.move_on_after(self.timeout + 5):
            while self.state == "starting":
                await self._wake.wait()
        if self.state == "ready" and self._session is not None:
            return self._session
        raise RuntimeFailure(self.down_message() if self.state == "backoff" else f"{self.name}: not started")

    def down_message(self) -> str:
        wait = max(0.0, self.retry_at - time.time())
        return f"upstream MCP server {self.name!r} is unavailable: {self.reason} (retrying in {wait:.1f}s)"

    async def _supervise(self) -> None:
        delay = BACKOFF_FIRST
        while not self._stopping:
            reason = await self._connect_once()
            if reason is None:  # stopped, or idle
                break
            self.restarts += 1
            self.retry_at = time.time() + delay
            log.warning("upstream %s is down: %s", self.name, reason)
            self._down = True
            self._set("backoff", reason)
            await self._tell()
            with anyio.move_on_after(delay):
                while not self._stopping:
                    await self._wake.wait()
            delay = min(delay * 2, BACKOFF_MAX)
            if not self._stopping:
                self._set("starting")
        self._set("stopped")

    async def _connect_once(self) -> str | None:
        """One connection, from launch to close: ``None`` when it ended on purpose, else why not."""
        from skillz_engine.mcp.upstream.client import Relay, initialize

        if self._relay is None:
            self._relay = Relay(self._notified)
        noise: list[str] = []
        eof = anyio.Event()
        self._subscribed.clear()
        try:
            if self.launch.prepare is not None:  # a container upstream's image: built or found first
                await anyio.to_thread.run_sync(self.launch.prepare)
            async with open_transport(self.launch, self.timeout, noise) as channel:
                session = self._relay.open(channel)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._read, session, eof)
                    with anyio.fail_after(self.timeout):
                        self._caps = await initialize(session, self.timeout)
                    new = await self._list(session)
                    self._session = session
                    was_down, self._down = self._down, False
                    self._last_use = time.monotonic()  # connecting counts as use (idleTimeout)
                    self._set("ready")
                    if new or was_down:  # after `ready`: a rebuild waiting on start must not wait on us
                        await self._tell()
                    ended = await self._serve(session, eof)
                    self._session = None  # closing: no new request may start on it
                    if ended is None:
                        self._set("stopped")
                    tg.cancel_scope.cancel()
        except Exception as exc:
            ended = describe(exc)
            if self._session is None and (isinstance(exc, TimeoutError) or "timed out" in ended.lower()):
                ended = f"no answer to initialize within {self.timeout:g}s"
        finally:
            self._session = None
        if self._stopping or ended is None:
            return None
        http = [n for n in noise if n.startswith("HTTP ")]
        if http:
            ended += f" ({http[-1]})"
        elif noise:
            ended += f"; it wrote to stdout what is not MCP JSON: {noise[0][:200]}"
        tail = self.launch.stderr_tail()
        return f"{ended}; stderr: {tail[-600:]}" if tail else ended

    async def _read(self, session: RpcSession, eof: anyio.Event) -> None:
        """Read the upstream's messages until the connection ends, and say when it does."""
        try:
            await session.run()
        finally:
            eof.set()
            self._poke()

    async def _serve(self, session: RpcSession, eof: anyio.Event) -> str | None:
        """Wait while connected: ``None`` on stop or idle, why it closed otherwise."""
        while True:
            if eof.is_set():
                return "the upstream closed the connection (exited)"
            if self._stopping:
                return None
            if self._relist:
                self._relist = False
                if await self._list(session):
                    await self._tell()
                continue
            if self._updated:
                for uri in self._updated:
                    self.versions[uri] = self.versions.get(uri, 0) + 1
                self._updated.clear()
                await self._tell()
                continue
            idle_for = time.monotonic() - self._last_use
            busy = self._relay is not None and self._relay.busy
            if self.idle is not None and not busy and idle_for >= self.idle:
                log.info("upstream %s idle for %.0fs: stopped", self.name, idle_for)
                return None
            wake = self._wake
            with anyio.move_on_after(IDLE_POLL if self.idle is not None else 3600):
                await wake.wait()

    async def _list(self, session: RpcSession) -> bool:
        """List everything the upstream has and keep it; whether it changed."""
        from skillz_engine.mcp.upstream.client import list_all

        listing = await list_all(session, self._caps, self._subscribed, self.timeout)
        if listing == self.listing:
            return False
        self.listing = listing
        save(self.cache, listing)
        return True

    def _notified(self, method: str, uri: str | None) -> None:
        """An upstream notification about what it serves (see :class:`Relay`)."""
        if uri is not None:
            self._updated.add(uri)
        else:
            self._relist = True
        self._poke()

    # ----------------------------------------------------------------- to the upstream

    async def call_tool(self, name: str, arguments: Mapping[str, Any], ctx: CallContext) -> ToolResult:
        """``tools/call`` upstream; an upstream error or an unreachable upstream is ``isError``."""
        try:
            session = await self.session()
        except RuntimeFailure as exc:
            return ToolResult.error(str(exc))
        assert self._relay is not None
        try:
            return await self._relay.call_tool(session, name, arguments, ctx, self.timeout)
        finally:
            self._last_use = time.monotonic()

    async def get_prompt(self, name: str, arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``prompts/get`` upstream; the upstream's error is raised as the SDK's ``MCPError``, so
        its code reaches the client as it was."""
        from skillz_engine.mcp.upstream.client import Relay

        session = await self.session()
        try:
            return await Relay.get_prompt(session, name, arguments, self.timeout)
        except UpstreamError as exc:
            raise _mcp_error(exc) from None
        finally:
            self._last_use = time.monotonic()

    async def read_resource(self, uri: str) -> list[dict[str, Any]]:
        """``resources/read`` upstream; errors as in :meth:`get_prompt`."""
        from skillz_engine.mcp.upstream.client import Relay

        session = await self.session()
        try:
            return await Relay.read_resource(session, uri, self.timeout)
        except UpstreamError as exc:
            raise _mcp_error(exc) from None
        finally:
            self._last_use = time.monotonic()


def _mcp_error(exc: UpstreamError) -> Exception:
    from mcp.shared.exceptions import MCPError

    return MCPError(code=exc.code, message=exc.message, data=exc.data)
