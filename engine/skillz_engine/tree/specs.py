"""Typed records of validated manifests: one frozen record per kind, every default in its definition.

A manifest's data is read once into its kind's record (:func:`skillz_engine.tree.kinds.from_document`
is the one place that happens, with the reader of :mod:`~skillz_engine.tree.records`); runtimes, the
assembler and the disclosure code then read attributes instead of ``data.get(key, default)`` with
defaults scattered through the code. Python names are the manifest keys in snake case
(``okExitCodes`` -> ``ok_exit_codes``). Durations and sizes stay as written (``"30s"``,
``"64KiB"``); the code that applies a limit parses it, with :mod:`skillz_engine.units`.

Keys that layer over ``skillz.yaml`` (``limits``, ``sandbox``, a skill's ``tool``) are ``None`` when
the manifest leaves them unset, so the layering can tell "unset" from "set to the default"; the
effective defaults are :data:`DEFAULT_LIMITS` and :data:`DEFAULT_SANDBOX`.

This module imports nothing of the engine but the reader, so every layer may read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from skillz_engine.tree.records import FALSY

Duration = float | int | str  # seconds, or a string with a unit: "500ms", "30s", "2m"
Size = int | str  # bytes, or a string with a unit: "64KiB", "256MiB"
JSONObject = Mapping[str, Any]

DEFAULT_TIMEOUT = 60.0  # seconds one call may run when neither the tool nor skillz.yaml says
DEFAULT_OUTPUT = 1 << 20  # bytes of stdout one call may write when neither says
PIPELINE_TIMEOUT = DEFAULT_TIMEOUT * 5  # a pipeline's whole run, when its `limits.timeout` is unset
DEFAULT_FUEL = 10**12  # wasm instructions per call (about minutes of work: the timeout is the usual limit)


def _object() -> JSONObject:
    return {"type": "object"}


# --------------------------------------------------------------------------- shared pieces


def _unset_from(own: Any, base: Any, cls: type[Any]) -> dict[str, Any]:
    """The fields of ``cls`` that ``own`` leaves unset (``None``), with ``base``'s values."""
    return {f.name: getattr(base, f.name) for f in dataclasses.fields(cls) if getattr(own, f.name) is None}


@dataclass(frozen=True, slots=True)
class Limits:
    """``limits``: unset keys (``None``) fall back to ``limits`` in skillz.yaml, then to
    :data:`DEFAULT_LIMITS`."""

    timeout: Duration | None = None
    memory: Size | None = None
    output: Size | None = None
    cpu: Duration | None = None
    processes: int | None = None
    open_files: int | None = None

    def over(self, base: Limits) -> Limits:
        """These limits, key by key, over ``base`` (a key set here wins)."""
        return dataclasses.replace(self, **_unset_from(self, base, Limits))


DEFAULT_LIMITS = Limits(timeout=DEFAULT_TIMEOUT, output=DEFAULT_OUTPUT)


@dataclass(frozen=True, slots=True)
class WasmLimits(Limits):
    """A wasm tool's ``limits``: the shared ones (``timeout``, ``memory``, ``output``) and ``fuel``."""

    fuel: int = field(default=DEFAULT_FUEL, metadata=FALSY)


SandboxMode = Literal["bwrap", "firejail", "nsjail", "auto", "none"]


@dataclass(frozen=True, slots=True)
class Sandbox:
    """``sandbox``: a mode string or an object. Unset keys (``None``) fall back to ``sandbox`` in
    skillz.yaml, then to :data:`DEFAULT_SANDBOX`."""

    SHORTHAND: ClassVar[str] = "mode"  # `sandbox: bwrap` is `sandbox: {mode: bwrap}`

    mode: SandboxMode | None = None
    network: bool | None = None
    writable: tuple[str, ...] | None = None

    def over(self, base: Sandbox) -> Sandbox:
        """This sandbox, key by key, over ``base`` (a key set here wins)."""
        return dataclasses.replace(self, **_unset_from(self, base, Sandbox))


DEFAULT_SANDBOX = Sandbox(mode="auto", network=False, writable=())


@dataclass(frozen=True, slots=True)
class Requires:
    """``requires``: what must be running before a tool runs."""

    services: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Dependencies:
    """A script's ``dependencies``: packages for its per-tool environment."""

    pip: tuple[str, ...] = ()
    npm: tuple[str, ...] = ()


# --------------------------------------------------------------------------- kinds


