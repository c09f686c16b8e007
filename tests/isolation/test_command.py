"""The command of one run: the clean environment, the limits, and the argv as given."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.cgroup import joins_at_spawn
from skillz_engine.isolation.command import build_command, build_env
from skillz_engine.isolation.limits import Limits
from tests.isolation.helpers import spec


def test_env_is_clean() -> None:
    """Only PATH, HOME, LANG, the manifest's env and its listed SKILLZ_* secrets are passed on."""
    environ = {"PATH": "/bin", "HOME": "/h", "LANG": "en_US.UTF-8", "AWS_SECRET": "x",
               "SKILLZ_TOKEN": "t", "SKILLZ_OTHER": "o", "USER": "me"}  # fmt: skip
    s = spec(Path("/tmp"), env={"FOO": "bar"}, secrets=["SKILLZ_TOKEN", "SKILLZ_MISSING"])
    assert build_env(s, environ) == {"PATH": "/bin", "HOME": "/h", "LANG": "en_US.UTF-8", "FOO": "bar",
                                     "SKILLZ_TOKEN": "t"}  # fmt: skip


def test_env_defaults() -> None:
    """Without PATH or LANG on the server, the child still gets a default PATH and a UTF-8 LANG."""
    env = build_env(spec(Path("/tmp")), {})
    assert env["LANG"] == "C.UTF-8" and env["PATH"] and "HOME" not in env


def test_build_command(tmp_path: Path) -> None:
    """The command holds argv as given, the entry dir as cwd, the clean env and the limits."""
    s = spec(tmp_path, secrets=["SKILLZ_K"], limits={"timeout": "2s", "output": "1KiB"}, sandbox="none")
    cmd = build_command(["/bin/echo", "a b", "; rm -rf /"], s, environ={"PATH": "/bin", "SKILLZ_K": "v"})
    # unsandboxed, it runs in a cgroup of its own when one is writable (entered by the spawner on
    # cgroup v1: the argv is the program itself; by an `sh` prefix on v2), else under a subreaper of
    # its own (see test_reaping.py)
    assert cmd.argv[-3:] == ("/bin/echo", "a b", "; rm -rf /")
    if cmd.cgroup is not None and joins_at_spawn():
        assert cmd.argv == ("/bin/echo", "a b", "; rm -rf /")
    else:
        assert len(cmd.argv) > 3
    assert cmd.cwd == tmp_path
    assert cmd.limits == Limits(timeout=2.0, output=1024)
    assert cmd.secrets == ("SKILLZ_K",) and "SKILLZ_K" not in cmd.public_env()
    with pytest.raises(RuntimeFailure):
        build_command([], s)
