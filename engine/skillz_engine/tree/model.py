"""The model: what an entry of the tree *is*, independent of how it runs or is served.

An :class:`EntrySpec` is one validated manifest (or SKILL.md) with the data normalised to the modern
keys, and that data read into its kind's typed record (``record``, see :mod:`skillz_engine.tree.specs`).
It is immutable by contract: nothing mutates ``data`` after validation. The compiled,
served shapes (:class:`ToolDef`, :class:`PromptDef`, :class:`ResourceDef`, ...) live here too, so
that runtimes, the snapshot and the server share one vocabulary without importing ``mcp``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.kinds import KINDS, Ref, from_document
from skillz_engine.tree.parse import JsonPath, Positions
from skillz_engine.tree.singlefile import COMMENTS
from skillz_engine.tree.specs import Spec

JSON = Any
Args = Mapping[str, Any]
R = TypeVar("R", bound=Spec)


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """One entry of the tree: a directory holding one manifest (or a SKILL.md)."""

    kind: str
    name: str
    root: Path  # the root this entry was found under
    dir: Path  # the entry's directory (absolute)
    manifest: Path  # the manifest file (absolute)
    display: str  # the manifest path as diagnostics show it
    data: Mapping[str, Any]  # validated, modern keys; never mutated
    positions: Positions
    fingerprint: str  # digest of every file of the entry (names, sizes, mtimes)
    owner: str | None = None  # the skill this entry belongs to (nested entries)
    legacy: bool = False  # read from the Rust Skillz format
    body: str | None = None  # skills: the SKILL.md body
    extras: Mapping[str, Any] = field(default_factory=dict)  # skills: manifest.yaml extras
    # `data` read into the kind's record, and what the entry names elsewhere: both made on first use
    # (specs restored from the cache get them too; a `dataclasses.replace` copy, which the compiler
    # makes of every spec, starts without them, so an unread record is never built at all)
    enabled: bool = field(default=True, init=False, compare=False)  # `enabled` of the manifest
    _record: Spec | None = field(default=None, init=False, compare=False, repr=False)
    _refs: tuple[Ref, ...] | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def record(self) -> Spec:
        """``data`` as the kind's typed record (see :func:`~skillz_engine.tree.kinds.from_document`)."""
        record = self._record
        if record is None:
            record = from_document(self.kind, self.data)
            object.__setattr__(self, "_record", record)
        return record

    def __post_init__(self) -> None:
        # read for every entry of every snapshot: a plain attribute, not a trip through the record
        object.__setattr__(self, "enabled", self.data.get("enabled", True) is not False)

    @property
    def refs(self) -> tuple[Ref, ...]:
        """What this entry names elsewhere (skills, bundles, services, tools)."""
        refs = self._refs
        if refs is None:
            refs = KINDS[self.kind].refs(self.record)
            object.__setattr__(self, "_refs", refs)
        return refs

    def with_refs(self, refs: tuple[Ref, ...]) -> EntrySpec:
        """This spec with its references already known: a spec restored from the spec cache
        (reading them from ``data`` would decode a manifest nothing else may need)."""
        object.__setattr__(self, "_refs", refs)
        return self

    @property
    def key(self) -> str:
        """Stable identity of the entry across snapshots: its directory."""
        return self.dir.as_posix()

    @property
    def single_file(self) -> bool:
        """Whether this is a single-file tool: a script carrying its manifest (tree/singlefile.py),
        whose ``dir`` is virtual (``tools/hello`` for ``tools/hello.py``)."""
        return self.manifest.parent != self.dir and self.manifest.suffix in COMMENTS

    @property
    def home(self) -> Path:
        """The directory the entry's files are in, which the paths its manifest names are relative
        to: its own directory, or for a single-file tool the directory holding the file."""
        return self.manifest.parent if self.single_file else self.dir

    @property
    def description(self) -> str:
        return self.record.description

    def record_as(self, cls: type[R]) -> R:
        """``record`` as the record type its runtime expects (``TypeError`` for another kind's)."""
        if not isinstance(self.record, cls):
            raise TypeError(f"{self.name}: a {self.kind} entry has no {cls.__name__}")
        return self.record

    def diag(
        self,
        json_path: JsonPath,
        code: str,
        message: str,
        hint: str | None = None,
        severity: Severity = Severity.ERROR,
        *,
        at_key: bool = False,
    ) -> Diagnostic:
        """A diagnostic at ``json_path`` of this entry's manifest (as :meth:`parse.Document.diag`)."""
        return self.positions.diagnostic(
            self.display, json_path, code, message, hint, severity, at_key=at_key
        )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool's answer in MCP wire shape (camelCase content blocks), without importing ``mcp``."""

    content: tuple[Mapping[str, Any], ...]
    structured: Any = None
    is_error: bool = False
    meta: Mapping[str, Any] | None = None
    # the JSON-RPC error (code, message, data) the tool answered with instead of a result: an
    # ``isError`` result in a call, a ``failed`` task in the Tasks extension
    rpc_error: Mapping[str, Any] | None = None
    # already MCP JSON as an MCP server wrote it (an imported server's result): sent on as it is,
    # without a model round trip in the engine (:func:`skillz_engine.mcp.wire.tool_result`)
    trusted: bool = False

    @staticmethod
    def text(text: str, *, is_error: bool = False, structured: Any = None) -> ToolResult:
        return ToolResult(({"type": "text", "text": text},), structured, is_error)

    @staticmethod
    def error(message: str) -> ToolResult:
        return ToolResult.text(message, is_error=True)

    def text_content(self) -> str:
        return "\n".join(str(b.get("text", "")) for b in self.content if b.get("type") == "text")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"content": [dict(b) for b in self.content], "isError": self.is_error}
        if self.structured is not None:
            out["structuredContent"] = self.structured
        if self.meta:
            out["_meta"] = dict(self.meta)
        return out