@dataclass(frozen=True, slots=True)
class Spec:
    """The keys every kind accepts (``kind`` is the record's type; ``$schema`` is not read)."""

    name: str | None = None
    description: str = field(default="", metadata=FALSY)
    title: str | None = None
    version: str | None = None
    tags: tuple[str, ...] = ()
    icons: tuple[JSONObject, ...] = ()
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ToolSpec(Spec):
    """The keys of the tool kinds (script, command, wasm, pipeline); a kind whose schema lacks one
    of them keeps its default."""

    input_schema: JSONObject = field(default_factory=_object, metadata=FALSY)
    output_schema: JSONObject | None = None
    annotations: JSONObject | None = None  # MCP's own hints, passed on as written
    task: Literal["required", "optional", "forbidden"] | None = None  # Tasks extension; None: optional
    limits: Limits = Limits()
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    requires: Requires = Requires()
    sandbox: Sandbox = Sandbox()


@dataclass(frozen=True, slots=True)
class Worker:
    """A script's ``worker``: keep up to ``max`` processes running between calls, each answering
    call after call, instead of starting one per call."""

    max: int = 1
    idle: Duration = "5m"  # a worker unused this long is stopped
    recycle_after: int | None = None  # replace a worker after this many calls (None: never)


@dataclass(frozen=True, slots=True)
class ScriptSpec(ToolSpec):
    entry: str = ""
    interpreter: str | None = None  # None: chosen from the entry's extension
    args: tuple[str, ...] = ()
    protocol: Literal["jsonrpc", "plain"] = "jsonrpc"
    dependencies: Dependencies = Dependencies()
    cwd: str | None = None  # None: the entry directory
    worker: Worker | None = None  # None: one process per call


@dataclass(frozen=True, slots=True)
class Extract:
    """A command's ``extract``: the part of stdout that is the result (a regex capture, or a JSON
    pointer into ``stdout: json``), so a program's output needs no wrapper script to be shaped."""

    regex: str | None = None
    pointer: str | None = None


@dataclass(frozen=True, slots=True)
class CommandSpec(ToolSpec):
    argv: tuple[str, ...] = ()
    stdin: str | None = None
    stdout: Literal["text", "json"] = "text"
    extract: Extract | None = None
    cwd: str | None = None  # None: the entry directory
    ok_exit_codes: tuple[int, ...] = field(default=(0,), metadata=FALSY)


@dataclass(frozen=True, slots=True)
class WasmBuild:
    """A wasm tool's ``build``: the source the module is built from."""

    language: str = ""  # rust, c or wat
    source: str = ""
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WasiMount:
    host: str = ""
    guest: str = ""


@dataclass(frozen=True, slots=True)
class Wasi:
    """A wasm tool's ``wasi``: what the module sees of the world."""

    env: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    mounts: tuple[WasiMount, ...] = ()


@dataclass(frozen=True, slots=True)
class WasmSpec(ToolSpec):
    limits: WasmLimits = WasmLimits()
    module: str | None = None
    build: WasmBuild | None = None
    wasi: Wasi = Wasi()


@dataclass(frozen=True, slots=True)
class PipelineStep:
    id: str = ""
    tool: str = ""
    args: Any = field(default_factory=dict)  # any JSON; strings are templates
    when: str | None = None
    on_error: Literal["fail", "continue", "retry"] = "fail"
    retries: int | None = None  # None: see extra_attempts
    timeout: Duration | None = None

    @property
    def extra_attempts(self) -> int:
        """``retries``, defaulting to 2 with ``onError: retry`` and to 0 otherwise."""
        if self.retries is not None:
            return self.retries
        return 2 if self.on_error == "retry" else 0


@dataclass(frozen=True, slots=True)
class PipelineSpec(ToolSpec):
    steps: tuple[PipelineStep, ...] = ()
    output: Any = None  # any JSON, templated; see has_output
    # False: the result is the last step's
    has_output: bool = field(default=False, metadata={"key": None, "present": "output"})

    @property
    def total_timeout(self) -> Duration:
        """The whole run's limit: ``limits.timeout``, else :data:`PIPELINE_TIMEOUT`."""
        return self.limits.timeout if self.limits.timeout is not None else PIPELINE_TIMEOUT


@dataclass(frozen=True, slots=True)
class PromptArg:
    name: str = ""
    description: str | None = None
    required: bool = False
    values: tuple[str, ...] = ()  # completion values


