"""Replicas behind HAProxy: calls/s with 2 replicas against 1, and what a call costs Redis.

One ``redis-server``, two ``skillz-engine serve --transport http --redis URL`` replicas (one tree,
a state directory each) and two HAProxy processes running the shipped ``deploy/haproxy.cfg``: one
with both server slots on replica 1 (the 1-replica side), one with a slot per replica. Modern
(2026-07-28) clients, so HAProxy round-robins every request. Rounds interleave the sides; the first
is the warm-up. On a 2-core machine the client, HAProxy and both replicas share two cores: the
figure says the cluster works and what it costs, not how it scales.

Also measured: the Redis commands per call (``INFO stats`` total_commands_processed over a burst)
and the wall time of a parked call's two rounds continued on its own replica against through the
other replica (relayed over Redis pub/sub), with the Redis commands a relayed round costs. These
are the per-replica costs docs/scale-out.md extrapolates from.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio

from bench.core import Ctx, Row, reason_of, summary_or_none
from bench.procs import engine_cmd, free_port, http_server
from bench.trees import add_echo_tools, make_tree

NAME = "replicas"
TITLE = "Replicas behind HAProxy"
CLIENTS = 8  # concurrent clients per side
HAPROXY_CFG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
ASK = """import json, sys
sys.stdin.readline()
for i in range(2):
    print(json.dumps({"jsonrpc": "2.0", "id": 10 + i, "method": "elicitation/create", "params": {
        "message": "Name?", "requestedSchema": {"type": "object", "properties": {}}}}), flush=True)
    sys.stdin.readline()
print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"ok": True}}), flush=True)
"""


def run(ctx: Ctx) -> list[Row]:
    missing = [b for b in ("redis-server", "haproxy") if shutil.which(b) is None]
    if missing:
        why = f"{', '.join(missing)} not installed (scripts/test installs them)"
        return [Row(TITLE, "2 replicas", "calls/s", unavailable=why, baseline_unavailable=why)]
    if ctx.quick:  # two servers, Redis and HAProxy take ~30 s to start on a busy 2-core machine
        why = "skipped by --quick (a cluster of two servers; run --only replicas)"
        return [Row(TITLE, "2 replicas", "calls/s", unavailable=why, baseline_unavailable=why)]
    ctx.log(f"replicas: {CLIENTS} clients through HAProxy, 1 and 2 replicas")
    try:
        return anyio.run(_measure, ctx)
    except Exception as exc:
        why = reason_of(exc)
        return [Row(TITLE, "2 replicas", "calls/s", unavailable=why, baseline_unavailable=why)]


@contextlib.contextmanager
def _process(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not listen on {port} (exit {proc.poll()})")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _redis_commands(port: int) -> int:
    """Commands Redis processed so far (``INFO stats``), read over a raw socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"INFO stats\r\n")
        data = b""
        while b"total_commands_processed" not in data or not data.endswith(b"\r\n"):
            data += s.recv(65536)
    found = re.search(rb"total_commands_processed:(\d+)", data)
    return int(found.group(1)) if found else 0


def _start_replicas(stack: contextlib.ExitStack, root: Path, redis: str, work: Path) -> list[str]:
    """Both replicas started side by side (each takes seconds on a busy machine); their URLs."""
    servers = [
        http_server(
            "engine",
            engine_cmd(
                "serve", str(root), "--no-watch", "--redis", redis, "--state-dir", str(work / f"r{i}")
            ),
        )
        for i in (1, 2)
    ]
    with ThreadPoolExecutor(len(servers)) as pool:
        futures = [pool.submit(server.__enter__) for server in servers]
    for server, future in zip(servers, futures, strict=True):
        if future.exception() is None:
            stack.push(server.__exit__)
    return [future.result()[0] for future in futures]


