"""Key-value memory for tools: one namespace per tool, JSON values, optional TTL.

Scripts reach it through ``memory/get|set|list|delete`` requests (one namespace per tool name,
which a script cannot choose); the ``memory`` built-in tool reaches it for the model. The store
sits behind the small :class:`MemoryStore` interface so replicas share one: the default is
:class:`SqliteMemory`, ``<state_dir>/memory.db`` in WAL mode; a cluster (or ``memory.backend:
redis``) uses :class:`~skillz_engine.state.redismemory.RedisMemory`
(:func:`skillz_engine.state.memories.memory_for` picks).

Expired rows are never returned: a namespace's expired rows are purged on every access of that
namespace, and every expired row of every namespace at most every :data:`PURGE_EVERY` seconds.
Operations are single-row SQLite statements (well under a millisecond), so they run inline. Time
comes from the store's ``clock`` (wall-clock seconds by default) so tests can move it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from skillz_engine.errors import EngineError

__all__ = [
    "MAX_KEY",
    "MAX_KEYS",
    "MAX_VALUE",
    "MemoryRefused",
    "MemoryStore",
    "SqliteMemory",
    "open_memory",
]

MAX_KEY = 256  # characters of a key
MAX_VALUE = 1 << 20  # bytes of one JSON-encoded value
MAX_KEYS = 10_000  # keys per namespace
PURGE_EVERY = 60.0  # seconds between purges of every namespace

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    expires_at REAL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS memories_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;
"""


class MemoryRefused(EngineError, ValueError):
    """A refused memory operation (bad key, value too large, namespace full); the message says why.
    Still a ``ValueError``, as it always was."""


class MemoryStore(Protocol):
    """What tools and the ``memory`` built-in need of a memory store."""

    def get(self, namespace: str, key: str) -> tuple[bool, Any]:
        """``(found, value)``; an expired key is not found."""
        ...

    def set(self, namespace: str, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (JSON-encodable); ``ttl`` seconds until it expires (``None``: never)."""
        ...

    def keys(self, namespace: str) -> list[str]: ...

    def delete(self, namespace: str, key: str) -> bool:
        """Whether a (live) key was deleted."""
        ...


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise MemoryRefused("key must be a non-empty string")
    if len(key) > MAX_KEY:
        raise MemoryRefused(f"key is longer than {MAX_KEY} characters")
    return key


def check_ttl(ttl: Any) -> float | None:
    """``ttl`` as positive seconds, or ``None``; :class:`MemoryRefused` when it is not a number > 0."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
        raise MemoryRefused("ttl must be a positive number of seconds")
    return float(ttl)


class SqliteMemory:
    """:class:`MemoryStore` in one SQLite file (WAL; safe across threads and processes).

    ``clock`` gives the current time in seconds since the epoch; expiry times are stored in the
    file, so stores sharing a file must share a notion of time (the default: ``time.time``)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._purged = 0.0

    def _purge(self, namespace: str, now: float) -> None:
        if now - self._purged >= PURGE_EVERY:
            self._purged = now
            self._db.execute("DELETE FROM memories WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
        else:
            self._db.execute(
                "DELETE FROM memories WHERE namespace = ? AND expires_at IS NOT NULL AND expires_at <= ?",
                (namespace, now),
            )

    def get(self, namespace: str, key: str) -> tuple[bool, Any]:
        key = check_key(key)
        now = self.clock()
        with self._lock:
            self._purge(namespace, now)
            row = self._db.execute(
                "SELECT value FROM memories WHERE namespace = ? AND key = ?", (namespace, key)
            ).fetchone()
        return (False, None) if row is None else (True, json.loads(row[0]))

    def set(self, namespace: str, key: str, value: Any, ttl: float | None = None) -> None:
        key = check_key(key)
        ttl = check_ttl(ttl)
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MemoryRefused(f"value is not JSON: {exc}") from exc
        if len(text.encode()) > MAX_VALUE:
            raise MemoryRefused(f"value is larger than {MAX_VALUE} bytes as JSON")
        now = self.clock()
        expires = now + ttl if ttl is not None else None
        with self._lock:
            self._purge(namespace, now)
            exists = self._db.execute(
                "SELECT 1 FROM memories WHERE namespace = ? AND key = ?", (namespace, key)
            ).fetchone()
            if exists is None:
                (count,) = self._db.execute(
                    "SELECT COUNT(*) FROM memories WHERE namespace = ?", (namespace,)
                ).fetchone()
                if count >= MAX_KEYS:
                    raise MemoryRefused(f"namespace {namespace!r} already holds {MAX_KEYS} keys; delete some")
            self._db.execute(
                "INSERT INTO memories (namespace, key, value, created_at, updated_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET "
                "value = excluded.value, updated_at = excluded.updated_at, expires_at = excluded.expires_at",
                (namespace, key, text, now, now, expires),
            )

    def keys(self, namespace: str) -> list[str]:
        with self._lock:
            self._purge(namespace, self.clock())
            rows = self._db.execute(
                "SELECT key FROM memories WHERE namespace = ? ORDER BY key", (namespace,)
            ).fetchall()
        return [r[0] for r in rows]

    def delete(self, namespace: str, key: str) -> bool:
        key = check_key(key)
        with self._lock:
            self._purge(namespace, self.clock())
            cur = self._db.execute("DELETE FROM memories WHERE namespace = ? AND key = ?", (namespace, key))
        return cur.rowcount > 0

    def insert_missing(self, rows: list[tuple[str, str, str, float, float, float | None]]) -> int:
        """Add rows ``(namespace, key, value JSON, created_at, updated_at, expires_at)`` whose key is
        not stored yet (an import never overwrites); returns how many were added."""
        with self._lock:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO memories (namespace, key, value, created_at, updated_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            return self._db.total_changes - before

    def close(self) -> None:
        with self._lock:
            self._db.close()


_OPEN: dict[Path, SqliteMemory] = {}
_OPEN_LOCK = threading.Lock()


def open_memory(state_dir: Path, filename: str = "memory.db") -> SqliteMemory:
    """The memory store of a state directory (``<state_dir>/memory.db``), opened once per path."""
    path = (state_dir / filename).resolve()
    with _OPEN_LOCK:
        store = _OPEN.get(path)
        if store is None or not path.exists():
            store = _OPEN[path] = SqliteMemory(path)
        return store
