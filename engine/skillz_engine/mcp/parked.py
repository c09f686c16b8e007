"""Input-required rounds for 2026-07-28 clients: a running tool that asks the client something.

A handshake-era (2025-11-25) connection has a back channel: ``ctx.elicit`` / ``ctx.sample`` /
``ctx.list_roots`` are server-to-client requests sent while the tool runs. A 2026-07-28
connection has none: the server answers the ``tools/call`` with an ``InputRequiredResult``
(``input_requests`` + an opaque ``request_state``) and the client calls again with
``input_responses`` and the same ``request_state``.

To keep every :class:`~skillz_engine.tree.model.ToolInvoker` unaware of the era, a modern
``tools/call`` runs its invocation as a task (:class:`ParkedCall`) with a
:class:`~skillz_engine.mcp.parked_context.ParkingCallContext`. When the tool awaits
``elicit``/``sample``/``list_roots``, the request is queued and the handler returns
``InputRequiredResult`` while the task, and a script's process with it, stays parked on the answer.
The retry finds the call by its ``request_state`` (128 random bits; bound to the session when the
transport has one), hands the responses to the waiting futures and goes back to waiting for the next
question or the final result.

* Every round carries a fresh ``request_state``: the one a retry used is void once the next
  ``InputRequiredResult`` goes out, so an old or altered state is refused, never replayed.
* Questions asked at the same time (a script that sends elicitation, sampling and roots requests
  without waiting in between) go out together in one ``InputRequiredResult``: once one question is
  queued the handler waits until none has been added for :data:`SETTLE` seconds. Each question's
  key is the one the tool chose (:data:`~skillz_engine.build.contract.QUESTION_KEY`, a script's
  ``key``), else ``<kind>-<n>``.
* A retry whose ``input_responses`` miss a key gets the unanswered questions again (SEP-2322);
  keys nobody asked for are ignored. A first call that already carries ``input_responses`` (no
  ``request_state``) has the questions asked under those keys answered at once.
* A question the client declared no capability for ends the call with ``-32021``
  (``MissingRequiredClientCapabilityError``, ``data.requiredCapabilities``; HTTP 400).

* A parked call nobody resumes within :data:`PARK_TIMEOUT` seconds is cancelled (its process
  group is killed) and forgotten; a retry with an unknown or expired state is a clear
  ``INVALID_PARAMS`` error telling the client to call the tool again. A call that ends while
  parked (its own timeout, a crash) keeps its result for the retry, as long again.
* Cancelling the request that is waiting on the call (client cancellation) cancels the call.
* Logs and progress of the tool go to whichever request of the call is the latest one.
* Replicas behind a load balancer (``cluster`` in skillz.yaml): a continuation this replica does not
  hold goes to :attr:`ParkedCalls.remote` (:mod:`~skillz_engine.mcp.parked_remote`), which relays it
  to the replica that does and returns that replica's answer.

Detached tasks need the asyncio backend (the engine's stdio and HTTP servers run on it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import anyio
import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from skillz_engine.build.contract import QUESTION_KEY
from skillz_engine.errors import RuntimeFailure
from skillz_engine.mcp.fanout import session_label
from skillz_engine.tree.model import ToolResult

log = logging.getLogger("skillz_engine.mcp.server")

Ctx = ServerRequestContext[Any, Any]
PARK_TIMEOUT = 300.0  # seconds a parked call waits for the client's retry
SETTLE = 0.05  # seconds without a new question before the queued ones go out together
MAX_PARKED = 1024  # parked calls kept at once (the oldest is cancelled beyond that)


@dataclass
class _Question:
    key: str
    method: str  # elicitation/create | sampling/createMessage | roots/list
    params: dict[str, Any]
    answered: anyio.Event = field(default_factory=anyio.Event)
    answer: dict[str, Any] | None = None

    def request(self) -> types.ElicitRequest | types.CreateMessageRequest | types.ListRootsRequest:
        if self.method == "elicitation/create":
            return types.ElicitRequest.model_validate({"method": self.method, "params": self.params})
        if self.method == "sampling/createMessage":
            return types.CreateMessageRequest.model_validate({"method": self.method, "params": self.params})
        return types.ListRootsRequest()


Outcome = ToolResult | types.InputRequiredResult


class Remote(Protocol):
    """Where continuations of calls parked on other replicas go (:mod:`~skillz_engine.mcp.parked_remote`)."""

    async def claim(self, state: str) -> None:
        """Record this replica as the holder of ``state`` before it goes out."""

    async def resume_elsewhere(
        self, ctx: Ctx, params: types.CallToolRequestParams | types.GetPromptRequestParams
    ) -> Outcome | None:
        """The holding replica's answer to this continuation, or None when no other replica holds it."""


