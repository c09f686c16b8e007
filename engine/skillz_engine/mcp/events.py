"""A bounded in-memory event store for Streamable HTTP (2025-11-25 SSE priming and resumption).

Why: with an event store the SDK opens every 2025-11-25 POST SSE stream with a *priming event*
(an event id and empty data) carrying ``retry`` (:data:`RETRY_MS`), so a client whose stream drops
mid-call reconnects with ``Last-Event-ID`` after that delay and gets what it missed, instead of
losing the answer. The SDK ships only the interface; this store keeps the last :data:`MAX_EVENTS`
events of all streams in one process (old events fall off, so memory stays bounded: a client that
comes back later than that gets nothing replayed, as if no store were there). One engine process
serves one store; replicas would need a shared one.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.types import JSONRPCMessage

MAX_EVENTS = 10_000
RETRY_MS = 1000  # the reconnection delay the priming event suggests


class BoundedEventStore(EventStore):
    """The last ``limit`` events of every stream, replayable after any id still held."""

    def __init__(self, limit: int = MAX_EVENTS) -> None:
        self.limit = limit
        self._events: OrderedDict[int, tuple[StreamId, JSONRPCMessage | None]] = OrderedDict()
        self._ids = itertools.count(1)

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        seq = next(self._ids)
        self._events[seq] = (stream_id, message)
        while len(self._events) > self.limit:
            self._events.popitem(last=False)
        return str(seq)

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        try:
            last = int(last_event_id)
        except ValueError:
            return None
        held = self._events.get(last)
        if held is None:
            return None
        stream_id = held[0]
        for seq, (sid, message) in list(self._events.items()):
            if seq > last and sid == stream_id and message is not None:
                await send_callback(EventMessage(message, str(seq)))
        return stream_id
