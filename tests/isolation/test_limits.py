"""Limits of a run: manifest over skillz.yaml over the defaults, and the prlimit options for them."""

from __future__ import annotations

from pathlib import Path

from skillz_engine.isolation.limits import DEFAULT_OUTPUT, DEFAULT_TIMEOUT, Limits, limits_argv, limits_for
from skillz_engine.tree.config import Config
from tests.isolation.helpers import spec


def test_limits_fall_back_to_config_then_defaults(tmp_path: Path) -> None:
    """A tool's limits win over skillz.yaml's, which win over the engine defaults."""
    config = Config({"limits": {"timeout": "2m", "output": "4MiB", "memory": "256MiB"}})
    assert limits_for(spec(tmp_path), None) == Limits(DEFAULT_TIMEOUT, DEFAULT_OUTPUT, None)
    assert limits_for(spec(tmp_path), config) == Limits(120.0, 4 << 20, 256 << 20)
    assert limits_for(spec(tmp_path, limits={"timeout": "500ms"}), config).timeout == 0.5


def test_limits_argv() -> None:
    """Each limit is one prlimit option (memory as address space, CPU rounded up to seconds)."""
    limits = Limits(memory=256 << 20, cpu=1.5, processes=32, open_files=64)
    assert limits_argv("/usr/bin/prlimit", limits) == [
        "/usr/bin/prlimit", "--as=268435456", "--cpu=2", "--nproc=32", "--nofile=64", "--"]  # fmt: skip
    assert limits_argv("/usr/bin/prlimit", Limits()) == []
