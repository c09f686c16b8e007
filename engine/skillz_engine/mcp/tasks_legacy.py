"""Tasks for 2025-11-25 clients (the revision's own ``tasks`` utility), next to the extension's.

Why: the 2025-11-25 revision had tasks in the core protocol (the server declares
``capabilities.tasks``; a client asks for one per request with ``params.task``; ``tasks/get``,
``tasks/result``, ``tasks/list``, ``tasks/cancel``; ``notifications/tasks/status``). SEP-2663 moved
them into the extension for 2026-07-28 and changed their shapes. The engine runs both on the same
:class:`~skillz_engine.mcp.tasks.TaskStore` and the same parked calls, so a task is a task
whichever era asked for it; only the wire differs, and each method answers in its caller's era:

* ``tools/call`` with ``params.task`` (2025-11-25 only) answers ``CreateTaskResult``
  (``{"task": Task}``) at once and the tool runs on. The SDK checks a handshake-era ``tools/call``
  result against ``CallToolResult``, so the call is taken before that check, in a server
  middleware (:class:`LegacyTaskCalls`). A tool whose manifest says ``task: forbidden`` runs as an
  ordinary call.
* The task belongs to the session that made it: another session's ``tasks/*`` finds no such task,
  and ``tasks/list`` lists only the caller's.
* ``tasks/result`` waits for the end and answers the tool's ``CallToolResult`` (``_meta`` names the
  task). While it waits, the questions the tool asks (elicitation, sampling, roots) are sent to the
  client on that request's stream, as the revision says, and the answers go back to the tool.
* ``tasks/cancel`` answers the cancelled task; a task that already ended is ``-32602``.
* ``notifications/tasks/status`` (the ``Task``) goes to the owning session's standalone stream
  (the stdio pipe, the HTTP GET stream) at every change of status.
* On 2026-07-28, ``tasks/result`` and ``tasks/list`` do not exist (``-32601``, SEP-2663), and
  ``tasks/update`` does not exist on 2025-11-25.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import anyio
import mcp.types as types
from mcp.server import Server
from mcp.server.context import CallNext, HandlerResult
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from skillz_engine.mcp import tasks
from skillz_engine.mcp.fanout import SEND_TIMEOUT, session_label
from skillz_engine.mcp.handlers import Handlers, error_of
from skillz_engine.mcp.tasks import TERMINAL, Ctx, Task, TaskParams, TaskStore, TaskUpdateParams
from skillz_engine.tree.model import ToolResult

VERSION = "2025-11-25"  # the one handshake revision with tasks
RELATED_TASK = "io.modelcontextprotocol/related-task"
STATUS_METHOD = "notifications/tasks/status"
WAIT_STEP = 0.05  # seconds between two looks at a task tasks/result waits on

_ASK: dict[str, tuple[type[Any], type[Any]]] = {
    "elicitation/create": (types.ElicitRequest, types.ElicitResult),
    "sampling/createMessage": (types.CreateMessageRequest, types.CreateMessageResult),
    "roots/list": (types.ListRootsRequest, types.ListRootsResult),
}


def capability() -> types.ServerTasksCapability:
    """What a 2025-11-25 server declares: task-augmented ``tools/call``, ``tasks/list``, ``tasks/cancel``."""
    return types.ServerTasksCapability.model_validate(
        {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
    )


def legacy(detailed: Mapping[str, Any]) -> dict[str, Any]:
    """The 2025-11-25 ``Task`` of an extension ``DetailedTask`` (``ttl``, ``pollInterval``, no payload)."""
    out = {k: detailed[k] for k in ("taskId", "status", "createdAt", "lastUpdatedAt") if k in detailed}
    out["ttl"] = detailed.get("ttlMs", tasks.TTL_MS)
    out["pollInterval"] = detailed.get("pollIntervalMs", tasks.POLL_MS)
    error = detailed.get("error")
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        out["statusMessage"] = error["message"]
    elif detailed.get("status") == "input_required":
        out["statusMessage"] = "waiting for input: call tasks/result to receive the requests"
    return out


class TaskStatusNotification(types.Notification[dict[str, Any], str]):
    """``notifications/tasks/status`` (2025-11-25): params are the ``Task``."""


class LegacyTaskCalls:
    """Server middleware: a 2025-11-25 ``tools/call`` with ``params.task`` becomes a task."""

    def __init__(self, handlers: Handlers) -> None:
        self.h = handlers

    async def __call__(self, ctx: Ctx, call_next: CallNext) -> HandlerResult:
        raw = ctx.params
        if (
            ctx.method != "tools/call"
            or ctx.protocol_version != VERSION
            or not isinstance(raw, Mapping)
            or not isinstance(raw.get("task"), Mapping)
        ):
            return await call_next(ctx)
        params = types.CallToolRequestParams.model_validate(raw, by_name=False)
        h, start = self.h, time.perf_counter()
        with h.live.reading() as snap:
            tool = snap.tools.get(params.name)
            if tool is None or tool.task == "forbidden":  # the ordinary path answers both
                return await call_next(ctx)

            def nested(name: str, t0: float, r: ToolResult) -> None:
                h._audit(ctx, snap, "tools/call (nested)", name, t0, error_of(r))

            invoke = h._parked_invoker(params, nested, h.activations(ctx))
            call = h.parked.start(ctx, tool.name, invoke)
            task = h.tasks.create(call, owner=session_label(ctx), session=ctx.session)
            h._audit(ctx, snap, "tools/call (task)", tool.name, start, None)
        return {"task": legacy(task.detailed())}


class LegacyTasks:
    """``tasks/get``, ``tasks/result``, ``tasks/list`` and ``tasks/cancel`` of 2025-11-25."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store

    def _find(self, ctx: Ctx, task_id: str) -> Task | dict[str, Any]:
        return self.store.get(task_id, owner=session_label(ctx))

    async def get(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        found = self._find(ctx, params.task_id)
        return legacy(found.detailed() if isinstance(found, Task) else found)

    async def list(self, ctx: Ctx, params: types.PaginatedRequestParams) -> dict[str, Any]:
        owner = session_label(ctx)
        return {"tasks": [legacy(t.detailed()) for t in list(self.store.tasks.values()) if t.owner == owner]}

    async def cancel(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        found = self._find(ctx, params.task_id)
        if not isinstance(found, Task) or found.status() in TERMINAL:
            status = found.status() if isinstance(found, Task) else found.get("status")
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"cannot cancel task {params.task_id!r}: it is already {status}",
            )
        self.store.cancel(found)
        with anyio.move_on_after(2):
            await found.call.done.wait()
        return legacy(found.detailed())

    async def result(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        """Wait for the task's end, relaying its questions to the client meanwhile."""
        found = self._find(ctx, params.task_id)
        while isinstance(found, Task) and found.status() not in TERMINAL:
            if found.call.questions:
                await self._relay(ctx, found)
            else:
                await anyio.sleep(WAIT_STEP)
        detailed = found.detailed() if isinstance(found, Task) else found
        meta = {RELATED_TASK: {"taskId": params.task_id}}
        if detailed.get("status") == "completed" and isinstance(detailed.get("result"), Mapping):
            return {**detailed["result"], "_meta": meta}
        error = detailed.get("error")
        if isinstance(error, Mapping):
            raise MCPError(
                code=int(error.get("code", types.INTERNAL_ERROR)),
                message=str(error.get("message", "the task failed")),
                data=error.get("data"),
            )
        raise MCPError(code=types.INVALID_PARAMS, message=f"task {params.task_id!r} was cancelled")

    async def _relay(self, ctx: Ctx, task: Task) -> None:
        """Ask the client the task's pending questions on this request's stream; hand back the answers."""
        for key, question in list(task.call.questions.items()):
            request_type, result_type = _ASK[question.method]
            body = {**question.params, "_meta": {RELATED_TASK: {"taskId": task.id}}}
            request = request_type.model_validate({"method": question.method, "params": body})
            try:
                answer = await ctx.session.send_request(
                    request, result_type, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
                )
            except Exception as exc:  # the client refused or cannot be asked: the task ends here
                self.store.cancel(task)
                raise MCPError(
                    code=types.INTERNAL_ERROR, message=f"task {task.id!r}: {question.method} failed: {exc}"
                ) from exc
            task.call.answer({key: answer})


class Followers:
    """``notifications/tasks/status`` to the session that owns a 2025-11-25 task."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store
        self._sends: set[asyncio.Task[None]] = set()

    def __call__(self, task: Task) -> None:
        if task.owner is None or task.session is None:
            return
        note = TaskStatusNotification(method=STATUS_METHOD, params=legacy(task.detailed()))
        session = task.session

        async def send() -> None:
            try:
                with anyio.fail_after(SEND_TIMEOUT):
                    # not in the SDK's notification union (types only); sent by its dump
                    await session.send_notification(cast("types.ServerNotification", note))
            except Exception as exc:  # the session is gone: its client polls, or never asks again
                tasks.log.debug("task status notification dropped: %r", exc)

        sending = asyncio.get_running_loop().create_task(send())
        self._sends.add(sending)
        sending.add_done_callback(self._sends.discard)


def _by_era(
    modern: Callable[[Ctx, Any], Awaitable[dict[str, Any]]] | None,
    old: Callable[[Ctx, Any], Awaitable[dict[str, Any]]] | None,
) -> Callable[[Ctx, Any], Awaitable[dict[str, Any]]]:
    """One handler per method: the extension's on 2026-07-28, the revision's before; ``-32601``
    for a method the caller's era does not have."""

    async def handle(ctx: Ctx, params: Any) -> dict[str, Any]:
        chosen = modern if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS else old
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS and ctx.protocol_version != VERSION:
            chosen = None  # tasks came with 2025-11-25
        if chosen is None:
            raise MCPError(code=types.METHOD_NOT_FOUND, message="Method not found", data=ctx.method)
        return await chosen(ctx, params)

    return handle


def install(server: Server[Any], handlers: Handlers) -> Callable[[], None]:
    """Register the task methods of both eras on ``server``; returns what stops the followers."""
    store = handlers.tasks
    modern, old = tasks.TaskHandlers(store), LegacyTasks(store)
    server.add_request_handler("tasks/get", TaskParams, _by_era(modern.get, old.get))
    server.add_request_handler("tasks/cancel", TaskParams, _by_era(modern.cancel, old.cancel))
    server.add_request_handler("tasks/update", TaskUpdateParams, _by_era(modern.update, None))
    server.add_request_handler("tasks/result", TaskParams, _by_era(None, old.result))
    server.add_request_handler("tasks/list", types.PaginatedRequestParams, _by_era(None, old.list))
    server.middleware.append(LegacyTaskCalls(handlers))
    return store.follow(Followers(store))
