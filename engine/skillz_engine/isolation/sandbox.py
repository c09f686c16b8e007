"""Sandboxes and resource limits: the one place a tool's command line is wrapped.

:func:`wrap` turns a tool's argv into the argv actually executed::

    [sh -c 'join pids cgroup' CGROUP]  [prlimit --as --cpu --nproc --nofile --]  [SANDBOX ...]  ARGV

* the **sandbox** (``sandbox.mode``: ``bwrap``, ``firejail``, ``nsjail``, ``auto`` or ``none``)
  shows the process a read-only root, a private writable ``/tmp``, the tool's tree read-only, the
  ``sandbox.writable`` paths read-write, no network unless ``sandbox.network`` is true, no
  capabilities (even when the engine runs as root) and its own PID namespace;
* **rlimits** (``limits.memory`` as address space, ``limits.cpu`` seconds, ``limits.processes``,
  ``limits.openFiles``) are set by ``prlimit`` around the sandbox. Limits can only be lowered:
  ``prlimit`` cannot raise a hard limit without ``CAP_SYS_RESOURCE``;
* the **process count** is enforced by a ``pids`` cgroup when one is writable (the kernel does
  not apply ``RLIMIT_NPROC`` to root, and for other users it counts all their processes); only
  without one does ``prlimit --nproc`` stand in.

``auto`` picks the first of bwrap, firejail, nsjail that is installed *and* works (one probe per
process, cached); when none does, tools run unsandboxed and a warning is logged once. A manifest
that names a sandbox this machine lacks fails closed (:class:`SandboxUnavailable`), naming the
missing program and how to install it.

Interpreters are resolved to real programs: a version-manager shim (pyenv, rbenv, nodenv) on
``PATH`` is replaced by the program it would run (``pyenv which python3`` in the tool's working
directory, cached), which saves the shim's ~100 ms per call and works inside every sandbox.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import logging
import math
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillz_engine.errors import RuntimeFailure, SandboxUnavailable

if TYPE_CHECKING:
    from skillz_engine.isolation.process import Limits
    from skillz_engine.tree.config import Config
    from skillz_engine.tree.model import EntrySpec

__all__ = ["AUTO_ORDER", "INSTALL_HINTS", "MODES", "Detection", "Mounts", "Policy", "Wrapped", "auto_choice",
           "bwrap_argv", "cgroup_argv", "detect", "firejail_argv", "limits_argv", "mounts_for", "nsjail_argv",
           "pids_cgroup_base", "policy_for", "release_cgroup", "resolve_mode", "resolve_program",
           "sandbox_argv", "setup_cgroup", "unset_argv", "wrap"]  # fmt: skip

log = logging.getLogger("skillz_engine.sandbox")

MODES = ("bwrap", "firejail", "nsjail", "auto", "none")
AUTO_ORDER = ("bwrap", "firejail", "nsjail")  # what `auto` prefers, best first
DEFAULT_MODE = "auto"
BINARIES = {"bwrap": "bwrap", "firejail": "firejail", "nsjail": "nsjail"}
INSTALL_HINTS = {
    "bwrap": "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`)",
    "firejail": "install firejail (Debian/Ubuntu: `apt-get install firejail`)",
    "nsjail": "build nsjail from https://github.com/google/nsjail (it is not packaged for Debian 12)",
    "prlimit": "install util-linux (`apt-get install util-linux`)",
}
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROBE_TIMEOUT = 10.0  # seconds a sandbox gets to run `true` when `auto` checks it works
HIDDEN_TMP = ("/tmp",)  # what the sandboxes replace with a private tmpfs
CGROUP_NAME = "skillz-engine"


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class Policy:
    """What a tool asked for: ``sandbox`` of its manifest over the default in skillz.yaml."""

    mode: str = DEFAULT_MODE
    network: bool = False
    writable: tuple[str, ...] = ()


def _as_mapping(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        return {"mode": raw}
    return dict(raw) if isinstance(raw, Mapping) else {}


def policy_for(spec: EntrySpec, config: Config | None = None) -> Policy:
    """The tool's ``sandbox``, key by key over ``sandbox`` in skillz.yaml, over the defaults."""
    tree = _as_mapping(config.get("sandbox") if config is not None else None)
    merged = {**tree, **_as_mapping(spec.data.get("sandbox"))}
    mode = str(merged.get("mode") or DEFAULT_MODE)
    if mode not in MODES:  # the schema makes this unreachable for validated manifests
        raise RuntimeFailure(f"unknown sandbox mode {mode!r}; use one of {', '.join(MODES)}")
    writable = tuple(str(p) for p in merged.get("writable") or ())
    return Policy(mode, bool(merged.get("network", False)), writable)


