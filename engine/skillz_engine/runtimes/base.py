"""What every runtime shares: the contract it implements, and how a tool is run.

The contract itself (:class:`Runtime`, :class:`Buildable`, :class:`Services`,
:class:`CompileProblem`, :class:`CallContext`) is declared in :mod:`skillz_engine.build.contract`,
below the runtimes, so the compiler needs none of them; it is re-exported here for the runtimes.
This module adds what runs at request time for every kind: :func:`run_tool` (arguments checked,
engine faults turned into ``isError``), nested calls, and :class:`LocalCallContext`.

Beyond the contract's rules, every tool run has a timeout (``limits.timeout``) and an output cap
(``limits.output``), whose defaults live with the limits (:mod:`skillz_engine.isolation.limits`),
and cancellation (the awaiting scope is cancelled) must stop the work: kill the process group,
interrupt the engine, close the stream.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skillz_engine.build.contract import (
    Buildable,
    BuildOptions,
    CallContext,
    ClientActivations,
    CompileProblem,
    EngineHandle,
    Runtime,
    Services,
    tool_def,
)
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.errors import RuntimeFailure, ToolNotFound
from skillz_engine.isolation.command import SERVICE_ENV
from skillz_engine.runtimes.service.client import ServiceFailure
from skillz_engine.runtimes.service.requires import required, service_env
from skillz_engine.runtimes.tracing import traced_call
from skillz_engine.tree.model import Args, ToolDef, ToolResult

__all__ = [
    "BuildOptions",
    "Buildable",
    "CallContext",
    "CompileProblem",
    "EngineHandle",
    "LocalCallContext",
    "Runtime",
    "Services",
    "argument_errors",
    "call_nested",
    "run_tool",
    "tool_def",
]

MAX_CALL_DEPTH = 8


@dataclass
class LocalCallContext:
    """A :class:`~skillz_engine.build.contract.CallContext` with no client behind it (CLI ``call``, tests).

    Logs and progress go to ``sink`` (a list) so callers can show or assert them.
    """

    snapshot: Snapshot
    tool_name: str = ""
    progress_token: str | int | None = None
    depth: int = 0
    sink: list[tuple[str, Any]] = field(default_factory=list)
    engine: EngineHandle | None = None
    session_id: str = "local"
    client_capabilities: Mapping[str, Any] = field(default_factory=dict)
    activations: ClientActivations | None = None
    questions_cost_round_trip: bool = False
    caller: str | None = None  # the tool that made this nested call (None: the client's call)

    async def sample(self, params: Mapping[str, Any]) -> dict[str, Any]:
        raise RuntimeFailure("no MCP client is connected, so there is no model to sample")

    async def elicit(self, params: Mapping[str, Any]) -> dict[str, Any]:
        raise RuntimeFailure("no MCP client is connected, so there is no user to ask")

    async def list_roots(self) -> list[dict[str, Any]]:
        raise RuntimeFailure("no MCP client is connected, so there are no client roots")

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        self.sink.append(("log", {"level": level, "data": data, "logger": logger}))

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self.sink.append(("progress", {"progress": progress, "total": total, "message": message}))

    async def call_tool(self, name: str, arguments: Args) -> ToolResult:
        def child(tool: str) -> LocalCallContext:
            return LocalCallContext(
                self.snapshot, tool, None, self.depth + 1, self.sink, self.engine, self.session_id,
                self.client_capabilities, self.activations, self.questions_cost_round_trip, self.tool_name,
            )  # fmt: skip

        return await call_nested(self, name, arguments, child)


NestedHook = Callable[[str, float, ToolResult], None]


async def call_nested(
    ctx: CallContext,
    name: str,
    arguments: Args,
    child: Callable[[str], CallContext],
    on_nested: NestedHook | None = None,
) -> ToolResult:
    """A tool calling another tool of the same snapshot, as every call context does it: depth
    limited, unknown names raise :class:`ToolNotFound`, ``child(name)`` is the nested context,
    and ``on_nested(name, start, result)`` (the audit) hears of it."""
    if ctx.depth + 1 > MAX_CALL_DEPTH:
        return ToolResult.error(f"nested tool calls deeper than {MAX_CALL_DEPTH}; refusing {name!r}")
    tool = ctx.snapshot.tools.get(name)
    if tool is None:
        raise ToolNotFound(name, ctx.snapshot.suggest(name))
    start = time.perf_counter()
    result = await run_tool(tool, arguments, child(name))
    if on_nested is not None:
        with contextlib.suppress(Exception):  # the audit must not turn a result into a failure
            on_nested(name, start, result)
    return result


def _validator(schema: Mapping[str, Any]) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(dict(schema))


# by definition digest (it changes with the schema), or by the schema itself for a tool with none
_VALIDATORS: dict[str, Any] = {}


def argument_errors(tool: ToolDef, arguments: Any) -> list[str]:
    """Why ``arguments`` do not fit the tool's ``inputSchema`` (empty when they do)."""
    if not isinstance(arguments, Mapping):
        return [f"arguments must be an object, got {type(arguments).__name__}"]
    key = tool.digest or json.dumps(tool.input_schema, sort_keys=True, default=str)
    v = _VALIDATORS.get(key)
    if v is None:
        try:
            v = _validator(tool.input_schema)
        except Exception:  # an unusable schema is reported by validate; do not block calls
            return []
        if len(_VALIDATORS) > 4096:
            _VALIDATORS.clear()
        _VALIDATORS[key] = v
    try:
        found = sorted(v.iter_errors(dict(arguments)), key=lambda e: list(e.absolute_path))[:5]
    except Exception as exc:  # e.g. UnknownType: validate reports it (SKZ111); here it is the call's error
        return [f"the tool's inputSchema cannot be used, fix its manifest ({type(exc).__name__}: {exc})"]
    errors = []
    for e in found:
        where = "/".join(str(p) for p in e.absolute_path) or "arguments"
        errors.append(f"{where}: {e.message}")
    return errors


async def run_tool(tool: ToolDef, arguments: Any, ctx: CallContext) -> ToolResult:
    """Run a tool as every caller must: arguments checked, engine faults turned into ``isError``."""
    import anyio

    arguments = {} if arguments is None else arguments
    problems = argument_errors(tool, arguments)
    if problems:
        return ToolResult.error(
            f"invalid arguments for {tool.name!r}: "
            + "; ".join(problems)
            + f"\nExpected input schema: {json.dumps(dict(tool.input_schema))[:2000]}"
        )
    needs = required(ctx.snapshot, tool)
    token = None
    with traced_call(tool) as span:
        try:
            if needs:  # every tool kind: the services run and are healthy before the tool does
                try:
                    token = SERVICE_ENV.set(await service_env(ctx.snapshot, needs))
                except ServiceFailure as exc:
                    result = ToolResult.error(f"{tool.name}: cannot run without its services: {exc}")
                    span.result(result)
                    return result
            result = await tool.invoke(arguments, ctx)
        except anyio.get_cancelled_exc_class():
            raise
        except ToolNotFound as exc:
            result = ToolResult.error(str(exc))
        except Exception as exc:
            result = ToolResult.error(f"{tool.name}: {type(exc).__name__}: {exc}")
        finally:
            if token is not None:
                SERVICE_ENV.reset(token)
        span.result(result)
        return result
