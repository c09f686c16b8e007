"""Two real replicas on one tree and one real ``redis-server``: what one replica changes, the other
serves and tells its clients about (both eras); memory, the bearer token and the audit stream are
the cluster's; and a Redis restart degrades loudly, then recovers by itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from mcp.client.subscriptions import ToolsListChanged

from tests.cluster.replicas import (
    health,
    is_tools_changed,
    legacy,
    modern,
    replicas,
    structured,
    text,
    tree,
    wait_health,
)
from tests.conftest import require
from tests.mcp_helpers import write
from tests.redis_helpers import RedisServer, free_port
from tests.served_process import ServerProcess

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

Cluster = tuple[RedisServer, ServerProcess, ServerProcess]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One Redis and two replicas shared by the tests that do not restart Redis (each names
    its own tools, keys and namespaces)."""
    base = tmp_path_factory.mktemp("cluster")
    (base / "redis").mkdir()
    server = RedisServer(require("redis-server", "cluster tests"), free_port(), base / "redis")
    server.start()
    try:
        with replicas(tree(base / "tree"), server) as (a, b):
            yield server, a, b
    finally:
        server.stop()


SAY = {"name": "say", "description": "Says hi", "interpreter": "python3", "code": "print('hi from say')"}


async def test_a_tool_written_through_one_replica_is_served_and_announced_by_both(cluster: Cluster) -> None:
    _, a, b = cluster
    ha, hb = health(a), health(b)
    assert ha["replica"] != hb["replica"] and ha["redis"]["state"] == "connected"
    assert a.token == b.token  # one token for the whole cluster, each in its own state dir
    assert a.state != b.state
    async with (
        legacy(a) as (_, inbox_a),
        legacy(b) as (session_b, inbox_b),
        modern(b) as client_b,
        client_b.listen(tools_list_changed=True) as sub_b,
    ):
        async with modern(a) as writer:
            written = await writer.call_tool("register_script", SAY)
            assert not written.is_error, text(written)
        await inbox_a.wait_for(is_tools_changed)
        await inbox_b.wait_for(is_tools_changed)  # B has no watcher: it heard through Redis
        with anyio.fail_after(10):
            async for event in sub_b:
                if isinstance(event, ToolsListChanged):
                    break
        assert "say" in [t.name for t in (await session_b.list_tools()).tools]
        assert text(await client_b.call_tool("say", {})).strip() == "hi from say"
    bus = health(b)["redis"]
    assert bus["changesReceived"] >= 1 and bus["busLatencyMs"] < 1000


async def test_memory_set_on_one_replica_is_read_on_the_other_until_its_ttl(cluster: Cluster) -> None:
    _, a, b = cluster
    async with modern(a) as ca, modern(b) as cb:
        for key, ttl in (("brief", 1), ("kept", None)):
            args = {"action": "set", "key": key, "value": {"n": key}, "namespace": "team"}
            structured(await ca.call_tool("memory", args if ttl is None else {**args, "ttl": ttl}))
        got = structured(await cb.call_tool("memory", {"action": "get", "key": "brief", "namespace": "team"}))
        assert got == {"value": {"n": "brief"}}
        listed = structured(await cb.call_tool("memory", {"action": "list", "namespace": "team"}))
        assert listed == {"keys": ["brief", "kept"]}
        await anyio.sleep(1.3)  # Redis expires the key for every replica at once
        gone = structured(
            await cb.call_tool("memory", {"action": "get", "key": "brief", "namespace": "team"})
        )
        assert gone == {"value": None}
        assert structured(await cb.call_tool("memory", {"action": "list", "namespace": "team"})) == {
            "keys": ["kept"]
        }


async def test_the_audit_stream_holds_every_replicas_calls_redacted(cluster: Cluster) -> None:
    redis_server, a, b = cluster
    for server in (a, b):
        async with modern(server) as c:
            assert not (await c.call_tool("echo", {"text": f"Bearer {server.token}"})).is_error
    client = redis.Redis.from_url(redis_server.url)

    def echoes() -> list[tuple[str, dict[str, Any]]]:
        stream: Any = client.xrange("skillz:audit")
        lines = [(f[b"replica"].decode(), json.loads(f[b"line"])) for _, f in stream]
        return [(replica, line) for replica, line in lines if line["tool"] == "echo"]

    with anyio.fail_after(10):
        while len(entries := echoes()) < 2:
            await anyio.sleep(0.05)
    assert {replica for replica, _ in entries} == {health(a)["replica"], health(b)["replica"]}
    assert all(line["success"] and a.token not in json.dumps(line) for _, line in entries)
    assert (a.state / "audit.jsonl").is_file()  # each replica keeps its own file too


async def test_a_redis_restart_degrades_loudly_and_recovers(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    root = tree(tmp_path / "tree")
    with replicas(root, redis_server) as (a, b):
        redis_server.stop()
        down = await wait_health(a, "down")
        assert "Redis is down" in down["redis"]["degraded"] and down["ok"]
        async with modern(a) as ca:
            mem = await ca.call_tool("memory", {"action": "get", "key": "k"})
            assert mem.is_error and "the cluster's Redis at redis://127.0.0.1" in text(mem)
            refused = await ca.call_tool("register_script", SAY)
            assert refused.is_error and "writers' lock" in text(refused) and "Redis" in text(refused)
            diagnostics = await ca.read_resource("skillz://diagnostics")
            assert '"state": "down"' in diagnostics.contents[0].text  # type: ignore[union-attr]
        # a change nobody could announce: written behind both replicas' backs (no watchers)
        write(
            root / "tools" / "late" / "manifest.yaml", (root / "tools" / "echo" / "manifest.yaml").read_text()
        )
        redis_server.start()
        for server in (a, b):
            up = await wait_health(server, "connected")
            assert up["redis"]["outages"] >= 1
        async with modern(b) as cb:
            with anyio.fail_after(10):  # the catch-up after reconnecting reloads the whole tree
                while "late" not in [t.name for t in (await cb.list_tools()).tools]:
                    await anyio.sleep(0.1)
            structured(await cb.call_tool("memory", {"action": "set", "key": "k", "value": 1}))
        async with modern(a) as ca:
            assert structured(await ca.call_tool("memory", {"action": "get", "key": "k"})) == {"value": 1}
            assert not (await ca.call_tool("register_script", SAY)).is_error
        async with legacy(a) as (session, _):  # the token survived Redis losing everything
            assert "say" in [t.name for t in (await session.list_tools()).tools]
