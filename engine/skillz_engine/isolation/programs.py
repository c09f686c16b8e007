"""Finding the program a tool's command line runs.

Two lookups every run needs and nothing else: :func:`which` finds a helper program (a sandbox,
``prlimit``, ``env``, ``true``) on the server's ``PATH`` and then in the system directories, so a
server started with a bare ``PATH`` still finds them; :func:`resolve_program` turns a tool's
interpreter into the real program it runs. A version-manager shim (pyenv, rbenv, nodenv) on
``PATH`` is replaced by the program it would run (``pyenv which python3`` in the tool's working
directory, cached), which saves the shim's ~100 ms per call and works inside every sandbox.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

__all__ = ["SYSTEM_PATH", "resolve_program", "which"]

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHIM_TIMEOUT = 10.0  # seconds a version manager gets to say which program its shim runs


def which(name: str) -> str | None:
    """``name`` on the server's PATH, then the system directories (cached while PATH is unchanged)."""
    found = _which_on(name, os.environ.get("PATH", ""))
    if found is not None and not Path(found).exists():  # uninstalled since: look again
        _which_on.cache_clear()
        found = _which_on(name, os.environ.get("PATH", ""))
    return found


@functools.lru_cache(maxsize=64)
def _which_on(name: str, path: str) -> str | None:
    return shutil.which(name, path=f"{path}:{SYSTEM_PATH}" if path else SYSTEM_PATH)


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
                              cwd=cwd, env=dict(env_items), timeout=SHIM_TIMEOUT, check=False)  # fmt: skip
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
