"""The runtimes, one per kind, registered in one place.

Runtimes are imported lazily (on first use of their kind), so ``validate`` of a tree without
scripts never imports subprocess machinery, and stdio start-up stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from skillz_engine.runtimes.base import Runtime
from skillz_engine.tree.kinds import KINDS

# kind -> (module, class), from the kind registry (tree/kinds.py), where each kind is declared once
REGISTRY: dict[str, tuple[str, str]] = {
    k.name: (k.runtime.partition(":")[0], k.runtime.partition(":")[2])
    for k in KINDS.values()
    if k.runtime is not None
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
