"""The memory store on the cluster's Redis: every replica reads what any replica stored.

One Redis string per key, ``<prefix>:mem:<namespace>:<key>``, holding the value as JSON; a ttl is
Redis's own expiry (``SET ... PX``), so an expired key is gone for every replica at the same
moment, with no purge of ours. The namespace is escaped (``%`` and ``:``) so a namespace's keys are
exactly those matching its prefix, which ``SCAN MATCH`` lists (never ``KEYS``: it would block the
shared Redis). The limits are :mod:`skillz_engine.state.memory`'s.

Operations use the link's blocking client with short timeouts (the :class:`MemoryStore` interface
is synchronous, like SQLite's); when Redis is down they raise
:class:`~skillz_engine.state.redislink.ClusterUnavailable` naming Redis, which callers answer as
an error, at once while the outage is known (:meth:`RedisLink.check`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from skillz_engine.state.memory import MAX_KEYS, MAX_VALUE, MemoryRefused, check_key, check_ttl
from skillz_engine.state.redislink import RedisLink

T = TypeVar("T")
_GLOB = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def _escape(namespace: str) -> str:
    return namespace.replace("%", "%25").replace(":", "%3A")


class RedisMemory:
    """:class:`~skillz_engine.state.memory.MemoryStore` on the cluster's Redis."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link

    def _name(self, namespace: str, key: str = "") -> str:
        return self.link.cluster.key("mem", _escape(namespace), key)

    def _run(self, what: str, op: Callable[[], T]) -> T:
        import redis

        self.link.check(what)
        try:
            result = op()
        except redis.RedisError as exc:
            self.link.mark_down(exc)
            raise self.link.unavailable(what) from exc
        self.link.mark_up()
        return result

    def get(self, namespace: str, key: str) -> tuple[bool, Any]:
        key = check_key(key)
        raw = self._run("memory get", lambda: self.link.client().get(self._name(namespace, key)))
        return (False, None) if raw is None else (True, json.loads(raw))

    def set(self, namespace: str, key: str, value: Any, ttl: float | None = None) -> None:
        key = check_key(key)
        ttl = check_ttl(ttl)
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MemoryRefused(f"value is not JSON: {exc}") from exc
        data = text.encode()
        if len(data) > MAX_VALUE:
            raise MemoryRefused(f"value is larger than {MAX_VALUE} bytes as JSON")
        name = self._name(namespace, key)
        client = self.link.client()

        def store() -> None:
            if not client.exists(name) and len(self._scan(namespace, MAX_KEYS)) >= MAX_KEYS:
                raise MemoryRefused(f"namespace {namespace!r} already holds {MAX_KEYS} keys; delete some")
            client.set(name, data, px=max(1, round(ttl * 1000)) if ttl is not None else None)

        self._run("memory set", store)

    def _scan(self, namespace: str, limit: int | None = None) -> list[str]:
        prefix = self._name(namespace)
        found: list[str] = []
        for raw in self.link.client().scan_iter(match=prefix.translate(_GLOB) + "*", count=500):
            found.append(raw.decode()[len(prefix) :] if isinstance(raw, bytes) else str(raw)[len(prefix) :])
            if limit is not None and len(found) >= limit:
                break
        return found

    def keys(self, namespace: str) -> list[str]:
        return sorted(self._run("memory list", lambda: self._scan(namespace)))

    def delete(self, namespace: str, key: str) -> bool:
        key = check_key(key)
        name = self._name(namespace, key)
        return bool(self._run("memory delete", lambda: self.link.client().delete(name)))
