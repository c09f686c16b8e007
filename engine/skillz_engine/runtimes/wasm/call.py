"""One call of a wasm tool: the module run in a worker thread, its outcome as a ``ToolResult``.

The arguments go to stdin as JSON; ``wasi.args`` / ``wasi.env`` / ``secrets`` as the manifest says;
the ``wasi.mounts`` of the entry preopened read-only, and nothing else: no other files, no network.
Exit 0 -> stdout is the result (JSON validated against ``outputSchema`` becomes
``structuredContent``); a non-zero exit or a trap -> ``isError`` with the trap kind and the
stderr tail. The awaiting returns only once the module has stopped: its stdio files must outlive it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from skillz_engine.isolation.limits import Limits
from skillz_engine.runtimes import results
from skillz_engine.runtimes.wasm.engine import CALLS, TICK, Call, SharedEngine, new_call_id, shared_engine
from skillz_engine.runtimes.wasm.io import CallFiles
from skillz_engine.tree.model import Args, ToolResult

__all__ = ["DEFAULT_MEMORY", "Invocation", "format_size", "run"]

DEFAULT_MEMORY = 256 << 20  # bytes of linear memory per module unless limits.memory says otherwise


def format_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True, slots=True)
class Invocation:
    """How one tool's module runs: what it sees and the limits it runs under."""

    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    mounts: tuple[tuple[str, str], ...]  # (host directory, guest path), read-only
    limits: Limits
    fuel: int
    output_schema: Mapping[str, Any] | None

    @property
    def memory(self) -> int:
        return self.limits.memory or DEFAULT_MEMORY


@dataclass
class _Outcome:
    exit_code: int = 0
    trap: str | None = None  # trap kind (out of fuel, unreachable, ...)
    message: str | None = None
    reason: str | None = None  # timeout / cancelled / output (our own stops)


async def run(pre: Any, inv: Invocation, arguments: Args) -> ToolResult:
    """Run the module (``pre``, an ``InstancePre``) once with ``arguments``."""
    import anyio

    limits = inv.limits
    payload = json.dumps(dict(arguments), ensure_ascii=False).encode() + b"\n"
    call_id = new_call_id()
    files = CallFiles(payload)
    call = Call(time.monotonic() + limits.timeout, files.stdout, limits.output)
    CALLS[call_id] = call
    shared = shared_engine()
    finished = threading.Event()

    def work() -> _Outcome:
        try:
            return _run_sync(shared, pre, call_id, files, inv)
        finally:
            finished.set()

    try:
        outcome = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        if call.reason is not None:
            outcome.reason = call.reason
        out, size = files.read(files.stdout, limits.output)
        err, _ = files.read(files.stderr, results.STDERR_TAIL, tail=True)
        return _result(inv, outcome, out, size, err)
    finally:
        call.cancelled = True  # the deadline callback stops a module still running
        if not finished.is_set():
            with anyio.CancelScope(shield=True):
                while not finished.is_set():  # its files must outlive it
                    await anyio.sleep(TICK / 2)
        CALLS.pop(call_id, None)
        files.close()


def _run_sync(shared: SharedEngine, pre: Any, call_id: int, files: CallFiles, inv: Invocation) -> _Outcome:
    import wasmtime

    store = wasmtime.Store(shared.engine)
    try:
        store.set_fuel(inv.fuel)
        store.set_limits(memory_size=inv.memory, instances=8, tables=8, memories=4)
        shared.configure(store, call_id, inv.limits.timeout)
        wc = wasmtime.WasiConfig()
        wc.stdin_file = files.path(files.stdin)
        wc.stdout_file = files.path(files.stdout)
        wc.stderr_file = files.path(files.stderr)
        wc.argv = list(inv.argv)
        wc.env = list(inv.env)
        for host, guest in inv.mounts:
            wc.preopen_dir(host, guest, False)
        store.set_wasi(wc)
        try:
            instance = pre.instantiate(store)
            start = instance.exports(store).get("_start")
            if start is None:
                return _Outcome(1, message="the module has no `_start` export (is it a WASI command?)")
            with shared.running():
                start(store)
            return _Outcome(0)
        except wasmtime.ExitTrap as exc:
            return _Outcome(exc.code)
        except wasmtime.Trap as exc:
            code = exc.trap_code
            kind = code.name.lower().replace("_", " ") if code is not None else "trap"
            return _Outcome(1, trap=kind, message=exc.message)
        except wasmtime.WasmtimeError as exc:
            return _Outcome(1, message=str(exc))
    finally:
        store.close()


def _result(inv: Invocation, o: _Outcome, out: bytes, size: int, stderr: bytes) -> ToolResult:
    name, limits, memory = inv.name, inv.limits, inv.memory
    stdout = out.decode("utf-8", "replace")
    if o.reason == "output" or size > limits.output:
        return results.error_result(
            f"{name} wrote more than {format_size(limits.output)} to stdout (limits.output) and was "
            f"stopped; the first part was:\n{stdout[:500]}",
            stderr,
        )
    if o.reason == "timeout" or o.trap == "interrupt":
        return results.error_result(f"{name} timed out after {limits.timeout:g}s (limits.timeout)", stderr)
    if o.reason == "cancelled":
        return results.error_result(f"{name} was cancelled", stderr)
    if o.trap is not None:
        message = f"{name} trapped: {o.trap}"
        if o.trap == "out of fuel":
            message += f" (limits.fuel: {inv.fuel})"
        elif o.trap in ("unreachable", "memory out of bounds"):
            message += f" (a panic, an abort or an out-of-memory; limits.memory is {format_size(memory)})"
        if stdout.strip():
            message += f"\nstdout:\n{results.tail(stdout)}"
        return results.error_result(message, stderr)
    if o.message is not None:
        message = o.message.strip()
        if "memory" in message and "limit" in message:
            message += f" (limits.memory is {format_size(memory)})"
        return results.error_result(f"{name} failed: {message}", stderr)
    if o.exit_code != 0:
        message = f"{name} exited with status {o.exit_code}"
        if stdout.strip():
            message += f"\nstdout:\n{results.tail(stdout)}"
        return results.error_result(message, stderr)
    return results.from_output(stdout.rstrip("\n"), inv.output_schema)
