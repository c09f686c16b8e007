"""``kind: wasm``: engine time of a warm call, and a restart that loads compiled modules from the cache.

In-process (no MCP transport: the time the engine adds). Row 1: ``run_tool`` on a WAT tool that
copies its JSON arguments from stdin to stdout, against the same logic as a ``kind: script``
Python tool (``protocol: plain``: ``print(json.dumps(json.load(sys.stdin)))``), calls interleaved,
the first ones a warm-up. Target: p50 under 2 ms and at least 10x faster than the script.

Row 2: what a restart costs per module. A generated module with 2,000 functions (about the size
of a Rust tool using serde_json once compiled) is loaded by a fresh shared engine, as after a
restart: from the on-disk cache of serialized modules (engine side) against compiling it
(baseline: the same fresh engine with no cache). Target: the restart compiles nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from bench.core import Ctx, Row, judge, reason_of, summary_or_none
from bench.procs import Unavailable

if TYPE_CHECKING:
    from skillz_engine.build.snapshot import Snapshot

NAME = "wasm"
TITLE = "wasm tool: warm call / restart"

ECHO_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $n i32)
    (block $done
      (loop $again
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const 60000))
        (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $n)))
        (i32.store (i32.const 4) (local.get $n))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br $again)))))
"""
ECHO_PY = "import json, sys\nprint(json.dumps(json.load(sys.stdin)))\n"


def _write_tree(root: Path) -> None:
    (root / "tools" / "echo-wasm").mkdir(parents=True, exist_ok=True)
    (root / "tools" / "echo-wasm" / "echo.wat").write_text(ECHO_WAT)
    (root / "tools" / "echo-wasm" / "manifest.yaml").write_text(
        "kind: wasm\ndescription: Echo the arguments (WAT)\nmodule: echo.wat\n"
    )
    (root / "tools" / "echo-py").mkdir(parents=True, exist_ok=True)
    (root / "tools" / "echo-py" / "echo.py").write_text(ECHO_PY)
    (root / "tools" / "echo-py" / "manifest.yaml").write_text(
        "kind: script\ndescription: Echo the arguments (Python)\nentry: echo.py\nprotocol: plain\n"
    )


def big_module(functions: int) -> bytes:
    """A valid WASI command with ``functions`` small arithmetic functions (compile-time ballast)."""
    from wasmtime import wat2wasm

    body = "\n".join(
        f"(func $f{i} (param $x i32) (result i32) (i32.add (i32.mul (local.get $x) (i32.const {i + 3}))"
        f" (i32.xor (local.get $x) (i32.const {i * 7 + 1}))))"
        for i in range(functions)
    )
    calls = " ".join(f"(drop (call $f{i} (i32.const {i})))" for i in range(0, functions, 50))
    return bytes(wat2wasm(f'(module (memory (export "memory") 1) {body} (func (export "_start") {calls}))'))


def run(ctx: Ctx) -> list[Row]:
    rows: list[Row] = []
    try:
        rows.append(anyio.run(_calls, ctx))
    except Exception as exc:
        rows.append(Row(TITLE, "warm call, engine time", "ms", unavailable=reason_of(exc),
                        baseline_name="same logic as a Python script tool",
                        target="p50 < 2 ms and <= 0.1x the script"))  # fmt: skip
    try:
        rows.append(_restart(ctx))
    except Exception as exc:
        rows.append(Row(TITLE, "restart: load 1 module", "ms", unavailable=reason_of(exc),
                        baseline_name="compiling it", target="0 compiles"))  # fmt: skip
    return rows


async def _calls(ctx: Ctx) -> Row:
    import os
    import sys

    from skillz_engine.engine import Engine

    # the script side runs this venv's python3 directly, as servers in the other scenarios do (a
    # version-manager shim on PATH would add ~150 ms to every call)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    root = ctx.work / "wasm-tree"
    _write_tree(root)
    async with Engine.open([root]) as engine:  # compiled and started (the wasm module loaded) as served
        return await _time_calls(ctx, engine.snapshot)


async def _time_calls(ctx: Ctx, snap: Snapshot) -> Row:
    from skillz_engine.runtimes.base import LocalCallContext, run_tool

    tools = {"wasm": snap.tools.get("echo-wasm"), "python": snap.tools.get("echo-py")}
    for side, tool in tools.items():
        if tool is None:
            raise Unavailable(f"the {side} echo tool is not served: {[d.format() for d in snap.diagnostics]}")
    args = {"text": "hi", "n": [1, 2, 3]}
    lat: dict[str, list[float]] = {"wasm": [], "python": []}
    calls = 30 if ctx.quick else 300
    warm = 5
    for i in range(warm + calls):
        for side in ("wasm", "python") if i % 2 else ("python", "wasm"):
            if side == "python" and i % 5 and i >= warm:  # the script is ~50x slower: sample it less
                continue
            tool = tools[side]
            assert tool is not None
            t0 = time.perf_counter()
            result = await run_tool(tool, args, LocalCallContext(snap, tool.name))
            elapsed = (time.perf_counter() - t0) * 1000
            if result.is_error or '"hi"' not in result.text_content():
                raise Unavailable(f"{side} echo returned {result.text_content()[:200]!r}")
            if i >= warm:
                lat[side].append(elapsed)
    e, b = summary_or_none(lat["wasm"]), summary_or_none(lat["python"])
    row = Row(
        TITLE,
        "warm call, engine time",
        "ms",
        e,
        "same logic as a Python script tool",
        b,
        target="p50 < 2 ms and <= 0.1x the script",
        notes=f"{len(lat['wasm'])} wasm calls, {len(lat['python'])} script calls; in-process run_tool",
    )
    if e is not None and b is not None:
        row.met = judge(ctx, e.median < 2 and e.median <= 0.1 * b.median)
    return row


def _restart(ctx: Ctx) -> Row:
    from skillz_engine.runtimes.wasm import cache as wasm_cache
    from skillz_engine.runtimes.wasm import engine as wasm

    binary = big_module(400 if ctx.quick else 2000)
    cache = ctx.work / "wasm-cache"
    wasm._SHARED = None
    wasm.shared_engine().load(binary, cache)  # fills the on-disk cache
    rounds = ctx.reps(10, 2)
    loads: list[float] = []
    compiles: list[float] = []
    compiled_on_load = 0
    for r in range(rounds + 1):
        for side in ("load", "compile") if r % 2 else ("compile", "load"):
            wasm._SHARED = None  # a restart: a new engine, nothing in memory
            shared = wasm.shared_engine()
            before = wasm_cache.STATS["compiled"]
            t0 = time.perf_counter()
            shared.load(binary, cache if side == "load" else None)
            elapsed = (time.perf_counter() - t0) * 1000
            if side == "load":
                compiled_on_load += wasm_cache.STATS["compiled"] - before
            if r:
                (loads if side == "load" else compiles).append(elapsed)
    wasm._SHARED = None
    row = Row(
        TITLE,
        f"restart: load 1 module ({len(binary) // 1024} KiB wasm)",
        "ms",
        summary_or_none(loads),
        "compiling it (no cache)",
        summary_or_none(compiles),
        target="0 compiles",
        notes=f"{len(loads)} restarts; compiles during restarts: {compiled_on_load}",
        extra={"compiles_on_restart": compiled_on_load},
    )
    row.met = judge(ctx, compiled_on_load == 0)
    return row