# --------------------------------------------------------------------------- detection


@dataclass(frozen=True, slots=True)
class Detection:
    """Which sandboxes this machine has (path or ``None``), and whether each one works."""

    paths: Mapping[str, str | None]
    works: Mapping[str, bool]
    errors: Mapping[str, str]
    prlimit: str | None
    auto: str  # what `auto` resolves to: a sandbox name, or "none"


def _which(name: str) -> str | None:
    """``name`` on the server's PATH, then the system directories (cached while PATH is unchanged)."""
    found = _which_on(name, os.environ.get("PATH", ""))
    if found is not None and not Path(found).exists():  # uninstalled since: look again
        _which_on.cache_clear()
        found = _which_on(name, os.environ.get("PATH", ""))
    return found


@functools.lru_cache(maxsize=64)
def _which_on(name: str, path: str) -> str | None:
    return shutil.which(name, path=f"{path}:{SYSTEM_PATH}" if path else SYSTEM_PATH)


def _probe(mode: str, binary: str) -> tuple[bool, str]:
    """Run ``true`` in the sandbox exactly as tools are run: does this sandbox work here?"""
    true = _which("true") or "/bin/true"
    argv = [*sandbox_argv(mode, binary, Mounts(ro=(), rw=(), cwd=Path("/")), network=False), true]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT, cwd="/",
                              env={"PATH": SYSTEM_PATH}, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return False, err[-1] if err else f"exit code {proc.returncode}"
    return True, ""


@functools.cache
def _check(mode: str) -> tuple[str | None, bool, str]:
    """Path of sandbox ``mode``, whether it works here, and why not (probed once per process)."""
    path = _which(BINARIES[mode])
    if path is None:
        return None, False, "not installed"
    works, error = _probe(mode, path)
    return path, works, error


@functools.cache
def auto_choice() -> tuple[str, str | None, str]:
    """What ``auto`` runs: the first sandbox that works (probing stops there), its path, or
    ``("none", None, reasons)``."""
    reasons = []
    for mode in AUTO_ORDER:
        path, works, error = _check(mode)
        if works:
            return mode, path, ""
        reasons.append(f"{mode}: {error}")
    return "none", None, "; ".join(reasons)


def detect() -> Detection:
    """Every sandbox, found and probed (``doctor``); each probe runs once per process."""
    checks = {mode: _check(mode) for mode in AUTO_ORDER}
    return Detection(
        paths={m: c[0] for m, c in checks.items()},
        works={m: c[1] for m, c in checks.items()},
        errors={m: c[2] for m, c in checks.items()},
        prlimit=_prlimit(),
        auto=auto_choice()[0],
    )


@functools.cache
def _prlimit() -> str | None:
    return _which("prlimit")


_warned_unsandboxed = False


def resolve_mode(mode: str) -> tuple[str, str | None]:
    """The sandbox to use for ``mode`` and its program (``("none", None)`` for no sandbox).

    ``auto`` falls back to no sandbox (warning once); a named sandbox that is missing raises
    :class:`SandboxUnavailable`.
    """
    global _warned_unsandboxed
    if mode == "none":
        return "none", None
    if mode == "auto":
        chosen, path, reasons = auto_choice()
        if chosen == "none":
            if not _warned_unsandboxed:
                _warned_unsandboxed = True
                log.warning("sandbox auto: no working sandbox on this machine (%s); tools run without "
                            "one. %s, or set `sandbox: none` in skillz.yaml to silence this.",
                            reasons, INSTALL_HINTS["bwrap"].capitalize())  # fmt: skip
            return "none", None
        return chosen, path
    path = _which(BINARIES[mode])
    if path is None:
        raise SandboxUnavailable(
            f"this tool requires the {mode} sandbox (sandbox.mode: {mode}), but `{BINARIES[mode]}` is "
            f"not installed on this machine, so it was not run. To fix: {INSTALL_HINTS[mode]}, or "
            "set `sandbox: auto` to use whichever sandbox is installed (`skillz-engine doctor` lists them)."
        )
    return mode, path


