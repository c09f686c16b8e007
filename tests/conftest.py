"""Shared test fixtures.

A test that needs a real component (a binary, a daemon) calls :func:`require`; locally a
missing component skips with the reason, in CI (``CI=true``) it fails the run, because CI
installs every component.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(binary: str, why: str = "") -> str:
    """The path of ``binary``; skip (locally) or fail (CI) when it is missing."""
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} is not installed{': ' + why if why else ''}"
        if IN_CI:
            pytest.fail(f"{message} (CI must install it)")
        pytest.skip(message)
    return path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``write("tools/x/manifest.yaml", text)`` -> the absolute path, parents created."""

    def _write(rel: str, text: str, root: Path = tmp_path) -> Path:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    return _write
