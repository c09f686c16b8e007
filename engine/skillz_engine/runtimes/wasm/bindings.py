"""The one place that touches wasmtime's private C bindings (``wasmtime._bindings``).

wasmtime-py has no public API for an epoch *deadline callback*, which is what lets a running
module be stopped for a reason decided in Python (the caller cancelled, stdout went over its cap)
and not only when a fixed number of epochs has passed. The callback is installed through the
private ctypes binding of ``wasmtime_store_epoch_deadline_callback``; a trap with our own message
is made with ``wasmtime_error_new``. Private names may move in any release, so:

* :data:`WRITTEN_FOR` is the range of wasmtime versions this was written and tested against (the
  same range ``pyproject.toml`` pins); ``tests/runtimes/test_wasm_bindings.py`` fails, naming the
  installed version, when another is installed, so a maintainer re-checks this module first;
* when the binding is missing or has another shape, :func:`deadline_hook` returns ``None`` and the
  engine falls back to a fixed deadline (the timeout still holds; cancellation and the output cap
  then act only when the call ends).
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

log = logging.getLogger("skillz_engine.wasm")

WRITTEN_FOR = ((50,), (51,))  # [lowest, highest) major version of the wasmtime package

# (call id) -> None to go on for one more epoch, or the reason to stop the module
Decide = Callable[[int], str | None]

_CONTINUE = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE


def wasmtime_version() -> str:
    """The installed wasmtime package's version (``"50.0.1"``)."""
    return version("wasmtime")


def written_for(installed: str) -> bool:
    """Whether ``installed`` lies in :data:`WRITTEN_FOR`."""
    major = tuple(int(p) for p in installed.split(".")[:1] if p.isdigit())
    low, high = WRITTEN_FOR
    return bool(major) and low <= major < high


class DeadlineHook:
    """A deadline callback for stores: every epoch it asks ``decide`` whether the call may go on."""

    def __init__(self, decide: Decide) -> None:
        from wasmtime import _bindings as b

        setter = b._wasmtime_store_epoch_deadline_callback
        callback_type, finalizer_type = setter.argtypes[1], setter.argtypes[3]
        self._decide = decide
        self._set = b.wasmtime_store_epoch_deadline_callback
        self._error_new = b.wasmtime_error_new
        self._callback = callback_type(self._on_deadline)  # kept alive as long as the hook
        self._finalizer = finalizer_type(0)

    def install(self, store: Any, call_id: int) -> None:
        """Make ``store`` call back after one epoch, for the call ``call_id``."""
        self._set(store.ptr(), self._callback, ctypes.c_void_p(call_id), self._finalizer)
        store.set_epoch_deadline(1)

    def _on_deadline(self, _ctx: Any, data: Any, delta: Any, kind: Any) -> int:
        """Runs on the call's thread every epoch: go on for one more, or trap with the reason."""
        reason = self._decide(int(data or 0))
        if reason is None:
            delta[0] = 1
            kind[0] = _CONTINUE
            return 0
        err = self._error_new(ctypes.create_string_buffer(f"skillz: stopped ({reason})".encode()))
        return int(ctypes.cast(err, ctypes.c_void_p).value or 0)


def deadline_hook(decide: Decide) -> DeadlineHook | None:
    """A :class:`DeadlineHook`, or ``None`` when this wasmtime's private binding cannot give one."""
    try:
        return DeadlineHook(decide)
    except Exception as exc:  # the private binding moved: the caller falls back to a fixed deadline
        log.warning("wasmtime %s: no deadline callback (%s); timeouts only", wasmtime_version(), exc)
        return None