# --------------------------------------------------------------------------- mounts


@dataclass(frozen=True, slots=True)
class Mounts:
    """Paths the sandbox shows: ``ro`` read-only, ``rw`` read-write, and the working directory."""

    ro: tuple[Path, ...]
    rw: tuple[Path, ...]
    cwd: Path


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _writable_path(spec: EntrySpec, raw: str) -> Path:
    """A ``writable`` entry as a real path: relative ones stay inside the entry (created if missing)."""
    if "\x00" in raw:
        raise RuntimeFailure(f"sandbox.writable {raw!r}: NUL byte in path")
    if raw.startswith("/"):
        path = Path(raw)
        if not path.exists():
            raise RuntimeFailure(f"sandbox.writable {raw!r} does not exist; create it or remove it")
        return path.resolve()
    base = spec.dir.resolve()
    candidate = base / raw
    if ".." in Path(raw).parts:
        raise RuntimeFailure(f"sandbox.writable {raw!r} leaves the entry's directory ('..' is not allowed)")
    # the deepest existing ancestor decides where a symlink leads
    existing = candidate
    while not os.path.lexists(existing) and existing != base:  # a dangling symlink counts as there
        existing = existing.parent
    if not _inside(existing.resolve(), base):
        raise RuntimeFailure(f"sandbox.writable {raw!r} leads outside the entry's directory (symlink to "
                             f"{existing.resolve()}); use an absolute path if that is intended")  # fmt: skip
    if not candidate.exists():
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RuntimeFailure(f"sandbox.writable {raw!r}: cannot create it: {exc.strerror}") from exc
    resolved = candidate.resolve()
    if not _inside(resolved, base):
        raise RuntimeFailure(f"sandbox.writable {raw!r} leads outside the entry's directory ({resolved})")
    return resolved


ENV_PATHS = ("VIRTUAL_ENV", "NODE_PATH", "PATH")  # variables naming what the tool runs and imports


