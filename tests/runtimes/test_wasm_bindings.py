"""The shim over wasmtime's private C bindings: pinned to the versions it was written for."""

from __future__ import annotations

import pytest

from skillz_engine.runtimes.wasm import bindings


def test_the_installed_wasmtime_is_one_the_shim_was_written_for() -> None:
    """A new wasmtime may have moved ``wasmtime._bindings``: re-check bindings.py, then widen
    WRITTEN_FOR (and the pin in pyproject.toml)."""
    installed = bindings.wasmtime_version()
    low, high = bindings.WRITTEN_FOR
    assert bindings.written_for(installed), (
        f"wasmtime {installed} is installed, but runtimes/wasm/bindings.py was written for "
        f"wasmtime >={low[0]},<{high[0]}: check its private bindings, then widen WRITTEN_FOR"
    )


@pytest.mark.parametrize(
    ("version", "expected"),
    [("50.0.1", True), ("50.1.0rc1", True), ("49.0.0", False), ("51.0.0", False), ("dev", False)],
)
def test_the_version_range_is_read_by_major_version(version: str, expected: bool) -> None:
    assert bindings.written_for(version) is expected


def test_the_private_binding_has_the_shape_the_shim_uses() -> None:
    from wasmtime import _bindings as b

    setter = b._wasmtime_store_epoch_deadline_callback
    assert len(setter.argtypes) == 4  # store, callback, data, finalizer
    assert callable(b.wasmtime_store_epoch_deadline_callback) and callable(b.wasmtime_error_new)
    assert bindings.deadline_hook(lambda _call: None) is not None


def test_without_the_binding_the_hook_is_none_and_the_engine_keeps_a_fixed_deadline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from wasmtime import _bindings as b

    monkeypatch.delattr(b, "_wasmtime_store_epoch_deadline_callback")
    assert bindings.deadline_hook(lambda _call: None) is None
    assert "no deadline callback" in caplog.text
