"""HTTP transport: one Starlette app serving an engine (endpoints in docs/clients.md).

Rules: the transport serves the engine it is given (its watcher, state directory and audit log are
the engine's); every route but ``/health`` is behind the bearer token and the Origin check;
``server.json`` says where the server listens for exactly as long as it does.

Routes:

* ``/mcp``: Streamable HTTP (``StreamableHTTPSessionManager``, stateful, SSE responses); the SDK
  routes each request to the handshake era or the 2026-07-28 era by its ``Mcp-Protocol-Version``.
* ``GET /health``: unauthenticated liveness and a few counters.
* ``GET /`` (the status page), ``/login``, ``/status.json``, ``/status/events`` and ``/metrics``:
  see :mod:`skillz_engine.mcp.status` (a session cookie from a one-time login link, or the token).
* ``GET /sse`` + ``POST /message``: the legacy HTTP+SSE transport for old clients. Each SSE
  connection is driven by ``serve_dual_era_loop``, so the server lifespan is not entered per
  connection.

``/mcp``, ``/sse`` and ``/message`` sit behind :class:`Guard`, a pure ASGI wrapper (no
``BaseHTTPMiddleware``, so streaming is untouched): a browser ``Origin`` that is not allowed gets
403, a missing or wrong bearer token 401. The SDK's DNS-rebinding protection checks ``Host``
against the loopback names, the bound host and ``http.allowedHosts`` on every bind, and caps a
request body at 4 MiB (413); :mod:`.httppolicy` says who may bind where, :mod:`.httpconn` times
out slow and idle connections and caps their number.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import signal
import threading
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from typing import Any

import anyio
import uvicorn
from mcp.server.runner import serve_dual_era_loop
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from skillz_engine import __version__
from skillz_engine.engine import Engine
from skillz_engine.errors import UsageError
from skillz_engine.mcp.board import StatusBoard
from skillz_engine.mcp.events import RETRY_MS, BoundedEventStore
from skillz_engine.mcp.httpconn import ConnectionLimits, LimitedConfig
from skillz_engine.mcp.httppolicy import allowed_hosts, check_bind, is_loopback, security_settings, url_host
from skillz_engine.mcp.metrics import Metrics
from skillz_engine.mcp.parked_remote import cluster_parking
from skillz_engine.mcp.server import build_server
from skillz_engine.mcp.status import PageAccess, status_routes
from skillz_engine.tree.config import DEFAULT_PORT, Config

DEFAULT_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")
SHUTDOWN_GRACE = 3.0  # seconds open streams get before uvicorn cancels them


def _origin_regex(pattern: str) -> re.Pattern[str]:
    """``*`` matches one port or one DNS label; a trailing ``:*`` also matches no port at all."""
    tail = ""
    if pattern.endswith(":*"):
        pattern, tail = pattern[:-2], r"(?::[0-9]{1,5})?"
    body = re.escape(pattern).replace(r"\*", r"[A-Za-z0-9-]+")
    return re.compile(body + tail, re.IGNORECASE)


def origin_allowed(origin: str, patterns: Sequence[str]) -> bool:
    """Whether a browser ``Origin`` matches one of ``patterns`` (``http.allowedOrigins`` syntax)."""
    origin = origin.strip().rstrip("/")
    return any(p == "*" or _origin_regex(p.rstrip("/")).fullmatch(origin) for p in patterns)


def allowed_origins(config: Config) -> list[str]:
    """The loopback origins plus ``http.allowedOrigins`` from ``skillz.yaml``."""
    return list(dict.fromkeys([*DEFAULT_ORIGINS, *(str(o) for o in config.http.allowed_origins)]))


class Guard:
    """Pure ASGI wrapper: 403 for a disallowed ``Origin``, 401 without the bearer token."""

    def __init__(self, app: ASGIApp, *, token: str | None, origins: Sequence[str]) -> None:
        self.app, self.token, self.origins = app, token, list(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"origin"]
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        if origin is not None and not origin_allowed(origin, self.origins):
            message = f"Origin {origin!r} is not allowed; add it to http.allowedOrigins in skillz.yaml"
            await JSONResponse({"error": "forbidden", "message": message}, 403)(scope, receive, send)
            return
        if self.token is not None and not self._authorized(scope):
            body = {
                "error": "unauthorized",
                "message": "send 'Authorization: Bearer <token>' (.skillz/agent-token)",
            }
            await JSONResponse(body, 401, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        # The Origin was checked here, with the wildcard syntax of http.allowedOrigins that the SDK's
        # own matcher does not know; the SDK still checks Host (DNS rebinding).
        await self.app({**scope, "headers": headers}, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        assert self.token is not None
        raw = next((v for k, v in scope["headers"] if k == b"authorization"), b"").decode("latin-1")
        scheme, _, credential = raw.partition(" ")
        ok = hmac.compare_digest(credential.strip().encode(), self.token.encode())
        return scheme.lower() == "bearer" and ok


def build_app(
    engine: Engine,
    *,
    token: str | None,
    allowed_origins: list[str],
    host: str,
    allowed_hosts: Sequence[str] = (),
) -> Starlette:
    """The Starlette app over ``engine``; ``app.state.mcp_server`` is its :class:`McpServer`,
    ``app.state.page_access`` the status page's :class:`~skillz_engine.mcp.status.PageAccess`.
    ``Host`` must be loopback, ``host`` or one of ``allowed_hosts`` (:mod:`.httppolicy`)."""
    mcp = build_server(engine)
    server = mcp.server
    security = security_settings(host, allowed_origins, allowed_hosts)
    board = StatusBoard(engine, mcp)
    access = PageAccess(token)
    metrics = Metrics(board)
    manager = StreamableHTTPSessionManager(  # the event store primes 2025-11-25 SSE streams (retry)
        app=server, security_settings=security, event_store=BoundedEventStore(), retry_interval=RETRY_MS
    )
    sse = SseServerTransport("/message", security_settings=security)
    lifespan_state: dict[str, Any] = {}  # build_server uses the SDK's no-op default lifespan

    def guard(app: ASGIApp) -> Guard:
        return Guard(app, token=token, origins=allowed_origins)

    async def health(request: Request) -> JSONResponse:
        from skillz_engine.mcp.upstream.runtime import health as upstream_health

        snap = engine.snapshot
        body = {
            "ok": True,
            "generation": snap.generation,
            "tools": len(snap.tools),
            "errors": len(snap.errors),
            "sessions": len(mcp.hub.legacy),
            "upstreams": upstream_health(snap),
        }
        if engine.replica is not None:  # alive either way; "redis" says whether it is degraded
            body["replica"] = engine.replica.id
            body["redis"] = engine.replica.status()
        return JSONResponse(body)

    async def sse_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with sse.connect_sse(scope, receive, send) as (read_stream, write_stream):
                await serve_dual_era_loop(
                    server,
                    read_stream,
                    write_stream,
                    lifespan_state=lifespan_state,
                    init_options=server.create_initialization_options(),
                )
        except ValueError as exc:  # connect_sse refused the request (Host check) and answered it
            if "validation failed" not in str(exc):
                raise

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        detach_board = board.attach()
        try:
            async with manager.run(), cluster_parking(engine, mcp.parked):
                yield
        finally:
            detach_board()
            await mcp.close()  # parked 2026-07-28 calls: kill their processes

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/mcp", endpoint=guard(StreamableHTTPASGIApp(manager))),
            Route("/sse", endpoint=guard(sse_endpoint), methods=["GET"]),
            Route("/message", endpoint=guard(sse.handle_post_message), methods=["POST"]),
            *status_routes(board, access, security, metrics.exposition),
        ],
        lifespan=lifespan,
    )
    app.state.mcp_server = mcp
    app.state.page_access = access
    return app


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, but a signal ends ``serve`` instead of being re-raised afterwards, so the
    caller can clean up (server.json) and decide what the signal means."""

    signals: list[int]

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        self.signals = []
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: Any) -> None:
        self.signals.append(sig)
        self.handle_exit(sig, frame)


