"""A cache of validated specs across ``serve`` starts, in the state directory.

Restarting a server on an unchanged tree should not parse and validate every manifest again.
This cache records, per entry, its fingerprint (path, size and mtime of every file), the
validated :class:`EntrySpec` and the diagnostics it had. An entry is taken from the cache only
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
from skillz_engine.build.settings import ensure_state_dir
from skillz_engine.tree.config import Config
from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.parse import Positions

FORMAT = 2


@dataclass(frozen=True, slots=True)
class Cached:
    fingerprint: str
    spec: EntrySpec | None
    diagnostics: tuple[Diagnostic, ...]  # from parse and validate
    runtime_diagnostics: tuple[Diagnostic, ...]  # from the runtime's compile
    ok: bool  # the entry compiled last time


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


def _positions_out(p: Positions) -> str:
    """Positions as one opaque string: decoding it is deferred until a diagnostic needs it."""
    if isinstance(p, LazyPositions):
        return p.raw
    return json.dumps(
        {
            "v": [[list(k), a, b] for k, (a, b) in p.values.items()],
            "k": [[list(k), a, b] for k, (a, b) in p.keys.items()],
            "o": p.line_offset,
        },
        separators=(",", ":"),
    )


class LazyPositions(Positions):
    """Positions decoded from the cache on first use (most cached entries never need them)."""

    __slots__ = ("_real", "raw")
    raw: str
    _real: Positions | None

    def __init__(self, raw: str) -> None:
        super().__init__()
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "_real", None)

    def _get(self) -> Positions:
        real: Positions | None = self._real
        if real is None:
            v = json.loads(self.raw)
            real = Positions(
                {tuple(k): (a, b) for k, a, b in v["v"]}, {tuple(k): (a, b) for k, a, b in v["k"]}, v["o"]
            )
            object.__setattr__(self, "_real", real)
        return real

    def value(self, path: Any) -> tuple[int, int]:
        return self._get().value(path)

    def key(self, path: Any) -> tuple[int, int]:
        return self._get().key(path)


def _spec_out(s: EntrySpec) -> dict[str, Any]:
    return {
        "kind": s.kind, "name": s.name, "root": str(s.root), "dir": str(s.dir),
        "manifest": str(s.manifest), "display": s.display, "data": s.data,
        "positions": _positions_out(s.positions), "owner": s.owner, "legacy": s.legacy,
        "body": s.body, "extras": s.extras,
    }  # fmt: skip


def _spec_in(v: Mapping[str, Any], fingerprint: str) -> EntrySpec:
    return EntrySpec(
        kind=v["kind"], name=v["name"], root=Path(v["root"]), dir=Path(v["dir"]),
        manifest=Path(v["manifest"]), display=v["display"], data=v["data"],
        positions=LazyPositions(v["positions"]), fingerprint=fingerprint, owner=v["owner"],
        legacy=v["legacy"], body=v["body"], extras=v["extras"],
    )  # fmt: skip


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
            for key, e in raw["entries"].items():
                spec = _spec_in(e["spec"], e["fp"]) if e["spec"] is not None else None
                out[key] = Cached(
                    e["fp"], spec, tuple(_diag_in(d) for d in e["diags"]),
                    tuple(_diag_in(d) for d in e["rdiags"]), e["ok"],
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
                    "spec": _spec_out(c.spec) if c.spec is not None else None,
                    "diags": [_diag_out(d) for d in c.diagnostics],
                    "rdiags": [_diag_out(d) for d in c.runtime_diagnostics],
                    "ok": c.ok,
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