# --------------------------------------------------------------------------- call context

# A served callable runs against the request's context and snapshot. Their types, the
# :class:`~skillz_engine.build.contract.CallContext` protocol and the
# :class:`~skillz_engine.build.snapshot.Snapshot`, live in the build layer (they reach what is
# built from these specs), so the model names them ``Context`` and ``SnapshotRef``: checked where
# the callables are written (runtimes, built-ins) and called (the server, ``run_tool``).
Context = Any
SnapshotRef = Any
ToolInvoker = Callable[[Args, Context], Awaitable[ToolResult]]


# --------------------------------------------------------------------------- served shapes
#
# Each served shape has a ``definition()``: the camelCase JSON object MCP lists it as, the one
# encoding both the server (``mcp/wire.py``) and a script's ``resources/list`` answer use.


def _present(**fields: Any) -> dict[str, Any]:
    """``fields`` without the ones that are ``None`` (absent on the wire, never ``null``)."""
    return {k: v for k, v in fields.items() if v is not None}


def _icons(icons: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    return [dict(i) for i in icons] if icons else None


@dataclass(frozen=True, slots=True)
class ToolDef:
    """A tool as served: its MCP definition and how to run it."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    invoke: ToolInvoker = field(compare=False, repr=False)
    title: str | None = None
    output_schema: Mapping[str, Any] | None = None
    annotations: Mapping[str, Any] | None = None
    icons: Sequence[Mapping[str, Any]] | None = None
    tags: tuple[str, ...] = ()
    kind: str = "builtin"
    entry: str | None = None  # EntrySpec.key, None for built-ins
    owner: str | None = None  # owning skill, if any
    digest: str = ""  # changes when the definition changes (for diff)
    meta: Mapping[str, Any] | None = None  # the tool's `_meta` as listed (an imported tool's, as is)
    task: str | None = None  # the manifest's `task:` (required/optional/forbidden); None: optional

    def definition(self) -> dict[str, Any]:
        """The MCP ``Tool`` object (camelCase)."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "inputSchema": dict(self.input_schema),
        }
        if self.title:
            out["title"] = self.title
        if self.output_schema is not None:
            out["outputSchema"] = dict(self.output_schema)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.icons:
            out["icons"] = _icons(self.icons)
        if self.meta:
            out["_meta"] = dict(self.meta)
        if self.task:
            out["execution"] = {"taskSupport": self.task}
        return out


