"""Entry specs built in memory for the isolation tests (no manifest on disk, no compile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.parse import Positions


def spec(tmp_path: Path, **data: Any) -> EntrySpec:
    """A `kind: command` entry in ``tmp_path`` whose manifest holds ``data``."""
    return EntrySpec(
        kind="command", name="t", root=tmp_path, dir=tmp_path, manifest=tmp_path / "manifest.yaml",
        display="manifest.yaml", data={"kind": "command", **data}, positions=Positions(), fingerprint="",
    )  # fmt: skip
