"""``import_tool`` killed mid-write: a real ``serve`` process (stdio) gets SIGKILL at several
moments of an import; afterwards the tree validates and every imported entry is whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skillz_engine.builtins.imports import PROVENANCE
from skillz_engine.cli.main import main
from tests.builtins.test_imports import Upstream, tool

ENTRIES = 4
BIG = "x" * (3 << 20)  # a few MiB per entry, so the copy takes long enough to be interrupted


def _line(proc: subprocess.Popen[bytes], message: dict[str, object]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message).encode() + b"\n")
    proc.stdin.flush()


def _serve(root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "skillz_engine", "serve", str(root), "--no-watch"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    _line(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
    assert proc.stdout is not None and b'"id":1' in proc.stdout.readline().replace(b" ", b"")
    _line(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    return proc


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Upstream:
    up = Upstream(tmp_path_factory.mktemp("crash") / "upstream")
    files: dict[str, str] = {}
    for i in range(ENTRIES):
        files |= {f"tools/t{i}/{k}": v for k, v in tool(f"Tool {i}.", f"t{i}").items()}
        files[f"tools/t{i}/data.txt"] = BIG
    up.commit(files, tag="v1")
    return up


@pytest.mark.parametrize("delay", [0.3, 0.6, 0.9])  # here: before, during and after the writes
def test_a_killed_import_leaves_no_half_entry(tmp_path: Path, upstream: Upstream, delay: float) -> None:
    up = upstream
    root = tmp_path / "home"
    root.mkdir()
    proc = _serve(root)
    try:
        args = {"url": up.url, "rev": "v1", "path": "tools"}
        _line(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                     "params": {"name": "import_tool", "arguments": args}})  # fmt: skip
        time.sleep(delay)
    finally:
        proc.kill()
        proc.wait()
    assert main(["validate", str(root)]) == 0
    for entry in (root / "tools").iterdir() if (root / "tools").is_dir() else []:
        if entry.name.startswith("."):  # a staging directory: ignored by the scanner and the watcher
            continue
        assert (entry / PROVENANCE).is_file() and (entry / "data.txt").stat().st_size == len(BIG), entry
