"""The contract between the build layer and what plugs into it: runtimes, call contexts, the engine.

The compiler turns specs into served definitions by handing each spec to the runtime of its kind;
the definitions it gets back run later, inside a request, against a :class:`CallContext`. Both
sides of that exchange are declared here, below every runtime, so that ``build`` depends on no
runtime module: it loads a kind's runtime by the ``"module:Class"`` name :mod:`skillz_engine.tree.kinds`
declares (:class:`KindRuntimes`), and a caller may inject its own (tests, a fake stateful runtime).

Rules every runtime follows:

* ``compile`` is synchronous, fast and side-effect free: it may read the entry's own files
  (templates, schemas) but never spawns processes, opens sockets or installs anything. Problems
  it finds are raised as :class:`CompileProblem` (one or more diagnostics pointing into the
  manifest); the entry then does not compile (while serving, its last good version stays).
* Stateful runtimes (upstream MCP clients, wasm engines, Docker services) do their expensive
  preparation in ``Compiled.start`` and release it in ``Compiled.stop``. ``start`` runs before the
  swap; if it raises, the old version stays live and a diagnostic is recorded. ``stop`` runs once
  every request still reading the replaced snapshot has finished.
* Slow ahead-of-time work (installing dependencies, building modules) is a :class:`Buildable`
  runtime's ``build`` hook, run by ``skillz-engine build`` and the writers, never by ``compile``.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.errors import EngineError
from skillz_engine.tree.config import Config
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.kinds import KINDS
from skillz_engine.tree.model import Args, Compiled, EntrySpec, ToolDef, ToolInvoker, ToolResult
from skillz_engine.tree.specs import ToolSpec


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
    # a stateful runtime calls this with an entry key when what the entry serves changed outside
    # its files (an upstream MCP server's listing): the entry is compiled again and a new snapshot
    # swapped in, the same path a file change takes; None where nothing is served live
    changed: Callable[[str], Awaitable[None]] | None = field(default=None, compare=False)


class Runtime(Protocol):
    """One kind of entry. See the module docstring for the rules."""

    kind: str

    def compile(self, spec: EntrySpec, services: Services) -> Compiled: ...


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """How one ``build`` run treats what is already built.

    ``force`` rebuilds it; ``rebuilt`` collects what this run forced already, so an environment
    shared by several entries is rebuilt once (the set is shared by every hook of one run).
    """

    force: bool = False
    rebuilt: set[str] = field(default_factory=set)


Progress = Callable[[str], None]


@runtime_checkable
class Buildable(Protocol):
    """A runtime with ahead-of-time work: ``skillz-engine build`` and the writers call ``build``
    so that no client waits for an install or a module build on its first call."""

    async def build(
        self, spec: EntrySpec, services: Services, progress: Progress, options: BuildOptions
    ) -> list[Diagnostic]:
        """Do the entry's slow work now (idempotent); the problems found, empty when it worked."""
        ...


def tool_def(spec: EntrySpec, invoke: ToolInvoker) -> ToolDef:
    """The one tool an entry of a tool kind serves, with the manifest's shared tool keys."""
    r = spec.record_as(ToolSpec)
    return ToolDef(
        name=spec.name,
        description=spec.description,
        input_schema=r.input_schema,
        invoke=invoke,
        title=r.title,
        output_schema=r.output_schema,
        annotations=r.annotations,
        icons=r.icons or None,
        tags=r.tags,
        task=r.task,
    )


