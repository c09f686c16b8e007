"""The runtimes, one per kind, registered in one place.

Runtimes are imported lazily (on first use of their kind), so ``validate`` of a tree without
scripts never imports subprocess machinery, and stdio start-up stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from skillz_engine.runtimes.base import Runtime

# kind -> (module, class); the one place a kind is registered
REGISTRY: dict[str, tuple[str, str]] = {
    "script": ("skillz_engine.runtimes.script", "ScriptRuntime"),
    "command": ("skillz_engine.runtimes.command", "CommandRuntime"),
    "prompt": ("skillz_engine.runtimes.prompt", "PromptRuntime"),
    "resource": ("skillz_engine.runtimes.resource", "ResourceRuntime"),
    "skill": ("skillz_engine.runtimes.skill", "SkillRuntime"),
    "pipeline": ("skillz_engine.runtimes.pipeline", "PipelineRuntime"),
    "wasm": ("skillz_engine.runtimes.wasm", "WasmRuntime"),
}


class _Runtimes(Mapping[str, Runtime]):
    def __init__(self) -> None:
        self._loaded: dict[str, Runtime] = {}

    def __getitem__(self, kind: str) -> Runtime:
        if kind not in self._loaded:
            module, cls = REGISTRY[kind]
            self._loaded[kind] = getattr(importlib.import_module(module), cls)()
        return self._loaded[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


RUNTIMES: Mapping[str, Runtime] = _Runtimes()

__all__ = ["REGISTRY", "RUNTIMES", "Runtime"]
