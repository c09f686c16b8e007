"""Connection limits of the HTTP server: header, body and idle timeouts, and a connection cap.

uvicorn's h11 protocol times out only an idle keep-alive connection *after* a response. A client
that connects and sends nothing, or sends half a request line and stops (slowloris), or stops in
the middle of a body, holds its socket and its slot for ever; a thousand of them exhaust the file
descriptors. :class:`BoundedH11Protocol` is the smallest addition to uvicorn's own protocol that
closes those holes, one timer per connection, re-armed by the state h11 reports after every read:

* waiting for a request's headers (h11 ``their_state`` IDLE): the whole header must arrive within
  ``header`` seconds of the connection opening or of the end of the previous response. The
  deadline is absolute, so trickling one byte at a time does not extend it; the client gets a 408
  and the connection is closed. (uvicorn's keep-alive timer, shorter by default, closes a
  connection that stays silent after a response; this one bounds a request that starts and stalls.)
* reading a body (``SEND_BODY``): each piece must follow the previous within ``body`` seconds.
  The connection is closed; the application sees the disconnect as any dropped client.
* request fully read (``DONE``): no timer. The response may take as long as the tool does and a
  ``GET`` SSE stream is meant to stay open; after the response uvicorn's own keep-alive timeout
  (``keep_alive``) closes an idle connection.

A connection beyond ``max_connections`` is answered 503 at once and closed, before it is read,
so the cap also holds against clients that never send a byte.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from skillz_engine.tree.config import HttpSettings
from skillz_engine.units import parse_duration

_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_FULL = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Seconds and counts from ``http`` in ``skillz.yaml`` (defaults in :class:`HttpSettings`)."""

    header: float
    body: float
    keep_alive: float
    max_connections: int

    @classmethod
    def of(cls, settings: HttpSettings) -> ConnectionLimits:
        return cls(
            header=parse_duration(settings.header_timeout),
            body=parse_duration(settings.body_timeout),
            keep_alive=parse_duration(settings.keep_alive_timeout),
            max_connections=settings.max_connections,
        )


class LimitedConfig(uvicorn.Config):
    """uvicorn's config carrying the limits to every :class:`BoundedH11Protocol` it makes."""

    def __init__(self, app: Any, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        # uvicorn types the keep-alive timeout as int but only hands it to call_later: a float works
        super().__init__(app, http=BoundedH11Protocol, timeout_keep_alive=limits.keep_alive, **kwargs)  # type: ignore[arg-type]
        self.limits = limits


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus the read timers and the connection cap (module docstring)."""

    _timer: asyncio.TimerHandle | None = None
    _phase: Any = None  # the h11 state the armed timer watches (IDLE: headers, SEND_BODY: body)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self._limits
        if len(self.connections) > limits.max_connections:
            transport.write(_FULL)
            transport.close()
            return
        self._arm(h11.IDLE, limits.header)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # arms uvicorn's keep-alive timer; may start a pipelined request
        self._cancel()
        self._follow()  # the next request's header clock, or the rest of a body answered early

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    @property
    def _limits(self) -> ConnectionLimits:
        limits: ConnectionLimits = self.config.limits  # type: ignore[attr-defined]
        return limits

    def _follow(self) -> None:
        """Re-arm after a read by what h11 now waits for."""
        if self.transport.is_closing():
            self._cancel()
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._arm(h11.SEND_BODY, self._limits.body)  # each piece restarts the body clock
        elif state is h11.IDLE and (self.cycle is None or self.cycle.response_complete):
            if self._phase is not h11.IDLE:  # the header clock starts once per request
                self._arm(h11.IDLE, self._limits.header)
        else:
            self._cancel()

    def _arm(self, phase: Any, seconds: float) -> None:
        self._cancel()
        self._phase = phase
        self._timer = self.loop.call_later(seconds, self._expired)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._phase = None, None

    def _expired(self) -> None:
        if self.transport.is_closing():
            return
        if self._phase is h11.IDLE:
            self.transport.write(_TIMEOUT)
        self._timer, self._phase = None, None
        self.transport.close()
