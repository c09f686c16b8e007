"""A real ``skillz-engine serve`` process for tests that attack it over real sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parents[1] / "engine"


def engine_env() -> dict[str, str]:
    """The environment a child ``python -m skillz_engine`` needs to import this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ENGINE_DIR), env.get("PYTHONPATH", "")) if p)
    return env


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one CLI command to its end."""
    return subprocess.run(
        [sys.executable, "-m", "skillz_engine", *args],
        env=engine_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    state: Path
    stderr_path: Path
    url: str

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    @property
    def token(self) -> str:
        return (self.state / "agent-token").read_text().strip()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)


def start_server(
    root: Path, *args: str, log: Path, wait: float = 30, state: Path | None = None
) -> ServerProcess:
    """``serve --transport http --port 0`` on ``root``; returns once ``server.json`` names its url.
    ``state`` gives the server its own state directory (``--state-dir``), as each replica of a
    cluster sharing one tree has."""
    if state is not None:
        args = ("--state-dir", str(state), *args)
    state = state or root / ".skillz"
    with log.open("wb") as err:
        argv = [sys.executable, "-m", "skillz_engine", "serve", str(root), "--transport", "http"]
        proc = subprocess.Popen(
            [*argv, "--port", "0", *args],
            env=engine_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            info = json.loads((state / "server.json").read_text())
        except (OSError, ValueError):
            info = {}
        if info.get("pid") == proc.pid:
            return ServerProcess(proc, state, log, str(info["url"]))
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"serve did not start within {wait}s: {log.read_text(errors='replace')}")
