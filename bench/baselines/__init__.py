"""Baseline servers the scenarios compare the engine with (adapted from the SDK notes' examples)."""

from __future__ import annotations
