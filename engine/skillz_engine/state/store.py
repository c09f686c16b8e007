"""The engine's state directory: token, discovery file, audit log.

The state directory is ``.skillz/`` in the first root unless ``state`` in ``skillz.yaml`` or
``--state-dir`` names another (:attr:`skillz_engine.build.compile.Tree.state_dir`). It is private
(mode 0700), carries a ``.gitignore`` of ``*`` so it never lands in a commit, and holds:

* ``agent-token``: the HTTP bearer token, generated once with :func:`secrets.token_urlsafe`
  (mode 0600) and stable across restarts;
* ``server.json``: where a running HTTP server listens (url, pid, version, tokenFile, startedAt),
  removed on shutdown;
* ``audit.jsonl``: one JSON line per tool call, with secret values and bearer tokens redacted.

Every write is atomic (temp file in the same directory, then ``os.replace``), so a reader never
sees a half-written file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOKEN_FILE = "agent-token"
SERVER_FILE = "server.json"
AUDIT_FILE = "audit.jsonl"
GITIGNORE = ".gitignore"
REDACTED = "[REDACTED]"
MAX_ERROR_CHARS = 2000  # an audit line stays short: the error text is cut here (after redaction)
EDGE_MIN = 4  # characters of a secret cut off at a text's edge that are still recognised and redacted

_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, exclusive: bool = False) -> bool:
    """Write ``data`` to ``path`` atomically with ``mode``.

    With ``exclusive``, the file is only created when absent (``os.link`` of the finished temp
    file, which fails if another writer got there first); returns whether this call wrote it.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            except OSError:  # no hard links here (some network/overlay filesystems)
                if path.exists():
                    return False
                Path(tmp).replace(path)
                return True
            return True
        Path(tmp).replace(path)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()


