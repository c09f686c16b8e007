"""The Tasks extension (SEP-2663, ``io.modelcontextprotocol/tasks``) for 2026-07-28 requests.

Why it builds on :mod:`~skillz_engine.mcp.parked`: a modern ``tools/call`` already runs as a
detached :class:`~skillz_engine.mcp.parked.ParkedCall` that can wait for the client's answers; a
task is such a call the client polls (``tasks/get``) and feeds (``tasks/update``) instead of
retrying the call. So every runtime (script, wasm, command, pipeline, upstream MCP) can run as a
task without knowing it, and cancelling a task is cancelling the call: its scope is cancelled and
a script's whole process group is killed, as for a client cancellation.

When a call becomes a task (the server decides; a client hint is ignored):

* the tool's manifest says ``task: forbidden``, or the request did not declare the extension:
  never (a ``task: required`` tool then answers ``-32021`` with ``requiredCapabilities``);
* otherwise the call starts and gets :data:`SHORTCUT` seconds: a result by then is answered at
  once (``required`` tools get a task that is already complete), questions by then are an
  input-required round (SEP-2322, so a tool can gather input before it turns async), and a call
  still running becomes a task: ``CreateTaskResult`` (``resultType: "task"``, flat).

``tasks/get`` answers the task's status (``working``, ``input_required`` with the pending
``inputRequests``, ``completed`` with the tool result inlined, ``failed`` with the JSON-RPC
``error`` a tool answered with or an engine fault, ``cancelled``); ``tasks/update`` hands over
``inputResponses`` (partial answers are fine); ``tasks/cancel`` acks with an empty result, also
for a task that already ended. Each task is kept for ``ttlMs`` (:data:`TTL_MS`): finished tasks
are written to ``<state dir>/tasks/<id>.json`` so a ``tasks/get`` still answers after a restart;
expired tasks are swept from memory and disk (measured by :attr:`TaskStore.clock`). Without the
extension declared, ``tasks/*`` answer ``-32021``.

The same store holds the tasks of 2025-11-25 clients (:mod:`.tasks_legacy`, which also registers
the methods of both eras), each owned by its session. :meth:`TaskStore.follow` tells listeners
of every change of a task's status or pending questions: the ``notifications/tasks`` of listen
streams (:mod:`.tasks_listen`) and the ``notifications/tasks/status`` of 2025-11-25 sessions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter, ValidationError

from skillz_engine.mcp import wire
from skillz_engine.mcp.parked import SETTLE, ParkedCall, ParkedCalls

log = logging.getLogger("skillz_engine.mcp.server")
EXTENSION = "io.modelcontextprotocol/tasks"
TTL_MS = 3_600_000  # how long a task stays readable
POLL_MS = 500  # the polling interval suggested to clients
SHORTCUT = 0.25  # seconds a call may take before it becomes a task
MAX_TASKS = 1024  # tasks held in memory (the oldest finished ones are dropped beyond that)
TERMINAL = frozenset({"completed", "failed", "cancelled"})
SETTLE_S = SETTLE * 2  # after a change, how long before followers hear of it (questions batch up)

Ctx = ServerRequestContext[Any, Any]


class TaskParams(types.RequestParams):
    task_id: str


class TaskUpdateParams(TaskParams):
    input_responses: dict[str, Any] | None = None  # checked per key: unknown or bad keys are ignored


_RESPONSE: TypeAdapter[Any] = TypeAdapter(types.InputResponse)


def _responses(raw: dict[str, Any], pending: Mapping[str, Any]) -> dict[str, Any]:
    """The answers in ``raw`` to questions still ``pending``, as SDK models; the rest is ignored."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in pending:
            try:
                out[key] = _RESPONSE.validate_python(value)
            except ValidationError:
                continue
    return out


