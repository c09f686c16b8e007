"""One server per state directory: an OS lock held for the server's whole life.

Two servers on one state directory would share ``server.json``, the audit log and the memory
database; the second would overwrite the first's discovery file and, on stopping, delete it while
the first still runs. A ``flock`` on ``<state>/server.lock`` makes that impossible rather than
unlikely: the kernel drops the lock when the process dies, however it dies, so a crashed server
never leaves a stale lock behind (a pid file would).

Only ``serve`` (stdio and HTTP) takes the lock. ``call``, ``list``, ``validate`` and ``build`` read
the same tree while a server runs and must not be blocked, so they never ask for it.

The lock file holds the owner's pid and transport, so the refusal can name the running server; for
an HTTP owner the url comes from ``server.json`` when that file names the same pid.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from skillz_engine.errors import ServerRunning
from skillz_engine.state.store import Store

LOCK_FILE = "server.lock"


class ServerLock:
    """The held lock of one serving process; :meth:`release` (or process exit) lets it go."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    @classmethod
    def acquire(cls, store: Store, transport: str) -> ServerLock:
        """Take the lock of ``store``'s directory or raise :class:`ServerRunning` naming the owner.

        Raises ``OSError`` when the directory cannot be created or the file cannot be opened."""
        store.ensure()
        path = store.path / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd, store)
            os.close(fd)
            raise ServerRunning(store.path, owner) from None
        except BaseException:
            os.close(fd)
            raise
        record = json.dumps({"pid": os.getpid(), "transport": transport}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd < 0:
            return
        os.ftruncate(self._fd, 0)  # no owner named; the file stays (another may have it open)
        os.close(self._fd)  # closing drops the flock
        self._fd = -1


def _owner(fd: int, store: Store) -> dict[str, Any]:
    """Who holds the lock: pid and transport from the lock file, url from a matching server.json."""
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        data = {}
    owner: dict[str, Any] = data if isinstance(data, dict) else {}
    info = store.read_server_json()
    if info is not None and owner.get("pid") in (None, info.get("pid")):
        owner.setdefault("pid", info.get("pid"))
        owner["url"] = info.get("url")
    return owner