class ParkedCall:
    """One modern ``tools/call`` running as a task, possibly parked on questions to the client."""

    def __init__(self, registry: ParkedCalls, state: str, tool: str, session: str | None, ctx: Ctx) -> None:
        self.registry = registry
        self.state = state
        self.tool = tool
        self.session = session
        self.ctx = ctx  # the latest request of this call (logs and progress go there)
        self.questions: dict[str, _Question] = {}
        self.result: ToolResult | None = None
        self.done = anyio.Event()
        self.scope = anyio.CancelScope()
        self.expired = False
        self.attached = 0  # handlers waiting on this call right now
        self.finished_at: float | None = None
        self.missing: dict[str, dict[str, Any]] = {}  # client capabilities a question needed
        self.preset: dict[str, Any] = {}  # answers a first call brought before being asked
        self.on_change: Callable[[], None] | None = None  # a task's status follower (tasks.py)
        self._changed = anyio.Event()
        self._count = 0
        self._keys: set[str] = set()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
        if self.on_change is not None:
            self.on_change()

    def _key(self, method: str) -> str:
        """The question's key: the tool's own choice (:data:`QUESTION_KEY`) unless already used."""
        self._count += 1
        chosen = QUESTION_KEY.get()
        key = chosen if chosen and chosen not in self._keys else f"{method.split('/')[0]}-{self._count}"
        self._keys.add(key)
        return key

    def lacks(self, capability: str) -> None:
        """A question needs ``capability`` the client did not declare: end the call (``-32021``)."""
        self.missing[capability] = {}
        self.scope.cancel()

    async def ask(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Queue a question for the client and wait for the retry that answers it."""
        q = _Question(self._key(method), method, dict(params))
        try:
            q.request()
        except Exception as exc:  # the tool's params are not a valid MCP request
            raise RuntimeFailure(f"{method}: invalid params: {exc}") from exc
        self.questions[q.key] = q
        if q.key in self.preset:  # answered up front (a first call that carried inputResponses)
            self.answer({q.key: self.preset.pop(q.key)})
            return q.answer or {}
        self._notify()
        with anyio.move_on_after(self.registry.timeout):
            await q.answered.wait()
        if q.answer is None:
            self.expired = True
            self.scope.cancel()
            raise RuntimeFailure(f"{method}: the client did not answer within {self.registry.timeout:g}s")
        return q.answer

    def answer(self, responses: Mapping[str, Any]) -> None:
        for key, response in responses.items():
            q = self.questions.pop(key, None)
            if q is None:
                continue
            dumped = (  # a relayed continuation's responses arrive as JSON already
                response
                if isinstance(response, dict)
                else response.model_dump(by_alias=True, exclude_none=True, mode="json")
            )
            q.answer = dumped if isinstance(dumped, dict) else {}
            q.answered.set()
        if self.on_change is not None:  # input_required -> working, for a task's followers
            self.on_change()

    async def outcome(self) -> ToolResult | dict[str, _Question]:
        """The final result, or the questions the client must answer now (all those asked together)."""
        while True:
            changed = self._changed
            if self.result is not None:
                return self.result
            if self.questions:
                with anyio.move_on_after(SETTLE) as quiet:
                    await changed.wait()
                if quiet.cancelled_caught:
                    return dict(self.questions)
                continue
            await changed.wait()

    async def drive(self, invoke: Callable[[], Awaitable[ToolResult]]) -> None:
        result: ToolResult | None = None
        try:
            with self.scope:
                result = await invoke()
        except Exception as exc:  # an engine fault: the waiting handler must still get an answer
            why = f"{self.tool}: {type(exc).__name__}: {exc}"
            result = replace(ToolResult.error(why), rpc_error={"code": types.INTERNAL_ERROR, "message": why})
        finally:
            if result is None:
                why = "expired waiting for the client's answer" if self.expired else "was cancelled"
                result = ToolResult.error(f"{self.tool} {why}")
            self.result = result
            self.finished_at = time.monotonic()
            if self.attached or self.expired:  # a handler returns the result now, or nobody will
                self.registry.forget(self.state)
            # else it ended while parked (a timeout, a crash): kept until the retry collects it
            self.done.set()
            self._notify()


class ParkedCalls:
    """The registry of modern calls in flight, keyed by their ``request_state``."""

    def __init__(self, timeout: float = PARK_TIMEOUT) -> None:
        self.timeout = timeout
        self.calls: dict[str, ParkedCall] = {}
        self.remote: Remote | None = None  # set when this server is one replica of a cluster
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[ParkedCall] = set()  # tasks of the Tasks extension included

    def forget(self, state: str) -> None:
        self.calls.pop(state, None)

    def renew(self, call: ParkedCall) -> str:
        """A fresh ``request_state`` for the next round of ``call``; the previous one is void."""
        self.calls.pop(call.state, None)
        call.state = f"skz-{secrets.token_urlsafe(16)}"
        self.calls[call.state] = call
        return call.state

    def _sweep(self) -> None:
        """Forget finished calls whose result nobody collected within the timeout."""
        now = time.monotonic()
        for call in list(self.calls.values()):
            if call.finished_at is not None and now - call.finished_at > self.timeout:
                self.forget(call.state)

    def start(
        self,
        ctx: Ctx,
        tool: str,
        invoke: Callable[[ParkedCall], Awaitable[ToolResult]],
        responses: Mapping[str, Any] | None = None,
    ) -> ParkedCall:
        """Run a new call; ``responses`` (a first call's ``inputResponses``) answer the questions it
        will ask under those keys without a round trip (SEP-2322's ephemeral flow); others are ignored."""
        self._sweep()
        if len(self.calls) >= MAX_PARKED:
            oldest = next(iter(self.calls.values()))
            oldest.scope.cancel()
            self.forget(oldest.state)
        state = f"skz-{secrets.token_urlsafe(16)}"
        call = ParkedCall(self, state, tool, session_label(ctx, fallback=False), ctx)
        call.preset.update(responses or {})
        self.calls[state] = call
        task = asyncio.get_running_loop().create_task(call.drive(lambda: invoke(call)))
        self._tasks.add(task)
        self._running.add(call)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._running.discard(call))
        return call

    def resume(
        self, ctx: Ctx | None, tool: str, state: str, responses: Mapping[str, Any], session: str | None = None
    ) -> ParkedCall:
        """The call ``state`` continues, answered with ``responses``. ``ctx`` becomes its latest
        request; a relayed continuation has none here (its ``session`` is the relaying request's)."""
        self._sweep()
        call = self.calls.get(state)
        if ctx is not None:
            session = session_label(ctx, fallback=False)
        if call is None or call.tool != tool or (call.session is not None and call.session != session):
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"unknown or expired request_state for {tool!r} (parked calls expire after "
                f"{self.timeout:g}s); call the tool again without request_state",
            )
        if ctx is not None:
            call.ctx = ctx
        call.answer(responses)
        return call

    async def close(self) -> None:
        """Cancel every call still in flight, parked or running as a task (server shutdown)."""
        for call in list(self._running):
            call.scope.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)