@dataclass(frozen=True, slots=True)
class PromptArgument:
    name: str
    description: str | None = None
    required: bool = False
    values: tuple[str, ...] = ()  # completion values


PromptRenderer = Callable[[Args, Context | None], Awaitable[list[dict[str, Any]]]]
Completer = Callable[[str, str, Args], Sequence[str]]  # (argument, prefix, other args) -> values


@dataclass(frozen=True, slots=True)
class PromptDef:
    name: str
    description: str
    arguments: tuple[PromptArgument, ...]
    render: PromptRenderer = field(compare=False, repr=False)  # -> list of MCP PromptMessage dicts
    complete: Completer | None = field(default=None, compare=False, repr=False)
    title: str | None = None
    icons: Sequence[Mapping[str, Any]] | None = None
    entry: str | None = None
    owner: str | None = None
    digest: str = ""
    asks: bool = False  # rendered by a script that may ask the client (elicitation, sampling)

    def definition(self) -> dict[str, Any]:
        """The MCP ``Prompt`` object (camelCase); an empty description is left out."""
        arguments = [
            _present(name=a.name, description=a.description, required=a.required) for a in self.arguments
        ]
        head = _present(
            name=self.name, title=self.title, description=self.description or None, icons=_icons(self.icons)
        )
        return {**head, "arguments": arguments}


ResourceReader = Callable[[SnapshotRef], Awaitable[list[dict[str, Any]]]]  # -> MCP ResourceContents dicts


@dataclass(frozen=True, slots=True)
class ResourceDef:
    uri: str
    name: str
    read: ResourceReader = field(compare=False, repr=False)
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    icons: Sequence[Mapping[str, Any]] | None = None
    entry: str | None = None
    owner: str | None = None
    digest: str = ""  # content digest: a change means resources/updated
    subscribe: bool = True
    meta: Mapping[str, Any] | None = None  # the resource's `_meta` as listed

    def definition(self) -> dict[str, Any]:
        """The MCP ``Resource`` object (camelCase), ``icons`` and ``_meta`` included when set."""
        return _present(
            uri=self.uri,
            name=self.name,
            title=self.title,
            description=self.description,
            mimeType=self.mime_type,
            size=self.size,
            icons=_icons(self.icons),
            _meta=dict(self.meta) if self.meta else None,
        )


TemplateReader = Callable[[str, Mapping[str, str], SnapshotRef], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class ResourceTemplateDef:
    uri_template: str
    name: str
    match: Callable[[str], Mapping[str, str] | None] = field(compare=False, repr=False)
    read: TemplateReader = field(compare=False, repr=False)
    complete: Completer | None = field(default=None, compare=False, repr=False)
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    icons: Sequence[Mapping[str, Any]] | None = None
    entry: str | None = None
    owner: str | None = None
    digest: str = ""

    def definition(self) -> dict[str, Any]:
        """The MCP ``ResourceTemplate`` object (camelCase)."""
        return _present(
            uriTemplate=self.uri_template,
            name=self.name,
            title=self.title,
            description=self.description,
            mimeType=self.mime_type,
            icons=_icons(self.icons),
        )


Lifecycle = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Compiled:
    """What one entry contributes to a snapshot.

    ``start`` runs before the snapshot that holds it is swapped in (make-before-break), ``stop``
    after the snapshot it left has drained. Both are optional: most runtimes are stateless.
    """

    spec: EntrySpec
    tools: tuple[ToolDef, ...] = ()
    prompts: tuple[PromptDef, ...] = ()
    resources: tuple[ResourceDef, ...] = ()
    templates: tuple[ResourceTemplateDef, ...] = ()
    start: Lifecycle | None = field(default=None, compare=False, repr=False)
    stop: Lifecycle | None = field(default=None, compare=False, repr=False)
    state: Literal["ok", "stale"] = "ok"
    # the live object of a stateful entry that other entries reach through the snapshot (a Docker
    # service's handle, which tools with `requires.services` ask for their endpoint)
    handle: Any = field(default=None, compare=False, repr=False)
