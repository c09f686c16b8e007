"""The benchmark suite's smoke test: ``python -m bench --quick`` runs every scenario end to end.

No timing assertions: only that the report files exist and that every scenario produced, for the
engine and for each baseline, either numbers or a clear "not available" reason.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(480)  # the run's own bound (below), not the suite's 180 s per test
def test_quick_benchmark_reports_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    md, js = out / "latest.md", out / "latest.json"
    assert md.is_file() and js.is_file()
    report = json.loads(js.read_text(encoding="utf-8"))
    assert report["mode"] == "quick"
    assert report["machine"]["cores_logical"]
    assert report["machine"]["versions"]["mcp"]
    rows = report["rows"]
    expected = {
        "validate",
        "serve",
        "call",
        "notify",
        "swap",
        "rss",
        "http-load",
        "deps",
        "wasm",
        "skills",
        "sandbox",
        "load",
        "services",
        "codemode",
        "upstream",
        "redis-bus",
        "replicas",
        "spawn",
        "worker",
    }
    assert set(report["scenarios"]) == expected
    assert {r["scenario_id"] for r in rows} == expected, "a scenario produced no row"
    for r in rows:
        where = f"{r['scenario_id']} / {r['size']} / {r['baseline_name']}"
        engine_ok = r["engine"] is not None and r["engine"]["n"] > 0
        assert engine_ok or (r["unavailable"] or "").strip(), f"{where}: no engine numbers and no reason"
        if r["baseline_name"]:
            base_ok = r["baseline"] is not None and r["baseline"]["n"] > 0
            reason = (r["baseline_unavailable"] or "").strip()
            assert base_ok or reason, f"{where}: no baseline numbers and no reason"
        assert r["met"] is None, f"{where}: --quick must not judge targets"
    text = md.read_text(encoding="utf-8")
    assert "| scenario | size |" in text
    for r in rows:
        assert r["scenario"] in text


def test_a_smaller_run_never_overwrites_the_committed_results() -> None:
    """Only a full run of every scenario writes bench/results/; --quick and --only go elsewhere, and
    runs of different scenarios go to different places."""
    cli: Any = importlib.import_module("bench.__main__")  # bench/ is outside the strictly typed code
    RESULTS, parse = cli.RESULTS, cli.parse
    assert parse([]).out == RESULTS
    assert parse(["--quick"]).out == RESULTS / "quick"
    assert parse(["--only", "serve"]).out == RESULTS / "partial" / "serve"
    assert parse(["--only", "serve", "rss"]).out == RESULTS / "partial" / "serve+rss"
    assert parse(["--quick", "--out", "/tmp/x"]).out == Path("/tmp/x")
