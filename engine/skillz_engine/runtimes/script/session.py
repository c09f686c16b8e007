"""One ``protocol: jsonrpc`` run of a script: the execute request, the script's lines as they
arrive (notifications, requests for the :class:`~.host.Host`, the final response), and the result.

The messages are specified in ``docs/script-protocol.md``; this module reads them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.isolation.process import Command, ProcessResult, run
from skillz_engine.runtimes import results
from skillz_engine.runtimes.script.context import execution_context
from skillz_engine.runtimes.script.host import Channel, Host
from skillz_engine.tree.model import Args, ToolResult

__all__ = ["FINISH_GRACE", "Session", "failure"]

FINISH_GRACE = 2.0  # seconds a script may take to exit after its final response
LOG_METHODS = frozenset({"log", "logging/message", "notifications/message"})
PROGRESS_METHODS = frozenset({"progress", "notifications/progress", "progress/update"})
STREAM_METHODS = frozenset({"stream", "stream/chunk"})
LOG_LEVELS = frozenset({"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"})
_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical", "trace": "debug"}


def failure(name: str, cmd: Command, proc: ProcessResult, text: str = "") -> ToolResult:
    """The error result of a run of tool ``name`` that timed out, crashed or exited non-zero."""
    if proc.timed_out:
        message = f"{name} timed out after {cmd.limits.timeout:g}s"
    else:
        message = f"{name} {proc.exit_description()}"
    if text.strip():
        message += f"\nstdout:\n{results.tail(text)}"
    return results.with_note(results.error_result(message, proc.stderr), proc.truncation_note())


def _protocol_message(line: str) -> dict[str, Any] | None:
    """The JSON-RPC message on ``line``, or ``None`` if the line is text."""
    if not line.lstrip().startswith("{"):
        return None
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    if not isinstance(msg, dict):
        return None
    if "jsonrpc" in msg or isinstance(msg.get("method"), str):
        return msg
    return msg if "id" in msg and ("result" in msg or "error" in msg) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class Session:
    """One jsonrpc conversation with a script: tool ``name`` run as ``cmd`` for the call ``ctx``."""

    def __init__(
        self, name: str, output_schema: Mapping[str, Any] | None, cmd: Command, ctx: CallContext, host: Host
    ) -> None:
        self.name = name
        self.output_schema = output_schema
        self.cmd = cmd
        self.ctx = ctx
        self.host = host
        self.final: dict[str, Any] | None = None
        self.text: list[str] = []
        self.chunks: list[Any] = []

    async def request(self, arguments: Args, rid: int = 1) -> bytes:
        """The line of the ``execute`` request ``rid`` for ``arguments``."""
        request = {
            "jsonrpc": "2.0",
            "id": rid,
            "method": "execute",
            "params": {"arguments": dict(arguments), "context": await execution_context(self.cmd, self.ctx)},
        }
        return json.dumps(request, ensure_ascii=False, default=str).encode() + b"\n"

    async def run(self, arguments: Args) -> ToolResult:
        line = await self.request(arguments)
        proc = await run(self.cmd, input=line, close_stdin=False, on_line=self.on_line)
        return self.outcome(proc)

    def outcome(self, proc: ProcessResult) -> ToolResult:
        """The tool result once the script has answered, or its process (``proc``) has ended."""
        note = proc.truncation_note()
        if self.final is not None:
            return results.with_note(self._final_result(self.final, proc), note)
        text = "\n".join(self.text)
        if not proc.ok:
            return failure(self.name, self.cmd, proc, text)
        if not text and self.chunks:
            joined = self._joined_chunks()
            text = joined if isinstance(joined, str) else json.dumps(joined, ensure_ascii=False)
        return results.with_note(results.from_output(text, self.output_schema), note)

    def _final_result(self, final: Mapping[str, Any], proc: ProcessResult) -> ToolResult:
        if "error" in final and final["error"] is not None:
            error = final["error"]
            if isinstance(error, Mapping):
                message = f"{self.name} failed: error {error.get('code')}: {error.get('message')}"
                if error.get("data") is not None:
                    message += f"\ndata: {json.dumps(error['data'], ensure_ascii=False, default=str)}"
            else:
                message = f"{self.name} failed: {error}"
            rpc = dict(error) if isinstance(error, Mapping) else {"code": -32603, "message": str(error)}
            return dataclasses.replace(results.error_result(message, proc.stderr), rpc_error=rpc)
        value = final.get("result")
        if value is None and self.chunks:  # a streaming script: its chunks are the result
            value = self._joined_chunks()
        return results.from_json(value, self.output_schema)

    def _joined_chunks(self) -> Any:
        if all(isinstance(c, str) for c in self.chunks):
            return "".join(self.chunks)
        return list(self.chunks)

    async def on_line(self, raw: bytes, child: Channel) -> None:
        line = raw.decode("utf-8", "replace")
        if not line.strip():
            return
        msg = _protocol_message(line)
        if msg is None:
            if self.final is None:
                self.text.append(line)
            return
        method = msg.get("method")
        if isinstance(method, str):
            params = msg.get("params")
            params = params if isinstance(params, Mapping) else {}
            if method in LOG_METHODS | PROGRESS_METHODS | STREAM_METHODS:
                await self._notification(method, params)
            elif msg.get("id") is not None:
                key = msg.get("key")
                key = key if isinstance(key, str) and key else None
                child.start_soon(self.host.reply, msg.get("id"), method, params, child, key)
            return
        if ("result" in msg or "error" in msg) and self.final is None:
            self.final = msg
            child.finish(FINISH_GRACE)
            await child.close_stdin()

    async def _notification(self, method: str, params: Mapping[str, Any]) -> None:
        logger = self.name
        if method in LOG_METHODS:
            level = str(params.get("level") or "info").lower()
            level = _LEVEL_ALIASES.get(level, level)
            data = params.get("data")
            await self.ctx.log(level if level in LOG_LEVELS else "info",
                               data if data is not None else params.get("message"), logger)  # fmt: skip
        elif method in PROGRESS_METHODS:
            progress = _number(params.get("progress", params.get("current")))
            if progress is None:
                return
            message = params.get("message")
            await self.ctx.progress(progress, _number(params.get("total")),
                                    message if isinstance(message, str) else None)  # fmt: skip
        else:
            data = params.get("data")
            self.chunks.append(data)
            chunk = {
                "type": "stream_chunk",
                "index": params.get("index", len(self.chunks) - 1),
                "is_final": bool(params.get("is_final", False)),
                "data": data,
            }
            await self.ctx.log("info", chunk, logger)
