"""kill -9 in the middle of writes, many times: the tree still validates, no entry is half
written, and every recorded version is whole.

A real engine process (the composition root ``serve`` runs) writes without pause through the
writer built-ins: ``register_script`` overwrites, ``pipeline`` create, ``delete_tool``, ``version``
rollback. The test kills it with SIGKILL at a random moment, checks the tree, and starts it again on
the same tree (so each run also recovers from the last one's leftovers). The driver logs ``begin``
and ``end`` around each write, which shows that kills do land inside writes.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from skillz_engine.state.history import History, digest
from tests.conftest import open_tree

ITERATIONS = 10

DRIVER = r"""
import random, sys
from pathlib import Path
import anyio
from skillz_engine.engine import Engine

root, seed = Path(sys.argv[1]), int(sys.argv[2])

async def main() -> None:
    rnd = random.Random(seed)
    async with Engine.open([root]) as engine:
        print("ready", flush=True)
        n = seed * 1000
        while True:
            n += 1
            op = rnd.choice(["write", "write", "write", "pipeline", "delete", "rollback"])
            print("begin", n, op, flush=True)
            if op == "write":
                code = f"#!/bin/sh\necho {n}\n" + "# padding\n" * rnd.randint(0, 2000)
                args = {"name": "say", "description": f"Says {n}", "code": code, "overwrite": True}
                await engine.call("register_script", args)
            elif op == "pipeline":
                steps = [{"tool": "say"}] * rnd.randint(1, 3)
                args = {"action": "create", "name": "p", "description": f"P {n}", "steps": steps}
                args["overwrite"] = True
                await engine.call("pipeline", args)
            elif op == "delete":
                await engine.call("delete_tool", {"tool_name": rnd.choice(["p", "say"])})
            else:
                await engine.call("version", {"action": "rollback", "tool_name": rnd.choice(["p", "say"])})
            print("end", n, flush=True)

anyio.run(main)
"""


def wait_ready(log: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while "ready" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the driver did not start"
        time.sleep(0.01)


def check_tree(root: Path) -> None:
    tree = open_tree([root], lenient=False)
    tree.full_scan()
    snap = tree.snapshot()
    assert not snap.errors, [d.format() for d in snap.errors]
    say = root / "tools" / "say"
    if say.exists():  # both files of one write, never a mix of two
        described = re.search(r"Says (\d+)", (say / "manifest.yaml").read_text())
        assert described is not None
        assert f"echo {described.group(1)}\n" in (say / "main").read_text()
    history = History(root / ".skillz")
    for entry in history.entries():
        versions = history.versions(entry)
        assert [int(v.id) for v in versions] == list(range(1, len(versions) + 1)), entry
        for v in versions:
            if not v.deleted:
                assert digest(v.files) == v.digest, (entry, v.id)


def test_kill_9_in_the_middle_of_writes_leaves_whole_entries_and_history(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rnd = random.Random(14)
    inside = 0
    for i in range(ITERATIONS):
        log = tmp_path / f"driver-{i}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, str(script), str(root), str(i + 1)], stdout=out, env=env)
        try:
            wait_ready(log, proc)
            time.sleep(rnd.uniform(0.05, 0.5))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        lines = log.read_text().splitlines()
        inside += bool(lines) and lines[-1].startswith("begin")
        check_tree(root)
    assert inside >= ITERATIONS // 2, f"only {inside} of {ITERATIONS} kills landed inside a write"
    assert History(root / ".skillz").entries()  # writes happened and were recorded
    # scratch directories of killed writers are cleared by the next write of the entry: at most
    # the last run's are left
    leftovers = [p.name for p in (root / "tools").iterdir() if p.name.startswith(".")]
    assert len(leftovers) <= 1, leftovers
