"""Processes under test: commands for the engine and the baselines, a raw JSON-RPC stdio peer,
HTTP servers started on a free loopback port, and RSS."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

PY = sys.executable
BIN = Path(PY).parent
BASELINES = Path(__file__).resolve().parent / "baselines"
PROTOCOL = "2025-11-25"
# Children write and read bytecode here (set per run by bench.__main__), so that after the warm-up
# every process starts from a warm cache even when PYTHONDONTWRITEBYTECODE is set around us, and
# nothing is written into the source tree.
PYCACHE: Path | None = None


class Unavailable(Exception):
    """A scenario, or one side of it, cannot run here; the message says why."""


def engine_cmd(*args: str) -> list[str]:
    exe = shutil.which("skillz-engine", path=str(BIN))
    return [exe, *args] if exe else [PY, "-m", "skillz_engine", *args]


def baseline_cmd(script: str, *args: str) -> list[str]:
    return [PY, str(BASELINES / script), *args]


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["FASTMCP_LOG_LEVEL"] = "WARNING"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # script tools run `python3` from PATH: this venv's interpreter, not a version-manager shim
    # (a pyenv shim is a bash script that adds ~150 ms to every call and would swamp the numbers)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    if PYCACHE is not None:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.pop("SKILLZ_DEBUG", None)
    return env


def fastmcp_available() -> str | None:
    """``None`` when FastMCP imports in this interpreter, else the reason."""
    try:
        import fastmcp  # noqa: F401
    except Exception as exc:
        return f"fastmcp is not installed ({type(exc).__name__}: {exc}); pip install fastmcp==4.1.2"
    return None


class ErrLog:
    """A child's stderr: appended to a temp file, read through a handle of our own."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="skillz-bench-", suffix=".err")
        os.close(fd)
        self.path = Path(name)
        self.sink: BinaryIO = open(self.path, "ab")  # noqa: SIM115 - the child writes it until close()

    def read(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError:
            return b""

    def tail(self, limit: int = 1500) -> str:
        return self.read().decode("utf-8", "replace")[-limit:]

    def close(self) -> None:
        self.sink.close()
        self.path.unlink(missing_ok=True)


class StdioPeer:
    """A server subprocess driven with raw newline-delimited JSON-RPC (no SDK client in the way)."""

    def __init__(self, argv: list[str], *, cwd: Path | None = None) -> None:
        self.argv = argv
        self.err = ErrLog()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err.sink,
            env=server_env(),
            cwd=cwd,
        )
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._next_id = 0
        self.notifications: list[dict[str, Any]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None, timeout: float = 120.0) -> Any:
        self._next_id += 1
        rid = self._next_id
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{method}: no answer in {timeout:.0f} s from {self.argv[:3]}\n" + self.err.tail()
                )
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(
                    f"{method}: the server closed stdout (exit {self.proc.poll()})\n" + self.err.tail()
                )
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if m.get("id") == rid and ("result" in m or "error" in m):
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]
            if "method" in m and "id" not in m:
                self.notifications.append(m)

    def initialize(self) -> Any:
        result = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "skillz-bench", "version": "0"},
            },
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.err.close()

    def __enter__(self) -> StdioPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], err: ErrLog, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}) before listening\n" + err.tail())
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)
    raise TimeoutError(f"nothing listened on port {port} within {timeout:.0f} s\n" + err.tail())


ANNOUNCE = re.compile(rb"serving MCP at (http://\S+)")


@contextlib.contextmanager
def http_server(kind: str, argv: list[str], timeout: float = 120.0) -> Iterator[tuple[str, int]]:
    """Start an HTTP MCP server; yields ``(url of /mcp, pid)`` and stops it afterwards.

    ``kind="engine"``: ``argv`` gets ``--transport http --port 0 --no-auth`` and the URL is read
    from the announcement on stderr. Otherwise the last element of ``argv`` must be ``{port}``.
    """
    err = ErrLog()
    port = 0
    if kind == "engine":
        argv = [*argv, "--transport", "http", "--port", "0", "--no-auth"]
    else:
        port = free_port()
        argv = [a.replace("{port}", str(port)) for a in argv]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err.sink, env=server_env()
    )
    try:
        if kind == "engine":
            deadline = time.monotonic() + timeout
            url = None
            while url is None:
                if proc.poll() is not None:
                    raise RuntimeError(f"engine exited ({proc.returncode}) before serving\n" + err.tail())
                if time.monotonic() > deadline:
                    raise TimeoutError("the engine did not announce its URL\n" + err.tail())
                m = ANNOUNCE.search(err.read())
                if m:
                    url = m.group(1).decode()
                else:
                    time.sleep(0.01)
        else:
            _wait_port(port, proc, err, timeout)
            url = f"http://127.0.0.1:{port}/mcp"
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        err.close()


def rss_mib(pid: int) -> tuple[float, float | None]:
    """``(rss, uss)`` of a process in MiB (uss ``None`` where psutil cannot read it)."""
    import psutil

    p = psutil.Process(pid)
    rss = p.memory_info().rss / 2**20
    try:
        uss: float | None = p.memory_full_info().uss / 2**20
    except (psutil.AccessDenied, AttributeError):
        uss = None
    return rss, uss