def utc_now() -> str:
    """The current time as ISO-8601 UTC with millisecond precision (``2026-01-02T03:04:05.678Z``)."""
    now = _dt.datetime.now(_dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def secret_values(names: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The non-empty values of the environment variables ``names`` (longest first)."""
    env = os.environ if environ is None else environ
    values = {env[n] for n in names if isinstance(n, str) and env.get(n)}
    return sorted(values, key=len, reverse=True)


def redact(text: str, values: Iterable[str] = ()) -> str:
    """``text`` with every one of ``values`` and every ``Bearer <token>`` replaced by a marker.

    Texts reaching the audit log were often cut before (a stderr tail, a result shown up to a
    limit): a secret straddling such a cut survives only in part, so a text that starts with the
    end of a secret, or ends with its start (:data:`EDGE_MIN` characters or more), loses that part
    too. Redaction always runs before any cut of its own (:func:`clip`).
    """
    for v in values:
        if v:
            text = text.replace(v, REDACTED)
    for v in values:
        text = _redact_edges(text, v)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def _redact_edges(text: str, secret: str) -> str:
    """``text`` without a piece of ``secret`` cut off at its start or its end."""
    for n in range(min(len(secret), len(text)) - 1, EDGE_MIN - 1, -1):
        if text.startswith(secret[-n:]):
            text = REDACTED + text[n:]
            break
    for n in range(min(len(secret), len(text)) - 1, EDGE_MIN - 1, -1):
        if text.endswith(secret[:n]):
            text = text[:-n] + REDACTED
            break
    return text


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (and marked). Call it on redacted text only: a cut
    first could split a secret into pieces that redaction no longer recognises."""
    return text if len(text) <= limit else text[:limit] + "..."


def _redact_value(value: Any, values: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, values)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, values) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited call. ``secrets`` names the environment variables whose values are redacted."""

    method: str
    tool: str | None
    duration_ms: float
    success: bool
    error: str | None = None
    session: str | None = None
    secrets: tuple[str, ...] = ()
    time: str = field(default_factory=utc_now)

    def to_json(self) -> dict[str, Any]:
        """The record's fields, the error in full: :meth:`AuditLog.line` redacts, then cuts it."""
        return {
            "time": self.time,
            "session": self.session,
            "method": self.method,
            "tool": self.tool,
            "duration_ms": round(self.duration_ms, 3),
            "success": self.success,
            "error": self.error,
        }


class AuditLog:
    """Appends one JSON line per record to ``audit.jsonl``; never raises into a request."""

    def __init__(self, path: Path, *, redact: Iterable[str] = ()) -> None:
        self.path = path
        self._always = [v for v in redact if v]  # e.g. the server's own bearer token
        self.failed: str | None = None  # the first write error, if any (later ones are dropped)

    def redact_also(self, value: str) -> None:
        """Redact ``value`` from every later line too (a bearer token made after the log was opened)."""
        if value and value not in self._always:
            self._always.append(value)

    def line(self, record: AuditRecord | Mapping[str, Any]) -> str:
        """The redacted JSON line ``append`` writes (without the newline)."""
        if isinstance(record, AuditRecord):
            payload: Mapping[str, Any] = record.to_json()
            names: Iterable[str] = record.secrets
        else:
            payload = {"time": utc_now(), **{k: v for k, v in record.items() if k != "secrets"}}
            names = record.get("secrets") or ()
        values = sorted({*secret_values(names), *self._always}, key=len, reverse=True)
        line = _redact_value(dict(payload), values)
        if isinstance(line.get("error"), str):  # redacted first, then cut: no secret spans the cut
            line["error"] = clip(line["error"], MAX_ERROR_CHARS)
        return json.dumps(line, ensure_ascii=False, default=str)

    def append(self, record: AuditRecord | Mapping[str, Any]) -> bool:
        """Append ``record``; returns ``False`` (and remembers why) when the write failed."""
        data = (self.line(record) + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, data)  # one write with O_APPEND: lines from concurrent calls never mix
            finally:
                os.close(fd)
        except OSError as exc:
            if self.failed is None:
                self.failed = f"{type(exc).__name__}: {exc}"
            return False
        return True


class Store:
    """The state directory of one tree."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def token_file(self) -> Path:
        return self.path / TOKEN_FILE

    @property
    def server_file(self) -> Path:
        return self.path / SERVER_FILE

    @property
    def audit_file(self) -> Path:
        return self.path / AUDIT_FILE

    def ensure(self) -> Path:
        """Create the directory (0700) with its ``.gitignore``; raises ``OSError`` if it cannot."""
        created = not self.path.exists()
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if created:
            self.path.chmod(0o700)  # mkdir's mode is filtered by the umask
        ignore = self.path / GITIGNORE
        if not ignore.exists():
            atomic_write(ignore, b"*\n", mode=0o644, exclusive=True)
        return self.path

    def token(self) -> str:
        """The bearer token, generated on first use (0600) and stable afterwards."""
        self.ensure()
        path = self.token_file
        for _ in range(3):
            existing = self._read_token(path)
            if existing:
                return existing
            fresh = secrets.token_urlsafe(32)
            if atomic_write(path, (fresh + "\n").encode("ascii"), mode=0o600, exclusive=True):
                return fresh
            if path.exists() and not path.read_text(encoding="utf-8").strip():
                atomic_write(path, (fresh + "\n").encode("ascii"), mode=0o600)  # an empty file: replace it
                return fresh
        raise OSError(f"cannot create a token in {path}")

    def keep_token(self, token: str) -> None:
        """Make ``token`` this directory's bearer token (a replica keeps its cluster's shared one
        here, where ``server.json``'s ``tokenFile`` points clients)."""
        self.ensure()
        if self._read_token(self.token_file) != token:
            atomic_write(self.token_file, (token + "\n").encode("ascii"), mode=0o600)

    @staticmethod
    def _read_token(path: Path) -> str | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        if st.st_mode & 0o077:
            path.chmod(0o600)  # someone loosened it: a token is for this user only
        text = path.read_text(encoding="utf-8").strip()
        return text or None

    def write_server_json(self, url: str, pid: int, version: str, token_file: Path | str | None) -> Path:
        """Write the discovery file of a running HTTP server."""
        self.ensure()
        payload = {
            "url": url,
            "pid": pid,
            "version": version,
            "tokenFile": str(token_file) if token_file is not None else None,
            "startedAt": utc_now(),
        }
        atomic_write(self.server_file, (json.dumps(payload, indent=2) + "\n").encode("utf-8"), mode=0o600)
        return self.server_file

    def read_server_json(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.server_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def remove_server_json(self, pid: int | None = None) -> None:
        """Remove the discovery file if it describes this process (another server may own it now)."""
        data = self.read_server_json()
        if data is None:
            return
        if data.get("pid") != (os.getpid() if pid is None else pid):
            return
        with contextlib.suppress(FileNotFoundError):
            self.server_file.unlink()

    def audit_log(self, *, redact: Iterable[str | None] = ()) -> AuditLog:
        return AuditLog(self.audit_file, redact=[v for v in redact if v])
