"""A call's stdin, stdout and stderr: memory files the module opens by path.

WASI stdio in wasmtime-py is a file path. With memory files (``memfd``, a temporary file where
there is none) no reader has to run while the module writes, the module cannot block on a full
pipe, and the deadline callback can watch stdout's size to stop a module that writes too much.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["CallFiles"]

_MEMFD = hasattr(os, "memfd_create")


class CallFiles:
    """The three stdio files of one call; ``close`` releases them (only once the module stopped)."""

    def __init__(self, payload: bytes) -> None:
        self.fds: list[int] = []
        self.paths: list[Path] = []
        self.stdin = self._file("stdin", payload)
        self.stdout = self._file("stdout")
        self.stderr = self._file("stderr")

    def _file(self, name: str, data: bytes = b"") -> int:
        if _MEMFD:
            fd = os.memfd_create(f"skillz-{name}")
        else:
            fd, path = tempfile.mkstemp(prefix=f"skillz-wasm-{name}-")
            self.paths.append(Path(path))
        self.fds.append(fd)
        if data:
            os.write(fd, data)
        return fd

    @staticmethod
    def path(fd: int) -> str:
        return f"/proc/self/fd/{fd}"

    @staticmethod
    def read(fd: int, limit: int, *, tail: bool = False) -> tuple[bytes, int]:
        """Up to ``limit`` bytes (the head, or the tail) and the file's whole size."""
        size = os.fstat(fd).st_size
        start = max(0, size - limit) if tail else 0
        return os.pread(fd, min(limit, size), start), size

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        for p in self.paths:
            p.unlink(missing_ok=True)
