"""``@modelcontextprotocol/server-everything`` from npm, pinned, installed once into the test cache
beside the conformance suite's node 22 (see :mod:`tests.conformance.nodejs_toolchain`)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conformance.nodejs_toolchain import NODE_VERSION, _locked, _npm_install, _unavailable, cache_dir

EVERYTHING_VERSION = "2026.8.31"


@dataclass(frozen=True)
class Everything:
    node: Path  # node 22
    script: Path  # the server's dist/index.js: `node index.js stdio | streamableHttp | sse`


def everything() -> Everything:
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed (needed for @modelcontextprotocol/server-everything)")
        raise AssertionError("unreachable")
    cache = cache_dir()
    node_prefix = cache / f"node-{NODE_VERSION}"
    prefix = cache / f"server-everything-{EVERYTHING_VERSION}-node-{NODE_VERSION}"
    node_bin = node_prefix / "node_modules" / ".bin"
    with _locked(cache / ".lock"):
        _npm_install(npm, node_prefix, (f"node@{NODE_VERSION}",), dict(os.environ))
        env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
        _npm_install(npm, prefix, (f"@modelcontextprotocol/server-everything@{EVERYTHING_VERSION}",), env)
    script = prefix / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
    if not script.is_file():
        pytest.fail(f"{script} is missing after the install")
    return Everything(node_bin / "node", script)
