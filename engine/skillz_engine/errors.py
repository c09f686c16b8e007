"""The exception tree of skillz-engine.

Every error the engine raises on purpose derives from :class:`EngineError`, so a caller that must
not crash (the CLI, a transport) can catch the engine's own failures and let real bugs through.
Where an error used to be a ``ValueError`` and callers catch it as one, it still is one (shown in
parentheses). Names without a module are defined here; the others where they are raised::

    EngineError                                  anything the engine raises on purpose
    ├── UsageError                               the command line or an argument is wrong (exit 2)
    │   └── ServerRunning                        another server holds the state directory (exit 2)
    ├── engine.TreeHasErrors                     a strict engine's tree has errors (exit 1)
    ├── ToolNotFound                             a call names no tool of the current snapshot
    ├── units.UnitError (ValueError)             a duration or size that cannot be read
    ├── tree.paths.PathEscape                    a relative path would leave its base
    ├── tree.bounded.ManifestTooComplex          a manifest's data would cross a size or depth bound
    ├── tree.templating.TemplateError            a template failed to render
    ├── build.contract.CompileProblem            diagnostics about an entry, raised at compile time
    ├── runtimes.wasm.build.source.BuildError    a WebAssembly build could not run or failed
    ├── state.sources.SourceError                a skill repository cannot be fetched
    ├── state.memory.MemoryRefused (ValueError)  a memory operation was refused (key, value, ttl)
    ├── state.history.HistoryError               an entry or version that history does not hold
    ├── state.parked_relay.RelayError            a parked call's replica cannot be reached (gone, Redis down)
    └── RuntimeFailure                           a runtime could not run a tool (not the tool's error)
        ├── SandboxUnavailable                   a manifest demands a sandbox this machine lacks
        ├── isolation.installers.InstallError    a tool's environment could not be installed
        ├── runtimes.service.client.ServiceFailure  a Docker service cannot start or become healthy
        ├── mcp.upstream.rpc.UpstreamError        an imported MCP server answered an error (or none)
        ├── state.redislink.ClusterUnavailable   the cluster's Redis is down (memory, writers' lock, token)
        ├── state.writelock.WriterBusy           another writer held the writers' lock too long
        └── builtins.writers.WriterError         a writer built-in refused or failed

Outside the tree, on purpose: ``runtimes.script.host._RpcError`` and ``runtimes.wasm.runtime._PrepareError``
are control flow inside one module (an error reply to a script's request; a failed preparation
turned into diagnostics) and never reach a caller. ``tests/test_errors.py`` checks this drawing
against the classes.

A tool that runs and fails is not an exception: it is a ``ToolResult`` with ``is_error=True``.

This module imports nothing of the package, so every layer, ``units`` included, may use it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence


class ExitCode(enum.IntEnum):
    """Exit codes of the CLI (the command-line table in README.md)."""

    OK = 0
    MANIFEST_ERRORS = 1
    USAGE = 2
    INTERNAL = 3
    INTERRUPTED = 130


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class UsageError(EngineError):
    """The caller asked for something that cannot be done as asked."""


class ServerRunning(UsageError):
    """Another process serves this state directory (its lock is held); ``owner`` says who."""

    def __init__(self, state_dir: object, owner: Mapping[str, object]) -> None:
        self.state_dir, self.owner = state_dir, dict(owner)
        who = f"pid {owner.get('pid', '?')}"
        if owner.get("url"):
            who += f", {owner['url']}"
        elif owner.get("transport"):
            who += f", {owner['transport']}"
        super().__init__(
            f"another skillz-engine server ({who}) is already serving the state directory {state_dir}; "
            "stop it first, or give this one its own --state-dir"
        )


class ToolNotFound(EngineError):
    """No tool of that name in the snapshot the request reads."""

    def __init__(self, name: str, suggestions: Sequence[str] = ()) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown tool {name!r}.{hint}")


class RuntimeFailure(EngineError):
    """A runtime could not run a tool (interpreter missing, spawn failed, ...)."""


class SandboxUnavailable(RuntimeFailure):
    """The manifest asks for a sandbox that is not installed here; we fail closed."""
