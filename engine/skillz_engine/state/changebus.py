"""The cluster's change bus: one Redis pub/sub channel, ``<prefix>:changes``, every replica on it.

A message says what one replica changed: the tree paths its writers wrote (so the others reload
them at once, without waiting for a shared volume's file events, which NFS and friends may never
deliver) and the lists and resources its clients were told about. Each message carries its
origin replica's id; a replica ignores its own, and what it relays to its clients it does not
publish again, so nothing loops.

Pub/sub delivers to whoever is subscribed at that moment and keeps nothing: a replica that was
cut off from Redis missed what was said meanwhile. :meth:`RedisChangeBus.run` therefore calls its
``on_reconnect`` after every outage, and the replica reloads its whole tree and tells its clients
to list again (:mod:`skillz_engine.live.replica`) rather than serve what may be stale.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from skillz_engine.state.redislink import RedisLink

log = logging.getLogger("skillz_engine.state.changebus")

BACKOFF = (0.1, 0.25, 0.5, 1.0, 2.0)  # seconds between reconnect attempts (the last one repeats)
POLL = 1.0  # seconds a subscriber waits for a message before checking its connection again


@dataclass(frozen=True, slots=True)
class ChangeMessage:
    """What one replica changed. ``paths`` are ``(root index, path relative to that root)``: the
    replicas share the tree, not necessarily the place it is mounted at."""

    origin: str
    paths: tuple[tuple[int, str], ...] = ()
    lists: tuple[str, ...] = ()  # "tools", "prompts", "resources"
    updated: tuple[str, ...] = ()  # resource URIs
    sent: float = 0.0  # the sender's time.time(), for the latency a subscriber sees

    def encode(self) -> bytes:
        return json.dumps(
            {
                "origin": self.origin,
                "paths": [list(p) for p in self.paths],
                "lists": list(self.lists),
                "updated": list(self.updated),
                "sent": self.sent or time.time(),
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> ChangeMessage | None:
        """The message in ``raw``, or ``None`` for anything else on the channel (logged)."""
        try:
            data = json.loads(raw)
            paths = tuple((int(i), str(rel)) for i, rel in data.get("paths", ()))
            return cls(
                str(data["origin"]),
                paths,
                tuple(str(x) for x in data.get("lists", ())),
                tuple(str(x) for x in data.get("updated", ())),
                float(data.get("sent", 0.0)),
            )
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring a malformed change message: %r", exc)
            return None


OnMessage = Callable[[ChangeMessage], Awaitable[None]]
OnReconnect = Callable[[], Awaitable[None]]


class RedisChangeBus:
    """Publishes this replica's changes and feeds the others' to a callback."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self.replica = link.cluster.replica
        self.channel = link.cluster.key("changes")

    async def publish(self, message: ChangeMessage) -> bool:
        """Send ``message``; ``False`` when Redis is down (the link says so; the other replicas
        catch up with a full reload once they reconnect, so the change is not lost for good)."""
        import redis

        try:
            await self.link.aclient().publish(self.channel, message.encode())
        except (redis.RedisError, OSError) as exc:
            self.link.mark_down(exc)
            log.warning("cannot publish a change to the cluster: %s", self.link.error)
            return False
        self.link.mark_up()
        return True

    async def run(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        """Subscribe until cancelled, reconnecting with backoff; ``on_reconnect`` runs after every
        successful subscription that follows a failure (this one's, or any backend's)."""
        import redis

        attempt = 0
        outages = self.link.outages
        while True:
            pubsub = self.link.aclient().pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.link.mark_up()
                attempt = 0
                if self.link.outages != outages:
                    outages = self.link.outages
                    await on_reconnect()
                while True:
                    raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL)
                    if raw is None:
                        if self.link.outages != outages:  # another backend saw Redis fail meanwhile
                            break
                        continue
                    message = ChangeMessage.decode(raw["data"])
                    if message is not None and message.origin != self.replica:
                        try:
                            await on_message(message)
                        except Exception:  # one bad change must not stop the subscriber
                            log.exception("applying a change from replica %s failed", message.origin)
            except (redis.RedisError, OSError) as exc:
                self.link.mark_down(exc)
                log.warning("lost the cluster's change bus: %s; reconnecting", self.link.error)
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                    await pubsub.aclose()
            await anyio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            attempt += 1
