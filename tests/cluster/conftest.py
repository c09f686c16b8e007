"""The cluster tests' fixtures: a real ``redis-server`` per test (tests.redis_helpers)."""

from __future__ import annotations

from tests.redis_helpers import redis_server

__all__ = ["redis_server"]
