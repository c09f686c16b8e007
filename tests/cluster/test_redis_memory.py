"""The Redis memory store on a real ``redis-server``: namespaces stay apart whatever characters
they hold (``:`` and glob characters included), keys expire by Redis's own TTL, the SQLite store's
refusals hold, and ``memory_for`` picks Redis for ``memory.backend: redis`` and for a cluster."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from skillz_engine.state.cluster import Cluster
from skillz_engine.state.memories import memory_for
from skillz_engine.state.memory import MemoryRefused
from skillz_engine.state.redislink import RedisLink
from skillz_engine.state.redismemory import RedisMemory
from skillz_engine.tree.config import Config, load_config
from tests.redis_helpers import RedisServer


def store(redis_server: RedisServer) -> RedisMemory:
    return RedisMemory(RedisLink(Cluster(redis_server.url, "r1", "skillz")))


def test_namespaces_stay_apart_whatever_they_are_called(redis_server: RedisServer) -> None:
    mem = store(redis_server)
    for ns in ("a", "a:b", "a*", "[a]", "a%3Ab"):
        mem.set(ns, "k", {"ns": ns})
        mem.set(ns, f"only-{ns}", 1)
    for ns in ("a", "a:b", "a*", "[a]", "a%3Ab"):
        assert mem.get(ns, "k") == (True, {"ns": ns})
        assert mem.keys(ns) == sorted(["k", f"only-{ns}"])
    assert mem.delete("a:b", "k") and not mem.delete("a:b", "k")
    assert mem.get("a", "k") == (True, {"ns": "a"})


def test_a_key_expires_by_redis_ttl(redis_server: RedisServer) -> None:
    mem = store(redis_server)
    mem.set("t", "brief", "x", ttl=0.2)
    mem.set("t", "kept", "y")
    assert mem.get("t", "brief") == (True, "x")
    time.sleep(0.35)
    assert mem.get("t", "brief") == (False, None)
    assert mem.keys("t") == ["kept"]


def test_the_sqlite_stores_refusals_hold(redis_server: RedisServer) -> None:
    mem = store(redis_server)
    with pytest.raises(MemoryRefused, match="not JSON"):
        mem.set("n", "k", {1, 2})
    with pytest.raises(MemoryRefused, match="non-empty string"):
        mem.get("n", "")
    with pytest.raises(MemoryRefused, match="positive number"):
        mem.set("n", "k", 1, ttl=0)


def test_memory_for_picks_redis_for_the_backend_and_for_a_cluster(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    (tmp_path / "skillz.yaml").write_text(f"memory: {{backend: redis, url: '{redis_server.url}'}}\n")
    backend, diags = load_config([tmp_path])
    assert diags == []
    assert isinstance(memory_for(backend, tmp_path), RedisMemory)
    clustered = Config().with_overrides(redis=redis_server.url)
    chosen = memory_for(clustered, tmp_path)
    assert isinstance(chosen, RedisMemory)
    chosen.set("ns", "k", 1)
    assert store(redis_server).get("ns", "k") == (True, 1)  # the same keys as any replica's
    assert not (tmp_path / "memory.db").exists()