async def _measure(ctx: Ctx) -> list[Row]:
    from mcp import Client

    root = make_tree(ctx.work / "tree-replicas", 10, "tools").root
    add_echo_tools(root)
    (root / "tools" / "ask").mkdir()
    (root / "tools" / "ask" / "main.py").write_text(ASK)
    (root / "tools" / "ask" / "manifest.yaml").write_text(
        "kind: script\ndescription: Asks twice\nentry: main.py\n"
    )
    seconds = 3.0
    rounds = 3
    redis_port = free_port()
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            _process(
                ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"], redis_port
            )
        )
        redis = f"redis://127.0.0.1:{redis_port}/0"
        urls = _start_replicas(stack, root, redis, ctx.work)
        addrs = [u.removeprefix("http://").removesuffix("/mcp") for u in urls]
        fronts: dict[str, str] = {}
        for side, (a, b) in (("1 replica", (addrs[0], addrs[0])), ("2 replicas", (addrs[0], addrs[1]))):
            port = free_port()
            env = {
                **os.environ,
                "SKILLZ_LISTEN": f"127.0.0.1:{port}",
                "SKILLZ_REPLICA1": a,
                "SKILLZ_REPLICA2": b,
            }
            stack.enter_context(_process(["haproxy", "-f", str(HAPROXY_CFG), "-db"], port, env))
            fronts[side] = f"http://127.0.0.1:{port}/mcp"

        async with contextlib.AsyncExitStack() as clients:
            pools = {
                s: [await clients.enter_async_context(Client(u)) for _ in range(CLIENTS)]
                for s, u in fronts.items()
            }
            tools: dict[str, Callable[[Any], Awaitable[Any]]] = {
                "echo-cmd": lambda c: c.call_tool("echo-cmd", {"text": "hi"}),
                "search_tools": lambda c: c.call_tool("search_tools", {"query": "echo text", "limit": 3}),
            }
            rates: dict[tuple[str, str], list[float]] = {(t, s): [] for t in tools for s in pools}
            ops: list[float] = []
            keys = list(rates)
            for r in range(rounds + 1):
                rot = r % len(keys)
                for tool, side in keys[rot:] + keys[:rot]:
                    before = _redis_commands(redis_port)
                    count = await _burst(pools[side], tools[tool], seconds)
                    if r:
                        rates[(tool, side)].append(count / seconds)
                        ops.append((_redis_commands(redis_port) - before) / max(count, 1))
                ctx.log(f"  round {r + 1}/{rounds + 1}" + (" (warm-up)" if not r else ""))
            local, relayed, relay_ops = await _parked(urls, redis_port, 20)

    per_call = f"Redis commands per call: {max(ops):.2f}" if ops else ""
    rows = [
        Row(
            TITLE,
            f"{CLIENTS} clients, 2 replicas, {tool}",
            "calls/s",
            summary_or_none(rates[(tool, "2 replicas")]),
            "1 replica behind the same HAProxy config",
            summary_or_none(rates[(tool, "1 replica")]),
            higher_is_better=True,
            notes=f"{'a process per call' if tool == 'echo-cmd' else 'in-process'}; {per_call}; "
            f"{seconds:g} s x {rounds} rounds per side, 2 cores shared by clients, HAProxy and replicas",
            extra={"redis_commands_per_call": max(ops) if ops else None},
        )
        for tool in tools
    ]
    rows.append(
        Row(
            TITLE,
            "parked call (2 input rounds) continued through the other replica",
            "ms",
            summary_or_none(relayed),
            "continued on its own replica",
            summary_or_none(local),
            notes=f"Redis commands per relayed round: {relay_ops:.1f} (lookup, reply channel, publish, "
            "owner checks, the holder's claim of the next state)",
            extra={"redis_commands_per_relayed_round": relay_ops},
        )
    )
    return rows


async def _burst(clients: list[Any], call: Callable[[Any], Awaitable[Any]], seconds: float) -> int:
    done = 0
    deadline = time.perf_counter() + seconds

    async def one(c: Any) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            with anyio.fail_after(60):
                result = await call(c)
            if result.is_error:
                raise RuntimeError(f"a call failed: {result.content!r:.300}")
            if time.perf_counter() <= deadline:
                done += 1

    async with anyio.create_task_group() as tg:
        for c in clients:
            tg.start_soon(one, c)
    return done


async def _parked(urls: list[str], redis_port: int, samples: int) -> tuple[list[float], list[float], float]:
    """Wall time of a 2-round parked call answered on its replica, and through the other one."""
    import mcp.types as types
    from mcp import Client

    async def answer(context: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={})

    local: list[float] = []
    relayed: list[float] = []
    relayed_ops = 0
    async with (
        Client(urls[0], elicitation_callback=answer) as a,
        Client(urls[1], elicitation_callback=answer) as b,
    ):
        for i in range(samples + 1):
            for via in ((a, local), (b, relayed)) if i % 2 else ((b, relayed), (a, local)):
                client, into = via
                before = _redis_commands(redis_port)
                t0 = time.perf_counter()
                res = await a.session.call_tool("ask", {}, allow_input_required=True)
                while isinstance(res, types.InputRequiredResult):
                    answers: dict[str, Any] = {
                        k: types.ElicitResult(action="accept", content={}) for k in res.input_requests or {}
                    }
                    res = await client.session.call_tool(
                        "ask",
                        {},
                        input_responses=answers,
                        request_state=res.request_state,
                        allow_input_required=True,
                    )
                if res.is_error:
                    raise RuntimeError(f"the parked call failed: {res.content!r:.300}")
                if i:
                    into.append((time.perf_counter() - t0) * 1000)
                    if into is relayed:
                        relayed_ops += _redis_commands(redis_port) - before
    return local, relayed, relayed_ops / max(1, 2 * len(relayed))
