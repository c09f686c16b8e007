"""The kind registry: every manifest kind declared once.

A kind is everything the engine knows about one ``kind:`` value: its schema file, the folder of the
home layout where ``new`` scaffolds it and the writers write it, what it becomes on the MCP surface,
the runtime that compiles and runs it (``None`` while it is validated only), whether a spec restored
from the cache may compile on its first call, the names it uses from other entries, and the Rust
Skillz ``tool_type`` it is read from. ``cli`` choices, ``validate``, ``scaffold``, ``compile``, the
runtime registry, the reference docs and the tests iterate over :data:`KINDS`; a test checks the
registry against the schema union, the scaffold templates and the docs.

This module imports nothing of the engine, so every layer may read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Ref:
    """A name one entry uses from another: ``what`` is skill, bundle, service or tool."""

    path: tuple[str | int, ...]
    what: str
    name: str


Becomes = Literal["tool", "prompt", "resource", "skill", "bundle", "service", "mcp-server"]
References = Callable[[Mapping[str, Any]], Iterator[Ref]]


def _services(data: Mapping[str, Any]) -> Iterator[Ref]:
    req = data.get("requires")
    if isinstance(req, Mapping):
        for i, svc in enumerate(req.get("services") or ()):
            if isinstance(svc, str):
                yield Ref(("requires", "services", i), "service", svc)


def _steps(data: Mapping[str, Any]) -> Iterator[Ref]:
    yield from _services(data)
    for i, step in enumerate(data.get("steps") or ()):
        tool = step.get("tool") if isinstance(step, Mapping) else None
        if isinstance(tool, str):
            yield Ref(("steps", i, "tool"), "tool", tool)


def _depends_on(data: Mapping[str, Any]) -> Iterator[Ref]:
    for i, dep in enumerate(data.get("dependsOn") or ()):
        if isinstance(dep, str):
            yield Ref(("dependsOn", i), "skill", dep)


def _bundle(data: Mapping[str, Any]) -> Iterator[Ref]:
    for i, ref in enumerate(data.get("skills") or ()):
        if isinstance(ref, str):
            yield Ref(("skills", i), "bundle" if ref.startswith("@") else "skill", ref.lstrip("@"))


def _none(data: Mapping[str, Any]) -> Iterator[Ref]:
    return iter(())


@dataclass(frozen=True, slots=True)
class Kind:
    """One manifest kind."""

    name: str
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

    def refs(self, data: Mapping[str, Any]) -> tuple[Ref, ...]:
        """What an entry of this kind names elsewhere (skills, bundles, services, tools)."""
        return tuple(self.references(data))


def _tool(data: Mapping[str, Any]) -> Iterator[Ref]:
    return _services(data)


_RT = "skillz_engine.runtimes."
_ALL = (
    Kind("script", "tool", "tools", _RT + "script:ScriptRuntime", lazy=True, references=_tool,
         legacy_tool_type="script", summary="a program run per call (Python, Node, Bash, ...)"),
    Kind("command", "tool", "tools", _RT + "command:CommandRuntime", lazy=True, references=_tool,
         summary="an argv of Jinja2 templates, run with no shell"),
    Kind("wasm", "tool", "tools", _RT + "wasm:WasmRuntime", references=_tool, legacy_tool_type="wasm",
         summary="a WebAssembly module run under wasmtime"),
    Kind("pipeline", "tool", "pipelines", _RT + "pipeline:PipelineRuntime", lazy=True, references=_steps,
         legacy_tool_type="pipeline", summary="steps that call other tools"),
    Kind("prompt", "prompt", "prompts", _RT + "prompt:PromptRuntime", summary="a prompt template"),
    Kind("resource", "resource", "resources", _RT + "resource:ResourceRuntime",
         summary="a file, a glob of files or inline text"),
    Kind("skill", "skill", "skills", _RT + "skill:SkillRuntime", references=_depends_on,
         summary="an Agent Skill (SKILL.md)"),
    Kind("bundle", "bundle", "bundles", None, references=_bundle, summary="a named set of skills"),
    Kind("service", "service", "services", None, served=False, summary="a Docker container tools depend on"),
    Kind("mcp-server", "mcp-server", "servers", None, served=False, legacy_tool_type="mcp",
         summary="an imported MCP server"),
)  # fmt: skip

KINDS: Mapping[str, Kind] = MappingProxyType({k.name: k for k in _ALL})
KIND_NAMES: tuple[str, ...] = tuple(KINDS)
TOOL_KINDS: frozenset[str] = frozenset(k.name for k in _ALL if k.is_tool)
LEGACY_TOOL_TYPES: Mapping[str, str] = MappingProxyType(
    {k.legacy_tool_type: k.name for k in _ALL if k.legacy_tool_type}
)
