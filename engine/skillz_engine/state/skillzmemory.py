"""Importing a Rust Skillz memory database (``<tools dir>/.memory.db``) into this engine's store.

Skillz kept every tool's memory in one SQLite table ``memories(id, tool, key, value, created_at,
updated_at, expires_at)`` (``value`` JSON text, ``UNIQUE(tool, key)``, ``expires_at`` NULL for no
expiry). Its ``tool`` column is this engine's namespace, so after ``skillz-engine migrate`` each tool
finds its keys under its own name. Timestamps are read as epoch seconds (or milliseconds) or as
ISO-8601 text, whichever the file holds; expired rows and values that are not JSON are left out,
and keys already stored here are kept (an import never overwrites).
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillz_engine.state.memory import SqliteMemory

__all__ = ["SKILLZ_MEMORY_FILE", "Imported", "import_skillz_memory"]

SKILLZ_MEMORY_FILE = ".memory.db"
Row = tuple[str, str, str, float, float, float | None]


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: rows added, rows skipped (expired, not JSON, or already stored)."""

    added: int
    skipped: int


def _seconds(value: Any, default: float) -> float:
    """A Skillz timestamp as epoch seconds (``default`` when it cannot be read)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        try:
            moment = _dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                return _seconds(float(text), default)
            except ValueError:
                return default
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_dt.UTC)
        return moment.timestamp()
    return default


def read_rows(db: Path, now: float) -> tuple[list[Row], int]:
    """The live, JSON-valued rows of a Skillz memory file, and how many others were left out."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        raw = con.execute(
            "SELECT tool, key, value, created_at, updated_at, expires_at FROM memories"
        ).fetchall()
    finally:
        con.close()
    rows: list[Row] = []
    for tool, key, value, created, updated, expires in raw:
        until = None if expires is None else _seconds(expires, now)
        try:
            json.loads(value)
        except (TypeError, ValueError):
            continue
        if not isinstance(tool, str) or not isinstance(key, str) or (until is not None and until <= now):
            continue
        made = _seconds(created, now)
        rows.append((tool, key, value, made, _seconds(updated, made), until))
    return rows, len(raw) - len(rows)


def import_skillz_memory(db: Path, dest: SqliteMemory, *, dry_run: bool = False) -> Imported:
    """Copy the memory of a Skillz ``.memory.db`` into ``dest``; raises ``sqlite3.Error`` for a file
    that is not such a database."""
    rows, left_out = read_rows(db, time.time())
    if dry_run:
        return Imported(len(rows), left_out)
    added = dest.insert_missing(rows)
    return Imported(added, left_out + len(rows) - added)
