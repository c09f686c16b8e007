"""The command line of each sandbox: bwrap, firejail and nsjail options for a :class:`Mounts`.

Every builder gives the same isolation in its own options: a read-only root, a private writable
``/tmp`` (the read-only paths that live under it shown again), the ``rw`` paths read-write, no
network unless asked, no capabilities (even when the engine runs as root) and its own PID
namespace. :func:`unset_argv` removes again what a sandbox adds to the environment, so a tool
sees exactly its clean environment.
"""

from __future__ import annotations

from collections.abc import Mapping

from skillz_engine.isolation.policy import Mounts, hidden
from skillz_engine.isolation.programs import which

__all__ = ["INJECTED", "bwrap_argv", "firejail_argv", "nsjail_argv", "sandbox_argv", "unset_argv"]


def bwrap_argv(binary: str, mounts: Mounts, *, network: bool) -> list[str]:
    """bubblewrap: read-only root, private /tmp and /dev, own namespaces, no capabilities."""
    argv = [binary, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for p in mounts.ro:
        if hidden(p):  # everything else is already visible (read-only) through /
            argv += ["--ro-bind", str(p), str(p)]
    for p in mounts.rw:
        argv += ["--bind", str(p), str(p)]
    argv += ["--chdir", str(mounts.cwd), "--unshare-all"]
    if network:
        argv.append("--share-net")
    # --new-session also moves the sandbox's processes out of the engine's process group, so that
    # group is empty once bwrap exits (its PID namespace is killed with it): without it the dying
    # namespace's processes would hold the group and every run would wait out the leftover grace
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--"]
    return argv


def firejail_argv(binary: str, mounts: Mounts, *, network: bool) -> list[str]:
    """firejail: read-only root, private /tmp, no network, no capabilities, no new privileges.

    ``--deterministic-shutdown`` ends the sandbox (and what the tool left running) when the tool
    exits, and ``--deterministic-exit-code`` makes firejail exit with the tool's status.
    """
    argv = [binary, "--quiet", "--noprofile", "--read-only=/", "--private-tmp", "--keep-var-tmp",
            "--caps.drop=all", "--nonewprivs",
            "--deterministic-exit-code", "--deterministic-shutdown"]  # fmt: skip
    if not network:
        argv.append("--net=none")
    for p in (*mounts.ro, *mounts.rw):
        if hidden(p):  # a private /tmp hides it unless whitelisted
            argv.append(f"--whitelist={p}")
    for p in mounts.ro:
        if hidden(p):  # whitelisted paths are writable: make them read-only again
            argv.append(f"--read-only={p}")
    for p in mounts.rw:
        argv.append(f"--read-write={p}")
    argv.append("--")
    return argv


def nsjail_argv(binary: str, mounts: Mounts, *, network: bool) -> list[str]:
    """nsjail (once mode): read-only / (chroot without --rw), tmpfs /tmp, own namespaces.

    nsjail's own rlimits and time limit are switched off (``soft``: inherit, ``--time_limit 0``)
    so the engine's prlimit and timeout are the only ones.
    """
    argv = [binary, "--mode", "o", "--quiet", "--chroot", "/", "--tmpfsmount", "/tmp", "--proc_rw",
            "--cwd", str(mounts.cwd), "--keep_env", "--keep_caps=false", "--time_limit", "0"]  # fmt: skip
    for name in ("as", "core", "cpu", "fsize", "nofile", "nproc", "stack"):
        argv += [f"--rlimit_{name}", "soft"]
    if network:
        argv.append("--disable_clone_newnet")
    for p in mounts.ro:
        if hidden(p):
            argv += ["--bindmount_ro", f"{p}:{p}"]
    for p in mounts.rw:
        argv += ["--bindmount", f"{p}:{p}"]
    argv.append("--")
    return argv


_BUILDERS = {"bwrap": bwrap_argv, "firejail": firejail_argv, "nsjail": nsjail_argv}
# variables a sandbox adds to the environment it passes on; `env -u` removes them again inside it,
# so a sandboxed tool sees exactly the clean environment (unless its own `env` sets one of them)
INJECTED = {
    "bwrap": ("PWD",),
    "firejail": (
        "PWD",
        "SHELL",
        "SHLVL",
        "_",
        "container",
        "FIREJAIL_QUIET",
        "PROMPT_COMMAND",
        "KDE_FORK_SLAVES",
        "QML_DISABLE_DISK_CACHE",
        "QT_X11_NO_MITSHM",
    ),
    "nsjail": (),
}


def unset_argv(mode: str, env: Mapping[str, str]) -> list[str]:
    """``env -u NAME ...`` for what sandbox ``mode`` adds to the environment (``[]`` if nothing)."""
    names = [n for n in INJECTED.get(mode, ()) if n not in env]
    if not names:
        return []
    env_program = which("env") or "/usr/bin/env"
    return [env_program, *(arg for n in names for arg in ("-u", n)), "--"]


def sandbox_argv(mode: str, binary: str | None, mounts: Mounts, *, network: bool) -> list[str]:
    """The argv prefix of sandbox ``mode`` (empty for ``none``)."""
    if mode == "none" or binary is None:
        return []
    return _BUILDERS[mode](binary, mounts, network=network)
