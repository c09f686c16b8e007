"""The manifest corpus: every invalid case reports exactly its expected (file, line, col, code),
and every valid case validates without errors.

Regenerate the expectations after an intended change with ``SKILLZ_REGEN=1 pytest tests/test_corpus.py``
and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree

DATA = Path(__file__).resolve().parents[1] / "data" / "manifests"
INVALID = sorted(p for p in (DATA / "invalid").iterdir() if p.is_dir())
VALID = sorted(p for p in (DATA / "valid").iterdir() if p.is_dir())


def _diagnostics(root: Path) -> list[dict[str, object]]:
    tree = Tree([root])
    tree.full_scan()
    snap = tree.snapshot()
    out = []
    for d in snap.diagnostics:
        rel = Path(d.path).resolve().relative_to(root.resolve()).as_posix()
        out.append({"file": rel, "line": d.line, "col": d.col, "code": d.code, "severity": d.severity.value})
    return out


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.name)
def test_invalid_case_reports_expected_positions(case: Path) -> None:
    """Each invalid manifest yields exactly the diagnostics recorded in its expected.json."""
    got = _diagnostics(case)
    expected_file = case / "expected.json"
    if os.environ.get("SKILLZ_REGEN"):
        expected_file.write_text(json.dumps(got, indent=2) + "\n")
    expected = json.loads(expected_file.read_text())
    assert got == expected
    assert got, "an invalid case must report something"


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.name)
def test_valid_case_has_no_errors(case: Path) -> None:
    """Each valid tree compiles with no error and no warning but 'not served yet'."""
    got = _diagnostics(case)
    assert [d for d in got if d["code"] != "SKZ501"] == []
