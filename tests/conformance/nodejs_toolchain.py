"""Node 22 and the npm packages the conformance tests run, installed once into a cache directory.

The cache (``$SKILLZ_TEST_CACHE``, else ``$XDG_CACHE_HOME/skillz-engine-tests``, else
``~/.cache/skillz-engine-tests``) survives test runs; every install goes into a directory named by
its exact versions, is marked complete only when it succeeded, and happens under a file lock, so
parallel runs neither clash nor see half an install. Node 22 comes from the npm registry
(``npm install node@22.x``, the system npm is enough); the packages are installed with it on PATH
(the conformance suite and Inspector 2.x need node 22). Binaries are called from
``node_modules/.bin``, never through ``npx -y`` (which hangs without a registry).

Locally an unreachable registry (or no npm) skips the tests with the reason; in CI it fails them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI

NODE_VERSION = "22.23.3"
CONFORMANCE_VERSION = "0.1.16"
# the newest suite (2026-07-28, the Skills and Tasks extensions); its own prefix, as npm installs
# one version of a package per prefix
CONFORMANCE_NEXT = "0.2.0-alpha.12"
INSPECTOR_VERSION = "2.12.0"
PACKAGES = (
    f"@modelcontextprotocol/conformance@{CONFORMANCE_VERSION}",
    f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}",
)
INSTALL_TIMEOUT = 600
DONE = ".skillz-complete"


def cache_dir() -> Path:
    explicit = os.environ.get("SKILLZ_TEST_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "skillz-engine-tests"


@dataclass(frozen=True)
class Toolchain:
    node_bin: Path  # the directory holding node 22
    packages: Path  # the prefix holding node_modules/.bin/{conformance,mcp-inspector}
    next_packages: Path  # the prefix holding conformance CONFORMANCE_NEXT

    def env(self, home: Path) -> dict[str, str]:
        """An environment with node 22 first on PATH and a private HOME (Inspector writes there)."""
        env = dict(os.environ)
        env["PATH"] = f"{self.node_bin}{os.pathsep}{env.get('PATH', '')}"
        env["HOME"] = str(home)
        env.pop("NODE_OPTIONS", None)
        return env

    def bin(self, name: str) -> Path:
        return self.packages / "node_modules" / ".bin" / name

    def conformance(self, version: str) -> Path:
        """The ``conformance`` CLI of suite ``version`` (CONFORMANCE_VERSION or CONFORMANCE_NEXT)."""
        prefix = self.next_packages if version == CONFORMANCE_NEXT else self.packages
        return prefix / "node_modules" / ".bin" / "conformance"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI must be able to install it from the npm registry)")
    pytest.skip(message)


def _npm_install(npm: str, prefix: Path, specs: tuple[str, ...], env: dict[str, str]) -> None:
    """``npm install`` into ``prefix`` (a fresh directory, marked complete on success)."""
    if (prefix / DONE).exists():
        return
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    argv = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save", *specs]
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        _unavailable(f"npm install {' '.join(specs)} took longer than {INSTALL_TIMEOUT}s")
        return
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-800:]
        _unavailable(f"npm install {' '.join(specs)} failed (is the npm registry reachable?):\n{tail}")
    (prefix / DONE).write_text("ok\n")


def toolchain() -> Toolchain:
    """Node 22 plus the conformance suite and Inspector, installed (once) into the cache."""
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed (needed to install node 22 and the conformance suite)")
        raise AssertionError("unreachable")
    cache = cache_dir()
    node_prefix = cache / f"node-{NODE_VERSION}"
    versions = f"conformance-{CONFORMANCE_VERSION}-inspector-{INSPECTOR_VERSION}-node-{NODE_VERSION}"
    pkg_prefix = cache / f"mcp-{versions}"
    next_prefix = cache / f"mcp-conformance-{CONFORMANCE_NEXT}-node-{NODE_VERSION}"
    node_bin = node_prefix / "node_modules" / ".bin"
    with _locked(cache / ".lock"):
        _npm_install(npm, node_prefix, (f"node@{NODE_VERSION}",), dict(os.environ))
        chain = Toolchain(node_bin, pkg_prefix, next_prefix)
        env = chain.env(Path.home())
        _npm_install(npm, pkg_prefix, PACKAGES, env)
        _npm_install(npm, next_prefix, (f"@modelcontextprotocol/conformance@{CONFORMANCE_NEXT}",), env)
    version = subprocess.run(
        [str(node_bin / "node"), "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    if not version.startswith("v22."):
        _unavailable(f"the node installed into {node_prefix} reports {version!r}, not 22.x")
    return chain