class KindRuntimes(Mapping[str, Runtime]):
    """Each kind's runtime, imported on first use by the ``"module:Class"`` name the kind
    registry declares: the plugin registry, so ``build`` imports no runtime module, and
    ``validate`` of a tree without scripts never loads subprocess machinery."""

    def __init__(self) -> None:
        self._loaded: dict[str, Runtime] = {}

    def __getitem__(self, kind: str) -> Runtime:
        runtime = self._loaded.get(kind)
        if runtime is None:
            k = KINDS.get(kind)
            if k is None or k.runtime is None:
                raise KeyError(kind)
            module, _, cls = k.runtime.partition(":")
            runtime = self._loaded[kind] = getattr(importlib.import_module(module), cls)()
        return runtime

    def __iter__(self) -> Iterator[str]:
        return (k.name for k in KINDS.values() if k.runtime is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


RUNTIMES: Mapping[str, Runtime] = KindRuntimes()  # one instance of each runtime per process


# --------------------------------------------------------------------------- at request time


class ClientActivations(Protocol):
    """What one client activated (``activate_skill``): skill names and ``@bundle`` references.
    The server's per-connection record (:class:`skillz_engine.live.sessions.Activations`).

    What an activation means for the client's tool list (progressive disclosure) is the live
    layer's business, so a runtime activates through :meth:`activate` and never computes it."""

    @property
    def explicit(self) -> tuple[str, ...]: ...

    def add(self, ref: str) -> bool:
        """Remember ``ref``; ``False`` when it was already there."""
        ...

    def remove(self, ref: str) -> bool:
        """Forget ``ref``; ``False`` when it was not there."""
        ...

    async def tools_changed(self) -> None:
        """Tell this client (only) that its tool list changed."""
        ...

    async def activate(self, ref: str, snapshot: Snapshot) -> bool:
        """Remember ``ref`` and, when that changes the tools this client sees in ``snapshot``,
        tell it (:meth:`tools_changed`); ``True`` when it was told."""
        ...


class EngineHandle(Protocol):
    """What built-in writers reach of the running engine: where to write, and how to make the
    engine serve what they wrote before they return."""

    @property
    def roots(self) -> tuple[Path, ...]: ...

    @property
    def state_dir(self) -> Path: ...

    async def reload(self, paths: Sequence[Path]) -> Snapshot:
        """Apply these changed paths now, as the watcher would, and return the snapshot that
        serves them (the watcher seeing the same paths later is a no-op)."""
        ...

    async def mount_sources(self) -> Snapshot:
        """Re-read the git source pins (``skillz.yaml`` and the state dir), serve their clones as
        extra roots (unmounting clones no longer pinned), and return the snapshot serving them."""
        ...

    def writing(self) -> AbstractAsyncContextManager[None]:
        """The writers' lock, held around a writer built-in's whole run: one writer at a time,
        across every replica of a cluster. Entering it may raise (busy, or the cluster's Redis down)."""
        ...


QUESTION_KEY: ContextVar[str | None] = ContextVar("skillz_question_key", default=None)
"""The key a runtime chose for the question it is asking the client right now (a script's
``key``); on 2026-07-28 the answer comes back under it in ``inputResponses``. Set around one
``elicit``/``sample``/``list_roots`` call; ``None`` lets the server name the question."""


class CallContext(Protocol):
    """What a running tool can reach of the request that called it.

    The server implements it per request (both protocol eras); the CLI's ``call`` and tests use
    :class:`skillz_engine.runtimes.base.LocalCallContext`. Every method must be safe to call when
    the client does not support the feature (it then does nothing or raises ``RuntimeFailure``).
    """

    @property
    def snapshot(self) -> Snapshot: ...

    @property
    def tool_name(self) -> str: ...

    @property
    def progress_token(self) -> str | int | None: ...

    @property
    def depth(self) -> int:
        """Nesting depth of tool calls (0 for a client's call)."""
        ...

    @property
    def caller(self) -> str | None:
        """The tool whose code made this nested call (``None`` for a client's call): what a
        built-in acting for "the caller" (the ``memory`` namespace) is bound to."""
        ...

    @property
    def questions_cost_round_trip(self) -> bool:
        """Whether asking the client something (``elicit``, ``sample``, ``list_roots``) parks the
        call for a round trip (a 2026-07-28 request): runtimes then ask only when they must."""
        ...

    async def log(self, level: str, data: Any, logger: str | None = None) -> None: ...

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None: ...

    async def call_tool(self, name: str, arguments: Args) -> ToolResult:
        """Call another tool of the same snapshot (nested; depth-limited)."""
        ...

    @property
    def session_id(self) -> str:
        """A key stable for one client connection (per-session state: activations, parked
        calls); ``"local"`` outside a server."""
        ...

    @property
    def client_capabilities(self) -> Mapping[str, Any]:
        """The capabilities the client declared (MCP JSON, camelCase keys); empty when none."""
        ...

    @property
    def engine(self) -> EngineHandle | None:
        """The running engine, for built-ins that write into the tree; ``None`` when there is none."""
        ...

    @property
    def activations(self) -> ClientActivations | None:
        """The skills and bundles this client activated (``activate_skill``); ``None`` when the
        connection has no per-client state (a 2026-07-28 request over HTTP, or no server)."""
        ...

    async def sample(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``sampling/createMessage`` to the client: MCP params in, the result as JSON out.
        Raises ``RuntimeFailure`` when the client cannot sample."""
        ...

    async def elicit(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``elicitation/create`` to the client: MCP params in, ``{action, content}`` out.
        Raises ``RuntimeFailure`` when the client cannot elicit."""
        ...

    async def list_roots(self) -> list[dict[str, Any]]:
        """The client's roots (``[{uri, name?}]``); raises ``RuntimeFailure`` when it has none to offer."""
        ...
