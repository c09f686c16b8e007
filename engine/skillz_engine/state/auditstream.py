"""The cluster's audit stream: every replica's audit lines in one Redis stream, ``<prefix>:audit``.

Each replica keeps its own ``audit.jsonl`` as before (complete, and written even while Redis is
down) and also adds every line to the stream (``XADD ... MAXLEN ~`` :data:`MAXLEN`, so Redis holds
the recent cluster-wide history, bounded) with its replica id beside it. The line is the file's,
redacted the same way before it leaves the process (:meth:`~skillz_engine.state.store.AuditLog.line`).

Calls never wait on Redis: :meth:`AuditStream.push` queues the line and :meth:`AuditStream.run`
sends it. Lines that cannot be sent (Redis down, the queue full) are counted in :attr:`dropped`,
shown in ``/health``; the replica's file still has them.
"""

from __future__ import annotations

import logging

import anyio

from skillz_engine.state.redislink import RedisLink

log = logging.getLogger("skillz_engine.state.auditstream")

MAXLEN = 100_000  # entries the stream keeps (approximately: Redis trims whole nodes)
QUEUE = 1_000  # lines waiting to be sent before new ones are dropped


class AuditStream:
    """Queues audit lines and adds them to the cluster's stream."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self.key = link.cluster.key("audit")
        self.dropped = 0
        self._send, self._receive = anyio.create_memory_object_stream[str](QUEUE)

    def push(self, line: str) -> None:
        """Queue one (already redacted) audit line; never blocks a call."""
        try:
            self._send.send_nowait(line)
        except anyio.WouldBlock:
            self.dropped += 1

    async def run(self) -> None:
        """Send queued lines until cancelled; a line Redis refuses is dropped and counted."""
        import redis

        async for line in self._receive:
            try:
                await self.link.aclient().xadd(
                    self.key,
                    {"replica": self.link.cluster.replica, "line": line},
                    maxlen=MAXLEN,
                    approximate=True,
                )
            except (redis.RedisError, OSError) as exc:
                self.dropped += 1
                self.link.mark_down(exc)
                log.debug("audit line not sent to the cluster: %r", exc)
