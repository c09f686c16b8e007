"""Compiled modules, cached: in memory per process and on disk as serialized ``.cwasm`` files.

Compiling a module is the slow part of loading it (hundreds of milliseconds for a large one);
deserializing a compiled one is not. A module's key is the SHA-256 of its bytes and the engine's
configuration (wasmtime version, fuel, epoch), so a cache file is only ever read by an engine that
could have written it; it lives at ``<state>/cache/wasm/<key>.cwasm`` and is written atomically.
A damaged or foreign cache file is ignored and the module compiled again.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["STATS", "ModuleCache"]

log = logging.getLogger("skillz_engine.wasm")

STATS: collections.Counter[str] = collections.Counter()  # compiled / deserialized / memory / built


class ModuleCache:
    """The ``InstancePre`` of each module loaded by one engine, by key."""

    def __init__(self, engine: Any, linker: Any, config_id: str) -> None:
        self.engine = engine
        self.linker = linker
        self.config_id = config_id
        self.modules: dict[str, Any] = {}  # key -> InstancePre
        self._lock = threading.Lock()

    def key(self, binary: bytes) -> str:
        return hashlib.sha256(binary + b"\0" + self.config_id.encode()).hexdigest()

    def load(self, binary: bytes, cache_dir: Path | None) -> Any:
        """The ``InstancePre`` for a module: from memory, from the disk cache, or compiled (and
        then serialized to the cache, atomically)."""
        key = self.key(binary)
        pre = self.modules.get(key)
        if pre is not None:
            STATS["memory"] += 1
            return pre
        with self._lock:
            pre = self.modules.get(key)
            if pre is not None:
                return pre
            path = cache_dir / f"{key}.cwasm" if cache_dir is not None else None
            module = self._deserialize(path) if path is not None and path.is_file() else None
            if module is None:
                module = self._compile(binary, path)
            pre = self.linker.instantiate_pre(module)
            self.modules[key] = pre
            return pre

    def _deserialize(self, path: Path) -> Any:
        import wasmtime

        try:
            module = wasmtime.Module.deserialize_file(self.engine, str(path))
        except Exception as exc:  # a damaged or foreign cache file: compile again
            log.warning("ignoring wasm cache file %s: %s", path, exc)
            return None
        STATS["deserialized"] += 1
        return module

    def _compile(self, binary: bytes, path: Path | None) -> Any:
        import wasmtime

        started = time.perf_counter()
        module = wasmtime.Module(self.engine, binary)
        STATS["compiled"] += 1
        log.info("compiled a wasm module (%d bytes) in %.1f ms", len(binary),
                 (time.perf_counter() - started) * 1000)  # fmt: skip
        if path is not None:
            with contextlib.suppress(OSError):
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:16]}.", dir=path.parent)
                with os.fdopen(fd, "wb") as f:
                    f.write(module.serialize())
                os.replace(tmp, path)
        return module
