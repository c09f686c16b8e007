"""Shared test fixtures.

A test that needs a real component (a binary, a daemon) calls :func:`require`; locally a
missing component skips with the reason, in CI (``CI=true``) it fails the run, because CI
installs every component.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.builtins import catalog
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from skillz_engine.state.sources import GitSources
from skillz_engine.tree.model import ToolResult

MakeTool = Callable[..., Path]
Call = Callable[..., Awaitable[tuple[ToolResult, LocalCallContext]]]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(binary: str, why: str = "") -> str:
    """The path of ``binary`` on PATH or beside this Python (a venv's ``uv`` is found, as the engine
    finds it, even when the venv is not activated); skip (locally) or fail (CI) when it is missing."""
    path = shutil.which(binary) or shutil.which(binary, path=str(Path(sys.executable).parent))
    if path is None:
        message = f"{binary} is not installed{': ' + why if why else ''}"
        if IN_CI:
            pytest.fail(f"{message} (CI must install it)")
        pytest.skip(message)
    return path


def open_tree(roots: list[Path], **options: Any) -> Tree:
    """A tree as the engine opens it: with the built-ins and the git sources (a bare ``Tree``
    has neither)."""
    return Tree(roots, builtins=catalog(), sources=GitSources(), **options)


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
        tree = open_tree([tmp_path])
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
