"""A lean JSON-RPC peer for one upstream connection: messages are plain dicts, both ways.

Why not the SDK's ``ClientSession``: a proxied ``tools/call`` is the hot path of an imported
server, and the session builds and validates a request model, routes it through its dispatcher and
memory streams and validates the result model, only for the engine to dump it back to JSON. Here a
request is one dict written to the transport and its answer the dict read back, passed through
untouched (the downstream server checks the result once, on its way out).

What the session does over a :class:`Channel` (see :mod:`~skillz_engine.mcp.upstream.channels`):

* requests with ids, a timeout each, ``notifications/progress`` routed to the request's callback
  (its progress token is its id), and a cancelled request (downstream cancel or timeout) sends
  the upstream ``notifications/cancelled``;
* the upstream's requests (sampling, elicitation, roots, ping) answered by ``on_request``, each in
  its own task, and cancelled when the upstream says so;
* the upstream's other notifications handed to ``on_notify`` (logging, ``list_changed``,
  ``resources/updated``);
* when the connection ends, every request waiting fails with :class:`UpstreamError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import anyio

from skillz_engine.errors import RuntimeFailure

log = logging.getLogger("skillz_engine.mcp.upstream")

Json = dict[str, Any]
ProgressCallback = Callable[[float, float | None, str | None], Awaitable[None]]
RequestHandler = Callable[[str, Json], Awaitable[Json]]  # may raise UpstreamError
NotificationHandler = Callable[[str, Json], Awaitable[None]]

INVALID_REQUEST, METHOD_NOT_FOUND, INTERNAL_ERROR = -32600, -32601, -32603
REQUEST_TIMEOUT = -32001  # the SDK's code for a request that got no answer in time
CLOSED = -32000  # the connection ended before the answer


class UpstreamError(RuntimeFailure):
    """The upstream answered a JSON-RPC error (or none: ``CLOSED``, ``REQUEST_TIMEOUT``)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def to_json(self) -> Json:
        out: Json = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


class Channel(Protocol):
    """A transport that carries JSON-RPC messages as dicts (one connection)."""

    async def send(self, message: Json) -> None: ...

    def messages(self) -> AsyncIterator[Json]:
        """Each message from the upstream, until the connection ends (then the iterator ends)."""
        ...


class RpcSession:
    """One JSON-RPC conversation with an upstream over ``channel``; :meth:`run` reads it."""

    def __init__(self, channel: Channel, on_request: RequestHandler, on_notify: NotificationHandler) -> None:
        self.channel = channel
        self._on_request, self._on_notify = on_request, on_notify
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Json]] = {}
        self._progress: dict[int, ProgressCallback] = {}
        self._incoming: dict[Any, anyio.CancelScope] = {}  # the upstream's requests being answered
        self._closed = False
        self._tg: anyio.abc.TaskGroup | None = None

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    async def run(self) -> None:
        """Read the upstream's messages until the connection ends; then fail what is waiting."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                async for message in self.channel.messages():
                    await self._dispatch(message)
                tg.cancel_scope.cancel()  # the upstream is gone: nobody reads its answers
        finally:
            self._closed = True
            self._tg = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(UpstreamError(CLOSED, "Connection closed"))

    async def request(
        self, method: str, params: Json | None, timeout: float, progress: ProgressCallback | None = None
    ) -> Json:
        """The result of ``method``; raises :class:`UpstreamError` for an error answer, a closed
        connection or no answer within ``timeout`` (the upstream is told to cancel it then, and when
        the caller is cancelled)."""
        if self._closed:
            raise UpstreamError(CLOSED, "Connection closed")
        self._next_id += 1
        rid = self._next_id
        message: Json = {"jsonrpc": "2.0", "id": rid, "method": method}
        if progress is not None:
            params = dict(params or {})
            params["_meta"] = {**params.get("_meta", {}), "progressToken": rid}
            self._progress[rid] = progress
        if params is not None:
            message["params"] = params
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        answered = False
        try:
            try:
                await self.channel.send(message)
            except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                raise UpstreamError(CLOSED, f"Connection closed ({type(exc).__name__})") from None
            with anyio.fail_after(timeout):
                answer = await future
            answered = True
        except TimeoutError:
            raise UpstreamError(
                REQUEST_TIMEOUT,
                f"Timed out while waiting for response to {method}. Waited {timeout} seconds.",
            ) from None
        finally:
            self._pending.pop(rid, None)
            self._progress.pop(rid, None)
            if not answered and not self._closed:
                await self._cancel_upstream(rid)
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {}
            raise UpstreamError(
                int(error.get("code", INTERNAL_ERROR)), str(error.get("message", "")), error.get("data")
            )
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    async def _cancel_upstream(self, rid: int) -> None:
        """``notifications/cancelled`` for a request given up on (shielded: the caller may be
        cancelled itself; bounded: a stuck pipe must not hold it)."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            try:
                await self.notify("notifications/cancelled", {"requestId": rid, "reason": "cancelled"})
            except Exception as exc:  # the connection is closing: nothing left to cancel
                log.debug("could not cancel upstream request %s: %s", rid, exc)

    async def notify(self, method: str, params: Json | None = None) -> None:
        message: Json = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.channel.send(message)

    # ----------------------------------------------------------------- from the upstream

    async def _dispatch(self, message: Json) -> None:
        method = message.get("method")
        if not isinstance(method, str):  # a response
            future = self._pending.get(message.get("id"))  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result(message)
            return
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if "id" in message:
            assert self._tg is not None
            self._tg.start_soon(self._answer, message["id"], method, params)
        elif method == "notifications/progress":
            callback = self._progress.get(params.get("progressToken"))  # type: ignore[arg-type]
            if callback is not None:
                await callback(float(params.get("progress", 0)), params.get("total"), params.get("message"))
        elif method == "notifications/cancelled":
            scope = self._incoming.get(params.get("requestId"))
            if scope is not None:
                scope.cancel()
        else:
            await self._on_notify(method, params)

    async def _answer(self, rid: Any, method: str, params: Json) -> None:
        """Answer one request of the upstream (unless it cancels it first)."""
        reply: Json = {"jsonrpc": "2.0", "id": rid}
        with anyio.CancelScope() as scope:
            self._incoming[rid] = scope
            try:
                reply["result"] = {} if method == "ping" else await self._on_request(method, params)
            except UpstreamError as exc:
                reply["error"] = exc.to_json()
            except Exception as exc:
                log.exception("answering the upstream's %s failed", method)
                reply["error"] = {"code": INTERNAL_ERROR, "message": f"{type(exc).__name__}: {exc}"}
            finally:
                self._incoming.pop(rid, None)
        if scope.cancelled_caught:
            return
        try:
            await self.channel.send(reply)
        except Exception as exc:  # the connection ended meanwhile
            log.debug("could not answer the upstream's %s: %s", method, exc)
