"""Persistent script workers (``worker:``), with real processes: one process answers call after
call, ``max`` bounds the processes and the calls served at once, a crash or a timeout or a
cancellation ends the call and replaces the worker, ``recycleAfter`` and ``idle`` stop workers,
and closing the entry (a reload, shutdown) leaves no process behind."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.engine import Engine, EngineOptions
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from skillz_engine.runtimes.script.pool import WorkerPool
from skillz_engine.tree.model import ToolResult
from tests.conftest import open_tree

pytestmark = pytest.mark.anyio

# a worker: reads request lines until EOF; `events` (an absolute path in $EVENTS) gets one line
# when a call starts and one when it ends, so tests can count calls served at once
WORKER = r"""
import json, os, sys, time
def send(m): print(json.dumps(m), flush=True)
def ask(rid, method, params):
    send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
    return json.loads(sys.stdin.readline())
def event(what):
    with open(os.environ["EVENTS"], "a") as f:
        f.write(f"{what} {os.getpid()}\n")
calls = 0
for line in sys.stdin:
    req = json.loads(line)
    calls += 1
    a = req["params"]["arguments"]
    event("start")
    if a.get("crash"):
        print("dying", file=sys.stderr, flush=True)
        sys.exit(3)
    time.sleep(a.get("sleep", 0))
    if a.get("alloc"):
        block = bytearray(a["alloc"] << 20)
    out = {"pid": os.getpid(), "calls": calls, "id": req["id"]}
    if a.get("chat"):
        send({"jsonrpc": "2.0", "method": "log", "params": {"level": "warn", "message": a["chat"]}})
        send({"jsonrpc": "2.0", "method": "progress", "params": {"progress": calls, "total": 9}})
        ask(1000 + calls, "memory/set", {"key": "k", "value": a["chat"]})
        out["memory"] = ask(2000 + calls, "memory/get", {"key": "k"})["result"]["value"]
        nested = ask(3000 + calls, "tools/call", {"name": "plain", "arguments": {}})
        out["nested"] = nested["result"]["output"]
    if a.get("big"):
        print("x" * a["big"], flush=True)
    event("end")
    send({"jsonrpc": "2.0", "id": req["id"], "result": out})
"""


def manifest(tmp_path: Path, worker: str, extra: str = "") -> str:
    return (
        f"kind: script\ndescription: a worker\nentry: main.py\nworker: {worker}\nsandbox: none\n"
        f"env: {{EVENTS: {tmp_path / 'events'}}}\n{extra}"
    )


@pytest.fixture
def tree(tmp_path: Path) -> Callable[..., Path]:
    """``tree(worker_keys, extra_manifest)`` writes the tool ``w`` and a one-shot tool ``plain``."""

    def make(worker: str = "{max: 1}", extra: str = "") -> Path:
        d = tmp_path / "tree"
        (d / "w").mkdir(parents=True, exist_ok=True)
        (d / "w" / "manifest.yaml").write_text(manifest(tmp_path, worker, extra))
        (d / "w" / "main.py").write_text(WORKER)
        (d / "plain").mkdir(exist_ok=True)
        (d / "plain" / "manifest.yaml").write_text("kind: command\ndescription: echo\nargv: [echo, '42']\n")
        return d

    return make


@asynccontextmanager
async def serving(root: Path) -> AsyncIterator[Snapshot]:
    """The snapshot of ``root``, its stateful entries stopped at the end (as shutdown does)."""
    t = open_tree([root])
    t.full_scan()
    snap = t.snapshot()
    assert "w" in snap.tools, [d.format() for d in snap.diagnostics]
    try:
        yield snap
    finally:
        for c in snap.entries.values():
            if c.stop is not None:
                await c.stop()


def pool_of(snap: Snapshot) -> WorkerPool:
    pool = next(c.handle for c in snap.entries.values() if c.spec.name == "w")
    assert isinstance(pool, WorkerPool)
    return pool


async def call(snap: Snapshot, args: dict[str, Any] | None = None, **ctx: Any) -> ToolResult:
    return await run_tool(snap.tools["w"], args or {}, LocalCallContext(snap, "w", **ctx))


def out(result: ToolResult) -> Any:
    assert not result.is_error, result.text_content()
    return json.loads(result.text_content())


def most_at_once(events: Path) -> int:
    """The most calls between their start and end lines at one time, from the worker's log."""
    active = peak = 0
    for line in events.read_text().splitlines():
        active += 1 if line.startswith("start") else -1
        peak = max(peak, active)
    return peak


async def test_one_process_answers_call_after_call(
    tree: Callable[..., Path], gone: Callable[..., bool]
) -> None:
    """Three calls, one worker process; each call is its own execute request (ids 1, 2, 3); closing
    the pool ends the process."""
    async with serving(tree()) as snap:
        got = [out(await call(snap, {"n": i})) for i in range(3)]
        assert {g["pid"] for g in got} == {got[0]["pid"]}
        assert [g["calls"] for g in got] == [1, 2, 3] and [g["id"] for g in got] == [1, 2, 3]
        assert pool_of(snap).started == 1 and pool_of(snap).running == 1
    assert gone(got[0]["pid"])


async def test_logs_progress_memory_and_nested_calls_work_through_a_worker(tree: Callable[..., Path]) -> None:
    """The script's notifications and requests reach each call's own context, call after call."""
    async with serving(tree()) as snap:
        for word in ("one", "two"):
            sink: list[tuple[str, Any]] = []
            got = out(await call(snap, {"chat": word}, sink=sink))
            assert got["memory"] == word and got["nested"] == 42
            assert ("log", {"level": "warning", "data": word, "logger": "w"}) in sink
            assert ("progress", {"progress": got["calls"], "total": 9, "message": None}) in sink


