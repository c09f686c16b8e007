"""The writers' lock across replicas, on a real ``redis-server``: two replicas' writers take turns,
a writer that waits too long is refused naming the holder, a held lock outlives its lease while
its holder lives, and with Redis down a writer is refused at once rather than writing unlocked."""

from __future__ import annotations

import itertools
import re
import time

import anyio
import pytest

from skillz_engine.state.cluster import Cluster
from skillz_engine.state.redislink import ClusterUnavailable, RedisLink
from skillz_engine.state.writelock import WriterBusy, WriterLock
from tests.redis_helpers import RedisServer

pytestmark = pytest.mark.anyio


def replica(redis_server: RedisServer, name: str) -> RedisLink:
    """One replica's link (its own clients, as in its own process)."""
    return RedisLink(Cluster(redis_server.url, name, "skillz"))


async def test_writers_on_two_replicas_take_turns(redis_server: RedisServer) -> None:
    links = [replica(redis_server, "r1"), replica(redis_server, "r2")]
    locks = [WriterLock(link, wait=10) for link in links]
    spans: list[tuple[float, float]] = []

    async def write(lock: WriterLock) -> None:
        async with lock.hold():
            start = time.monotonic()
            await anyio.sleep(0.2)
            spans.append((start, time.monotonic()))

    async with anyio.create_task_group() as tg:
        for lock in locks * 2:
            tg.start_soon(write, lock)
    spans.sort()
    assert len(spans) == 4
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    for link in links:
        await link.aclose()


async def test_a_writer_that_waits_too_long_is_refused_naming_the_holder(redis_server: RedisServer) -> None:
    first, second = replica(redis_server, "r1"), replica(redis_server, "r2")
    holder = WriterLock(first, lease=0.3)  # a short lease, renewed while held
    waiter = WriterLock(second, wait=0.8)
    async with holder.hold():
        with pytest.raises(WriterBusy, match="replica r1 has held the cluster's writers' lock"):
            async with waiter.hold():
                pass
    async with waiter.hold():  # released: the other replica gets it at once
        assert waiter.holder is not None and waiter.holder.startswith("r2:")
    await first.aclose()
    await second.aclose()


async def test_with_redis_down_a_writer_is_refused_at_once(redis_server: RedisServer) -> None:
    link = replica(redis_server, "r1")
    redis_server.stop()
    started = time.monotonic()
    with pytest.raises(
        ClusterUnavailable, match=re.escape("writers' lock: the cluster's Redis at redis://127.0.0.1")
    ):
        async with WriterLock(link, wait=10).hold():
            pass
    assert time.monotonic() - started < 5
    assert link.status()["state"] == "down"
    await link.aclose()
