"""Typed records of validated manifests: one frozen record per kind, every default in its definition.

A manifest's data is read once, here, into its kind's record (:func:`skillz_engine.tree.kinds.from_document`
is the one place that happens); runtimes, the assembler and the disclosure code then read attributes
instead of ``data.get(key, default)`` with defaults scattered through the code. Python names are
the manifest keys in snake case (``okExitCodes`` -> ``ok_exit_codes``); a field whose key is not the
camel-case form of its name says so in its metadata (``allowed-tools``).

Reading is lenient by design: records are made from validated data, but also from specs restored
from the cache and from the hand-made specs of tests, so a missing key takes the field's default,
``None`` counts as missing, and a value of the wrong shape for a nested record or a list is ignored
rather than raised on (the schema reports those). Durations and sizes stay as written (``"30s"``,
``"64KiB"``); the code that applies a limit parses it, with :mod:`skillz_engine.units`.

Keys that layer over ``skillz.yaml`` (``limits``, ``sandbox``, a skill's ``tool``) are ``None`` when
the manifest leaves them unset, so the layering can tell "unset" from "set to the default"; the
effective defaults are :data:`DEFAULT_LIMITS` and :data:`DEFAULT_SANDBOX`.

This module imports nothing of the engine, so every layer may read it.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

Duration = float | int | str  # seconds, or a string with a unit: "500ms", "30s", "2m"
Size = int | str  # bytes, or a string with a unit: "64KiB", "256MiB"
JSONObject = Mapping[str, Any]

DEFAULT_TIMEOUT = 60.0  # seconds one call may run when neither the tool nor skillz.yaml says
DEFAULT_OUTPUT = 1 << 20  # bytes of stdout one call may write when neither says
PIPELINE_TIMEOUT = DEFAULT_TIMEOUT * 5  # a pipeline's whole run, when its `limits.timeout` is unset
DEFAULT_FUEL = 10**12  # wasm instructions per call (about minutes of work: the timeout is the usual limit)

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


def _object() -> JSONObject:
    return types.MappingProxyType({"type": "object"})


# field metadata: the manifest key a field is read from when it is not the camel case of its name
# (None: not read from the manifest); `falsy`: an empty or zero value means the default, as the
# runtimes read it; `present`: the field says whether that key is present (even as null)
FALSY: Mapping[str, Any] = types.MappingProxyType({"falsy": True})


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
    limits: Limits = Limits()
    env: Mapping[str, str] = field(default_factory=_empty)
    secrets: tuple[str, ...] = ()
    requires: Requires = Requires()
    sandbox: Sandbox = Sandbox()


@dataclass(frozen=True, slots=True)
class ScriptSpec(ToolSpec):
    entry: str = ""
    interpreter: str | None = None  # None: chosen from the entry's extension
    args: tuple[str, ...] = ()
    protocol: Literal["jsonrpc", "plain"] = "jsonrpc"
    dependencies: Dependencies = Dependencies()
    cwd: str | None = None  # None: the entry directory


@dataclass(frozen=True, slots=True)
class CommandSpec(ToolSpec):
    argv: tuple[str, ...] = ()
    stdin: str | None = None
    stdout: Literal["text", "json"] = "text"
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

    env: Mapping[str, str] = field(default_factory=_empty)
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
    args: Any = field(default_factory=_empty)  # any JSON; strings are templates
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
    template: str | None = None  # None: the prompt is `messages`
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
    metadata: Mapping[str, str] = field(default_factory=_empty)
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
    env: Mapping[str, str] = field(default_factory=_empty)
    volumes: tuple[str, ...] = ()
    healthcheck: Healthcheck | None = None
    autostart: bool = False
    keep_running: bool = False
    resources: ServiceResources = ServiceResources()


@dataclass(frozen=True, slots=True)
class McpServerSpec(Spec):
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=_empty)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=_empty)
    namespace: str | None = None
    include: tuple[str, ...] | None = None  # None: every upstream tool
    exclude: tuple[str, ...] = ()
    timeout: Duration | None = None
    autostart: bool = True
    secrets: tuple[str, ...] = ()


# --------------------------------------------------------------------------- reading


R = TypeVar("R")
_UNSET: Any = object()
Convert = Callable[[Any], Any]


def camel(name: str) -> str:
    """``ok_exit_codes`` -> ``okExitCodes``: the manifest key of a field name."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def json_key(f: dataclasses.Field[Any]) -> str | None:
    """The manifest key field ``f`` is read from (``None``: not read from the manifest)."""
    if "key" in f.metadata:
        k = f.metadata["key"]
        return None if k is None else str(k)
    return camel(f.name)


