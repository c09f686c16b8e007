"""Durations and sizes as manifests write them."""

from __future__ import annotations

import pytest

from skillz_engine.errors import EngineError
from skillz_engine.units import UnitError, parse_duration, parse_size


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(30, 30.0), (1.5, 1.5), (0, 0.0), ("1.5", 1.5), ("500ms", 0.5), ("30s", 30.0), ("2m", 120.0),
     ("1h", 3600.0), ("1.5h", 5400.0), (" 10 s ", 10.0), ("250MS", 0.25)],
)  # fmt: skip
def test_parse_duration(value: object, seconds: float) -> None:
    """Numbers are seconds; ms, s, m and h strings convert to seconds."""
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "size"),
    [(1024, 1024), ("1024", 1024), ("64KiB", 65536), ("1MB", 1_000_000), ("256MiB", 256 << 20),
     ("1KB", 1000), ("2GiB", 2 << 30), ("10B", 10), ("1.5KiB", 1536), ("64kib", 65536)],
)  # fmt: skip
def test_parse_size(value: object, size: int) -> None:
    """Integers are bytes; KB/MB/GB are powers of 1000 and KiB/MiB/GiB powers of 1024."""
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["", "fast", "10 parsecs", "-1s", "1d", True, None, [1], float("nan"), -3])
def test_bad_duration(value: object) -> None:
    """Anything else is a UnitError that says what a duration looks like."""
    with pytest.raises(UnitError):
        parse_duration(value)


@pytest.mark.parametrize("value", ["", "big", "1 parsec", "-1KiB", "1PB", False, None, 1.5, -1])
def test_bad_size(value: object) -> None:
    """Anything else (fractions of a byte included) is a UnitError."""
    with pytest.raises(UnitError):
        parse_size(value)


def test_unit_error_is_value_error() -> None:
    """UnitError is a ValueError, so generic callers can catch it, and an EngineError like every
    error the engine raises on purpose."""
    with pytest.raises(ValueError, match="500ms") as info:
        parse_duration("soon")
    assert isinstance(info.value, EngineError)
