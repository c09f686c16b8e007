"""The SQLite memory store on a fake clock: values, TTLs, purges, keys and namespaces, refusals."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from skillz_engine.errors import EngineError
from skillz_engine.state.memory import MAX_KEY, MAX_VALUE, PURGE_EVERY, MemoryRefused, SqliteMemory, check_ttl


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SqliteMemory:
    return SqliteMemory(tmp_path / "memory.db", clock=clock)


def rows(path: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(path)
    try:
        return sorted(db.execute("SELECT namespace, key FROM memories").fetchall())
    finally:
        db.close()


def test_set_get_overwrite_and_delete(store: SqliteMemory) -> None:
    """JSON values round-trip; a set overwrites; a missing key is not found; delete says whether it did."""
    assert store.get("t", "k") == (False, None)
    store.set("t", "k", {"n": [1, 2], "s": "é"})
    assert store.get("t", "k") == (True, {"n": [1, 2], "s": "é"})
    store.set("t", "k", None)
    assert store.get("t", "k") == (True, None)  # a stored null is found, unlike a missing key
    assert store.delete("t", "k") is True
    assert store.delete("t", "k") is False
    assert store.get("t", "k") == (False, None)


def test_a_key_lives_until_its_ttl_and_not_a_moment_longer(store: SqliteMemory, clock: Clock) -> None:
    store.set("t", "brief", 1, ttl=1.5)
    store.set("t", "forever", 2)
    clock.advance(1.49)
    assert store.get("t", "brief") == (True, 1)
    clock.advance(0.01)  # expires_at <= now: gone
    assert store.get("t", "brief") == (False, None)
    assert store.keys("t") == ["forever"]
    assert store.delete("t", "brief") is False  # an expired key is not deleted, it is already gone
    clock.advance(10 * 365 * 86400)
    assert store.get("t", "forever") == (True, 2)


def test_setting_again_restarts_or_clears_the_ttl(store: SqliteMemory, clock: Clock) -> None:
    store.set("t", "k", 1, ttl=10)
    clock.advance(8)
    store.set("t", "k", 2, ttl=10)
    clock.advance(8)
    assert store.get("t", "k") == (True, 2)
    store.set("t", "k", 3)  # no ttl: never expires
    clock.advance(100)
    assert store.get("t", "k") == (True, 3)


def test_expired_rows_are_purged_per_namespace_and_periodically_everywhere(
    tmp_path: Path, store: SqliteMemory, clock: Clock
) -> None:
    """An access purges its namespace's expired rows at once, every namespace's every PURGE_EVERY s."""
    store.keys("t")  # the first access is a full purge; the next full one is PURGE_EVERY away
    store.set("t", "gone", 1, ttl=1)
    store.set("other", "gone-too", 1, ttl=1)
    store.set("t", "kept", 2)
    clock.advance(2)
    assert rows(tmp_path / "memory.db") == [("other", "gone-too"), ("t", "gone"), ("t", "kept")]
    assert store.keys("t") == ["kept"]
    assert rows(tmp_path / "memory.db") == [("other", "gone-too"), ("t", "kept")]  # only t was swept
    clock.advance(PURGE_EVERY)
    store.keys("t")
    assert rows(tmp_path / "memory.db") == [("t", "kept")]


def test_keys_are_sorted_and_namespaces_are_separate(store: SqliteMemory) -> None:
    for key in ("b", "a", "c"):
        store.set("one", key, key)
    store.set("two", "a", "other")
    assert store.keys("one") == ["a", "b", "c"]
    assert store.keys("two") == ["a"]
    assert store.keys("three") == []
    assert store.get("two", "a") == (True, "other")
    assert store.delete("two", "a") is True
    assert store.get("one", "a") == (True, "a")


def test_refusals_say_why(store: SqliteMemory) -> None:
    """Bad keys, TTLs and values are MemoryRefused: an EngineError, still a ValueError."""
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: store.get("t", ""), "non-empty string"),
        (lambda: store.set("t", "x" * (MAX_KEY + 1), 1), "longer than"),
        (lambda: store.set("t", "k", float("nan")), "not JSON"),
        (lambda: store.set("t", "k", object()), "not JSON"),
        (lambda: store.set("t", "k", "x" * MAX_VALUE), "larger than"),
        (lambda: store.set("t", "k", 1, ttl=0), "positive number"),
    ]
    for attempt, says in cases:
        with pytest.raises(MemoryRefused, match=says) as info:
            attempt()
        assert isinstance(info.value, EngineError) and isinstance(info.value, ValueError)
    assert store.keys("t") == []


def test_check_ttl() -> None:
    assert check_ttl(None) is None
    assert check_ttl(2) == 2.0 and isinstance(check_ttl(2), float)
    for bad in (0, -1, True, "5", float("-inf")):
        with pytest.raises(MemoryRefused):
            check_ttl(bad)


def test_a_full_namespace_refuses_new_keys_but_not_updates(
    store: SqliteMemory, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("skillz_engine.state.memory.MAX_KEYS", 2)
    store.set("t", "a", 1)
    store.set("t", "b", 1, ttl=1)
    with pytest.raises(MemoryRefused, match="already holds 2 keys"):
        store.set("t", "c", 1)
    store.set("t", "a", 2)  # an existing key may change
    store.set("other", "c", 1)  # the limit is per namespace
    clock.advance(1)  # b expires and frees its place
    store.set("t", "c", 1)
    assert store.keys("t") == ["a", "c"]
