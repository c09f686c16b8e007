"""The sandbox options of bwrap, firejail and nsjail for one set of mounts."""

from __future__ import annotations

from pathlib import Path

from skillz_engine.isolation.argv import bwrap_argv, firejail_argv, nsjail_argv
from skillz_engine.isolation.policy import Mounts

MOUNTS = Mounts(
    ro=(Path("/tmp/tree"), Path("/srv/tools/x")), rw=(Path("/tmp/tree/x/data"), Path("/var/cache/x")),
    cwd=Path("/tmp/tree/x"),
)  # fmt: skip


def test_bwrap_argv() -> None:
    """Read-only /, private /tmp, the tree re-bound read-only, writable binds, no net, no caps."""
    argv = bwrap_argv("/usr/bin/bwrap", MOUNTS, network=False)
    assert argv == [
        "/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--ro-bind", "/tmp/tree", "/tmp/tree",  # /srv/... is visible through / already
        "--bind", "/tmp/tree/x/data", "/tmp/tree/x/data", "--bind", "/var/cache/x", "/var/cache/x",
        "--chdir", "/tmp/tree/x", "--unshare-all",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--",
    ]  # fmt: skip
    with_net = bwrap_argv("/usr/bin/bwrap", MOUNTS, network=True)
    assert with_net[with_net.index("--unshare-all") + 1] == "--share-net"


def test_firejail_argv() -> None:
    """Paths under the private /tmp are whitelisted (then read-only again unless writable)."""
    argv = firejail_argv("/usr/bin/firejail", MOUNTS, network=False)
    assert argv == [
        "/usr/bin/firejail", "--quiet", "--noprofile", "--read-only=/", "--private-tmp", "--keep-var-tmp",
        "--caps.drop=all", "--nonewprivs", "--deterministic-exit-code", "--deterministic-shutdown",
        "--net=none",
        "--whitelist=/tmp/tree", "--whitelist=/tmp/tree/x/data", "--read-only=/tmp/tree",
        "--read-write=/tmp/tree/x/data", "--read-write=/var/cache/x", "--",
    ]  # fmt: skip
    assert "--net=none" not in firejail_argv("/usr/bin/firejail", MOUNTS, network=True)


def test_nsjail_argv() -> None:
    """nsjail: read-only chroot of /, tmpfs /tmp, binds, its own rlimits and time limit off."""
    argv = nsjail_argv("/usr/bin/nsjail", MOUNTS, network=False)
    assert argv[:5] == ["/usr/bin/nsjail", "--mode", "o", "--quiet", "--chroot"]
    assert "--rw" not in argv and argv[6:8] == ["--tmpfsmount", "/tmp"]
    assert argv[argv.index("--cwd") : argv.index("--cwd") + 2] == ["--cwd", "/tmp/tree/x"]
    assert argv[argv.index("--time_limit") : argv.index("--time_limit") + 2] == ["--time_limit", "0"]
    assert argv[argv.index("--rlimit_nproc") : argv.index("--rlimit_nproc") + 2] == ["--rlimit_nproc", "soft"]
    assert "--bindmount_ro" in argv and argv[argv.index("--bindmount_ro") + 1] == "/tmp/tree:/tmp/tree"
    assert [a for i, a in enumerate(argv) if i and argv[i - 1] == "--bindmount"] == [
        "/tmp/tree/x/data:/tmp/tree/x/data", "/var/cache/x:/var/cache/x"]  # fmt: skip
    assert "--disable_clone_newnet" not in argv and argv[-1] == "--"
    assert "--disable_clone_newnet" in nsjail_argv("/usr/bin/nsjail", MOUNTS, network=True)
