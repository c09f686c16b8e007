"""The wheel works on its own: built from this checkout, installed into a clean virtualenv (no
editable install, no source tree on the path), it validates, lists and serves the examples, with
its schemas and the status page's file inside it."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import require

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = [str(REPO / "example-tools"), str(REPO / "example-skills")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bin/`` of a clean venv holding only the built wheel and its dependencies."""
    uv = require("uv", "builds the wheel and the clean venv quickly")
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(work / "dist"), str(REPO)], check=True, env=env,
                   capture_output=True, timeout=300)  # fmt: skip
    wheel = next((work / "dist").glob("skillz_engine-*.whl"))
    subprocess.run([uv, "venv", "--quiet", str(work / "venv")], check=True, env=env, timeout=120)
    python = work / "venv" / "bin" / "python"
    install = [uv, "pip", "install", "--quiet", "--python", str(python), str(wheel)]
    subprocess.run(install, check=True, env=env, timeout=600)
    return work / "venv" / "bin"


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / "skillz-engine"), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)  # fmt: skip


def test_the_wheel_validates_and_lists_the_examples(installed: Path, tmp_path: Path) -> None:
    where = run(installed, "doctor", "--json", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    checked = run(installed, "validate", *EXAMPLES, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = run(installed, "list", "--json", *EXAMPLES, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert {"json-query", "hash", "post-metadata"} <= {t["name"] for t in json.loads(listed.stdout)["tools"]}
    schema = run(installed, "schema", "command", cwd=tmp_path)
    assert json.loads(schema.stdout)["$id"].endswith("/command.schema.json")


def test_the_wheel_serves_the_examples_and_its_status_page(installed: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    argv = [str(installed / "skillz-engine"), "serve", *EXAMPLES, "--transport", "http", "--port", "0"]
    argv += ["--state-dir", str(state)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (state / "server.json").exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        base = json.loads((state / "server.json").read_text())["url"].removesuffix("/mcp")
        token = (state / "agent-token").read_text().strip()
        with urllib.request.urlopen(base + "/health", timeout=10) as health:
            assert json.load(health)["tools"] > 10
        page = urllib.request.Request(base + "/", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(page, timeout=10) as answer:
            assert "EventSource" in answer.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
