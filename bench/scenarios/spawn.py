"""What the engine adds to starting a command tool's process, with and without bubblewrap (issue 16).

One tree with the same ``kind: command`` echo (``argv: [echo, "{{ text }}"]``) twice: ``sandbox:
none`` and ``sandbox: bwrap``. Each engine call is ``run_tool`` on the compiled snapshot: the path of
every MCP ``tools/call`` without the transport (argument validation, argv templates, the entry's
prepared sandbox and clean environment, the pids cgroup, the spawn, the group kill, the output
capture). The baseline is a bare ``subprocess.run`` of the same program (its real path) with the same
arguments, environment and working directory, no sandbox; a second one runs the engine's exact
bwrap command line with ``subprocess.run``, which is bubblewrap's own cost. All sides are
interleaved round-robin in one process; medians are compared.

Targets (issue 16): the engine over the bare run at most +2 ms p50; bubblewrap at most +2 ms more
(the engine with bwrap over the engine without).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio

from bench.core import Ctx, Row, judge, summary_or_none
from bench.inprocess import check_sides, engine_sides, time_sides

NAME = "spawn"
TITLE = "command call: spawn overhead"
WARMUP = 5
TARGET_MS = 2.0
MODES = ("none", "bwrap")


def _tree(root: Path) -> None:
    for mode in MODES:
        d = root / f"echo-{mode}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.yaml").write_text(
            f'kind: command\ndescription: Echo the text ({mode}).\nargv: [echo, "{{{{ text }}}}"]\n'
            f"sandbox: {mode}\n"
            "inputSchema: {type: object, properties: {text: {type: string}}, required: [text]}\n",
            encoding="utf-8",
        )


def run(ctx: Ctx) -> list[Row]:
    root = ctx.work / "spawn-tree"
    _tree(root)
    calls = 20 if ctx.quick else 300
    ctx.log(f"spawn: {calls} calls per side")
    return anyio.run(_measure, ctx, root, calls)


async def _measure(ctx: Ctx, root: Path, calls: int) -> list[Row]:
    from skillz_engine.isolation.command import build_command

    snap, sides, failed = engine_sides(root, MODES)

    # the engine's own command lines, run bare: the unsandboxed one is the program itself
    specs = {c.spec.name: c.spec for c in snap.entries.values()}
    plain = build_command(["echo", "hi"], specs["echo-none"])
    argv, env, cwd = list(plain.argv[-2:]), dict(plain.env), plain.cwd  # [/usr/bin/echo, hi]

    async def bare() -> str:
        return subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=True).stdout.decode()

    sides["bare"] = bare
    if "bwrap" in sides:
        boxed = build_command(["echo", "hi"], specs["echo-bwrap"])

        async def bwrap_raw() -> str:
            proc = subprocess.run(list(boxed.argv), capture_output=True, env=dict(boxed.env), cwd=boxed.cwd,
                                  check=True)  # fmt: skip
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
            met=judge(ctx, delta <= TARGET_MS) if target and delta is not None else None,
            unavailable=failed.get(engine), baseline_unavailable=failed.get(base),
            notes=notes + (f"; p50 delta {delta:+.2f} ms" if delta is not None else ""),
            extra={"delta_ms_p50": delta, "program": argv[0]},
        )  # fmt: skip

    n = f"{calls} calls per side, in-process run_tool"
    return [
        row("none", "bare", "bare subprocess.run", "engine, sandbox: none", True,
            f"{n}; what the engine adds to one process start"),
        row("bwrap", "none", "engine, sandbox: none", "engine, bwrap", True,
            f"{n}; what bwrap adds per call"),
        row("bwrap", "bwrap-raw", "bwrap argv, bare subprocess.run", "engine, bwrap (vs its argv run bare)",
            False, f"{n}; the engine's overhead around the same bwrap command line"),
        row("bwrap-raw", "bare", "bare subprocess.run", "bwrap argv, bare subprocess.run", False,
            f"{n}; bubblewrap's own cost: namespaces, mounts, env -u"),
    ]  # fmt: skip
