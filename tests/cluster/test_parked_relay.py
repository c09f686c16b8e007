"""The Redis side of parked calls across replicas, in process with a real Redis: owners recorded per
state, a continuation relayed to its owner and answered, a dead owner or a lost Redis a clean error,
and the owner's inbox back after Redis restarts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from skillz_engine.state.cluster import Cluster
from skillz_engine.state.parked_relay import ParkedRelay, RelayError
from tests.redis_helpers import RedisServer

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def replica(redis: RedisServer, name: str, serve: Any = None) -> AsyncIterator[ParkedRelay]:
    relay = ParkedRelay(Cluster(redis.url, name, "t"), ttl=5)

    async def echo(request: dict[str, Any]) -> dict[str, Any]:
        return {"served_by": name, "request": request}

    await relay.start(serve or echo)
    try:
        yield relay
    finally:
        await relay.close()


async def test_a_continuation_is_relayed_to_the_replica_that_recorded_its_state(
    redis_server: RedisServer,
) -> None:
    async with replica(redis_server, "a") as a, replica(redis_server, "b") as b:
        await a.claim("skz-1")
        assert await b.relay("skz-1", {"name": "ask"}) == {"served_by": "a", "request": {"name": "ask"}}
        assert await a.relay("skz-1", {}) is None  # its own state: served locally
        assert await b.relay("skz-unknown", {}) is None  # nobody recorded it: never relayed
        assert 4000 < await b.redis.pttl("t:parked:skz-1") <= 5000  # expires with the parked call


async def test_a_gone_owner_is_a_clean_error_at_once_or_mid_round(redis_server: RedisServer) -> None:
    async with replica(redis_server, "b") as b:
        async with replica(redis_server, "a") as a:
            await a.claim("skz-1")
        with pytest.raises(RelayError, match="'a' holding this parked call is gone") as gone:
            await b.relay("skz-1", {})
        assert gone.value.replica == "a"

        async def never(request: dict[str, Any]) -> dict[str, Any]:
            await anyio.sleep_forever()
            raise AssertionError

        async with replica(redis_server, "c", never) as c:
            await c.claim("skz-2")
            async with anyio.create_task_group() as tg:

                async def die_soon() -> None:
                    await anyio.sleep(0.3)
                    await c.close()  # the owner's inbox goes away while the round runs

                tg.start_soon(die_soon)
                t0 = time.monotonic()
                with pytest.raises(RelayError, match="'c' holding"):
                    await b.relay("skz-2", {})
                assert time.monotonic() - t0 < 3


async def test_redis_lost_and_back(redis_server: RedisServer) -> None:
    async with replica(redis_server, "a") as a, replica(redis_server, "b") as b:
        redis_server.stop()
        with pytest.raises(RelayError, match="Redis cannot be reached"):
            await b.relay("skz-1", {})
        await a.claim("skz-1")  # logged, not raised: the state still works on its own replica
        redis_server.start()
        await a.claim("skz-1")
        with anyio.fail_after(10):  # the inbox subscribes again by itself
            while True:
                try:
                    answer = await b.relay("skz-1", {"n": 1})
                    assert answer is not None and answer["served_by"] == "a"
                    break
                except RelayError:
                    await anyio.sleep(0.2)
