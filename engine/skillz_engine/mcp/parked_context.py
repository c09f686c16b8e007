"""The call context of a 2026-07-28 call that runs parked (:mod:`~skillz_engine.mcp.parked`).

Why its own module: the registry of parked calls is about rounds and states; this is what a
running tool sees of its call: questions to the client park it (and a question the client has no
capability for ends it with ``-32021``), logs and progress go to the call's latest request, and
nested tool calls share the parked call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from skillz_engine.build.contract import EngineHandle
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.errors import RuntimeFailure
from skillz_engine.live.sessions import Activations
from skillz_engine.mcp.fanout import ServerCallContext
from skillz_engine.mcp.parked import ParkedCall
from skillz_engine.runtimes.base import call_nested
from skillz_engine.tree.model import Args, ToolResult

log = logging.getLogger("skillz_engine.mcp.server")


class ParkingCallContext:
    """The :class:`~skillz_engine.build.contract.CallContext` of a modern call: questions to the client
    park the call; logs and progress go to its latest request."""

    questions_cost_round_trip = True  # a question parks the call (runtimes ask only when needed)

    def __init__(
        self,
        call: ParkedCall,
        snapshot: Snapshot,
        tool_name: str,
        depth: int = 0,
        on_nested: Callable[[str, float, ToolResult], None] | None = None,
        engine: EngineHandle | None = None,
        progress_token: str | int | None = None,
        activations: Activations | None = None,
        caller: str | None = None,
    ) -> None:
        self._call = call
        self._caller = caller  # the tool whose code made this (nested) call; None for the client's
        self._activations = activations
        self._snapshot = snapshot
        self._tool_name = tool_name
        self._depth = depth
        self._on_nested = on_nested
        self._engine = engine
        first = ServerCallContext(call.ctx, snapshot, tool_name)
        self._progress_token = progress_token if progress_token is not None else first.progress_token
        self._session_id = first.session_id
        self._capabilities = first.client_capabilities

    def _current(self) -> ServerCallContext:
        return ServerCallContext(self._call.ctx, self._snapshot, self._tool_name, self._depth)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def tool_name(self) -> str:
        return self._tool_name

    @property
    def progress_token(self) -> str | int | None:
        return self._progress_token

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def caller(self) -> str | None:
        return self._caller

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def client_capabilities(self) -> Mapping[str, Any]:
        return self._capabilities

    @property
    def engine(self) -> EngineHandle | None:
        return self._engine

    @property
    def activations(self) -> Activations | None:
        return self._activations

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        try:
            await self._current().log(level, data, logger)
        except Exception as exc:  # the request it belonged to is already answered
            log.debug("log of parked call %s dropped: %r", self._tool_name, exc)

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        try:
            await self._current().progress(progress, total, message)
        except Exception as exc:
            log.debug("progress of parked call %s dropped: %r", self._tool_name, exc)

    def _require(self, capability: str, what: str) -> None:
        if capability not in self._capabilities:
            self._call.lacks(capability)
            raise RuntimeFailure(
                f"the client does not support {what} (it declared no {capability!r} capability)"
            )

    async def elicit(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self._require("elicitation", "elicitation")
        body = {"mode": "form", **dict(params)}
        body.setdefault("requestedSchema", {"type": "object", "properties": {}})
        return await self._call.ask("elicitation/create", body)

    async def sample(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self._require("sampling", "sampling")
        return await self._call.ask("sampling/createMessage", params)

    async def list_roots(self) -> list[dict[str, Any]]:
        self._require("roots", "roots")
        answer = await self._call.ask("roots/list", {})
        roots = answer.get("roots")
        if not isinstance(roots, list):
            raise RuntimeFailure("roots/list: the client's answer has no roots")
        return [r for r in roots if isinstance(r, dict)]

    async def call_tool(self, name: str, arguments: Args) -> ToolResult:
        def child(tool: str) -> ParkingCallContext:
            return ParkingCallContext(
                self._call, self._snapshot, tool, self._depth + 1, self._on_nested, self._engine,
                self._progress_token, self._activations, self._tool_name,
            )  # fmt: skip

        return await call_nested(self, name, arguments, child, self._on_nested)
