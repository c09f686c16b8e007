"""The status page at ``GET /``, its live event stream, and ``GET /metrics``.

Access, in the Jupyter way but without a token in any URL:

* at start the server makes a one-time login code; the login URL ``/login?code=...`` is printed on
  a terminal only. Opening it once sets an ``HttpOnly; SameSite=Strict`` session cookie and
  redirects to ``/``; the code is then spent (a copy of the URL in a log or a browser history opens
  nothing), and it expires after :data:`CODE_TTL` seconds anyway;
* anyone holding the bearer token can also sign in through the form of the page (a POST body,
  never a query string) or send ``Authorization: Bearer`` (scripts, Prometheus);
* with ``--no-auth`` the page is open, like ``/mcp``.

Every route here checks ``Host`` the way the SDK checks it for ``/mcp`` (DNS rebinding): a page
that a foreign site can load through a rebound name must not leak the tree.

The page itself is one static file of package data (no build step, no CDN); it renders the JSON
of :meth:`~skillz_engine.mcp.board.StatusBoard.state`, sent again by ``/status/events`` (server-sent
events) whenever the board's version moves: a file edit, a reload, a call.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from mcp.server.transport_security import TransportSecuritySettings

    from skillz_engine.mcp.board import StatusBoard

COOKIE = "skillz_status"
CODE_TTL = 600.0  # seconds a login code printed at start stays usable
SESSION_TTL = 12 * 3600.0  # seconds a page session lasts
KEEPALIVE = 15.0  # seconds between SSE comments on a quiet stream
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
}


class PageAccess:
    """Who may see the page: one-time login codes, page sessions (cookies), the bearer token."""

    def __init__(self, token: str | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        self.clock = clock
        self._codes: dict[str, float] = {}  # code -> expiry
        self._sessions: dict[str, float] = {}  # cookie value -> expiry

    @property
    def open(self) -> bool:
        return self.token is None

    def new_code(self) -> str:
        """A fresh one-time login code (valid for :data:`CODE_TTL` seconds, once)."""
        code = secrets.token_urlsafe(24)
        self._codes[code] = self.clock() + CODE_TTL
        return code

    def spend_code(self, code: str) -> str | None:
        """A new page session for a valid unspent ``code`` (spent now), else ``None``."""
        now = self.clock()
        expiry = self._codes.pop(code, None) if code else None
        return self._new_session(now) if expiry is not None and expiry > now else None

    def login_with_token(self, token: str) -> str | None:
        if self.token is None or not hmac.compare_digest(token.strip().encode(), self.token.encode()):
            return None
        return self._new_session(self.clock())

    def _new_session(self, now: float) -> str:
        self._sessions = {s: e for s, e in self._sessions.items() if e > now}
        session = secrets.token_urlsafe(32)
        self._sessions[session] = now + SESSION_TTL
        return session

    def allows(self, request: Request) -> bool:
        if self.token is None:
            return True
        session = request.cookies.get(COOKIE, "")
        expiry = self._sessions.get(session) if session else None
        if expiry is not None and expiry > self.clock():
            return True
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), self.token.encode()
        )


def _page() -> str:
    return resources.files("skillz_engine.mcp").joinpath("static/status.html").read_text(encoding="utf-8")


def _login_page(message: str = "") -> str:
    note = f'<p class="err">{message}</p>' if message else ""
    return (
        "<!doctype html><meta charset=utf-8><title>skillz-engine: sign in</title>"
        "<style>body{font:15px system-ui,sans-serif;max-width:36em;margin:4em auto;color:#222}"
        "input{font:inherit;width:100%;padding:.4em;margin:.5em 0}.err{color:#b00020}</style>"
        "<h1>skillz-engine status</h1><p>Open the one-time login URL the server printed when it "
        "started, or sign in with the bearer token (the file <code>.skillz/agent-token</code> of the "
        f"served tree).</p>{note}<form method=post action=/login>"
        '<input type=password name=token autocomplete=off placeholder="bearer token" autofocus>'
        "<button>Sign in</button></form>"
    )


def status_routes(
    board: StatusBoard,
    access: PageAccess,
    security: TransportSecuritySettings,
    metrics: Callable[[], tuple[bytes, str]],
) -> list[Route]:
    """The routes of the page, its data, its event stream, the login and ``/metrics``."""

    def host_ok(request: Request) -> bool:
        if not security.enable_dns_rebinding_protection:
            return True
        host = request.headers.get("host", "")
        return any(
            host == allowed or (allowed.endswith(":*") and host.rpartition(":")[0] == allowed[:-2])
            for allowed in security.allowed_hosts
        )

    def refuse(request: Request) -> Response | None:
        if not host_ok(request):
            return JSONResponse({"error": "forbidden", "message": "Host not allowed"}, 421)
        return None

    def cookie(response: Response, session: str, request: Request) -> Response:
        response.set_cookie(
            COOKIE,
            session,
            max_age=int(SESSION_TTL),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    async def page(request: Request) -> Response:
        if (refused := refuse(request)) is not None:
            return refused
        if not access.allows(request):
            return HTMLResponse(_login_page(), 401, headers=SECURITY_HEADERS)
        return HTMLResponse(_page(), headers=SECURITY_HEADERS)

    async def login(request: Request) -> Response:
        if (refused := refuse(request)) is not None:
            return refused
        if request.method == "POST":
            form = await request.form()
            session = access.login_with_token(str(form.get("token", "")))
            failure = "That is not the server's bearer token."
        else:
            session = access.spend_code(request.query_params.get("code", ""))
            failure = "This login link was already used or has expired; sign in with the token instead."
        if session is None:
            return HTMLResponse(_login_page(failure), 401, headers=SECURITY_HEADERS)
        return cookie(RedirectResponse("/", 303, headers=SECURITY_HEADERS), session, request)

    async def state(request: Request) -> Response:
        if (refused := refuse(request)) is not None:
            return refused
        if not access.allows(request):
            return JSONResponse({"error": "unauthorized"}, 401)
        return JSONResponse(board.state(), headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        if (refused := refuse(request)) is not None:
            return refused
        if not access.allows(request):
            return JSONResponse({"error": "unauthorized"}, 401)

        async def stream() -> AsyncIterator[str]:
            last = ""
            while True:
                seen = board.version
                # sent when it differs: an event moved the version, or (at the keep-alive tick) a
                # state no event announces changed, such as an upstream going into backoff
                data = json.dumps(board.state(), default=str)
                if data != last:
                    last = data
                    yield f"event: state\ndata: {data}\n\n"
                elif await request.is_disconnected():
                    return
                else:
                    yield ": keep-alive\n\n"
                await board.changed(seen, KEEPALIVE)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def prometheus(request: Request) -> Response:
        if (refused := refuse(request)) is not None:
            return refused
        if not access.allows(request):
            return JSONResponse({"error": "unauthorized"}, 401, headers={"WWW-Authenticate": "Bearer"})
        body, content_type = metrics()
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    return [
        Route("/", page, methods=["GET"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/status.json", state, methods=["GET"]),
        Route("/status/events", events, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
