"""``skillz.yaml``: the optional tree configuration, read from the first root.

:class:`Config` holds the file's data and, read from it once, a typed field per top-level key with
every default in the records below (the defaults ``config.schema.json`` promises; a test checks they
agree). ``Config.get(*keys)`` still walks the raw data for callers not yet moved to the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from skillz_engine.tree.diagnostics import Diagnostic, display_path
from skillz_engine.tree.parse import parse_file
from skillz_engine.tree.records import record_values
from skillz_engine.tree.schemacheck import schema_diagnostics
from skillz_engine.tree.specs import Duration, Limits, Sandbox

CONFIG_NAMES = ("skillz.yaml", "skillz.yml")
DISCLOSURE_MODES = ("all", "skills", "search")
DEFAULT_PORT = 8765

_RAW = {"key": None}  # a field of Config that is not read from the data
Disclosure = Literal["all", "skills", "search"]


@dataclass(frozen=True, slots=True)
class ServerSettings:
    name: str = "skillz-engine"
    version: str | None = None
    instructions: str | None = None


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    auth: bool = True
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()  # Host header names accepted besides loopback and the bind address
    header_timeout: Duration = "10s"  # a request's headers must have arrived by then
    body_timeout: Duration = "30s"  # the longest pause between two pieces of a request body
    keep_alive_timeout: Duration = "5s"  # an idle connection between requests is closed after this
    max_connections: int = 512  # open connections beyond this are answered 503 and closed
    stream_poll_after: Duration | None = None  # a 2025-11-25 call's SSE stream is closed after this (resumed)


@dataclass(frozen=True, slots=True)
class SourcePin:
    """One pinned git repository of ``sources``."""

    url: str = ""
    rev: str | None = None
    path: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class BuiltinsSettings:
    read_only: bool = False
    enabled: tuple[str, ...] | None = None  # None: every built-in
    disabled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SkillsSettings:
    as_tools: bool = False


@dataclass(frozen=True, slots=True)
class MemorySettings:
    backend: Literal["sqlite", "redis"] = "sqlite"
    url: str | None = None  # None: <state dir>/memory.db


@dataclass(frozen=True, slots=True)
class DependencySettings:
    timeout: Duration = "10m"
    installer: Literal["auto", "uv", "pip"] = "auto"
    allow_direct_references: bool = False  # paths, URLs, git refs as dependency specs
    install_scripts: bool = False  # npm packages' install scripts run (sandboxed) when true


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """``cluster``: replicas sharing state through one Redis (DESIGN 10); ``redis`` unset: one process."""

    redis: str | None = None  # redis:// or rediss:// URL; ``serve --redis`` overrides it
    replica: str | None = None  # this replica's id; None: $SKILLZ_REPLICA, else <hostname>-<pid>
    prefix: str = "skillz"  # every Redis key starts with ``<prefix>:``, so trees can share one Redis


@dataclass(frozen=True, slots=True)
class WatchSettings:
    debounce: Duration = "50ms"


@dataclass(frozen=True, slots=True)
class Config:
    """The tree configuration; every field has the default a tree without ``skillz.yaml`` gets."""

    data: Mapping[str, Any] = field(default_factory=dict, metadata=_RAW)
    path: Path | None = field(default=None, metadata=_RAW)
    server: ServerSettings = field(init=False, compare=False, default=ServerSettings())
    disclosure: Disclosure = field(init=False, compare=False, default="all")
    sandbox: Sandbox = field(init=False, compare=False, default=Sandbox())  # unset: engine defaults
    http: HttpSettings = field(init=False, compare=False, default=HttpSettings())
    sources: tuple[SourcePin, ...] = field(init=False, compare=False, default=())
    builtins: BuiltinsSettings = field(init=False, compare=False, default=BuiltinsSettings())
    skills: SkillsSettings = field(init=False, compare=False, default=SkillsSettings())
    state: str | None = field(init=False, compare=False, default=None)  # None: `.skillz` in the first root
    memory: MemorySettings = field(init=False, compare=False, default=MemorySettings())
    limits: Limits = field(init=False, compare=False, default=Limits())  # unset: engine defaults
    dependencies: DependencySettings = field(init=False, compare=False, default=DependencySettings())
    watch: WatchSettings = field(init=False, compare=False, default=WatchSettings())
    history: Literal["files", "git"] = field(init=False, compare=False, default="files")  # git: commits too
    cluster: ClusterSettings = field(init=False, compare=False, default=ClusterSettings())

    def __post_init__(self) -> None:
        for name, value in record_values(Config, self.data).items():
            object.__setattr__(self, name, value)

    def get(self, *keys: str, default: Any = None) -> Any:
        """The raw value at ``keys`` (for callers not yet reading the typed fields)."""
        cur: Any = self.data
        for k in keys:
            if not isinstance(cur, Mapping) or k not in cur:
                return default
            cur = cur[k]
        return cur

    @property
    def server_name(self) -> str:
        return self.server.name

    @property
    def instructions(self) -> str | None:
        return self.server.instructions or None

    @property
    def read_only(self) -> bool:
        return self.builtins.read_only

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with top-level keys replaced (CLI flags win over the file)."""
        data = dict(self.data)
        for k, v in overrides.items():
            if v is None:
                continue
            if k == "readOnly":
                data["builtins"] = {**dict(data.get("builtins") or {}), "readOnly": bool(v)}
            elif k == "redis":  # ``serve --redis URL``: the cluster's Redis, the rest of ``cluster`` kept
                data["cluster"] = {**dict(data.get("cluster") or {}), "redis": str(v)}
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