async def run_parked(
    calls: ParkedCalls,
    ctx: Ctx,
    params: types.CallToolRequestParams | types.GetPromptRequestParams,
    invoke: Callable[[ParkedCall], Awaitable[ToolResult]],
    within: float = math.inf,
    keep_finished: bool = False,
) -> ToolResult | types.InputRequiredResult | ParkedCall:
    """Run or resume a modern ``tools/call``: the final result, or the next input request.

    For the Tasks extension (:mod:`~skillz_engine.mcp.tasks`): a call still running after
    ``within`` seconds is returned itself (it keeps running), and so is a finished one when
    ``keep_finished`` (a tool that must be a task)."""
    if params.request_state:
        if calls.remote is not None and params.request_state not in calls.calls:
            elsewhere = await calls.remote.resume_elsewhere(ctx, params)
            if elsewhere is not None:
                return elsewhere
        call = calls.resume(ctx, params.name, params.request_state, params.input_responses or {})
    else:
        call = calls.start(ctx, params.name, invoke, params.input_responses)
    return await next_round(calls, call, params.name, within, keep_finished)


async def next_round(
    calls: ParkedCalls, call: ParkedCall, name: str, within: float = math.inf, keep_finished: bool = False
) -> ToolResult | types.InputRequiredResult | ParkedCall:
    """Wait for ``call``'s result or its next questions (a fresh ``request_state`` for them)."""
    call.attached += 1
    outcome: ToolResult | dict[str, _Question] | None = None
    try:
        with anyio.move_on_after(within):
            outcome = await call.outcome()
    except anyio.get_cancelled_exc_class():
        call.scope.cancel()  # the client gave up: stop the work (kills a script's process group)
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            await call.done.wait()
        calls.forget(call.state)
        raise
    finally:
        call.attached -= 1
    if call.missing:
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            await call.done.wait()
        calls.forget(call.state)
        needed = ", ".join(sorted(call.missing))
        raise MCPError(
            code=types.MISSING_REQUIRED_CLIENT_CAPABILITY,
            message=f"{name!r} needs the client capability {needed}, not declared by this request",
            data={"requiredCapabilities": dict(call.missing)},
        )
    if outcome is None or (keep_finished and isinstance(outcome, ToolResult)):
        return call
    if isinstance(outcome, ToolResult):
        calls.forget(call.state)
        return outcome
    state = calls.renew(call)
    if calls.remote is not None:
        await calls.remote.claim(state)
    return types.InputRequiredResult(
        input_requests={k: q.request() for k, q in outcome.items()}, request_state=state
    )
