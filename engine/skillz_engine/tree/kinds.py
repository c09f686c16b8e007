"""The kind registry: every manifest kind declared once.

A kind is everything the engine knows about one ``kind:`` value: its schema file, the folder of the
home layout where ``new`` scaffolds it and the writers write it, what it becomes on the MCP surface,
the runtime that compiles and runs it (``None`` while it is validated only), whether a spec restored
from the cache may compile on its first call, the names it uses from other entries, and the Rust
Skillz ``tool_type`` it is read from, and the typed record (:mod:`skillz_engine.tree.specs`) its
manifests are read into. ``cli`` choices, ``validate``, ``scaffold``, ``compile``, the runtime
registry, the reference docs and the tests iterate over :data:`KINDS`; a test checks the registry
against the schema union, the schema files, the scaffold templates and the docs.

This module imports nothing of the engine but the records (:mod:`~skillz_engine.tree.specs`,
:mod:`~skillz_engine.tree.records`), so every layer may read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from skillz_engine.tree.records import read_record
from skillz_engine.tree.specs import (
    BundleSpec,
    CommandSpec,
    McpServerSpec,
    PipelineSpec,
    PromptSpec,
    ResourceSpec,
    ScriptSpec,
    ServiceSpec,
    SkillSpec,
    Spec,
    ToolSpec,
    WasmSpec,
)


@dataclass(frozen=True, slots=True)
class Ref:
    """A name one entry uses from another: ``what`` is skill, bundle, service or tool."""

    path: tuple[str | int, ...]
    what: str
    name: str


Becomes = Literal["tool", "prompt", "resource", "skill", "bundle", "service", "mcp-server"]
References = Callable[[Spec], Iterator[Ref]]


def _services(record: Spec) -> Iterator[Ref]:
    if isinstance(record, ToolSpec):
        for i, svc in enumerate(record.requires.services):
            yield Ref(("requires", "services", i), "service", svc)


def _steps(record: Spec) -> Iterator[Ref]:
    yield from _services(record)
    if isinstance(record, PipelineSpec):
        for i, step in enumerate(record.steps):
            if step.tool:
                yield Ref(("steps", i, "tool"), "tool", step.tool)


def _depends_on(record: Spec) -> Iterator[Ref]:
    if isinstance(record, SkillSpec):
        for i, dep in enumerate(record.depends_on):
            yield Ref(("dependsOn", i), "skill", dep)


def _bundle(record: Spec) -> Iterator[Ref]:
    if isinstance(record, BundleSpec):
        for i, ref in enumerate(record.skills):
            yield Ref(("skills", i), "bundle" if ref.startswith("@") else "skill", ref.lstrip("@"))


def _none(record: Spec) -> Iterator[Ref]:
    return iter(())


@dataclass(frozen=True, slots=True)
class Kind:
    """One manifest kind."""

    name: str
    record: type[Spec]  # what its manifests are read into (from_document)
    becomes: Becomes
    home: str  # the home-layout folder: where `new` scaffolds and the writers write
    runtime: str | None  # "module:Class" of its runtime; None: nothing to compile
    served: bool = True  # False: validated only, with warning SKZ501 (no runtime yet)
    lazy: bool = False  # a spec restored from the cache compiles on its first call
    references: References = _none
    legacy_tool_type: str | None = None  # the Rust Skillz `tool_type` read as this kind
    summary: str = ""

    @property
    def schema(self) -> str:
        """The schema's short name: ``schemas/<schema>.schema.json``."""
        return self.name

    @property
    def is_tool(self) -> bool:
        return self.becomes == "tool"

    def refs(self, record: Spec) -> tuple[Ref, ...]:
        """What an entry of this kind names elsewhere (skills, bundles, services, tools)."""
        return tuple(self.references(record))


_RT = "skillz_engine.runtimes."
_ALL = (
    Kind("script", ScriptSpec, "tool", "tools", _RT + "script:ScriptRuntime", lazy=True,
         references=_services, legacy_tool_type="script",
         summary="a program run per call (Python, Node, Bash, ...)"),
    Kind("command", CommandSpec, "tool", "tools", _RT + "command:CommandRuntime", lazy=True,
         references=_services, summary="an argv of Jinja2 templates, run with no shell"),
    Kind("wasm", WasmSpec, "tool", "tools", _RT + "wasm:WasmRuntime", references=_services,
         legacy_tool_type="wasm", summary="a WebAssembly module run under wasmtime"),
    Kind("pipeline", PipelineSpec, "tool", "pipelines", _RT + "pipeline:PipelineRuntime", lazy=True,
         references=_steps, legacy_tool_type="pipeline", summary="steps that call other tools"),
    Kind("prompt", PromptSpec, "prompt", "prompts", _RT + "prompt:PromptRuntime",
         summary="a prompt template"),
    Kind("resource", ResourceSpec, "resource", "resources", _RT + "resource:ResourceRuntime",
         summary="a file, a glob of files or inline text"),
    Kind("skill", SkillSpec, "skill", "skills", _RT + "skill:SkillRuntime", references=_depends_on,
         summary="an Agent Skill (SKILL.md)"),
    Kind("bundle", BundleSpec, "bundle", "bundles", None, references=_bundle,
         summary="a named set of skills"),
    Kind("service", ServiceSpec, "service", "services", _RT + "service:ServiceRuntime",
         summary="a Docker container tools depend on"),
    Kind("mcp-server", McpServerSpec, "mcp-server", "servers",
         "skillz_engine.mcp.upstream.runtime:McpServerRuntime",
         legacy_tool_type="mcp", summary="an imported MCP server"),
)  # fmt: skip

KINDS: Mapping[str, Kind] = MappingProxyType({k.name: k for k in _ALL})
KIND_NAMES: tuple[str, ...] = tuple(KINDS)
TOOL_KINDS: frozenset[str] = frozenset(k.name for k in _ALL if k.is_tool)
LEGACY_TOOL_TYPES: Mapping[str, str] = MappingProxyType(
    {k.legacy_tool_type: k.name for k in _ALL if k.legacy_tool_type}
)


def from_document(kind: str, data: Mapping[str, Any]) -> Spec:
    """The typed record of a document of ``kind``: the one place manifest data becomes a record.

    ``data`` is the validated document with modern keys (a skill's: its front matter over the keys
    of its ``manifest.yaml``). An unknown kind is a bug of the caller: ``KeyError``.
    """
    return read_record(KINDS[kind].record, data)
