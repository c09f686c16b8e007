"""A cache of validated specs across ``serve`` starts, in the state directory.

Restarting a server on an unchanged tree should not parse and validate every manifest again.
This cache records, per entry, its fingerprint (path, size and mtime of every file), the
validated spec (the ``EntrySpec`` fields that are not found again by the scan), a lazy kind's
listed tool, and the diagnostics it had (:mod:`~skillz_engine.build.restore` builds an entry back
from them). An entry is taken from the cache only
when its fingerprint, the engine version, the schemas and ``skillz.yaml`` are all unchanged;
anything else is compiled as usual. The file is JSON (never pickle: the state directory must not
be able to run code), written atomically, and ignored when unreadable. ``validate`` never uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillz_engine import __version__
from skillz_engine.build.restore import share_tool_json
from skillz_engine.build.settings import ensure_state_dir
from skillz_engine.tree.config import Config
from skillz_engine.tree.diagnostics import Diagnostic, Severity

FORMAT = 3


@dataclass(frozen=True, slots=True)
class Cached:
    """One entry as the cache file holds it (JSON values: :mod:`~skillz_engine.build.restore`
    writes and reads ``spec`` and ``tool``)."""

    fingerprint: str
    spec: Mapping[str, Any] | None  # restore.spec_json
    diagnostics: tuple[Diagnostic, ...]  # from parse and validate
    runtime_diagnostics: tuple[Diagnostic, ...]  # from the runtime's compile
    ok: bool  # the entry compiled last time
    tool: Mapping[str, Any] | None = None  # restore.tool_json of a lazy kind's tool


def salt(config_path: Path | None) -> str:
    """What invalidates every cached entry at once: engine, schemas, tree configuration."""
    from skillz_engine.tree import schemas

    h = hashlib.blake2b(digest_size=16)
    h.update(f"{FORMAT}:{__version__}".encode())
    for name in schemas.schema_names():
        h.update((schemas.schema_dir() / f"{name}.schema.json").read_bytes())
    if config_path is not None and config_path.is_file():
        h.update(config_path.read_bytes())
    return h.hexdigest()


def _diag_out(d: Diagnostic) -> list[Any]:
    return [d.path, d.line, d.col, d.code, d.severity.value, d.message, d.json_path, d.hint]


def _diag_in(v: list[Any]) -> Diagnostic:
    return Diagnostic(v[0], v[1], v[2], v[3], Severity(v[4]), v[5], v[6], v[7])


class SpecCache:
    def __init__(self, path: Path, salt: str) -> None:
        """``path`` is ``<state dir>/cache/specs.json``."""
        self.path = path
        self.salt = salt

    @staticmethod
    def of(state_dir: Path, config: Config) -> SpecCache:
        """The spec cache of a tree with this state directory and configuration."""
        return SpecCache(state_dir / "cache" / "specs.json", salt(config.path))

    def load(self) -> dict[str, Cached]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if raw.get("format") != FORMAT or raw.get("salt") != self.salt:
                return {}
            out: dict[str, Cached] = {}
            seen: dict[tuple[Any, ...], Any] = {}
            for key, e in raw["entries"].items():
                if e["tool"] is not None:
                    share_tool_json(e["tool"], seen)
                out[key] = Cached(
                    e["fp"], e["spec"], tuple(_diag_in(d) for d in e["diags"]),
                    tuple(_diag_in(d) for d in e["rdiags"]), e["ok"], e["tool"],
                )  # fmt: skip
            return out
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return {}  # missing, corrupt or from another version: compile everything

    def save(self, entries: Mapping[str, Cached]) -> bool:
        """Write atomically; False (and nothing written) when the state dir is not writable."""
        payload = {
            "format": FORMAT,
            "salt": self.salt,
            "entries": {
                key: {
                    "fp": c.fingerprint,
                    "spec": c.spec,
                    "diags": [_diag_out(d) for d in c.diagnostics],
                    "rdiags": [_diag_out(d) for d in c.runtime_diagnostics],
                    "ok": c.ok,
                    "tool": c.tool,
                }
                for key, c in entries.items()
            },
        }
        try:
            ensure_state_dir(self.path.parent.parent)
            self.path.parent.mkdir(exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".specs.", dir=self.path.parent)
            text = json.dumps(payload, separators=(",", ":"), default=str)  # the C encoder: one call
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self.path)
            return True
        except (OSError, TypeError, ValueError):
            return False
