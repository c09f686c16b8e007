"""``validate``, whole process, on 1,000 and 10,000 manifests vs ``check-jsonschema``.

Engine: ``skillz-engine validate ROOT --format json`` (scan, parse with positions, schema and
semantic checks, compile, report). Baseline: ``check-jsonschema`` over the same manifest files with
``schemas/manifest.schema.json`` (which picks each file's kind schema); ``--base-uri`` points at the
local schema file so ``common.schema.json`` and the kind schemas resolve offline. Both must report
the tree clean, else the scenario is marked not available. Wall time from spawn to exit
(``perf_counter``); CPU time and peak RSS of the child from ``os.wait4`` go to the JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.core import Ctx, Row, interleave, judge
from bench.procs import BIN, Unavailable, engine_cmd, server_env

NAME = "validate"
TITLE = "validate (whole process)"
REPO = Path(__file__).resolve().parents[2]


def schemas_dir() -> Path:
    local = REPO / "schemas"
    if (local / "manifest.schema.json").is_file():
        return local
    from importlib import resources

    return Path(str(resources.files("skillz_engine") / "schemas"))


def timed_run(argv: list[str], cwd: Path) -> tuple[float, int, str, dict[str, float]]:
    """Wall seconds, exit code, stdout and the child's rusage (cpu seconds, peak RSS MiB)."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=server_env())
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    usage = {"cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_mib": ru.ru_maxrss / 1024}
    return wall, proc.returncode, text, usage


def run(ctx: Ctx) -> list[Row]:
    checker = shutil.which("check-jsonschema", path=str(BIN)) or shutil.which("check-jsonschema")
    return [_one_size(ctx, n, checker) for n in ctx.sizes([1000, 10000], [100])]


def _one_size(ctx: Ctx, n: int, checker: str | None) -> Row:
    schema = schemas_dir() / "manifest.schema.json"
    info = ctx.tree(n, "mixed")
    rels = [str(p.relative_to(info.root)) for p in info.manifests]
    extras: dict[str, list[dict[str, float]]] = {"engine": [], "check-jsonschema": []}

    def engine() -> float:
        wall, rc, out, ru = timed_run(engine_cmd("validate", ".", "--format", "json"), info.root)
        if rc != 0:
            raise Unavailable(f"validate exited {rc}: {out[-400:]}")
        report = json.loads(out)
        if report.get("errors") or report.get("entries", 0) < n:
            raise Unavailable(
                f"validate saw {report.get('entries')} entries, "
                f"{report.get('errors')} errors on a clean tree of {n}"
            )
        extras["engine"].append(ru)
        return wall * 1000

    def baseline() -> float:
        if checker is None:
            raise Unavailable("check-jsonschema is not installed (pip install check-jsonschema)")
        argv = [checker, "--schemafile", str(schema), "--base-uri", schema.as_uri(), *rels]
        wall, rc, out, ru = timed_run(argv, info.root)
        if rc != 0:
            raise Unavailable(f"check-jsonschema exited {rc}: {out[-400:]}")
        extras["check-jsonschema"].append(ru)
        return wall * 1000

    ctx.log(f"validate: {n} manifests")
    # 10,000 manifests take ~15 s (engine) and ~50 s (check-jsonschema) per sample on 2 cores: the
    # 1,000 run just before warmed every cache, so that size gets no warm-up round and 2 samples
    big = n > 1000
    s = interleave(
        ctx.reps(2 if big else 5, 2),
        {"engine": engine, "check-jsonschema": baseline},
        warmup=0 if big else ctx.warmup,
        log=ctx.log,
    )
    e, b = s.summary("engine"), s.summary("check-jsonschema")
    row = Row(
        scenario=TITLE,
        size=f"{n} manifests",
        unit="ms",
        engine=e,
        baseline_name="check-jsonschema",
        baseline=b,
        unavailable=s.reason("engine"),
        baseline_unavailable=s.reason("check-jsonschema"),
        extra={
            "rusage": extras,
            "tree": {"tools": info.tools, "prompts": info.prompts, "resources": info.resources},
        },
    )
    if n == 1000:
        row.target = "< 1500 ms and < check-jsonschema"
        if e is not None:
            row.met = judge(ctx, e.median < 1500 and (b is None or e.median < b.median))
    else:
        row.target = ""
    return row
