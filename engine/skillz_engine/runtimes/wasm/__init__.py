"""``kind: wasm``: a WebAssembly (WASI preview 1) module run in-process by wasmtime.

One module per job:

* :mod:`.runtime`: :class:`WasmRuntime`: where an entry's module comes from, preparing it, the
  ``build`` hook;
* :mod:`.call`: one call (a worker thread, stdio, WASI configuration) and its result;
* :mod:`.engine`: the process's one wasmtime engine, fuel, the epoch ticker, the deadline decision;
* :mod:`.bindings`: the shim over wasmtime's private C bindings (the deadline callback);
* :mod:`.cache`: compiled modules in memory and as ``.cwasm`` files under the state directory;
* :mod:`.io`: a call's stdio as memory files;
* :mod:`.build`: modules built from source (Rust, C, WAT) in a content-keyed build cache.

wasmtime is imported on first use only: a tree without wasm tools never pays for it.
"""

from __future__ import annotations

from skillz_engine.runtimes.wasm.runtime import WasmRuntime

__all__ = ["WasmRuntime"]
