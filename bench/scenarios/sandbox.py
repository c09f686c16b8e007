"""Engine overhead per script call, and what each sandbox adds, in-process (no MCP transport).

One tree with the same Python echo script (``protocol: plain``: the arguments as JSON on stdin,
the text on stdout) as three tools: ``sandbox: none``, ``bwrap`` and ``firejail``. Each call is
``run_tool`` on the compiled snapshot, the path of every MCP ``tools/call`` without the protocol
(argument validation, clean environment, interpreter resolution, the sandbox and limits argv,
process.py's spawn, group kill and output capture). The baseline is a bare ``subprocess.run`` of
the same interpreter (its real path, as the engine resolves it) and the same script with the same
stdin. All sides are interleaved round-robin in one process; medians are compared.

Targets (issue 3): engine overhead over the bare run under 10 ms p50; bwrap's overhead per call
(engine with bwrap over engine with ``sandbox: none``) under 10 ms p50. firejail is reported
without a target.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import anyio

from bench.core import Ctx, Row, judge, summary_or_none
from bench.inprocess import check_sides, engine_sides, time_sides

NAME = "sandbox"
TITLE = "script call: engine and sandbox overhead"
WARMUP = 5
TARGET_MS = 10.0

ECHO = "import json, sys\nprint(json.load(sys.stdin)['text'])\n"
MODES = ("none", "bwrap", "firejail")


def _tree(root: Path) -> None:
    for mode in MODES:
        d = root / f"echo-{mode}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "echo.py").write_text(ECHO, encoding="utf-8")
        (d / "manifest.yaml").write_text(
            f"kind: script\ndescription: Echo the text ({mode}).\ninterpreter: python3\nentry: echo.py\n"
            f"protocol: plain\nsandbox: {mode}\n"
            "inputSchema: {type: object, properties: {text: {type: string}}, required: [text]}\n",
            encoding="utf-8",
        )


def run(ctx: Ctx) -> list[Row]:
    root = ctx.work / "sandbox-tree"
    _tree(root)
    calls = 20 if ctx.quick else 300
    ctx.log(f"sandbox: {calls} calls per side")
    return anyio.run(_measure, ctx, root, calls)


async def _measure(ctx: Ctx, root: Path, calls: int) -> list[Row]:
    from skillz_engine.isolation.command import BASE_VARS
    from skillz_engine.isolation.programs import resolve_program

    snap, sides, failed = engine_sides(root, MODES)

    env = {k: os.environ[k] for k in BASE_VARS if k in os.environ}  # what build_env gives this tool
    env.setdefault("LANG", "C.UTF-8")
    python = resolve_program("python3", root / "echo-none", env)
    script = str(root / "echo-none" / "echo.py")
    payload = json.dumps({"text": "hi"}).encode() + b"\n"

    async def bare() -> str:
        proc = subprocess.run([python, script], input=payload, capture_output=True, env=env,
                              cwd=root / "echo-none", check=True)  # fmt: skip
        return proc.stdout.decode()

    sides["bare"] = bare

    if "bwrap" in sides:  # the exact command line the engine runs for echo-bwrap, run bare
        from skillz_engine.isolation.command import build_command

        tool_dir = root / "echo-bwrap"
        spec = next(c.spec for c in snap.entries.values() if c.spec.name == "echo-bwrap")
        cmd = build_command([python, str(tool_dir / "echo.py")], spec, cwd=tool_dir)

        async def bwrap_raw() -> str:
            proc = subprocess.run(list(cmd.argv), input=payload, capture_output=True, env=dict(cmd.env),
                                  cwd=cmd.cwd, check=True)  # fmt: skip
            return proc.stdout.decode()

        sides["bwrap-raw"] = bwrap_raw

    await check_sides(sides, failed)
    lat = await time_sides(sides, WARMUP, calls)

    def row(engine: str, base: str, label: str, size: str, target: bool, notes: str) -> Row:
        e, b = summary_or_none(lat.get(engine, [])), summary_or_none(lat.get(base, []))
        delta = e.median - b.median if e is not None and b is not None else None
        return Row(
            TITLE, size, "ms", e, label, b,
            target=f"+{TARGET_MS:g} ms p50 at most" if target else "",
            met=judge(ctx, delta < TARGET_MS) if target and delta is not None else None,
            unavailable=failed.get(engine), baseline_unavailable=failed.get(base),
            notes=notes + (f"; p50 delta {delta:+.1f} ms" if delta is not None else ""),
            extra={"delta_ms_p50": delta, "interpreter": python},
        )  # fmt: skip

    n = f"{calls} calls per side, in-process run_tool"
    return [
        row("none", "bare", "bare subprocess.run", "engine, sandbox: none", True,
            f"{n}; engine overhead over the same interpreter and script"),
        row("bwrap", "none", "engine, sandbox: none", "bwrap", True, f"{n}; what bwrap adds per call"),
        row("firejail", "none", "engine, sandbox: none", "firejail", False, f"{n}; firejail's cost"),
        row("bwrap", "bare", "bare subprocess.run", "engine, bwrap", False, f"{n}; bwrap call over bare"),
        row("bwrap-raw", "bare", "bare subprocess.run", "bwrap argv, bare subprocess.run", False,
            f"{n}; the engine's bwrap command line run by subprocess.run: bwrap's own cost"),
    ]  # fmt: skip
