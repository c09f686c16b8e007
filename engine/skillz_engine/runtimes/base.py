"""The runtime contract: how an entry of one kind becomes served tools, prompts and resources.

A runtime is registered once, by kind, in :data:`skillz_engine.runtimes.RUNTIMES`. The compiler
calls :meth:`Runtime.compile` for every new or changed entry; the result is a :class:`Compiled`
holding :class:`ToolDef` / :class:`PromptDef` / :class:`ResourceDef` objects whose callables do the
work at request time.

Rules every runtime follows:

* ``compile`` is synchronous, fast and side-effect free: it may read the entry's own files
  (templates, schemas) but never spawns processes, opens sockets or installs anything. Problems
  it finds are raised as :class:`CompileProblem` (one or more diagnostics pointing into the
  manifest); the entry then does not compile (while serving, its last good version stays).
* Stateful runtimes (upstream MCP clients, wasm engines, Docker services) do their expensive
  preparation in ``Compiled.start`` and release it in ``Compiled.stop``. ``start`` runs before the
  swap; if it raises, the old version stays live and a diagnostic is recorded.
* A tool that runs and fails returns ``ToolResult(is_error=True)`` with a message a model can act
  on; it never raises for the tool's own failure. Exceptions are for engine faults.
* Every run has a timeout (``limits.timeout``, default :data:`DEFAULT_TIMEOUT`) and an output cap
  (``limits.output``, default :data:`DEFAULT_OUTPUT`).
* Cancellation (the awaiting scope is cancelled) must stop the work: kill the process group,
  interrupt the engine, close the stream.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from skillz_engine.errors import EngineError, RuntimeFailure, ToolNotFound
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.model import (
    Args,
    CallContext,
    Compiled,
    EngineHandle,
    EntrySpec,
    ToolDef,
    ToolInvoker,
    ToolResult,
)

if TYPE_CHECKING:
    from skillz_engine.build.snapshot import Snapshot
    from skillz_engine.live.sessions import Activations
    from skillz_engine.tree.config import Config

DEFAULT_TIMEOUT = 60.0  # seconds
DEFAULT_OUTPUT = 1 << 20  # bytes
MAX_CALL_DEPTH = 8


class CompileProblem(EngineError):
    """Raised by ``Runtime.compile`` with diagnostics about an entry.

    With errors among them the entry does not compile. With warnings only, pass the entry's
    ``compiled`` result too: it is served, and the warnings are reported.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic], compiled: Compiled | None = None) -> None:
        self.diagnostics = tuple(diagnostics)
        self.compiled = compiled
        super().__init__("; ".join(d.message for d in self.diagnostics))


@dataclass(frozen=True, slots=True)
class Services:
    """Engine-wide services handed to runtimes at compile time."""

    config: Config
    state_dir: Path
    roots: tuple[Path, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


class Runtime(Protocol):
    """One kind of entry. See the module docstring for the rules."""

    kind: str

    def compile(self, spec: EntrySpec, services: Services) -> Compiled: ...


@dataclass
class LocalCallContext:
    """A :class:`~skillz_engine.tree.model.CallContext` with no client behind it (CLI ``call``, tests).

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
    activations: Activations | None = None

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
                self.client_capabilities, self.activations,
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


def tool_def(spec: EntrySpec, invoke: ToolInvoker) -> ToolDef:
    """The one tool an entry of a tool kind serves, with the manifest's shared tool keys."""
    data = spec.data
    return ToolDef(
        name=spec.name,
        description=spec.description,
        input_schema=data.get("inputSchema") or {"type": "object"},
        invoke=invoke,
        title=data.get("title"),
        output_schema=data.get("outputSchema"),
        annotations=data.get("annotations"),
        icons=data.get("icons"),
        tags=tuple(data.get("tags") or ()),
    )


def _validator(schema: Mapping[str, Any]) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(dict(schema))


_VALIDATORS: dict[str, Any] = {}


def argument_errors(tool: ToolDef, arguments: Any) -> list[str]:
    """Why ``arguments`` do not fit the tool's ``inputSchema`` (empty when they do)."""
    if not isinstance(arguments, Mapping):
        return [f"arguments must be an object, got {type(arguments).__name__}"]
    key = tool.digest or tool.name
    v = _VALIDATORS.get(key)
    if v is None:
        try:
            v = _validator(tool.input_schema)
        except Exception:  # an unusable schema is reported by validate; do not block calls
            return []
        if len(_VALIDATORS) > 4096:
            _VALIDATORS.clear()
        _VALIDATORS[key] = v
    errors = []
    for e in sorted(v.iter_errors(dict(arguments)), key=lambda e: list(e.absolute_path))[:5]:
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
    try:
        return await tool.invoke(arguments, ctx)
    except anyio.get_cancelled_exc_class():
        raise
    except ToolNotFound as exc:
        return ToolResult.error(str(exc))
    except Exception as exc:
        return ToolResult.error(f"{tool.name}: {type(exc).__name__}: {exc}")
