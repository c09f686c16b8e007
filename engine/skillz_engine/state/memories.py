"""Which memory store a tree's ``skillz.yaml`` picks (:func:`memory_for`): SQLite in the state
directory, or the cluster's Redis, so every replica of a cluster reads the same memory."""

from __future__ import annotations

from pathlib import Path

from skillz_engine.state.cluster import Cluster, cluster_of
from skillz_engine.state.memory import MemoryRefused, MemoryStore, open_memory
from skillz_engine.state.redislink import link_for
from skillz_engine.state.redismemory import RedisMemory
from skillz_engine.tree.config import Config

__all__ = ["memory_for"]


def memory_for(config: Config, state_dir: Path) -> MemoryStore:
    """The store ``skillz.yaml`` configures. A replica of a cluster (``cluster.redis``) keeps memory
    in the cluster's Redis, so every replica reads the same; ``memory.backend: redis`` does too,
    in the Redis of ``memory.url`` (else ``cluster.redis``). Otherwise ``sqlite`` (the default), in
    ``memory.url`` (a file; relative to the config file) or ``<state_dir>/memory.db``."""
    backend, url = config.memory.backend, config.memory.url
    cluster = cluster_of(config)
    if backend == "redis" and url:
        replica = cluster.replica if cluster is not None else ""
        cluster = Cluster(url, replica, config.cluster.prefix)
    if backend == "redis" and cluster is None:
        raise MemoryRefused("memory.backend redis needs memory.url (a redis:// URL) or cluster.redis")
    if cluster is not None:
        return RedisMemory(link_for(cluster))
    if url:
        path = Path(url).expanduser()
        if not path.is_absolute() and config.path is not None:
            path = config.path.parent / path
        return open_memory(path.parent, path.name)
    return open_memory(state_dir)
