"""A Streamable HTTP upstream as a :class:`~skillz_engine.mcp.upstream.rpc.Channel`: raw POSTs of
JSON-RPC dicts, no SDK transport in the way.

Each message is one POST (``Accept: application/json, text/event-stream``) carrying the session id
the server gave at ``initialize`` and the negotiated ``MCP-Protocol-Version``. A request's answer is
a JSON body or a server-sent event stream, read to its end: the stream may carry the upstream's
progress, log messages and its own requests (sampling, elicitation, roots) before the response,
and each goes to the session as it comes. Notifications and responses are answered ``202``. After
``notifications/initialized`` a ``GET`` stream carries what the upstream says outside any request
(``list_changed``, ``resources/updated``), reopened when it ends; a server without one answers
``405`` and is left alone. Closing the channel ends the session with ``DELETE``.

An error status is noted (``HTTP 401 Unauthorized from <url>``: the reason a failed start gives)
and answers the request with a JSON-RPC error; ``404`` on a session means the upstream forgot it:
the connection ends, and the supervisor reconnects with backoff.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import httpx2
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from skillz_engine.mcp.upstream.rpc import CLOSED, Json

log = logging.getLogger("skillz_engine.mcp.upstream")
SESSION = "mcp-session-id"
VERSION = "mcp-protocol-version"
ACCEPT = "application/json, text/event-stream"
GET_RETRY = 1.0  # seconds before the GET stream is reopened after it ended
MAX_EVENT = 1 << 24  # bytes of one server-sent event (a large result is one event)


class HttpChannel:
    """One Streamable HTTP session with an upstream; made by :func:`http_channel`."""

    def __init__(self, client: httpx2.AsyncClient, url: str, tg: TaskGroup, notes: list[str]) -> None:
        self.client, self.url, self.notes = client, url, notes
        self.protocol_version: str | None = None
        self.session_id: str | None = None
        self._tg = tg
        self._in: MemoryObjectSendStream[Json]
        self._out: MemoryObjectReceiveStream[Json]
        self._in, self._out = anyio.create_memory_object_stream[Json](math.inf)
        self._closed = False

    def _headers(self) -> dict[str, str]:
        headers = {"accept": ACCEPT, "content-type": "application/json"}
        if self.session_id:
            headers[SESSION] = self.session_id
        if self.protocol_version:
            headers[VERSION] = self.protocol_version
        return headers

    async def send(self, message: Json) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if "method" in message and "id" in message:  # a request: its answer comes back on the POST
            self._tg.start_soon(self._request, message)
        else:
            await self._post(message)
            if message.get("method") == "notifications/initialized":
                self._tg.start_soon(self._listen)

    async def messages(self) -> AsyncIterator[Json]:
        async with self._out:
            async for message in self._out:
                yield message

    def close(self) -> None:
        self._closed = True
        self._in.close()

    # ----------------------------------------------------------------- POST

    async def _post(self, message: Json) -> None:
        """A notification or a response: the upstream answers 202 (nothing to read)."""
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        response = await self.client.post(self.url, content=body, headers=self._headers())
        if response.status_code >= 400:
            self._failed(response)

    async def _request(self, message: Json) -> None:
        """A request: everything its POST answers goes to the session, the response last."""
        rid = message["id"]
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        try:
            async with self.client.stream("POST", self.url, content=body, headers=self._headers()) as r:
                if r.status_code >= 400:
                    await r.aread()
                    self._failed(r)
                    self._deliver(_error(rid, f"the upstream answered HTTP {r.status_code}"))
                    return
                if message.get("method") == "initialize" and r.headers.get(SESSION):
                    self.session_id = r.headers[SESSION]
                kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind == "text/event-stream":
                    if not await self._events(r, rid):
                        self._deliver(_error(rid, "the upstream's event stream ended without a response"))
                elif kind == "application/json":
                    answer = json.loads(await r.aread())
                    for item in answer if isinstance(answer, list) else [answer]:
                        self._deliver(item)
                else:
                    self._deliver(_error(rid, f"unexpected answer: HTTP {r.status_code} {kind!r}"))
        except Exception as exc:  # unreachable, a broken stream, a body that is not JSON
            self._deliver(_error(rid, f"{type(exc).__name__}: {exc}"))

    async def _events(self, response: httpx2.Response, rid: Any) -> bool:
        """Deliver the stream's messages; whether the response to ``rid`` was among them."""
        async for event in httpx2.EventSource(response, max_event_size=MAX_EVENT):
            if not event.data:
                continue
            try:
                message = json.loads(event.data)
            except ValueError:
                self.notes.append(event.data[:200])
                continue
            self._deliver(message)
            if isinstance(message, dict) and "method" not in message and message.get("id") == rid:
                return True
        return False

    def _failed(self, response: httpx2.Response) -> None:
        self.notes.append(f"HTTP {response.status_code} {response.reason_phrase} from {response.url}")
        if response.status_code == 404 and self.session_id:  # the upstream no longer knows the session
            self.close()

    def _deliver(self, message: Any) -> None:
        if isinstance(message, dict) and not self._closed:
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._in.send_nowait(message)

    # ----------------------------------------------------------------- GET

    async def _listen(self) -> None:
        """The upstream's own messages, on the GET stream, for as long as the channel is open."""
        while not self._closed:
            headers = {k: v for k, v in self._headers().items() if k != "content-type"}
            headers["accept"] = "text/event-stream"
            try:
                async with self.client.stream("GET", self.url, headers=headers) as r:
                    if r.status_code == 405:  # no stream offered: requests carry everything
                        return
                    if r.status_code >= 400:
                        await r.aread()
                        self._failed(r)
                    else:
                        await self._events(r, object())
            except Exception as exc:  # dropped: reopened below
                log.debug("the GET stream of %s ended: %s", self.url, exc)
            await anyio.sleep(GET_RETRY)

    async def end(self) -> None:
        """``DELETE`` the session (best effort, bounded)."""
        self.close()
        if self.session_id:
            with anyio.move_on_after(2), contextlib.suppress(httpx2.HTTPError):
                headers = {k: v for k, v in self._headers().items() if k != "content-type"}
                await self.client.delete(self.url, headers=headers)


def _error(rid: Any, message: str) -> Json:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": CLOSED, "message": message}}


@contextlib.asynccontextmanager
async def http_channel(
    url: str, headers: Mapping[str, str], timeout: float, notes: list[str]
) -> AsyncIterator[HttpChannel]:
    """A Streamable HTTP session with the upstream at ``url``, ended on exit."""
    limits = httpx2.Timeout(timeout, read=None)
    async with (
        httpx2.AsyncClient(headers=dict(headers), timeout=limits) as client,
        anyio.create_task_group() as tg,
    ):
        channel = HttpChannel(client, url, tg, notes)
        try:
            yield channel
        finally:
            with anyio.CancelScope(shield=True):
                await channel.end()
            tg.cancel_scope.cancel()
