"""``subscriptions/listen`` with task status notifications (SEP-2575 + SEP-2663, 2026-07-28).

Why the engine serves listen itself: the SDK's ``ListenHandler`` knows only the change events of
its ``SubscriptionBus`` (list changes, resource updates), while the Tasks extension adds a key to
the listen filter, ``taskIds``, and a notification, ``notifications/tasks``, that carries the
task's whole ``DetailedTask`` (what ``tasks/get`` would answer at that moment). A listen request
without ``taskIds`` goes to the SDK's handler unchanged; one with ``taskIds``:

* needs the extension declared on the request (else ``-32021`` with ``requiredCapabilities``);
* is acknowledged with the task ids the server will report on: those it knows (running, or
  finished and still kept); unknown ids are left out of the ack;
* gets the current state of each honored task right after the ack (a task may have moved on
  between its ``CreateTaskResult`` and the listen), then one notification per change of status
  (``working`` -> ``input_required`` -> ``working`` -> ``completed`` / ``failed`` / ``cancelled``)
  or of the questions it waits on, plus the bus events its filter asked for, on the same stream.

Every frame carries the listen request's id under ``_meta["io.modelcontextprotocol/subscriptionId"]``,
as the SDK's handler does. A stream whose client stops reading is ended at
:data:`MAX_BUFFERED` events (the client re-listens and polls ``tasks/get``).
"""

from __future__ import annotations

import logging
from typing import Any, cast

import anyio
import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import SUBSCRIPTION_ID_META_KEY, ListenHandler, ServerEvent, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import event_matches, event_to_notification

from skillz_engine.mcp.tasks import Task, TaskStore, declares_tasks, missing_extension

log = logging.getLogger("skillz_engine.mcp.server")

Ctx = ServerRequestContext[Any, Any]
METHOD = "notifications/tasks"
MAX_BUFFERED = 1024  # events one stream may hold unread before it is ended
MAX_TASK_IDS = 256  # task ids one listen request may name


class TaskStatusNotification(types.Notification[dict[str, Any], str]):
    """``notifications/tasks``: params are a ``DetailedTask`` (the SDK has no model for it)."""


def _honored_filter(requested: types.SubscriptionFilter, task_ids: list[str]) -> types.SubscriptionFilter:
    """The ack's filter: the requested kinds the SDK's events cover, and the task ids honored."""
    return types.SubscriptionFilter.model_validate(
        {
            "toolsListChanged": True if requested.tools_list_changed else None,
            "promptsListChanged": True if requested.prompts_list_changed else None,
            "resourcesListChanged": True if requested.resources_list_changed else None,
            "resourceSubscriptions": list(requested.resource_subscriptions or ()) or None,
            "taskIds": task_ids,
        }
    )


class TaskListenHandler:
    """Serves ``subscriptions/listen``; delegates to the SDK's handler when no ``taskIds`` are asked."""

    def __init__(self, bus: SubscriptionBus, store: TaskStore) -> None:
        self.bus = bus
        self.store = store
        self.plain = ListenHandler(bus)

    def _known(self, requested: Any) -> list[str]:
        if not isinstance(requested, list) or not all(isinstance(t, str) for t in requested):
            raise MCPError(code=types.INVALID_PARAMS, message="notifications.taskIds must list task ids")
        if len(requested) > MAX_TASK_IDS:
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"at most {MAX_TASK_IDS} taskIds per listen request"
            )
        known = []
        for task_id in dict.fromkeys(requested):
            try:
                self.store.get(task_id)
            except MCPError:  # unknown or expired: not honored, so not in the ack
                continue
            known.append(task_id)
        return known

    def _current(self, task_id: str) -> dict[str, Any] | None:
        try:
            found = self.store.get(task_id)
        except MCPError:
            return None
        return found.detailed() if isinstance(found, Task) else found

    async def __call__(
        self, ctx: Ctx, params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        requested = (params.notifications.model_extra or {}).get("taskIds")
        if requested is None:
            return await self.plain(ctx, params)
        if not declares_tasks(ctx):
            raise missing_extension("task status notifications (notifications.taskIds)")
        subscription_id = ctx.request_id
        if subscription_id is None:
            raise MCPError(code=types.INVALID_REQUEST, message="subscriptions/listen requires a request id")
        task_ids = self._known(requested)
        honored = _honored_filter(params.notifications, task_ids)
        uris = frozenset(honored.resource_subscriptions or ())
        wanted = frozenset(task_ids)
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: subscription_id}
        send, recv = anyio.create_memory_object_stream[ServerEvent | dict[str, Any]](MAX_BUFFERED)

        def push(item: ServerEvent | dict[str, Any]) -> None:
            try:
                send.send_nowait(item)
            except anyio.WouldBlock:
                log.warning("listen stream %r backlog full; ending the stream", subscription_id)
                send.close()
            except anyio.ClosedResourceError:
                pass

        def on_event(event: ServerEvent) -> None:
            if event_matches(honored, uris, event):
                push(event)

        def on_task(task: Task) -> None:
            if task.id in wanted:
                push(task.detailed())

        # subscribed before the ack, so nothing that happens while it is written is lost
        unsubscribe_bus = self.bus.subscribe(on_event)
        unfollow = self.store.follow(on_task)
        try:
            ack = types.SubscriptionsAcknowledgedNotificationParams(notifications=honored, _meta=meta)
            await ctx.session.send_notification(
                types.SubscriptionsAcknowledgedNotification(params=ack), related_request_id=subscription_id
            )
            for task_id in task_ids:
                current = self._current(task_id)
                if current is not None:
                    await self._send_task(ctx, current, meta)
            async for item in recv:
                if isinstance(item, dict):
                    await self._send_task(ctx, item, meta)
                else:
                    await ctx.session.send_notification(
                        event_to_notification(item, meta), related_request_id=subscription_id
                    )
        finally:
            unsubscribe_bus()
            unfollow()
            send.close()
            recv.close()
        return types.SubscriptionsListenResult(_meta=meta)

    @staticmethod
    async def _send_task(ctx: Ctx, detailed: dict[str, Any], meta: dict[str, Any]) -> None:
        note = TaskStatusNotification(method=METHOD, params={**detailed, "_meta": meta})
        # the SDK's notification union has no member for an extension's notification; the session
        # sends any notification model by its dump (method + params)
        await ctx.session.send_notification(cast("types.ServerNotification", note), ctx.request_id)