def announcement(
    url: str,
    token: str | None,
    token_file: str | None,
    login_url: str | None = None,
    *,
    show_token: bool = False,
) -> str:
    """What a starting server prints. The token itself only when ``show_token`` (a terminal, or
    ``--show-token``): stderr is often a captured log, and the token file is where it belongs. The
    status page's one-time login link only when given (on a terminal)."""
    lines = [f"skillz-engine is serving MCP at {url}"]
    if login_url is not None:
        lines.append(f"Status page: {login_url}  (one-time login link)")
    if token is None:
        lines.append("Authentication is OFF (--no-auth): anyone who can reach this port can call tools.")
    elif show_token:
        lines.append(f"Bearer token: {token}")
        lines.append(f"(stored in {token_file}; send it as 'Authorization: Bearer <token>')")
    else:
        lines.append(f"Bearer token: in {token_file} (send it as 'Authorization: Bearer <token>')")
    lines.append(f"Health: {url.removesuffix('/mcp')}/health   Legacy SSE: {url.removesuffix('/mcp')}/sse")
    return "\n".join(lines)


async def serve_http(
    engine: Engine,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    auth: bool = True,
    allow_remote_without_auth: bool = False,
    show_token: bool = False,
    announce: Callable[[str], None] | None = None,
    show_login: bool = False,
) -> None:
    """Serve ``engine`` over HTTP until cancelled or signalled.

    The engine must have its state directory (``audit="required"``): the token and ``server.json``
    live there. ``server.json`` exists while the port is bound, and is removed on the way out.
    An unauthenticated non-loopback bind is refused (``UsageError``) unless explicitly allowed."""
    check_bind(host, auth=auth, allow_remote_without_auth=allow_remote_without_auth)
    store = engine.store
    settings = engine.config.http
    token = engine.token() if auth else None
    app = build_app(
        engine,
        token=token,
        allowed_origins=allowed_origins(engine.config),
        host=host,
        allowed_hosts=settings.allowed_hosts,
    )
    config = LimitedConfig(
        app,
        limits=ConnectionLimits.of(settings),
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE),
    )
    web = _Uvicorn(config)
    done = anyio.Event()

    async def run_web() -> None:
        try:
            with anyio.CancelScope(shield=True):  # stopped through should_exit, so it shuts down cleanly
                await web.serve()
        except SystemExit:  # uvicorn exits when it cannot bind or the lifespan fails (it logged why)
            pass
        finally:
            done.set()

    async def serving() -> None:
        bound = web.servers[0].sockets[0].getsockname()[1]
        url = f"http://{url_host(host)}:{bound}/mcp"
        token_file = str(store.token_file) if auth else None
        store.write_server_json(url, os.getpid(), __version__, token_file)
        if announce is not None:
            page = url.removesuffix("/mcp") + "/"
            if token is not None and show_login:  # a terminal: the one-time link is for its user only
                page = f"{url.removesuffix('/mcp')}/login?code={app.state.page_access.new_code()}"
            login = page if show_login or token is None else None
            text = announcement(url, token, token_file, login, show_token=show_token)
            if not is_loopback(host):  # reached from elsewhere by a name the Host check must know
                names = ", ".join(allowed_hosts(host, settings.allowed_hosts))
                text += f"\nBound beyond this machine: Host must be one of {names} (http.allowedHosts)"
            announce(text)
        await done.wait()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_web)
            try:
                while not web.started and not done.is_set():
                    await anyio.sleep(0.01)
                if web.started:  # else reported below, outside the task group (no ExceptionGroup)
                    await serving()
            finally:
                web.should_exit = True
                with anyio.CancelScope(shield=True), anyio.move_on_after(SHUTDOWN_GRACE + 5):
                    await done.wait()
                tg.cancel_scope.cancel()
    finally:
        store.remove_server_json()
    if not web.started:
        raise UsageError(f"cannot serve HTTP on {host}:{port}: the address is in use or not permitted")
    if signal.SIGINT in getattr(web, "signals", ()):
        raise KeyboardInterrupt
