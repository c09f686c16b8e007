"""The sandbox policy: tool over skillz.yaml, confined writable paths, what stays visible."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.policy import Policy, mounts_for, policy_for
from skillz_engine.tree.config import Config
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.parse import Positions
from tests.isolation.helpers import spec


def test_policy_merges_tool_over_config(tmp_path: Path) -> None:
    """A tool's `sandbox` wins key by key over skillz.yaml's; a bare string is the mode; default auto."""
    config = Config({"sandbox": {"mode": "firejail", "network": True, "writable": ["cache"]}})
    assert policy_for(spec(tmp_path), None) == Policy("auto", False, ())
    assert policy_for(spec(tmp_path), config) == Policy("firejail", True, ("cache",))
    assert policy_for(spec(tmp_path, sandbox="bwrap"), config) == Policy("bwrap", True, ("cache",))
    assert policy_for(spec(tmp_path, sandbox={"network": False}), config) == Policy(
        "firejail", False, ("cache",)
    )
    assert policy_for(spec(tmp_path, sandbox="none"), Config({"sandbox": "bwrap"})).mode == "none"


def test_writable_paths_are_confined(tmp_path: Path) -> None:
    """Relative writable paths stay in the entry: `..` and symlinks out are refused, missing dirs made."""
    entry = tmp_path / "tool"
    entry.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (entry / "escape").symlink_to(outside)
    (entry / "dangling").symlink_to(outside / "not-yet")
    s = EntrySpec(kind="command", name="t", root=tmp_path, dir=entry, manifest=entry / "manifest.yaml",
                  display="m", data={}, positions=Positions(), fingerprint="")  # fmt: skip
    ok = mounts_for(s, Policy("bwrap", False, ("data/out",)), entry)
    assert ok.rw == ((entry / "data" / "out").resolve(),) and (entry / "data" / "out").is_dir()
    for bad in ("../outside", "escape", "escape/sub", "dangling/sub"):
        with pytest.raises(RuntimeFailure, match=r"outside|leaves"):
            mounts_for(s, Policy("bwrap", False, (bad,)), entry)
    assert not (outside / "sub").exists() and not (outside / "not-yet").exists()
    with pytest.raises(RuntimeFailure, match="does not exist"):
        mounts_for(s, Policy("bwrap", False, (str(tmp_path / "nope"),)), entry)
    hidden = mounts_for(s, Policy("bwrap", False, (".cache",)), entry)  # hidden names are fine here
    assert hidden.rw == ((entry / ".cache").resolve(),) and (entry / ".cache").is_dir()
    (entry / "log.txt").write_text("")
    one_file = mounts_for(s, Policy("bwrap", False, ("log.txt",)), entry)  # an existing file, bound as is
    assert one_file.rw == ((entry / "log.txt").resolve(),) and (entry / "log.txt").is_file()


def test_program_and_environment_dirs_stay_visible(tmp_path: Path) -> None:
    """A dependency env outside the tree (state dir under /tmp) is shown read-only, once."""
    tree, state = tmp_path / "tree", tmp_path / "state"
    (tree / "tool").mkdir(parents=True)
    env_dir = state / "envs" / "pip-abc"
    (env_dir / "bin").mkdir(parents=True)
    python = env_dir / "bin" / "python"
    python.symlink_to(Path(os.path.realpath(shutil.which("python3") or "/usr/bin/python3")))
    s = EntrySpec(kind="script", name="t", root=tree, dir=tree / "tool", manifest=tree / "tool" / "m.yaml",
                  display="m", data={}, positions=Positions(), fingerprint="")  # fmt: skip
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin", "VIRTUAL_ENV": str(env_dir)}
    mounts = mounts_for(s, Policy("bwrap", False, ()), tree / "tool", str(python), env)
    assert env_dir.resolve() in mounts.ro and tree.resolve() in mounts.ro
    assert (env_dir / "bin").resolve() not in mounts.ro  # inside env_dir: not bound twice
    assert tree.resolve() / "tool" not in mounts.ro
    # /bin/sh (prefix "/") and a program in /tmp/bin (prefix "/tmp") never show the host's /tmp
    for program in ("/bin/sh", "/tmp/bin/tool"):
        mounts = mounts_for(s, Policy("bwrap", False, ()), tree / "tool", program, {"PATH": "/tmp:/"})
        assert tree.resolve() in mounts.ro
        assert Path("/") not in mounts.ro and Path("/tmp") not in mounts.ro