async def test_a_crash_is_an_error_and_the_next_call_gets_a_new_worker(
    tree: Callable[..., Path], gone: Callable[..., bool]
) -> None:
    async with serving(tree()) as snap:
        first = out(await call(snap))
        crashed = await call(snap, {"crash": True})
        assert crashed.is_error
        assert "exited with code 3" in crashed.text_content() and "dying" in crashed.text_content()
        assert gone(first["pid"])
        again = out(await call(snap))
        assert again["pid"] != first["pid"] and again["calls"] == 1
        assert pool_of(snap).started == 2


async def test_a_timeout_kills_the_worker_and_replaces_it(
    tree: Callable[..., Path], gone: Callable[..., bool]
) -> None:
    async with serving(tree(extra="limits: {timeout: 1s}\n")) as snap:
        first = out(await call(snap))
        slow = await call(snap, {"sleep": 60})
        assert slow.is_error and "timed out after 1s" in slow.text_content()
        assert gone(first["pid"])
        assert out(await call(snap))["pid"] != first["pid"]


async def test_a_cancelled_call_kills_its_worker(
    tree: Callable[..., Path], gone: Callable[..., bool]
) -> None:
    async with serving(tree()) as snap:
        first = out(await call(snap))
        with anyio.move_on_after(0.5) as scope:
            await call(snap, {"sleep": 60})
        assert scope.cancelled_caught
        assert gone(first["pid"], within=1.0)
        assert pool_of(snap).running == 0
        assert out(await call(snap))["pid"] != first["pid"]


async def test_output_over_the_limit_ends_the_call_and_the_worker(tree: Callable[..., Path]) -> None:
    async with serving(tree(extra="limits: {output: 1KiB}\n")) as snap:
        first = out(await call(snap, {"big": 100}))
        big = await call(snap, {"big": 5000})
        assert big.is_error and "limits.output" in big.text_content()
        assert out(await call(snap))["pid"] != first["pid"]


async def test_the_memory_limit_applies_to_each_worker(tree: Callable[..., Path]) -> None:
    """`limits.memory` (address space) is set on the worker process: a call that allocates past
    it fails, and the next call runs on a fresh worker."""
    async with serving(tree(extra="limits: {memory: 256MiB}\n")) as snap:
        first = out(await call(snap, {"alloc": 16}))
        big = await call(snap, {"alloc": 512})
        assert big.is_error and "MemoryError" in big.text_content()
        assert out(await call(snap))["pid"] != first["pid"]


async def test_max_bounds_the_workers_and_the_calls_at_once(
    tree: Callable[..., Path], tmp_path: Path
) -> None:
    """Six concurrent calls on `max: 2`: two processes, never more than two calls in a script at
    once (counted from the scripts' own start/end lines), and every call answered."""
    results: list[Any] = []
    async with serving(tree("{max: 2}")) as snap:

        async def one() -> None:
            results.append(out(await call(snap, {"sleep": 0.2})))

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(one)
        assert len(results) == 6
        assert len({r["pid"] for r in results}) == 2 and pool_of(snap).started == 2
    assert most_at_once(tmp_path / "events") == 2


async def test_recycle_after_replaces_a_worker_after_n_calls(
    tree: Callable[..., Path], gone: Callable[..., bool]
) -> None:
    async with serving(tree("{recycleAfter: 2}")) as snap:
        pids = [out(await call(snap))["pid"] for _ in range(5)]
        assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
        assert gone(pids[0]) and gone(pids[2])


async def test_an_idle_worker_is_stopped(tree: Callable[..., Path], gone: Callable[..., bool]) -> None:
    async with serving(tree("{idle: 200ms}")) as snap:
        pid = out(await call(snap))["pid"]
        await anyio.sleep(0.3)
        assert gone(pid)
        assert pool_of(snap).running == 0
        assert out(await call(snap))["pid"] != pid


async def test_a_manifest_edit_drains_the_old_workers_and_shutdown_stops_the_new(
    tree: Callable[..., Path], gone: Callable[..., bool]
) -> None:
    """Make-before-break: the edited tool gets a new pool; the old worker is stopped once nothing
    reads the old snapshot; closing the engine stops the new one."""
    root = tree()
    async with Engine.open([root], EngineOptions(watch=False)) as engine:
        old = out(await engine.call("w", {}))["pid"]
        (root / "w" / "manifest.yaml").write_text(
            (root / "w" / "manifest.yaml").read_text().replace("a worker", "an edited worker")
        )
        await engine.reload([root / "w" / "manifest.yaml"])
        new = out(await engine.call("w", {}))["pid"]
        assert new != old
        assert gone(old)
    assert gone(new)


async def test_worker_needs_the_jsonrpc_protocol(tree: Callable[..., Path]) -> None:
    root = tree(extra="protocol: plain\n")
    t = open_tree([root])
    t.full_scan()
    codes = [d.code for d in t.snapshot().diagnostics]
    assert "SKZ508" in codes


ONE_CALL = """
import json, os, sys
req = json.loads(sys.stdin.readline())
print(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {"pid": os.getpid()}}), flush=True)
"""


async def test_a_script_that_answers_one_call_still_works_as_a_worker(
    tree: Callable[..., Path], gone: Callable[..., bool]
) -> None:
    """Written for one call, it exits after its answer: every call still gets its answer (the
    next one runs on a new worker), just without the speed-up."""
    root = tree()
    (root / "w" / "main.py").write_text(ONE_CALL)
    async with serving(root) as snap:
        pids = []
        for _ in range(3):
            pids.append(out(await call(snap))["pid"])
            assert gone(pids[-1])  # it exited: the next call finds it gone (or reaches it exiting)
        assert len(set(pids)) == 3
