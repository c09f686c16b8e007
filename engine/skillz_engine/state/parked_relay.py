"""Parked 2026-07-28 calls across replicas: who holds a ``request_state``, and a relay to reach it.

A parked call is a live task (a script's process among it) on the replica that started it, so it
cannot move; its continuation can land anywhere behind a round-robin load balancer. The owner
records ``<prefix>:parked:<state> -> <replica>`` (TTL: the park timeout) for each state it hands
out. A replica that receives a continuation it does not hold looks the state up and relays it to the
owner over Redis pub/sub: the request goes to the owner's inbox channel
``<prefix>:parked:to:<replica>``, the owner answers on a one-off reply channel. Why pub/sub and not
an HTTP proxy between replicas: the replicas already share Redis, so no replica needs another's
address, port or bearer token, and a dead owner is visible at once (its inbox has no subscriber).

What keeps the state unforgeable: the client's ``request_state`` is only a key; the owner comes from
Redis, written by the owner itself, and the owner still checks the state against its own registry
(tool name, session) exactly as for a local continuation. A state nobody recorded is not relayed.

``redis`` is imported by :mod:`skillz_engine.state.cluster` only when a cluster is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from skillz_engine.errors import EngineError
from skillz_engine.state.cluster import Cluster

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

log = logging.getLogger("skillz_engine.state.parked_relay")

Serve = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
OWNER_CHECK = 0.5  # seconds between checks that the owner still listens while a relayed round runs
RESUBSCRIBE = 0.5  # seconds before the inbox subscribes again after losing Redis


class RelayError(EngineError):
    """A continuation cannot reach the replica holding its parked call (gone, or Redis is down)."""

    def __init__(self, message: str, replica: str | None = None) -> None:
        super().__init__(message)
        self.replica = replica


class ParkedRelay:
    """This replica's side of the relay: records the states it owns, serves relayed continuations
    from its inbox, and relays the continuations it does not own to their owner."""

    def __init__(self, cluster: Cluster, ttl: float) -> None:
        self.cluster = cluster
        self.ttl = ttl
        self.redis = cluster.connect()
        self._inbox: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()
        self.ready = asyncio.Event()  # the inbox is subscribed (tests, and start() waits for it)

    def _state_key(self, state: str) -> str:
        return self.cluster.key("parked", state)

    def inbox(self, replica: str) -> str:
        return self.cluster.key("parked", "to", replica)

    async def start(self, serve: Serve) -> None:
        """Listen on this replica's inbox; ``serve`` answers one relayed continuation."""
        self._inbox = asyncio.get_running_loop().create_task(self._listen(serve))
        with contextlib.suppress(TimeoutError):  # Redis down at start: the loop keeps trying
            await asyncio.wait_for(self.ready.wait(), timeout=5)

    async def close(self) -> None:
        tasks = [t for t in (self._inbox, *self._handling) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await self.redis.aclose()

    async def claim(self, state: str) -> None:
        """Record this replica as the owner of ``state`` (expires with the parked call). Redis down:
        logged; the state still works on this replica, only a relayed continuation will fail."""
        try:
            await self.redis.set(self._state_key(state), self.cluster.replica, px=int(self.ttl * 1000))
        except Exception as exc:
            log.warning("parked call %s not recorded in the cluster's Redis: %r", state, exc)

    async def relay(self, state: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The owner's answer to ``request`` (a continuation of ``state``), or None when no other
        replica owns ``state`` (unknown, expired, or this replica's own)."""
        try:
            owner_raw = await self.redis.get(self._state_key(state))
        except Exception as exc:
            raise RelayError(
                f"the cluster's Redis cannot be reached to find this call's replica: {exc}"
            ) from exc
        owner = owner_raw.decode() if isinstance(owner_raw, bytes) else owner_raw
        if not owner or owner == self.cluster.replica:
            return None
        reply = self.cluster.key("parked", "reply", secrets.token_urlsafe(12))
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(reply)
            sent = await self.redis.publish(self.inbox(owner), json.dumps({**request, "reply": reply}))
            if not sent:
                raise _gone(owner)
            return await self._await_reply(pubsub, owner)
        except RelayError:
            raise
        except Exception as exc:
            raise RelayError(f"relaying to replica {owner!r} failed: {exc}", owner) from exc
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _await_reply(self, pubsub: PubSub, owner: str) -> dict[str, Any]:
        """Wait for the owner's answer as long as the owner listens (a round may take minutes)."""
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=OWNER_CHECK)
            if message is not None and message.get("type") == "message":
                answer = json.loads(message["data"])
                if not isinstance(answer, dict):
                    raise RelayError(f"replica {owner!r} answered with a malformed reply", owner)
                return answer
            listeners = await self.redis.pubsub_numsub(self.inbox(owner))
            if not listeners or not listeners[0][1]:
                raise _gone(owner)

    async def _listen(self, serve: Serve) -> None:
        """Serve this replica's inbox; after losing Redis, subscribe again (relays in flight fail
        on their side with 'replica gone' and the client calls again)."""
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.inbox(self.cluster.replica))
                self.ready.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._handle(serve, message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ready.clear()
                log.warning("parked-call inbox lost the cluster's Redis (%r); subscribing again", exc)
                await asyncio.sleep(RESUBSCRIBE)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _handle(self, serve: Serve, data: bytes) -> None:
        async def answer() -> None:
            try:
                request = json.loads(data)
                reply = request.pop("reply")
                out = await serve(request)
            except (ValueError, KeyError, TypeError) as exc:  # not a relay message of ours
                log.warning("malformed relayed continuation dropped: %r", exc)
                return
            try:
                await self.redis.publish(reply, json.dumps(out))
            except Exception as exc:
                log.warning("answer to a relayed continuation lost: %r", exc)

        task = asyncio.get_running_loop().create_task(answer())
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)


def _gone(owner: str) -> RelayError:
    return RelayError(
        f"the replica {owner!r} holding this parked call is gone (stopped or crashed); its process and "
        "answers went with it: call the tool again without request_state",
        owner,
    )
