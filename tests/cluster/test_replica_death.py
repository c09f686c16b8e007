"""One replica killed (SIGKILL) while clients of both eras use the cluster through HAProxy.

Stateless 2026-07-28 clients carry on through the survivor: the calls in flight on the dead replica
fail cleanly (counted, bounded), nothing hangs and no call goes unanswered. A 2025-11-25 session
that lived there gets a clean error and a new session works; a call parked there cannot be
continued, and the survivor says why.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.cluster.balanced import Replicas, replicas
from tests.cluster.test_replicas import cluster_tree, name_of, round_on
from tests.conftest import require
from tests.redis_helpers import RedisServer

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
WORKERS = 4  # concurrent stateless clients
CALL_TIMEOUT = 15.0  # a call without an answer by then counts as hung (the test fails)


class Load:
    """Stateless clients calling ``echo`` in a loop through HAProxy until told to stop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ok: list[float] = []  # when each successful call ended
        self.errors: list[str] = []  # calls that failed
        self.failed: list[str] = []  # clients that failed to connect
        self.hung = 0
        self.started = 0
        self.stop = anyio.Event()

    async def worker(self) -> None:
        while not self.stop.is_set():
            calling = False
            try:  # a client whose call failed is replaced: that is what a real client does
                async with Client(self.url) as client:
                    while not self.stop.is_set():
                        self.started += 1
                        calling = True
                        with anyio.fail_after(CALL_TIMEOUT):
                            result = await client.call_tool("echo", {})
                        calling = False
                        if result.is_error:
                            self.errors.append(f"isError: {result.content}")
                        else:
                            self.ok.append(time.monotonic())
            except Exception as exc:  # the SDK may raise a failed call out of the client's task group
                why = leaf(exc)
                if why.startswith("TimeoutError"):
                    self.hung += 1
                else:
                    (self.errors if calling else self.failed).append(why)


def leaf(exc: BaseException) -> str:
    """The error under the SDK's task-group wrapping."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def replica_of_session(cluster: Replicas, before: list[int]) -> int:
    moved = [cluster.calls_on(i, "echo") - before[i] for i in range(2)]
    assert sorted(moved) == [0, 1], moved
    return moved.index(1)


async def test_one_replica_killed_under_load(tmp_path: Path, redis_server: RedisServer) -> None:
    require("haproxy", "cluster tests")
    with replicas(cluster_tree(tmp_path / "tree"), tmp_path, redis_server) as cluster:
        async with Client(cluster.url, mode="legacy") as sticky:
            before = [cluster.calls_on(i, "echo") for i in range(2)]
            await sticky.call_tool("echo", {})
            victim = replica_of_session(cluster, before)
            survivor = cluster.servers[1 - victim]
            async with Client(cluster.servers[victim].url, elicitation_callback=name_of) as parker:
                res = await parker.session.call_tool("ask", {}, allow_input_required=True)
                state, answers = await round_on(parker.session, res)

            load = Load(cluster.url)
            async with anyio.create_task_group() as tg:
                for _ in range(WORKERS):
                    tg.start_soon(load.worker)
                await anyio.sleep(1.0)
                assert load.ok, load.errors
                cluster.kill(victim)
                killed_at = time.monotonic()
                await anyio.sleep(2.5)
                load.stop.set()

            assert load.hung == 0
            assert len(load.ok) + len(load.errors) == load.started  # every call answered, none lost
            assert len(load.errors) <= WORKERS, load.errors  # only the calls in flight on the victim
            assert len(load.failed) <= 2 * WORKERS, load.failed
            assert sum(1 for t in load.ok if t > killed_at + 1.0) >= WORKERS, "the survivor carried on"

            with anyio.fail_after(CALL_TIMEOUT), pytest.raises(MCPError, match="Session not found"):
                await sticky.call_tool("echo", {})  # its session died with the replica: a clean error

        async with Client(cluster.url, mode="legacy") as again:  # reconnecting: a new session, served
            assert not (await again.call_tool("echo", {})).is_error

        async with Client(survivor.url) as other:
            with pytest.raises(MCPError, match="is gone") as gone:
                await other.session.call_tool(
                    "ask", {}, input_responses=answers, request_state=state, allow_input_required=True
                )
        assert gone.value.error.data == {
            "replica": f"{socket.gethostname()}-{cluster.servers[victim].proc.pid}"
        }
        print(f"load: {len(load.ok)} ok, {len(load.errors)} failed calls: {load.errors}")
