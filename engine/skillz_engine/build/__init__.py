"""Specs -> an immutable snapshot: compile, cache, assemble, snapshot, diff."""

from __future__ import annotations
