"""Fixtures of the upstream tests: the test upstream server as an entry of a tree."""

from __future__ import annotations

import sys
from pathlib import Path

from skillz_engine.engine import Engine
from skillz_engine.mcp.upstream.connection import Upstream
from skillz_engine.mcp.upstream.runtime import serving
from tests.mcp_helpers import write

SERVER = Path(__file__).with_name("upstream_server.py")


def upstream_entry(
    root: Path, name: str = "up", mode: str = "normal", extra: str = "", marker: str = ""
) -> Path:
    """``servers/<name>/manifest.yaml`` running the test upstream in ``mode``."""
    args = ", ".join(f'"{a}"' for a in [str(SERVER), mode, *([marker] if marker else [])])
    return write(
        root / "servers" / name / "manifest.yaml",
        f"kind: mcp-server\ncommand: {sys.executable}\nargs: [{args}]\nsandbox: none\n{extra}",
    )


def upstreams(engine: Engine) -> list[Upstream]:
    """The upstreams the engine's current snapshot serves."""
    return serving(engine.snapshot)
