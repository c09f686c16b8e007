"""Real replicas behind a real HAProxy: the harness of the scale-out tests and the bench.

Each replica is a ``skillz-engine serve --transport http --redis URL`` process with its own state
directory, all serving one tree (a shared volume in production). HAProxy runs the shipped
``deploy/haproxy.cfg`` itself, filled through its environment, so what is tested is what ships.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from tests.redis_helpers import RedisServer, free_port
from tests.served_process import ServerProcess, start_server

HAPROXY_CFG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
TEMPLATE_SLOTS = 2  # `server` lines in deploy/haproxy.cfg


def haproxy_env(listen: str, replicas: list[str]) -> dict[str, str]:
    """The environment filling ``deploy/haproxy.cfg``: one replica fills both slots (1-replica runs)."""
    slots = [replicas[i % len(replicas)] for i in range(TEMPLATE_SLOTS)]
    return {"SKILLZ_LISTEN": listen, **{f"SKILLZ_REPLICA{i + 1}": a for i, a in enumerate(slots)}}


@dataclass
class Replicas:
    """Replicas of one tree sharing one Redis, and the HAProxy in front of them."""

    redis: RedisServer
    servers: list[ServerProcess]
    haproxy: subprocess.Popen[bytes]
    port: int
    killed: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def calls_on(self, index: int, tool: str) -> int:
        """Calls of ``tool`` replica ``index`` answered (its own /metrics, not through HAProxy)."""
        text = httpx2.get(self.servers[index].base + "/metrics", timeout=10).text
        total = 0.0
        for outcome in ("ok", "error"):
            found = re.search(rf'^skillz_calls_total{{outcome="{outcome}",tool="{tool}"}} (\S+)$', text, re.M)
            total += float(found.group(1)) if found else 0.0
        return int(total)

    def kill(self, index: int) -> None:
        """SIGKILL: a crash, no goodbye to clients, Redis or HAProxy."""
        self.killed.add(index)
        self.servers[index].stop(signal.SIGKILL)

    def stop(self) -> None:
        if self.haproxy.poll() is None:
            self.haproxy.terminate()
            self.haproxy.wait(timeout=10)
        alive = [s for i, s in enumerate(self.servers) if i not in self.killed]
        for server in alive:  # all told at once, then waited for: they shut down side by side
            if server.proc.poll() is None:
                server.proc.send_signal(signal.SIGTERM)
        for server in alive:
            server.stop()


def start_haproxy(env: dict[str, str], port: int, log: Path, wait: float = 15) -> subprocess.Popen[bytes]:
    """``haproxy -f deploy/haproxy.cfg -db`` (foreground), once it accepts connections."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["haproxy", "-f", str(HAPROXY_CFG), "-db"],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"haproxy exited {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"haproxy did not listen within {wait}s: {log.read_text(errors='replace')}")


def wait_all_served(cluster: Replicas, wait: float = 15) -> None:
    """Until HAProxy has answered /health from every live replica (checks passed, pool complete)."""
    want = {f"replica{i + 1}" for i in range(len(cluster.servers)) if i not in cluster.killed}
    seen: set[str] = set()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not want <= seen:
        reply = httpx2.get(cluster.url.removesuffix("/mcp") + "/health", timeout=5)
        if reply.status_code == 200:
            seen.add(reply.headers.get("x-skillz-replica", ""))
        time.sleep(0.02)
    assert want <= seen, f"HAProxy served /health only from {seen}"


@contextmanager
def replicas(root: Path, work: Path, redis: RedisServer, count: int = 2) -> Iterator[Replicas]:
    """``count`` replicas of ``root`` on ``redis`` behind HAProxy, stopped afterwards."""

    def start(i: int) -> ServerProcess:
        state = work / f"replica{i + 1}"
        state.mkdir(parents=True, exist_ok=True)
        return start_server(
            root, "--no-auth", "--redis", redis.url, log=work / f"replica{i + 1}.log", state=state
        )

    with ThreadPoolExecutor(count) as pool:  # started side by side: each takes seconds on a busy machine
        futures = [pool.submit(start, i) for i in range(count)]
    servers = [f.result() for f in futures if f.exception() is None]
    try:
        if len(servers) < count:
            raise next(exc for f in futures if (exc := f.exception()) is not None)
        port = free_port()
        env = haproxy_env(f"127.0.0.1:{port}", [f"127.0.0.1:{s.port}" for s in servers])
        haproxy = start_haproxy(env, port, work / "haproxy.log")
    except BaseException:
        for s in servers:
            s.stop()
        raise
    cluster = Replicas(redis, servers, haproxy, port)
    try:
        wait_all_served(cluster)
        yield cluster
    finally:
        cluster.stop()
