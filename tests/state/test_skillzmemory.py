"""`skillz-engine migrate` imports a Rust Skillz memory database (issue 14): each tool's keys land in
its own namespace; expired rows, values that are not JSON and keys already stored are left alone."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from skillz_engine.cli.main import main
from skillz_engine.state.memory import open_memory

# the table as Skillz's memory.rs creates it (schema v2, with TTL)
SKILLZ_SCHEMA = """
CREATE TABLE memories (id INTEGER PRIMARY KEY AUTOINCREMENT, tool TEXT NOT NULL, key TEXT NOT NULL,
    value TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, expires_at TEXT,
    UNIQUE(tool, key));
CREATE TABLE _migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO _migrations VALUES (1, '2025-01-01T00:00:00Z'), (2, '2025-02-01T00:00:00Z');
"""


def skillz_db(root: Path) -> Path:
    db = root / ".memory.db"
    con = sqlite3.connect(db)
    con.executescript(SKILLZ_SCHEMA)
    rows = [
        ("notes", "greeting", '"hello"', "2025-03-01T10:00:00Z", "2025-03-02T10:00:00+00:00", None),
        ("notes", "counts", '{"n": [1, 2]}', "2025-03-01 10:00:00", "1741000000", None),
        ("notes", "later", "3", "2025-03-01T10:00:00Z", "2025-03-01T10:00:00Z", "2999-01-01T00:00:00Z"),
        ("notes", "gone", "1", "2025-03-01T10:00:00Z", "2025-03-01T10:00:00Z", "2025-03-01T11:00:00Z"),
        ("other", "broken", "not json", "2025-03-01T10:00:00Z", "2025-03-01T10:00:00Z", None),
        ("other", "kept", "true", "2025-03-01T10:00:00Z", "2025-03-01T10:00:00Z", None),
    ]
    con.executemany("INSERT INTO memories (tool, key, value, created_at, updated_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", rows)  # fmt: skip
    con.commit()
    con.close()
    return db


def test_migrate_imports_skillz_memory_per_tool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    skillz_db(tmp_path)
    store = open_memory(tmp_path / ".skillz")
    store.set("other", "kept", "already here")
    assert main(["migrate", "--dry-run", str(tmp_path)]) == 0
    assert "would import 4 memory keys" in capsys.readouterr().out
    assert store.keys("notes") == []
    assert main(["migrate", str(tmp_path)]) == 0
    assert "imported 3 memory keys" in capsys.readouterr().out  # `other/kept` was there already
    assert store.get("notes", "greeting") == (True, "hello")
    assert store.get("notes", "counts") == (True, {"n": [1, 2]})
    assert store.keys("notes") == ["counts", "greeting", "later"]  # `gone` had expired
    assert store.get("other", "kept") == (True, "already here") and store.keys("other") == ["kept"]
    row = store._db.execute(
        "SELECT created_at, expires_at FROM memories WHERE namespace = 'notes' AND key = 'later'"
    ).fetchone()
    assert row[0] == pytest.approx(1740823200.0) and row[1] > time.time() + 1e9
    assert main(["migrate", str(tmp_path)]) == 0  # again: nothing new, nothing overwritten
    assert "imported 0 memory keys" in capsys.readouterr().out


def test_a_file_that_is_not_a_skillz_memory_database_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".memory.db").write_bytes(b"not sqlite at all" * 100)
    assert main(["migrate", str(tmp_path)]) == 2
    assert "not a Skillz memory database" in capsys.readouterr().err
