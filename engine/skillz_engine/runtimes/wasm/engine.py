"""The process's one wasmtime ``Engine``: fuel, epoch interruption, the ticker and the call registry.

Every store runs with fuel (``limits.fuel`` instructions) and an epoch deadline. A ticker thread
advances the epoch every :data:`TICK` seconds while calls run (and sleeps when none does); each
call's store has a deadline of one tick and a callback (:mod:`~skillz_engine.runtimes.wasm.bindings`)
that decides, every tick, whether the call may go on: it stops the module when ``limits.timeout``
has passed, when the caller cancelled, or when stdout went over ``limits.output``. What the
callback knows of a running call is its :class:`Call` in :data:`CALLS`, by call id.

The engine is made on first use (importing wasmtime is slow) and shared by every wasm tool of the
process, so compiled modules (:mod:`~skillz_engine.runtimes.wasm.cache`) are reused across
snapshots.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from skillz_engine.runtimes.wasm.bindings import deadline_hook, wasmtime_version
from skillz_engine.runtimes.wasm.cache import ModuleCache

__all__ = ["CALLS", "TICK", "Call", "SharedEngine", "new_call_id", "shared_engine"]

TICK = 0.01  # seconds between epoch increments while calls run


class Call:
    """What the deadline callback needs to know about one running call."""

    __slots__ = ("cancelled", "cap", "deadline", "out_fd", "reason")

    def __init__(self, deadline: float, out_fd: int, cap: int) -> None:
        self.deadline = deadline
        self.out_fd = out_fd
        self.cap = cap
        self.cancelled = False
        self.reason: str | None = None

    def overflowed(self) -> bool:
        try:
            return os.fstat(self.out_fd).st_size > self.cap
        except OSError:
            return False


CALLS: dict[int, Call] = {}
_IDS = itertools.count(1)


def new_call_id() -> int:
    return next(_IDS)


def _decide(call_id: int) -> str | None:
    """Every tick of a running call: ``None`` to go on, else why it stops (kept on the call)."""
    call = CALLS.get(call_id)
    if call is None:
        return "the call was abandoned"
    reason = None
    if call.cancelled:
        reason = "cancelled"
    elif call.overflowed():
        reason = "output"
    elif time.monotonic() >= call.deadline:
        reason = "timeout"
    if reason is not None:
        call.reason = reason
    return reason


class SharedEngine:
    """The process's wasmtime engine, WASI linker, epoch ticker and module cache."""

    def __init__(self) -> None:
        import wasmtime

        cfg = wasmtime.Config()
        cfg.consume_fuel = True
        cfg.epoch_interruption = True
        self.engine = wasmtime.Engine(cfg)
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        self.config_id = f"wasmtime {wasmtime_version()}; fuel; epoch"
        self.modules = ModuleCache(self.engine, self.linker, self.config_id)
        self._active = 0
        self._wake = threading.Condition()
        self._ticker = threading.Thread(target=self._tick, name="skillz-wasm-epoch", daemon=True)
        self._ticker.start()
        self._hook = deadline_hook(_decide)

    def load(self, binary: bytes, cache_dir: Path | None) -> Any:
        """The ``InstancePre`` of a module (see :meth:`ModuleCache.load`)."""
        return self.modules.load(binary, cache_dir)

    # ticker ------------------------------------------------------------------------------

    def _tick(self) -> None:
        while True:
            with self._wake:
                while self._active == 0:
                    self._wake.wait()
            time.sleep(TICK)
            self.engine.increment_epoch()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """While a module runs: keeps the ticker going."""
        with self._wake:
            self._active += 1
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                self._active -= 1

    def configure(self, store: Any, call_id: int, timeout: float) -> None:
        """Every store gets a deadline (one tick + the callback, or the whole timeout)."""
        if self._hook is not None:
            self._hook.install(store, call_id)
        else:
            store.set_epoch_deadline(max(1, int(timeout / TICK) + 1))


_SHARED: SharedEngine | None = None
_SHARED_LOCK = threading.Lock()


def shared_engine() -> SharedEngine:
    global _SHARED
    if _SHARED is None:
        with _SHARED_LOCK:
            if _SHARED is None:
                _SHARED = SharedEngine()
    return _SHARED