def _is_record(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _readable(record: type[Any], raw: Any) -> bool:
    """Whether ``raw`` can be read as ``record``: a mapping, or a string where it has a shorthand."""
    return isinstance(raw, Mapping) or (isinstance(raw, str) and hasattr(record, "SHORTHAND"))


def _convert(hint: Any) -> Convert | None:
    """How a raw value becomes a value of type ``hint``; ``None``: taken as it is."""
    origin, args = get_origin(hint), get_args(hint)
    if _is_record(hint):
        return lambda raw: read_record(hint, raw) if _readable(hint, raw) else _UNSET
    if origin is tuple:
        item = args[0]
        if _is_record(item):
            return lambda raw: (
                tuple(read_record(item, x if isinstance(x, Mapping) else _EMPTY) for x in raw)
                if isinstance(raw, list | tuple)
                else _UNSET
            )
        return lambda raw: tuple(raw) if isinstance(raw, list | tuple) else _UNSET
    if origin in (Union, types.UnionType):
        record = next((a for a in args if _is_record(a)), None)
        listy = any(get_origin(a) is tuple for a in args)
        if record is None and not listy:
            return None
        # a value none of the shaped members takes is kept only when a plain member (str, ...) may
        plain = any(a is not type(None) and not _is_record(a) and get_origin(a) is not tuple for a in args)

        def union(raw: Any) -> Any:
            if record is not None and _readable(record, raw):
                return read_record(record, raw)
            if listy and isinstance(raw, list | tuple):
                return tuple(raw)
            return raw if plain else _UNSET

        return union
    return None


@dataclass(frozen=True, slots=True)
class _Plan:
    name: str
    key: str | None
    present: str | None
    falsy: bool
    convert: Convert | None


_PLANS: dict[type[Any], tuple[_Plan, ...]] = {}


def _plans(cls: type[Any]) -> tuple[_Plan, ...]:
    """How each field of ``cls`` is read (worked out once per record type)."""
    known = _PLANS.get(cls)
    if known is not None:
        return known
    hints = get_type_hints(cls)
    plans = []
    for f in dataclasses.fields(cls):
        meta, how = f.metadata, _convert(hints[f.name])
        plans.append(_Plan(f.name, json_key(f), meta.get("present"), bool(meta.get("falsy")), how))
    _PLANS[cls] = tuple(plans)
    return _PLANS[cls]


def record_values(cls: type[Any], data: Any) -> dict[str, Any]:
    """The field values of record ``cls`` that ``data`` gives (a field it does not give is absent)."""
    shorthand = getattr(cls, "SHORTHAND", None)
    if isinstance(data, str) and shorthand is not None:
        data = {shorthand: data}
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, Any] = {}
    for plan in _plans(cls):
        if plan.present is not None:
            out[plan.name] = plan.present in data
            continue
        if plan.key is None:
            continue
        raw = data.get(plan.key)
        if raw is None or (plan.falsy and not raw):
            continue
        value = raw if plan.convert is None else plan.convert(raw)
        if value is not _UNSET:
            out[plan.name] = value
    return out


def read_record(cls: type[R], data: Any) -> R:
    """Record ``cls`` read from ``data`` (a mapping of manifest keys), defaults for what it lacks."""
    return cls(**record_values(cls, data))
