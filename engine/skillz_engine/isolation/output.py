"""The output of a run under its caps: stdout cut at ``limits.output``, stderr kept as its tail.

Both pipes are drained to their end whatever the caps (so a chatty child never blocks on a full
pipe); what is over the cap is counted and discarded. In line mode stdout is split into lines as it
arrives and sent on to the caller's handler.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

__all__ = ["STDERR_KEEP", "StderrTail", "StdoutCap", "drain"]

STDERR_KEEP = 64 * 1024  # bytes of stderr kept (the tail)


class StdoutCap:
    """Stdout under the cap: kept bytes (or lines sent on), and how much was written."""

    def __init__(self, cap: int, lines: MemoryObjectSendStream[bytes] | None) -> None:
        self.cap = cap
        self.lines = lines
        self.kept = bytearray()  # whole mode: everything kept; line mode: the partial line
        self.total = 0
        self.truncated = False
        self.closed = False

    def feed(self, chunk: bytes) -> None:
        room = self.cap - min(self.total, self.cap)
        self.total += len(chunk)
        if len(chunk) > room:
            self.truncated = True
            chunk = chunk[:room]
        if not chunk or self.closed:
            return
        self.kept += chunk
        if self.lines is None or b"\n" not in chunk:
            return
        *complete, rest = bytes(self.kept).split(b"\n")
        self.kept = bytearray(rest)
        for line in complete:
            self.lines.send_nowait(line.rstrip(b"\r"))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.lines is not None:
            if self.kept:
                rest = bytes(self.kept).rstrip(b"\r")
                self.kept.clear()
                try:
                    self.lines.send_nowait(rest)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass
            await self.lines.aclose()


class StderrTail:
    """Stderr under the cap: its last :data:`STDERR_KEEP` bytes, and how much was written."""

    def __init__(self) -> None:
        self.kept = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.kept += chunk
        if len(self.kept) > 2 * STDERR_KEEP:
            self.kept = self.kept[-STDERR_KEEP:]


async def drain(stream: anyio.abc.ByteReceiveStream | None, feed: Callable[[bytes], None]) -> None:
    """Read ``stream`` to its end into ``feed``; a pipe broken or closed under us is its end."""
    assert stream is not None
    try:
        async for chunk in stream:
            feed(chunk)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass
