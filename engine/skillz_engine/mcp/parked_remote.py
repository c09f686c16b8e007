"""Parked 2026-07-28 calls of a cluster: a continuation served by whichever replica holds the call.

:mod:`~skillz_engine.mcp.parked` keeps a parked call (and a script's process) on the replica that
started it. Behind a round-robin balancer the client's retry may reach another replica; this module
is the :class:`~skillz_engine.mcp.parked.Remote` of a replica: it records each ``request_state`` it
hands out and relays a continuation it does not hold to its holder through
:class:`~skillz_engine.state.parked_relay.ParkedRelay` (Redis), turning the holder's answer back into
the wire result. The holder runs the round exactly as a local continuation (same checks of tool and
session, same fresh ``request_state``). Logs and progress of a relayed round stay on the holder:
the request they belong to is on another replica (they are dropped, as after any answered request).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from skillz_engine.engine import Engine
from skillz_engine.mcp.fanout import session_label
from skillz_engine.mcp.parked import Outcome, ParkedCalls, next_round
from skillz_engine.state.cluster import cluster_of
from skillz_engine.state.parked_relay import ParkedRelay, RelayError
from skillz_engine.tree.model import ToolResult

log = logging.getLogger("skillz_engine.mcp.server")

Ctx = ServerRequestContext[Any, Any]


class RelayedParking:
    """The cluster side of one replica's parked calls."""

    def __init__(self, calls: ParkedCalls, relay: ParkedRelay) -> None:
        self.calls = calls
        self.relay = relay

    async def claim(self, state: str) -> None:
        await self.relay.claim(state)

    async def resume_elsewhere(
        self, ctx: Ctx, params: types.CallToolRequestParams | types.GetPromptRequestParams
    ) -> Outcome | None:
        responses = {
            k: v.model_dump(by_alias=True, exclude_none=True, mode="json")
            for k, v in (params.input_responses or {}).items()
        }
        request = {
            "state": params.request_state,
            "name": params.name,
            "session": session_label(ctx, fallback=False),
            "responses": responses,
        }
        try:
            answer = await self.relay.relay(str(params.request_state), request)
        except RelayError as exc:
            data = {"replica": exc.replica} if exc.replica else None
            raise MCPError(code=types.INVALID_PARAMS, message=str(exc), data=data) from None
        return None if answer is None else _outcome(answer)

    async def serve(self, request: dict[str, Any]) -> dict[str, Any]:
        """The holder's side: run one relayed round here and answer it as JSON."""
        try:
            call = self.calls.resume(
                None,
                str(request["name"]),
                str(request["state"]),
                dict(request["responses"]),
                request["session"],
            )
            outcome = await next_round(self.calls, call, call.tool)
        except MCPError as exc:
            return {"error": exc.error.model_dump(by_alias=True, exclude_none=True, mode="json")}
        if isinstance(outcome, types.InputRequiredResult):
            return {"input": outcome.model_dump(by_alias=True, exclude_none=True, mode="json")}
        assert isinstance(outcome, ToolResult)  # next_round returns a call only when asked to
        return {"result": outcome.to_json(), "rpcError": dict(outcome.rpc_error or {}) or None}


def _outcome(answer: dict[str, Any]) -> Outcome:
    """The relaying replica's view of the holder's JSON answer."""
    if "error" in answer:
        error = types.ErrorData.model_validate(answer["error"])
        raise MCPError(code=error.code, message=error.message, data=error.data)
    if "input" in answer:
        return types.InputRequiredResult.model_validate(answer["input"])
    result = answer["result"]
    out = ToolResult(
        tuple(result.get("content") or ()),
        result.get("structuredContent"),
        bool(result.get("isError")),
        result.get("_meta"),
    )
    return replace(out, rpc_error=answer["rpcError"]) if answer.get("rpcError") else out


@contextlib.asynccontextmanager
async def cluster_parking(engine: Engine, calls: ParkedCalls) -> AsyncIterator[None]:
    """While serving over HTTP as one replica of a cluster, relay parked calls between replicas;
    a single process (no ``cluster.redis``) keeps them local and never imports ``redis``."""
    cluster = cluster_of(engine.snapshot.config)
    if cluster is None:
        yield
        return
    relay = ParkedRelay(cluster, calls.timeout)
    remote = RelayedParking(calls, relay)
    await relay.start(remote.serve)
    calls.remote = remote
    log.info("replica %s: parked calls relayed through %s", cluster.replica, cluster.key("parked"))
    try:
        yield
    finally:
        calls.remote = None
        await relay.close()
