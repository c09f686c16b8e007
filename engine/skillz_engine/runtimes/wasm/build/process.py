"""Running a compiler: a clean environment, a timeout, bubblewrap when it works, a file lock.

Compilers get only the environment the build passes (no variable of the server leaks), stdin from
``/dev/null``, their own session (a timeout kills the whole group), and, when bubblewrap works
here, a read-only system with only the build's directories writable and the network off unless
the build must fetch crates.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from skillz_engine.isolation.argv import sandbox_argv
from skillz_engine.isolation.detect import auto_choice
from skillz_engine.isolation.policy import Mounts
from skillz_engine.runtimes.wasm.build.source import BuildError

__all__ = ["locked", "run", "run_text", "sandboxed"]


def run_text(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str | None:
    """A probe's stdout (``rustc --version``, ...), or ``None`` when it cannot run or fails."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, env=env, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def sandboxed(argv: list[str], writable: Sequence[Path], *, network: bool) -> list[str]:
    """The build under bubblewrap (read-only system, writable build dirs, no network unless the
    crates come from the network) when bwrap works here, built by the one sandbox module; the bare
    argv otherwise. Only bwrap: firejail hides ``/var/tmp`` and paths under ``/tmp`` that
    toolchains use, and the build gains nothing from its extra filters."""
    mode, binary, _ = auto_choice()
    if mode != "bwrap" or binary is None:
        return argv
    mounts = Mounts(ro=(), rw=tuple(dict.fromkeys(writable)), cwd=writable[0])
    return [*sandbox_argv(mode, binary, mounts, network=network), *argv]


def run(argv: list[str], cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[int, str]:
    """Run a compiler: its exit status and its output (stderr, then stdout)."""
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stderr or b"") if isinstance(exc.stderr, bytes) else b""
        raise BuildError(
            f"the build timed out after {timeout:g}s", log=out.decode("utf-8", "replace")
        ) from exc
    except OSError as exc:
        raise BuildError(f"cannot run {argv[0]}: {exc}") from exc
    log = proc.stderr.decode("utf-8", "replace") + proc.stdout.decode("utf-8", "replace")
    return proc.returncode, log


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) across processes."""
    import fcntl

    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
