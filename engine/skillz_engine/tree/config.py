"""``skillz.yaml``: the optional tree configuration, read from the first root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillz_engine.tree.diagnostics import Diagnostic

CONFIG_NAMES = ("skillz.yaml", "skillz.yml")
DISCLOSURE_MODES = ("all", "skills", "search")
DEFAULT_PORT = 8765


@dataclass(frozen=True, slots=True)
class Config:
    """The tree configuration; every field has the default a tree without ``skillz.yaml`` gets."""

    data: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def get(self, *keys: str, default: Any = None) -> Any:
        cur: Any = self.data
        for k in keys:
            if not isinstance(cur, Mapping) or k not in cur:
                return default
            cur = cur[k]
        return cur

    @property
    def server_name(self) -> str:
        return str(self.get("server", "name", default="skillz-engine"))

    @property
    def instructions(self) -> str | None:
        v = self.get("server", "instructions")
        return str(v) if v else None

    @property
    def disclosure(self) -> str:
        return str(self.get("disclosure", default="all"))

    @property
    def read_only(self) -> bool:
        return bool(self.get("builtins", "readOnly", default=False))

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with top-level keys replaced (CLI flags win over the file)."""
        data = dict(self.data)
        for k, v in overrides.items():
            if v is None:
                continue
            if k == "readOnly":
                data["builtins"] = {**dict(data.get("builtins") or {}), "readOnly": bool(v)}
            else:
                data[k] = v
        return Config(data, self.path)


def find_config(roots: list[Path] | tuple[Path, ...]) -> Path | None:
    if not roots:
        return None
    for name in CONFIG_NAMES:
        p = roots[0] / name
        if p.is_file():
            return p
    return None


def load_config(roots: list[Path] | tuple[Path, ...]) -> tuple[Config, list[Diagnostic]]:
    """Read and validate ``skillz.yaml`` from the first root; a bad file gives defaults + diagnostics."""
    from skillz_engine.tree.diagnostics import display_path
    from skillz_engine.tree.parse import parse_file
    from skillz_engine.tree.validate import schema_diagnostics

    path = find_config(roots)
    if path is None:
        return Config(), []
    doc = parse_file(path, display_path(path))
    diags = list(doc.diagnostics)
    if doc.data is None:
        return Config(path=path), diags
    if not isinstance(doc.data, dict):
        diags.append(doc.diag((), "SKZ101", "skillz.yaml must be a mapping of settings"))
        return Config(path=path), diags
    schema_diags = schema_diagnostics(doc, "config")
    diags.extend(schema_diags)
    if any(d.is_error for d in schema_diags):
        return Config(path=path), diags
    return Config(doc.data, path), diags
