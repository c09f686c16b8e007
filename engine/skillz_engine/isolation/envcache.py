"""The cache of dependency environments: one directory per :class:`EnvSpec`, installed at most once.

Each environment lives in ``<state_dir>/envs/<kind>-<hash>/`` (see :attr:`EnvSpec.key`), so tools
asking for the same set share one. :func:`ensure` builds it in a temporary directory next to that
one, writes a marker file last, and renames the directory into place: an environment either does
not exist or is complete, and a ready one costs a ``stat`` per call. A per-environment ``fcntl``
lock makes concurrent first calls (or a server and ``build``) install once; an install that fails
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from skillz_engine.isolation.installers import EnvSpec, InstallError, Report, Settings, install

__all__ = ["MARKER", "ensure"]

MARKER = ".skillz-env.json"  # written last: its presence means "installed"
LOCK_POLL = 0.1  # seconds between attempts to take an environment's lock


@contextlib.asynccontextmanager
async def _locked(path: Path, wait: float, report: Report) -> AsyncIterator[None]:
    """Hold an exclusive ``flock`` on ``path``, polling (so the wait is cancellable and bounded)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InstallError(f"gave up waiting for another install of {path.stem}") from None
                if not told:
                    told = True
                    await report("waiting for another install of the same environment")
                await anyio.sleep(LOCK_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


async def ensure(
    env: EnvSpec, state_dir: Path, settings: Settings, report: Report, *, force: bool = False
) -> tuple[Path, bool]:
    """The installed environment's directory, and whether this call installed it."""
    final = env.path(state_dir)
    if not force and (final / MARKER).is_file():
        return final, False
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    async with _locked(root / f"{env.dirname}.lock", settings.timeout + 60, report):
        if not force and (final / MARKER).is_file():  # installed while we waited
            return final, False
        for stale in root.glob(f".{env.dirname}.*"):  # left by a crashed install (we hold the lock)
            await anyio.to_thread.run_sync(_remove, stale)
        tmp = root / f".{env.dirname}.{secrets.token_hex(4)}.tmp"
        started = time.monotonic()
        try:
            installer = await install(env, tmp, final, settings, report)
            marker = {
                "kind": env.kind,
                "base": env.base,
                "version": env.version,
                "requirements": list(env.requirements),
                "installer": installer,
                "installed": time.time(),
                "seconds": round(time.monotonic() - started, 3),
            }
            part = tmp / (MARKER + ".part")
            part.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            part.replace(tmp / MARKER)
            if final.exists() or final.is_symlink():
                trash = root / f".{env.dirname}.{secrets.token_hex(4)}.old"
                final.rename(trash)
                tmp.rename(final)
                await anyio.to_thread.run_sync(_remove, trash)
            else:
                tmp.rename(final)
        finally:
            with anyio.CancelScope(shield=True):
                if tmp.exists():
                    await anyio.to_thread.run_sync(_remove, tmp)
    await report(f"installed {env.dirname} in {time.monotonic() - started:.1f}s")
    return final, True
