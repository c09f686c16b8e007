"""What the cluster's Redis change bus adds to a change notification (issue 18: p50 < 5 ms).

A real ``redis-server`` and two replicas, ``serve --redis URL --no-watch`` on one tree, each with
its own state directory, an SDK ``ClientSession`` on each over Streamable HTTP. One sample: the
client of replica A calls ``register_script`` (the same tool rewritten, ``overwrite: true``); A
serves it and tells its own clients through the in-process bus (the baseline: A's client's
``notifications/tools/list_changed``), then publishes on Redis; B, which has no watcher, reloads
the written path and tells its clients (the engine side: B's client's notification). Both are
timed from the call's start with ``perf_counter`` in this process, so the difference of the
medians is what the Redis bus adds, B's reload of the one path included. The first sample is the
warm-up.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio

from bench.clients import http_session, result_text
from bench.core import Ctx, Row, judge, reason_of, summary_or_none
from bench.procs import Unavailable, engine_cmd, free_port, http_server

NAME = "redis-bus"
TITLE = "write on replica A -> tools/list_changed on B (Redis bus)"
TARGET = "p50 < 5 ms over the in-process bus"
BASELINE = "A's own client (in-process bus)"
TIMEOUT = 10.0


def run(ctx: Ctx) -> list[Row]:
    ctx.log("redis-bus: two replicas on one redis-server")
    try:
        return [anyio.run(_measure, ctx)]
    except Exception as exc:
        row = Row(
            TITLE, "2 replicas", "ms", unavailable=reason_of(exc), baseline_name=BASELINE, target=TARGET
        )
        return [row]


@contextlib.contextmanager
def _redis(work: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise Unavailable("redis-server is not installed")
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work), "--save", ""]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _pong(port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise Unavailable("redis-server did not answer")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class _Stamp:
    def __init__(self) -> None:
        self.t: float | None = None
        self.event = anyio.Event()

    async def handler(self, message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed" and self.t is None:
            self.t = time.perf_counter()
            self.event.set()

    def reset(self) -> None:
        self.t, self.event = None, anyio.Event()


async def _measure(ctx: Ctx) -> Row:
    info = ctx.tree(100, "mixed")
    work = ctx.work / "redis-bus"
    samples = ctx.reps(30, 2) + 1
    local: list[float] = []
    remote: list[float] = []
    added: list[float] = []
    with _redis(work / "redis") as url, contextlib.ExitStack() as stack:
        servers = []
        for name in ("a", "b"):
            argv = engine_cmd("serve", str(info.root), "--no-watch", "--redis", url)
            servers.append(http_server("engine", [*argv, "--state-dir", str(work / f"state-{name}")]))
        with ThreadPoolExecutor(2) as pool:  # both start at once: a start takes seconds on a busy machine
            started = [pool.submit(server.__enter__) for server in servers]
        for server, future in zip(servers, started, strict=True):
            if future.exception() is None:
                stack.push(server.__exit__)
        urls = [future.result()[0] for future in started]
        stamp_a, stamp_b = _Stamp(), _Stamp()
        async with http_session(urls[0], stamp_a.handler) as a, http_session(urls[1], stamp_b.handler):
            for k in range(samples):
                stamp_a.reset()
                stamp_b.reset()
                args = {
                    "name": "bus-probe",
                    "description": f"Probe {k}",
                    "interpreter": "python3",
                    "code": "print('probe')",
                    "overwrite": True,
                }
                t0 = time.perf_counter()
                result = await a.call_tool("register_script", args)
                if result.is_error:
                    raise Unavailable(f"register_script failed: {result_text(result)[:300]}")
                with anyio.fail_after(TIMEOUT):
                    await stamp_a.event.wait()
                    await stamp_b.event.wait()
                assert stamp_a.t is not None and stamp_b.t is not None
                if k:  # the first is the warm-up
                    local.append((stamp_a.t - t0) * 1000)
                    remote.append((stamp_b.t - t0) * 1000)
                    added.append((stamp_b.t - stamp_a.t) * 1000)
                await anyio.sleep(0.05)
    extra = summary_or_none(added)
    row = Row(
        TITLE,
        "2 replicas",
        "ms",
        summary_or_none(remote),
        BASELINE,
        summary_or_none(local),
        target=TARGET,
        notes=(
            f"{len(added)} writes; added by the bus (B minus A, per write): "
            + (f"p50 {extra.median:.2f} ms, p95 {extra.p95:.2f} ms" if extra is not None else "none")
        ),
    )
    if extra is not None:
        row.met = judge(ctx, extra.median < 5)
        row.extra["added_ms"] = extra.to_json()
    return row
