"""``latest.md`` (the table) and ``latest.json`` (every number, plus the machine)."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.core import Row
from bench.stats import Summary

PACKAGES = (
    "skillz-engine",
    "mcp",
    "mcp-types",
    "jsonschema",
    "pyyaml",
    "watchfiles",
    "check-jsonschema",
    "fastmcp",
    "uvicorn",
    "starlette",
    "anyio",
    "httpx2",
    "pydantic",
    "psutil",
    "pyinstrument",
)
REPO = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores_logical": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }
    try:
        import psutil

        info["cores_physical"] = psutil.cpu_count(logical=False)
        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except Exception:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    info["versions"] = versions
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "engine", "schemas"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        info["engine_commit"] = rev + (" (engine/schemas modified)" if dirty else "")
    except Exception:
        pass
    return info


def _num(x: float | None, unit: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if unit == "ms":
        return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms" if x >= 10 else f"{x:.2f} ms"
    if unit == "MiB":
        return f"{x:,.0f} MiB"
    if unit == "calls/s":
        return f"{x:,.0f}/s"
    return f"{x:.3g} {unit}"


def _cell(s: Summary | None, attr: str, unit: str) -> str:
    return "-" if s is None else _num(getattr(s, attr), unit)


def _result(row: Row) -> str:
    if row.unavailable:
        return "not available"
    if row.met is None:
        return "-" if not row.target else "not judged (--quick)"
    return "**met**" if row.met else "**MISSED**"


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    v = m.get("versions", {})
    out = [
        "# skillz-engine benchmark",
        "",
        f"Run {meta['started']} ({meta['mode']}, {meta['duration_s']:.0f} s)"
        f" on {m.get('cores_logical')} cores"
        f" ({m.get('cpu', '?')}), {m.get('memory_gib', '?')} GiB, Python {m.get('python')};"
        f" load average at the end {m.get('load_average', '?')}.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + ".",
        f"Engine commit: {m.get('engine_commit', '?')}. Command: `{meta['command']}`.",
        "",
        "Engine and baseline of one row ran in the same run, interleaved; the warm-up is discarded."
        " Medians; p95/p99 by nearest rank; spread = interquartile range (p75 - p25); n = samples per"
        " side. Ratio = engine median / baseline median (for calls/s, higher is better).",
        "",
        "| scenario | size | engine median | engine p95 | engine p99 | spread | n | baseline"
        " | baseline median | baseline p95 | ratio | target | result |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        e, b = r.engine, r.baseline
        ratio = r.ratio
        ratio_s = "-" if ratio is None else f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"
        base_med = _cell(b, "median", r.unit) if not r.baseline_unavailable else "not available"
        eng_med = _cell(e, "median", r.unit) if not r.unavailable else "not available"
        out.append(
            f"| {r.scenario} | {r.size} | {eng_med} | {_cell(e, 'p95', r.unit)} | {_cell(e, 'p99', r.unit)}"
            f" | {_cell(e, 'iqr', r.unit)} | {e.n if e else '-'} | {r.baseline_name or '-'} | {base_med}"
            f" | {_cell(b, 'p95', r.unit)} | {ratio_s} | {r.target or '-'} | {_result(r)} |"
        )
    missing = [r for r in rows if r.unavailable or r.baseline_unavailable]
    if missing:
        out += ["", "## Not available", ""]
        seen = set()
        for r in missing:
            for side, reason in (("engine", r.unavailable), (r.baseline_name, r.baseline_unavailable)):
                if reason and (r.scenario, r.size, side, reason) not in seen:
                    seen.add((r.scenario, r.size, side, reason))
                    out.append(f"- {r.scenario}, {r.size}, {side}: not available: {reason}")
    notes = list(dict.fromkeys(f"- {r.scenario}, {r.size}: {r.notes}" for r in rows if r.notes))
    if notes:
        out += ["", "## Notes", "", *notes]
    targets = [r for r in rows if r.met is not None]
    if targets:
        out += ["", "## Targets", ""]
        for r in targets:
            out.append(
                f"- {'met' if r.met else 'MISSED'}: {r.scenario}, {r.size}: {r.target}"
                f" (engine median {_cell(r.engine, 'median', r.unit)}"
                + (f", ratio {r.ratio:.2g}x" if r.ratio is not None else "")
                + ")"
            )
    out.append("")
    return "\n".join(out)


def write(out_dir: Path, rows: list[Row], meta: dict[str, Any]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "latest.md", out_dir / "latest.json"
    payload = {**meta, "rows": [r.to_json() for r in rows]}
    tmp = js.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, js)
    tmp = md.with_suffix(".md.tmp")
    tmp.write_text(markdown(rows, meta), encoding="utf-8")
    os.replace(tmp, md)
    return md, js


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")
