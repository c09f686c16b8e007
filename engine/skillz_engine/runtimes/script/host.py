"""The engine's side of a script's requests: each JSON-RPC request a script sends on stdout is
answered on its stdin (see ``docs/script-protocol.md``, "Requests from the script").

The host answers from the call's snapshot and context: ``tools/call``, ``resources/list`` and
``resources/read``, ``memory/*``, and the client's ``elicitation/create``,
``sampling/createMessage`` and ``roots/list``. Resources are listed with
:meth:`~skillz_engine.tree.model.ResourceDef.definition`, the very objects the server's
``resources/list`` sends, so a script sees what a client sees.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from skillz_engine.build.contract import QUESTION_KEY, CallContext
from skillz_engine.errors import RuntimeFailure, ToolNotFound
from skillz_engine.runtimes.script.context import configured_roots
from skillz_engine.state.memories import memory_for
from skillz_engine.state.memory import MemoryRefused, check_ttl
from skillz_engine.state.redislink import ClusterUnavailable
from skillz_engine.tree.model import ToolResult

__all__ = ["CLIENT_METHODS", "UNSUPPORTED", "Channel", "Host"]

UNSUPPORTED = -32000  # JSON-RPC error of a request the connected client cannot serve
CLIENT_METHODS = frozenset({"elicitation/create", "sampling/createMessage", "roots/list"})
DEFAULT_MAX_TOKENS = 1000  # sampling/createMessage without maxTokens


class Channel(Protocol):
    """The script's side of one call as the host and the session reach it: a one-shot run's
    :class:`~skillz_engine.isolation.process.Child`, or one call of a persistent worker
    (:mod:`skillz_engine.runtimes.script.worker`)."""

    async def send(self, data: bytes) -> bool: ...

    def waiting(self) -> AbstractContextManager[None]: ...

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None: ...

    def finish(self, grace: float) -> None: ...

    async def close_stdin(self) -> None: ...


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _nested_reply(name: str, result: ToolResult) -> dict[str, Any]:
    """A ``tools/call`` answer: the MCP tool result, plus Skillz's ``output`` (the structured value,
    else the text as JSON when it parses, else the text) or ``error`` (the failure's text)."""
    reply = result.to_json()
    text = result.text_content()
    if result.is_error:
        reply["error"] = f"Tool '{name}' failed: {text}"
    elif result.structured is not None:
        reply["output"] = result.structured
    else:
        try:
            reply["output"] = json.loads(text)
        except ValueError:
            reply["output"] = text
    return reply


class Host:
    """Answers the requests of one run of tool ``name`` (its memory namespace) within ``ctx``;
    ``state_dir`` holds the memory when the snapshot names no state directory."""

    def __init__(self, name: str, ctx: CallContext, state_dir: Path) -> None:
        self.name = name
        self.ctx = ctx
        self.state_dir = state_dir

    async def reply(
        self, rid: Any, method: str, params: Mapping[str, Any], child: Channel, key: str | None = None
    ) -> None:
        """Answer request ``rid`` on the script's stdin; a failure is a JSON-RPC error, never fatal.
        ``key`` names a question to the client (the message's ``key``; see :data:`QUESTION_KEY`)."""
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
        try:
            if method in CLIENT_METHODS:  # waiting for a person or a model is not the script's time
                QUESTION_KEY.set(key)  # this task's own context: concurrent requests keep theirs
                with child.waiting():
                    reply["result"] = await self.request(method, params)
            else:
                reply["result"] = await self.request(method, params)
        except _RpcError as exc:
            reply["error"] = {"code": exc.code, "message": exc.message}
        except Exception as exc:  # an engine fault answering: tell the script, keep going
            reply["error"] = {"code": -32603, "message": f"internal error: {type(exc).__name__}: {exc}"}
        await child.send(json.dumps(reply, ensure_ascii=False, default=str).encode() + b"\n")

    async def request(self, method: str, params: Mapping[str, Any]) -> Any:
        """The ``result`` of request ``method``; raises :class:`_RpcError` for an error reply."""
        if method == "tools/call":
            return await self._call_tool(params)
        if method == "resources/list":
            return {"resources": [r.definition() for r in self.ctx.snapshot.resources.values()]}
        if method == "resources/read":
            return await self._read_resource(params)
        if method.startswith("memory/"):
            return self._memory(method, params)
        if method == "elicitation/create":
            if not isinstance(params.get("message"), str):
                raise _RpcError(-32602, "elicitation/create needs a string `message`")
            return await self._ask("elicitation", self.ctx.elicit, params)
        if method == "sampling/createMessage":
            if not isinstance(params.get("messages"), list):
                raise _RpcError(-32602, "sampling/createMessage needs a `messages` list")
            params = {"maxTokens": DEFAULT_MAX_TOKENS, **params}
            return await self._ask("sampling", self.ctx.sample, params)
        if method == "roots/list":
            return {"roots": await self._roots()}
        raise _RpcError(-32601, f"Method not found: {method}")

    async def _call_tool(self, params: Mapping[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        arguments = params.get("arguments") or {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError as exc:
                raise _RpcError(-32602, f"arguments is not JSON: {exc}") from exc
        if not isinstance(name, str):
            raise _RpcError(-32602, "tools/call needs a string `name`")
        try:
            result = await self.ctx.call_tool(name, arguments)
        except ToolNotFound as exc:
            raise _RpcError(-32602, str(exc)) from exc
        return _nested_reply(name, result)

    async def _read_resource(self, params: Mapping[str, Any]) -> dict[str, Any]:
        uri = params.get("uri")
        if not isinstance(uri, str):
            raise _RpcError(-32602, "resources/read needs a string `uri`")
        snapshot = self.ctx.snapshot
        resource = snapshot.resources.get(uri)
        if resource is not None:
            return {"contents": await resource.read(snapshot)}
        found = snapshot.find_template(uri)
        if found is not None:
            template, values = found
            return {"contents": await template.read(uri, values, snapshot)}
        raise _RpcError(-32002, f"resource not found: {uri}")

    async def _ask(
        self, capability: str, ask: Callable[[Mapping[str, Any]], Awaitable[Any]], params: Mapping[str, Any]
    ) -> Any:
        if capability not in self.ctx.client_capabilities and not self.ctx.questions_cost_round_trip:
            # a 2026-07-28 call asks anyway: the server ends it with -32021 (SEP-2575)
            raise _RpcError(UNSUPPORTED, f"the connected client does not support {capability}")
        try:
            return await ask(params)
        except RuntimeFailure as exc:
            raise _RpcError(UNSUPPORTED, str(exc)) from exc

    async def _roots(self) -> list[dict[str, Any]]:
        if "roots" in self.ctx.client_capabilities:
            try:
                return await self.ctx.list_roots()
            except RuntimeFailure:
                pass
        return [
            {"uri": Path(r).absolute().as_uri(), "name": Path(r).name} for r in configured_roots(self.ctx)
        ]

    def _memory(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        ns = self.name  # one namespace per tool; a script cannot pick another
        raw = params.get("key")
        key = raw if isinstance(raw, str) else ""  # "" is refused with "key must be a non-empty string"
        try:
            store = memory_for(self.ctx.snapshot.config, self.ctx.snapshot.state_dir or self.state_dir)
            if method == "memory/get":
                return {"value": store.get(ns, key)[1]}
            if method == "memory/set":
                if "value" not in params:
                    raise MemoryRefused("memory/set needs a `value`")
                store.set(ns, key, params["value"], check_ttl(params.get("ttl")))
                return {"success": True}
            if method == "memory/list":
                return {"keys": store.keys(ns)}
            if method == "memory/delete":
                return {"deleted": store.delete(ns, key)}
        except (MemoryRefused, ClusterUnavailable) as exc:  # the cluster's Redis down: said, not raised
            return {"error": str(exc)}  # Skillz answers refusals inside the result
        raise _RpcError(-32601, f"Method not found: {method}")
