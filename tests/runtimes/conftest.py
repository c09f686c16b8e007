"""Fixtures for the runtime tests: the anyio backend and tiny trees built in ``tmp_path``."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest

from skillz_engine.compile import Tree
from skillz_engine.model import ToolResult
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from skillz_engine.snapshot import Snapshot

MakeTool = Callable[..., Path]
Call = Callable[..., Awaitable[tuple[ToolResult, LocalCallContext]]]


@pytest.fixture
def make_tool(tmp_path: Path) -> MakeTool:
    """``make_tool(name, manifest_yaml, **files)`` writes ``tmp_path/name/`` and returns it."""

    def make(name: str, manifest: str, files: dict[str, str] | None = None, executable: bool = False) -> Path:
        d = tmp_path / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.yaml").write_text(textwrap.dedent(manifest).lstrip())
        for fname, content in (files or {}).items():
            p = d / fname
            p.write_text(textwrap.dedent(content).lstrip())
            if executable:
                p.chmod(0o755)
        return d

    return make


@pytest.fixture
def snapshot(tmp_path: Path) -> Callable[[], Snapshot]:
    """Compile ``tmp_path`` into a snapshot (call it after writing the tools)."""

    def build() -> Snapshot:
        tree = Tree([tmp_path])
        tree.full_scan()
        return tree.snapshot()

    return build


@pytest.fixture
def call(snapshot: Callable[[], Snapshot]) -> Call:
    """``await call(name, args)`` compiles the tree and runs one tool as every caller does."""

    async def run(name: str, args: Any = None, **ctx: Any) -> tuple[ToolResult, LocalCallContext]:
        snap = snapshot()
        assert name in snap.tools, [d.format() for d in snap.diagnostics]
        context = LocalCallContext(snap, name, **ctx)
        return await run_tool(snap.tools[name], args or {}, context), context

    return run


def _gone(pid: int, within: float = 2.0) -> bool:
    """Whether process ``pid`` has ended (a zombie left for init to reap counts as ended)."""
    deadline = time.monotonic() + within
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


@pytest.fixture
def gone() -> Callable[..., bool]:
    """``gone(pid)``: whether the process ended (waits up to 2 s)."""
    return _gone
