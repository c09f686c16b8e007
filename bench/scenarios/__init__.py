"""One module per scenario; each has ``NAME``, ``TITLE`` and ``run(ctx) -> list[Row]``."""

from __future__ import annotations

import importlib
from types import ModuleType

# run order; the module of scenario "x-y" is bench.scenarios.x_y
ORDER = ("validate", "serve", "call", "notify", "swap", "rss", "http-load", "deps", "wasm", "skills",
         "sandbox", "load", "services", "codemode", "upstream", "redis-bus", "replicas",
         "spawn", "worker")  # fmt: skip


def load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.scenarios.{name.replace('-', '_')}")