def mounts_for(
    spec: EntrySpec,
    policy: Policy,
    cwd: Path,
    program: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Mounts:
    """What the tool sees: its tree (read-only), its program, its working dir, the server's working
    dir (read-only), its writable paths.

    The program (as given and resolved) and the directories its environment names (a dependency
    environment's ``VIRTUAL_ENV``, ``NODE_PATH``, ``PATH`` entries) are shown read-only too, so they
    stay visible when they live where the sandbox puts a private tmpfs.
    """
    candidates: list[Path] = [Path(spec.root), Path(spec.dir), Path(cwd)]
    # the server's own working directory is the user's project as a client launched it (Claude
    # Code, an IDE, CI): tools that take a path into it must see it even when it lies under /tmp
    with contextlib.suppress(OSError):
        candidates.append(Path.cwd())
    if program and program.startswith("/"):
        given = Path(program)
        # PREFIX/bin/prog (a venv, a node install): the prefix holds what the program loads
        candidates += [given.parent.parent if given.parent.name == "bin" else given.parent, given]
    for name in ENV_PATHS:
        candidates += [Path(p) for p in (env or {}).get(name, "").split(os.pathsep) if p.startswith("/")]
    ro: list[Path] = []
    for p in candidates:
        try:
            real = p.resolve()
        except OSError:
            continue
        if any(_inside(Path(h), real) for h in HIDDEN_TMP):  # "/" or "/tmp" itself: never re-expose /tmp
            continue
        if real.exists() and not any(_inside(real, r) for r in ro):
            ro = [r for r in ro if not _inside(r, real)] + [real]
    rw = tuple(dict.fromkeys(_writable_path(spec, raw) for raw in policy.writable))
    return Mounts(tuple(ro), rw, Path(cwd).resolve())


# --------------------------------------------------------------------------- argv builders


def _hidden(path: Path) -> bool:
    """Whether ``path`` lies in a directory the sandbox replaces with a private tmpfs."""
    return any(_inside(path, Path(h)) for h in HIDDEN_TMP)


def bwrap_argv(binary: str, mounts: Mounts, *, network: bool) -> list[str]:
    """bubblewrap: read-only root, private /tmp and /dev, own namespaces, no capabilities."""
    argv = [binary, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for p in mounts.ro:
        if _hidden(p):  # everything else is already visible (read-only) through /
            argv += ["--ro-bind", str(p), str(p)]
    for p in mounts.rw:
        argv += ["--bind", str(p), str(p)]
    argv += ["--chdir", str(mounts.cwd), "--unshare-all"]
    if network:
        argv.append("--share-net")
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
        if _hidden(p):  # a private /tmp hides it unless whitelisted
            argv.append(f"--whitelist={p}")
    for p in mounts.ro:
        if _hidden(p):  # whitelisted paths are writable: make them read-only again
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
        if _hidden(p):
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
    env_program = _which("env") or "/usr/bin/env"
    return [env_program, *(arg for n in names for arg in ("-u", n)), "--"]


def sandbox_argv(mode: str, binary: str | None, mounts: Mounts, *, network: bool) -> list[str]:
    """The argv prefix of sandbox ``mode`` (empty for ``none``)."""
    if mode == "none" or binary is None:
        return []
    return _BUILDERS[mode](binary, mounts, network=network)


def limits_argv(prlimit: str, limits: Limits) -> list[str]:
    """``prlimit`` options for the rlimits in ``limits`` (soft = hard), or ``[]`` when there are none."""
    opts: list[str] = []
    if limits.memory is not None:
        opts.append(f"--as={limits.memory}")
    if limits.cpu is not None:
        opts.append(f"--cpu={max(1, math.ceil(limits.cpu))}")
    if limits.processes is not None:
        opts.append(f"--nproc={limits.processes}")
    if limits.open_files is not None:
        opts.append(f"--nofile={limits.open_files}")
    return [prlimit, *opts, "--"] if opts else []


# --------------------------------------------------------------------------- pids cgroup

_JOIN = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
_counter = itertools.count()


@functools.cache
def pids_cgroup_base() -> Path | None:
    """A writable directory of the ``pids`` cgroup controller (v1 or v2) for our runs, or ``None``."""
    v1 = Path("/sys/fs/cgroup/pids")
    v2 = Path("/sys/fs/cgroup")
    try:
        if (v1 / "cgroup.procs").exists():
            ours = v1 / CGROUP_NAME
            ours.mkdir(exist_ok=True)
            return ours
        if "pids" in (v2 / "cgroup.subtree_control").read_text().split():
            ours = v2 / CGROUP_NAME
            ours.mkdir(exist_ok=True)
            (ours / "cgroup.subtree_control").write_text("+pids")
            return ours
    except OSError:
        return None
    return None


def cgroup_argv(cgroup: Path) -> list[str]:
    """A prefix that moves the process into ``cgroup`` before it runs anything else."""
    return ["/bin/sh", "-c", _JOIN, str(cgroup)]


def new_cgroup_path() -> Path | None:
    base = pids_cgroup_base()
    return None if base is None else base / f"{os.getpid()}-{next(_counter)}"


def setup_cgroup(cgroup: Path, processes: int) -> None:
    """Create ``cgroup`` with ``pids.max``; raises :class:`RuntimeFailure` if the kernel refuses."""
    try:
        cgroup.mkdir(exist_ok=True)
        (cgroup / "pids.max").write_text(str(processes))
    except OSError as exc:
        raise RuntimeFailure(f"cannot set up the process limit (pids cgroup {cgroup}): {exc}") from exc


def release_cgroup(cgroup: Path) -> None:
    """Kill whatever is left in ``cgroup`` and remove it (best effort, never raises)."""
    import time

    deadline = time.monotonic() + 2.0
    while True:
        try:
            pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                log.warning("could not remove pids cgroup %s", cgroup)
                return
            time.sleep(0.01)


# --------------------------------------------------------------------------- interpreters


def _shim_manager(program: Path) -> Path | None:
    """The version manager (pyenv, rbenv, nodenv, ...) whose shim ``program`` is, if it is one."""
    if program.parent.name != "shims":
        return None
    root = program.parent.parent
    tool = root.name.lstrip(".")  # ~/.pyenv -> pyenv
    if not tool.endswith("env"):
        return None
    for candidate in (root / "bin" / tool, root / "libexec" / tool):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@functools.lru_cache(maxsize=256)
def _shim_target(program: str, cwd: str, env_items: tuple[tuple[str, str], ...]) -> str:
    manager = _shim_manager(Path(program))
    if manager is None:
        return program
    try:
        proc = subprocess.run([str(manager), "which", Path(program).name], capture_output=True, text=True,
                              cwd=cwd, env=dict(env_items), timeout=10, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return program
    found = proc.stdout.strip()
    return found if proc.returncode == 0 and found.startswith("/") and Path(found).exists() else program


def resolve_program(program: str, cwd: Path, env: Mapping[str, str]) -> str:
    """``program`` with a version-manager shim replaced by the real interpreter it runs."""
    if not program.startswith("/"):
        found = shutil.which(program, path=env.get("PATH", os.defpath))
        if found is None:
            return program
        program = found
    if _shim_manager(Path(program)) is None:
        return program
    keep = tuple(sorted((k, v) for k, v in env.items() if k in ("PATH", "HOME") or k.endswith("_VERSION")))
    target = _shim_target(program, str(cwd), keep)
    if target != program and not Path(target).exists():  # the version was removed: ask again
        _shim_target.cache_clear()
        target = _shim_target(program, str(cwd), keep)
    return target


# --------------------------------------------------------------------------- the one entry point


@dataclass(frozen=True, slots=True)
class Wrapped:
    """The argv to execute, which sandbox it uses, and the pids cgroup to create for it (if any)."""

    argv: list[str]
    mode: str = "none"
    cgroup: Path | None = None


def wrap(
    argv: Sequence[str],
    spec: EntrySpec,
    *,
    cwd: Path,
    env: Mapping[str, str],
    limits: Limits,
    config: Config | None = None,
) -> Wrapped:
    """The full command line of one run: cgroup join, prlimit, sandbox, then ``argv``.

    Raises :class:`SandboxUnavailable` when the tool demands a sandbox (or a limit) this machine
    cannot provide, and :class:`RuntimeFailure` for a bad ``writable`` path.
    """
    policy = policy_for(spec, config)
    mode, binary = resolve_mode(policy.mode)
    program = resolve_program(argv[0], cwd, env)
    inner = [program, *argv[1:]]
    if mode != "none":
        mounts = mounts_for(spec, policy, cwd, program, env)
        inner = sandbox_argv(mode, binary, mounts, network=policy.network) + unset_argv(mode, env) + inner
    # a pids cgroup counts exactly this run's processes; RLIMIT_NPROC counts every process of the
    # user (and is ignored for root), so it is only the fallback when no cgroup is writable
    cgroup = new_cgroup_path() if limits.processes is not None else None
    rlimits = dataclasses.replace(limits, processes=None) if cgroup is not None else limits
    prefix: list[str] = []
    if any(v is not None for v in (rlimits.memory, rlimits.cpu, rlimits.processes, rlimits.open_files)):
        prlimit = _prlimit()
        if prlimit is None:
            raise SandboxUnavailable(
                f"this tool has resource limits (limits), but `prlimit` is not installed, so it was not "
                f"run. To fix: {INSTALL_HINTS['prlimit']}."
            )
        prefix = limits_argv(prlimit, rlimits)
    if cgroup is not None:
        prefix = cgroup_argv(cgroup) + prefix
    return Wrapped(prefix + inner, mode, cgroup)