@dataclass(frozen=True, slots=True)
class PromptMessage:
    role: str = ""  # user or assistant
    content: str | JSONObject = ""  # a template string, or a content object


@dataclass(frozen=True, slots=True)
class PromptSpec(Spec):
    arguments: tuple[PromptArg, ...] = ()
    template: str | None = None  # None: the prompt is `messages` (or `script`)
    script: str | None = None  # a script (the script protocol) whose answer is the messages
    messages: tuple[PromptMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class ResourceSpec(Spec):
    """A resource (``uri``) or a resource template (``uriTemplate``), served from ``text``, a
    ``file`` or the ``files`` of a glob."""

    uri: str | None = None
    uri_template: str | None = None
    file: str | None = None
    files: str | None = None
    text: str | None = None
    mime_type: str | None = None  # None: guessed (text/plain for `text`)
    subscribe: bool = True


@dataclass(frozen=True, slots=True)
class SkillSpec(Spec):
    """A skill: its SKILL.md front matter and the keys of the optional ``manifest.yaml`` beside it."""

    license: str | None = None
    compatibility: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    allowed_tools: str | None = field(default=None, metadata={"key": "allowed-tools"})
    depends_on: tuple[str, ...] = ()
    activation: Literal["manual", "always"] = "manual"
    tool: bool | None = None  # None: `skills.asTools` of skillz.yaml


@dataclass(frozen=True, slots=True)
class BundleSpec(Spec):
    skills: tuple[str, ...] = ()  # skill names and `@bundle` references


@dataclass(frozen=True, slots=True)
class Healthcheck:
    test: str | tuple[str, ...] = ""  # a shell string or an argv
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: int | None = None
    start_period: Duration | None = None


@dataclass(frozen=True, slots=True)
class ServiceResources:
    memory: Size | None = None
    cpus: float | None = None


@dataclass(frozen=True, slots=True)
class ServiceSpec(Spec):
    image: str | None = None
    build: str | None = None
    command: str | tuple[str, ...] | None = None
    ports: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: tuple[str, ...] = ()
    healthcheck: Healthcheck | None = None
    autostart: bool = False
    keep_running: bool = False
    resources: ServiceResources = ServiceResources()
    secrets: tuple[str, ...] = ()  # SKILLZ_* variables of the server passed into the container
    cap_add: tuple[str, ...] = ()  # capabilities kept (every other one is dropped)
    read_only: bool = True  # a read-only root file system (with a writable tmpfs /tmp)
    network: str | None = None  # a Docker network to join (None: Docker's default bridge)


@dataclass(frozen=True, slots=True)
class McpToolOverride:
    """One value of an mcp-server's ``tools`` (read with ``records.read_record``): how one
    upstream tool is served."""

    name: str | None = None  # served under this name instead of `<namespace>_<tool>`
    description: str | None = None
    title: str | None = None
    annotations: JSONObject | None = None  # replaces the upstream's
    arguments: JSONObject = field(default_factory=dict)  # fixed values, hidden from the schema
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class McpServerSpec(Spec):
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    namespace: str | None = None
    include: tuple[str, ...] | None = None  # None: every upstream tool
    exclude: tuple[str, ...] = ()
    timeout: Duration | None = None
    autostart: bool = True
    secrets: tuple[str, ...] = ()
    transport: Literal["streamable-http", "sse"] = "streamable-http"  # with `url`
    idle_timeout: Duration | None = None  # None: never stopped for being idle
    # by upstream tool name; each value is read as a McpToolOverride (see override())
    tools: Mapping[str, JSONObject] = field(default_factory=dict)
    limits: Limits = Limits()  # memory, cpu, processes, openFiles of a stdio upstream
    sandbox: Sandbox = Sandbox()  # as a script tool's, for a stdio upstream
    # an upstream in its own container (over stdio): the service keys of its container
    image: str | None = None
    build: str | None = None
    volumes: tuple[str, ...] = ()
    resources: ServiceResources = ServiceResources()
    cap_add: tuple[str, ...] = ()
    read_only: bool = True
    network: str | None = None


def process_keys(record: Spec) -> ToolSpec | McpServerSpec:
    """The record of an entry that runs a process (a tool, or a stdio upstream MCP server): what
    :mod:`skillz_engine.isolation` reads ``env``, ``secrets``, ``limits`` and ``sandbox`` from."""
    if not isinstance(record, ToolSpec | McpServerSpec):
        raise TypeError(f"a {type(record).__name__} runs no process")
    return record
