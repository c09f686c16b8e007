"""Durations and sizes as manifests write them: ``30``, ``"500ms"``, ``"2m"``; ``65536``, ``"64KiB"``.

Durations are seconds (a number) or a number with a unit ``ms``, ``s``, ``m``, ``h``. Sizes are bytes
(a whole number) or a number with a unit ``B``, ``KB``/``MB``/``GB``/``TB`` (powers of 1000) or
``KiB``/``MiB``/``GiB``/``TiB`` (powers of 1024). Units are matched case-insensitively except that
``m`` (minutes) and ``ms`` are the only duration units, so there is no ambiguity.
"""

from __future__ import annotations

import math
import re

from skillz_engine.errors import EngineError

__all__ = ["UnitError", "parse_duration", "parse_size"]

_NUMBER = r"(?P<n>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
_DURATION = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>ms|s|m|h)?\s*$", re.I)
_SIZE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>b|kb|kib|mb|mib|gb|gib|tb|tib)?\s*$", re.I)

_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_BYTES = {
    "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}  # fmt: skip


class UnitError(EngineError, ValueError):
    """A duration or size that cannot be read (still a ``ValueError``: callers catch it as one)."""


def _number(value: object, what: str) -> float | None:
    """``value`` as a finite, non-negative number if it is one; ``None`` if it is a string."""
    if isinstance(value, bool):
        raise UnitError(f"{what} must be a number or a string with a unit, got a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise UnitError(f"{what} must be a finite number >= 0, got {value!r}")
        return float(value)
    if isinstance(value, str):
        return None
    raise UnitError(f"{what} must be a number or a string with a unit, got {type(value).__name__}")


def parse_duration(value: object) -> float:
    """Seconds in ``value``: ``1.5`` -> 1.5, ``"500ms"`` -> 0.5, ``"2m"`` -> 120.0, ``"1h"`` -> 3600.0."""
    n = _number(value, "a duration")
    if n is not None:
        return n
    assert isinstance(value, str)
    m = _DURATION.match(value)
    if m is None:
        raise UnitError(f"cannot read {value!r} as a duration; write e.g. 30, '500ms', '30s', '2m' or '1h'")
    unit = (m.group("unit") or "s").lower()
    return float(m.group("n")) * _SECONDS[unit]


def parse_size(value: object) -> int:
    """Bytes in ``value``: ``1024`` -> 1024, ``"64KiB"`` -> 65536, ``"1MB"`` -> 1000000."""
    n = _number(value, "a size")
    if n is not None:
        if not n.is_integer():
            raise UnitError(f"a size in bytes must be a whole number, got {value!r}")
        return int(n)
    assert isinstance(value, str)
    m = _SIZE.match(value)
    if m is None:
        raise UnitError(f"cannot read {value!r} as a size; write e.g. 65536, '64KiB', '1MB' or '256MiB'")
    unit = (m.group("unit") or "b").lower()
    return int(float(m.group("n")) * _BYTES[unit])
