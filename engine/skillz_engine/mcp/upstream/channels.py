"""Transports to an upstream as :class:`~skillz_engine.mcp.upstream.rpc.Channel`: JSON-RPC messages
as plain dicts.

* :class:`StdioChannel`: the upstream's process, one JSON message per line on its stdin and
  stdout (``json.dumps``/``json.loads``, nothing else on the hot path). It is started in its own
  session and stopped as the MCP lifecycle says: stdin closed, a grace period, then SIGTERM and
  SIGKILL to its whole process group (:func:`mcp.os.posix.utilities.terminate_posix_process_tree`).
* :class:`SdkChannel`: the SDK's legacy SSE client transport (old servers only), its messages
  converted at the edge. Streamable HTTP is raw POSTs: :mod:`~skillz_engine.mcp.upstream.http`.

A line that is not a JSON-RPC message is noted in ``noise`` (the reason a failed start gives) and
skipped, as the SDK's transport does.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import anyio
from anyio.abc import Process

from skillz_engine.mcp.upstream.rpc import Json

GRACE = 2.0  # seconds an upstream has to exit once its stdin is closed
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
READ_CHUNK = 1 << 16


def _message(raw: bytes, noise: list[str]) -> Json | None:
    """The JSON-RPC message on one line, or ``None`` (noted in ``noise``) when it is not one."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or value.get("jsonrpc") != "2.0":
        noise.append(raw.decode("utf-8", "replace").strip()[:200])
        return None
    return value


def encode(message: Json) -> bytes:
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class StdioChannel:
    """An upstream process spoken to over its stdin and stdout."""

    def __init__(self, process: Process, noise: list[str]) -> None:
        self.process, self.noise = process, noise

    async def send(self, message: Json) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(encode(message))

    async def messages(self) -> AsyncIterator[Json]:
        assert self.process.stdout is not None
        buffer = b""
        with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            while True:
                chunk = await self.process.stdout.receive(READ_CHUNK)
                *lines, buffer = (buffer + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        message = _message(line, self.noise)
                        if message is not None:
                            yield message


@contextlib.asynccontextmanager
async def stdio_channel(
    argv: tuple[str, ...], env: dict[str, str], cwd: Path | None, errlog: IO[str], noise: list[str]
) -> AsyncIterator[StdioChannel]:
    """The channel to a started upstream process, stopped (with its process group) on exit."""
    process = await anyio.open_process(list(argv), env=env, cwd=cwd, stderr=errlog, start_new_session=True)
    try:
        yield StdioChannel(process, noise)
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process)


async def _stop(process: Process) -> None:
    """Close stdin, give the upstream :data:`GRACE` to exit, then end its process group."""
    from mcp.os.posix.utilities import terminate_posix_process_tree

    assert process.stdin is not None and process.stdout is not None
    with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdin.aclose()
    if not await _exited(process, GRACE):
        await terminate_posix_process_tree(process, KILL_GRACE)
        await _exited(process, KILL_GRACE)
    with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdout.aclose()
    with contextlib.suppress(OSError, ProcessLookupError):
        await process.aclose()


async def _exited(process: Process, timeout: float) -> bool:
    """Whether the process exited within ``timeout`` (polled: ``wait()`` also waits for the pipes,
    which a child of the upstream may hold open)."""
    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(0.01)
    return process.returncode is not None


class SdkChannel:
    """The (read, write) streams of an SDK client transport, as a channel of dicts. After
    ``initialize``, :attr:`protocol_version` is set so each message carries it as a header
    (Streamable HTTP requires it on every request after the handshake)."""

    def __init__(self, read: Any, write: Any, noise: list[str]) -> None:
        self.read, self.write, self.noise = read, write, noise
        self.protocol_version: str | None = None

    async def send(self, message: Json) -> None:
        import mcp.types as types
        from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
        from mcp.shared.message import ClientMessageMetadata, SessionMessage

        metadata = None
        if self.protocol_version is not None:
            metadata = ClientMessageMetadata(headers={MCP_PROTOCOL_VERSION_HEADER: self.protocol_version})
        model = types.jsonrpc_message_adapter.validate_python(message, by_name=False)
        await self.write.send(SessionMessage(model, metadata))

    async def messages(self) -> AsyncIterator[Json]:
        with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            async for item in self.read:
                if isinstance(item, Exception):
                    self.noise.append(str(item) or type(item).__name__)
                    continue
                message = item.message
                yield message.model_dump(by_alias=True, mode="json", exclude_unset=True)