def check_routing(ctx: Ctx, task_id: str) -> None:
    """SEP-2243/SEP-2663: an ``Mcp-Name`` header on a ``tasks/*`` request must name its task."""
    request = ctx.request
    name = request.headers.get("mcp-name") if request is not None else None
    if name is not None and name != task_id:
        raise MCPError(
            code=types.HEADER_MISMATCH,
            message=f"the Mcp-Name header {name!r} does not match params.taskId {task_id!r}",
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def declares_tasks(ctx: Ctx) -> bool:
    """Whether the request (its 2026-07-28 envelope, or the handshake) declared the extension."""
    caps = ctx.session.client_capabilities
    extensions = getattr(caps, "extensions", None) if caps is not None else None
    return isinstance(extensions, dict) and EXTENSION in extensions


def missing_extension(what: str) -> MCPError:
    return MCPError(
        code=types.MISSING_REQUIRED_CLIENT_CAPABILITY,
        message=f"{what} needs the {EXTENSION} extension, which this request did not declare",
        data={"requiredCapabilities": {"extensions": {EXTENSION: {}}}},
    )


class Task:
    """One call the client follows by ``taskId``."""

    def __init__(
        self, task_id: str, call: ParkedCall, expires: float, owner: str | None = None, session: Any = None
    ) -> None:
        self.id = task_id
        self.call = call
        self.owner = owner  # a 2025-11-25 task: the session that made it (only it may see the task)
        self.session = session  # ... and its ServerSession, where its status notifications go
        self.created = self.updated = _now()
        self.cancelled = False
        self.expires = expires  # seconds since the epoch: kept (in memory and on disk) until then
        self.told: tuple[str, tuple[str, ...]] | None = None  # the state followers last heard of
        self._status = "working"

    def state(self) -> tuple[str, tuple[str, ...]]:
        """What a status notification reports: the status and the keys of the questions pending."""
        return self.status(), tuple(self.call.questions)

    def status(self) -> str:
        if self.cancelled:
            now = "cancelled"
        elif self.call.result is not None:
            now = "failed" if self.call.result.rpc_error is not None else "completed"
        else:
            now = "input_required" if self.call.questions else "working"
        if now != self._status:
            self._status, self.updated = now, _now()
        return now

    def envelope(self) -> dict[str, Any]:
        return {
            "taskId": self.id,
            "status": self.status(),
            "createdAt": self.created,
            "lastUpdatedAt": self.updated,
            "ttlMs": TTL_MS,
            "pollIntervalMs": POLL_MS,
        }

    def detailed(self) -> dict[str, Any]:
        """The ``tasks/get`` answer: the envelope plus what the status carries."""
        out = self.envelope()
        result = self.call.result
        if out["status"] == "completed" and result is not None:
            answer = wire.tool_result(result)
            out["result"] = (
                answer
                if isinstance(answer, dict)
                else answer.model_dump(by_alias=True, exclude_none=True, mode="json")
            )
        elif out["status"] == "failed" and result is not None and result.rpc_error is not None:
            out["error"] = dict(result.rpc_error)
        elif out["status"] == "input_required":
            out["inputRequests"] = {
                k: q.request().model_dump(by_alias=True, exclude_none=True, mode="json")
                for k, q in self.call.questions.items()
            }
        return out


class TaskStore:
    """The tasks of one server: live ones in memory, finished ones also on disk until they expire."""

    def __init__(self, calls: ParkedCalls, state_dir: Path | None) -> None:
        self.calls = calls
        self.dir = state_dir / "tasks" if state_dir is not None else None
        self.tasks: dict[str, Task] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        self._followers: dict[object, Callable[[Task], None]] = {}
        self.clock: Callable[[], float] = time.time  # what expiry is measured by (tests move it)

    def follow(self, listener: Callable[[Task], None]) -> Callable[[], None]:
        """Call ``listener`` (synchronously, must not raise) whenever a task's status, or the set of
        questions it waits on, changes; returns the unsubscribe callable."""
        token = object()
        self._followers[token] = listener

        def unfollow() -> None:
            self._followers.pop(token, None)

        return unfollow

    def create(self, call: ParkedCall, owner: str | None = None, session: Any = None) -> Task:
        """Turn the running ``call`` into a task (its ``request_state`` is void from now on).
        ``owner``/``session``: a 2025-11-25 task's session (see :mod:`.tasks_legacy`)."""
        self._sweep()
        self.calls.forget(call.state)
        task = Task(f"task-{secrets.token_urlsafe(16)}", call, self.clock() + TTL_MS / 1000, owner, session)
        self.tasks[task.id] = task
        task.told = task.state()
        loop = asyncio.get_running_loop()
        # questions asked together settle before followers hear of them (one notification per round)

        def changed() -> None:
            loop.call_later(SETTLE_S, self._changed, task)

        call.on_change = changed
        watcher = loop.create_task(self._persist_when_done(task))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return task

    def _changed(self, task: Task) -> None:
        now = task.state()
        if now == task.told:
            return
        task.told = now
        for listener in list(self._followers.values()):
            try:
                listener(task)
            except Exception:  # one broken follower must not starve the others
                log.exception("task status follower failed")

    async def _persist_when_done(self, task: Task) -> None:
        await task.call.done.wait()
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            record = {"expires": task.expires, "owner": task.owner, "task": task.detailed()}
            tmp = self.dir / f"{task.id}.tmp"
            tmp.write_text(json.dumps(record, ensure_ascii=False, default=str), encoding="utf-8")
            tmp.replace(self.dir / f"{task.id}.json")

    def _sweep(self) -> None:
        now = self.clock()
        for task in [t for t in self.tasks.values() if t.expires < now]:
            self.tasks.pop(task.id, None)
        while len(self.tasks) > MAX_TASKS:
            done = next((t for t in self.tasks.values() if t.status() in TERMINAL), None)
            if done is None:
                break
            self.tasks.pop(done.id, None)
        if self.dir is not None and self.dir.is_dir():
            for path in self.dir.glob("task-*.json"):
                try:
                    if json.loads(path.read_text(encoding="utf-8"))["expires"] < now:
                        path.unlink()
                except (OSError, ValueError, KeyError, TypeError):
                    path.unlink(missing_ok=True)

    def get(self, task_id: str, owner: str | None = None) -> Task | dict[str, Any]:
        """The live task, else the record of a finished one; unknown ids are ``-32602``, and so
        are the tasks of another owner (a 2025-11-25 session sees only its own)."""
        self._sweep()
        task = self.tasks.get(task_id)
        if task is not None and task.owner == owner:
            return task
        if task is None and self.dir is not None and task_id.startswith("task-") and "/" not in task_id:
            try:
                record: dict[str, Any] = json.loads(
                    (self.dir / f"{task_id}.json").read_text(encoding="utf-8")
                )
                if record.get("owner") == owner:
                    return dict(record["task"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
        raise MCPError(
            code=types.INVALID_PARAMS, message=f"unknown task {task_id!r}", data={"taskId": task_id}
        )

    def cancel(self, task: Task) -> None:
        """Cancel ``task``'s work (a script's process group is killed, as for a client cancellation)."""
        task.cancelled = True
        task.call.scope.cancel()


class TaskHandlers:
    """``tasks/get``, ``tasks/update`` and ``tasks/cancel``."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store

    async def get(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        if not declares_tasks(ctx):
            raise missing_extension("tasks/get")
        check_routing(ctx, params.task_id)
        found = self.store.get(params.task_id)
        return found.detailed() if isinstance(found, Task) else found

    async def update(self, ctx: Ctx, params: TaskUpdateParams) -> dict[str, Any]:
        if not declares_tasks(ctx):
            raise missing_extension("tasks/update")
        check_routing(ctx, params.task_id)
        found = self.store.get(params.task_id)
        if isinstance(found, Task) and params.input_responses:
            found.call.ctx = ctx
            found.call.answer(_responses(params.input_responses, found.call.questions))
        return {}

    async def cancel(self, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        if not declares_tasks(ctx):
            raise missing_extension("tasks/cancel")
        check_routing(ctx, params.task_id)
        found = self.store.get(params.task_id)
        if isinstance(found, Task) and found.status() not in TERMINAL:
            self.store.cancel(found)
            with anyio.move_on_after(2):
                await found.call.done.wait()
        return {}


def create_result(store: TaskStore, call: ParkedCall) -> dict[str, Any]:
    """Make ``call`` a task; the ``CreateTaskResult`` (flat: ``resultType: "task"`` + the task)."""
    return {"resultType": "task", **store.create(call).envelope()}


def declare(server: Server[Any]) -> None:
    """Declare the extension on ``server``; its methods, which serve both eras, are registered by
    :func:`skillz_engine.mcp.tasks_legacy.install`."""
    server.extensions[EXTENSION] = {}
