"""This process's link to the cluster's Redis: its clients and what is known of its health.

Every Redis backend of a replica (change bus, memory, writers' lock, audit stream, shared token)
goes through the one :class:`RedisLink` of its :class:`~skillz_engine.state.cluster.Cluster`, so
they share two clients (asyncio for the server's tasks, blocking for the few synchronous callers:
the memory store, the token at start-up) and one view of the connection. Any backend that fails
marks the link down; the change bus's subscriber, which holds a connection all the time, marks it
up again when Redis answers. ``/health``, ``skillz://diagnostics`` and the status page read
:meth:`RedisLink.status`, so an outage is reported the moment any part of the replica notices it.

While the link is down, synchronous callers fail at once (:meth:`RedisLink.check`) instead of each
waiting out a connect timeout on the event loop; one attempt per :data:`RETRY_EVERY` still goes
through, so a store whose only user is the memory tool also notices Redis coming back.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from skillz_engine.errors import RuntimeFailure
from skillz_engine.state.cluster import Cluster

if TYPE_CHECKING:
    import redis
    import redis.asyncio

CONNECT_TIMEOUT = 1.0  # seconds: a blocking call waits at most this long for an unreachable Redis
SOCKET_TIMEOUT = 2.0  # seconds a blocking command may take
RETRY_EVERY = 1.0  # seconds between attempts of blocking callers while the link is down


class ClusterUnavailable(RuntimeFailure):
    """The cluster's Redis cannot be reached (memory, writers' lock, shared token): the replica
    degrades loudly instead of serving stale or local-only state."""


def safe_url(url: str) -> str:
    """``url`` without its password (health and diagnostics are shown to people and pages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisLink:
    """The shared clients and the connection state of one cluster in this process."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._lock = threading.Lock()
        self._sync: redis.Redis | None = None
        self._async: redis.asyncio.Redis | None = None
        self.connected: bool | None = None  # None: not tried yet
        self.error: str | None = None
        self.since = time.time()
        self._last_try = 0.0
        self.outages = 0  # how many times the link went down (a reconnect follows each)

    # ------------------------------------------------------------------ clients

    def client(self) -> redis.Redis:
        """The blocking client (short timeouts: it runs on the caller's thread)."""
        with self._lock:
            if self._sync is None:
                import redis

                self._sync = redis.Redis.from_url(
                    self.cluster.url,
                    socket_connect_timeout=CONNECT_TIMEOUT,
                    socket_timeout=SOCKET_TIMEOUT,
                    health_check_interval=10,
                )
            return self._sync

    def aclient(self) -> redis.asyncio.Redis:
        """The asyncio client of this process (made on first use; commands reconnect by themselves)."""
        if self._async is None:
            from redis.asyncio import Redis

            self._async = Redis.from_url(
                self.cluster.url,
                socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=SOCKET_TIMEOUT,
                health_check_interval=10,
            )
        return self._async

    # ------------------------------------------------------------------ health

    def mark_up(self) -> None:
        if self.connected is not True:
            self.connected, self.error, self.since = True, None, time.time()

    def mark_down(self, exc: BaseException | str) -> None:
        message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        if self.connected is not False:
            self.outages += 1
            self.since = time.time()
        self.connected, self.error = False, message
        self._last_try = time.monotonic()

    def unavailable(self, what: str) -> ClusterUnavailable:
        """The error a caller raises when Redis failed it: names Redis, its url and the cause."""
        return ClusterUnavailable(
            f"{what}: the cluster's Redis at {safe_url(self.cluster.url)} is unavailable "
            f"({self.error or 'not connected'}); the replica retries and recovers by itself when it returns"
        )

    def check(self, what: str) -> None:
        """Fail at once while the link is known down (one attempt per :data:`RETRY_EVERY` passes)."""
        if self.connected is False and time.monotonic() - self._last_try < RETRY_EVERY:
            raise self.unavailable(what)
        self._last_try = time.monotonic()

    def status(self) -> dict[str, Any]:
        """What ``/health``, ``skillz://diagnostics`` and the status page say about Redis."""
        state = {None: "connecting", True: "connected", False: "down"}[self.connected]
        out: dict[str, Any] = {
            "replica": self.cluster.replica,
            "url": safe_url(self.cluster.url),
            "prefix": self.cluster.prefix,
            "state": state,
            "since": round(self.since, 3),
            "outages": self.outages,
        }
        if self.connected is False:
            out["error"] = self.error
            out["degraded"] = (
                "Redis is down: memory calls and writers are refused, changes made through other "
                "replicas are not seen until it returns (then the tree is reloaded in full)"
            )
        return out

    def shared_token(self) -> str:
        """The cluster's bearer token, ``<prefix>:token``: the first replica to start sets a fresh
        one (``SET NX``), every replica reads it, so a client's token works on all of them."""
        import redis

        key = self.cluster.key("token")
        client = self.client()
        try:
            client.set(key, secrets.token_urlsafe(32), nx=True)
            value = client.get(key)
        except redis.RedisError as exc:
            self.mark_down(exc)
            raise self.unavailable("the cluster's bearer token") from exc
        if not value:
            raise self.unavailable("the cluster's bearer token (the key vanished)")
        self.mark_up()
        return value.decode() if isinstance(value, bytes) else str(value)

    async def reseed_token(self, token: str) -> None:
        """Put ``token`` back as the cluster's after an outage, unless one is there: a Redis that
        restarted without persistence would otherwise give the next replica a new token."""
        await self.aclient().set(self.cluster.key("token"), token, nx=True)

    async def aclose(self) -> None:
        client, self._async = self._async, None
        if client is not None:
            await client.aclose()


_LINKS: dict[tuple[str, str], RedisLink] = {}
_LINKS_LOCK = threading.Lock()


def link_for(cluster: Cluster) -> RedisLink:
    """The one link of ``cluster`` in this process (by url and prefix: a process is one replica)."""
    with _LINKS_LOCK:
        link = _LINKS.get((cluster.url, cluster.prefix))
        if link is None:
            link = _LINKS[(cluster.url, cluster.prefix)] = RedisLink(cluster)
        return link
