"""``migrate`` leaves a Rust Skillz tool's ``env/`` in use: the tool runs with the same
interpreter before and after, and the migrated manifest declares no dependencies to install."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from skillz_engine.build.compile import Tree
from skillz_engine.cli.main import main
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from tests.mcp_helpers import write

TOOL = {
    "name": "which-env",
    "description": "Says whether it runs in its env/ venv",
    "tool_type": "script",
    "interpreter": "python3",
    "entry_file": "which-env.py",
    "input_schema": {"type": "object"},
    "dependencies": ["requests>=2"],
}
SCRIPT = """import json, os, sys
req = json.loads(sys.stdin.readline())
print(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {"venv": os.environ.get("FROM_ENV_DIR")}}))
"""


async def _call(root: Path) -> object:
    tree = Tree([root])
    tree.full_scan()
    snap = tree.snapshot()
    result = await run_tool(snap.tools["which-env"], {}, LocalCallContext(snap, "which-env"))
    assert not result.is_error, result.text_content()
    return result.structured if result.structured is not None else json.loads(result.text_content())


@pytest.mark.anyio
async def test_migrate_keeps_the_env_directory_in_use(tmp_path: Path) -> None:
    tool = tmp_path / "which-env"
    write(tool / "manifest.json", json.dumps(TOOL))
    write(tool / "which-env.py", SCRIPT)
    # the environment Rust Skillz made: a python in env/bin that marks the runs it starts
    python = write(
        tool / "env" / "bin" / "python", f'#!/bin/sh\nFROM_ENV_DIR=yes exec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    assert await _call(tmp_path) == {"venv": "yes"}
    assert main(["migrate", str(tmp_path)]) == 0
    text = (tool / "manifest.yaml").read_text()
    assert "dependencies" not in yaml.safe_load(text)
    assert '#   dependencies: {"pip": ["requests>=2"]}' in text
    assert await _call(tmp_path) == {"venv": "yes"}
