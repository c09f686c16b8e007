"""``cluster`` in skillz.yaml and ``serve --redis``: read, validated, and the flag wins over the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.state.cluster import cluster_of
from skillz_engine.tree.config import Config, load_config
from tests.redis_helpers import RedisServer


def test_cluster_defaults_to_a_single_process() -> None:
    assert Config().cluster.redis is None
    assert Config().cluster.prefix == "skillz"


def test_cluster_is_read_and_redis_flag_overrides_only_the_url(tmp_path: Path) -> None:
    (tmp_path / "skillz.yaml").write_text(
        "cluster:\n  redis: redis://10.0.0.1:6379/0\n  replica: r1\n  prefix: team\n", encoding="utf-8"
    )
    config, diags = load_config([tmp_path])
    assert diags == []
    assert (config.cluster.redis, config.cluster.replica, config.cluster.prefix) == (
        "redis://10.0.0.1:6379/0",
        "r1",
        "team",
    )
    moved = config.with_overrides(redis="redis://127.0.0.1:7000/1")
    assert (moved.cluster.redis, moved.cluster.replica, moved.cluster.prefix) == (
        "redis://127.0.0.1:7000/1",
        "r1",
        "team",
    )


def test_a_bad_cluster_url_is_a_positioned_error(tmp_path: Path) -> None:
    (tmp_path / "skillz.yaml").write_text("cluster:\n  redis: http://x\n", encoding="utf-8")
    _, diags = load_config([tmp_path])
    assert [(d.line, d.is_error) for d in diags] == [(2, True)]


def test_cluster_of_names_the_replica_and_its_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cluster_of(Config()) is None
    monkeypatch.setenv("SKILLZ_REPLICA", "r-env")
    cluster = cluster_of(Config({"cluster": {"redis": "redis://127.0.0.1:1/0", "prefix": "team"}}))
    assert cluster is not None
    assert (cluster.replica, cluster.key("bus", "tools")) == ("r-env", "team:bus:tools")
    named = cluster_of(Config({"cluster": {"redis": "redis://127.0.0.1:1/0", "replica": "r1"}}))
    assert named is not None and named.replica == "r1"


@pytest.mark.anyio
async def test_connect_talks_to_a_real_redis(redis_server: RedisServer) -> None:
    cluster = cluster_of(Config({"cluster": {"redis": redis_server.url}}))
    assert cluster is not None
    client = cluster.connect()
    try:
        assert await client.ping()
    finally:
        await client.aclose()
