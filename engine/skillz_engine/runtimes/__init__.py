"""The runtimes, one module or small package per kind, registered in one place: the kind registry
(``tree/kinds.py``) names each kind's runtime as ``"module:Class"``.

:data:`RUNTIMES` imports them lazily (on first use of their kind, see
:class:`~skillz_engine.build.contract.KindRuntimes`), so ``validate`` of a tree without scripts
never imports subprocess machinery, and stdio start-up stays fast.
"""

from __future__ import annotations

from skillz_engine.build.contract import RUNTIMES, Runtime

__all__ = ["RUNTIMES", "Runtime"]
