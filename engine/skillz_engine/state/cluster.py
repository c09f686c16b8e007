"""The cluster's identity and its Redis connection (DESIGN 10), read from ``cluster`` in skillz.yaml.

One place decides whether this process is a replica (``cluster.redis`` set, or ``serve --redis``),
what its id is, and how a Redis key is named, so the backends that share state through Redis (change
bus, memory, parked calls, writer lock, audit stream) agree on all three. ``redis`` is imported only
when a cluster is configured: a single process never loads it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skillz_engine.tree.config import ClusterSettings, Config

if TYPE_CHECKING:
    from redis.asyncio import Redis


def default_replica_id() -> str:
    """``$SKILLZ_REPLICA``, else ``<hostname>-<pid>``: unique per process, readable in health and audit."""
    return os.environ.get("SKILLZ_REPLICA") or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Cluster:
    """A configured cluster: where its Redis is, who this replica is, and its key namespace."""

    url: str
    replica: str
    prefix: str

    def key(self, *parts: str) -> str:
        """``<prefix>:<part>:<part>...``: every key and channel this replica uses."""
        return ":".join((self.prefix, *parts))

    def connect(self) -> Redis:
        """A new asyncio client (lazy: connects on first command). Callers close it."""
        from redis.asyncio import Redis

        return Redis.from_url(self.url, decode_responses=False, health_check_interval=10)


def cluster_of(config: Config | ClusterSettings) -> Cluster | None:
    """The cluster ``config`` describes, or None for a single process."""
    settings = config.cluster if isinstance(config, Config) else config
    if not settings.redis:
        return None
    return Cluster(settings.redis, settings.replica or default_replica_id(), settings.prefix)
