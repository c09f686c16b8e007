"""The state directory: permissions, token, discovery file, audit log."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from skillz_engine.state.store import (
    MAX_ERROR_CHARS,
    REDACTED,
    AuditLog,
    AuditRecord,
    Store,
    clip,
    redact,
    secret_values,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_creates_private_dir_with_gitignore(tmp_path: Path) -> None:
    """ensure() makes the directory 0700 and writes a .gitignore of `*`."""
    store = Store(tmp_path / "root" / ".skillz")
    store.ensure()
    assert _mode(store.path) == 0o700
    assert (store.path / ".gitignore").read_text() == "*\n"
    store.ensure()  # idempotent
    assert sorted(p.name for p in store.path.iterdir()) == [".gitignore"]


def test_ensure_fails_with_oserror_when_impossible(tmp_path: Path) -> None:
    """A state dir that cannot exist raises OSError (callers decide how bad that is)."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        Store(blocker / ".skillz").ensure()


def test_token_is_0600_and_stable_across_restarts(tmp_path: Path) -> None:
    """The token is generated once, mode 0600, and every later Store reads the same one."""
    first = Store(tmp_path / ".skillz").token()
    again = Store(tmp_path / ".skillz").token()
    assert first == again and len(first) >= 40
    token_file = tmp_path / ".skillz" / "agent-token"
    assert _mode(token_file) == 0o600
    assert token_file.read_text().strip() == first
    assert not [p for p in (tmp_path / ".skillz").iterdir() if p.name.endswith(".tmp")]


def test_token_file_permissions_are_tightened(tmp_path: Path) -> None:
    """A token file someone made world-readable is put back to 0600."""
    store = Store(tmp_path / ".skillz")
    tok = store.token()
    store.token_file.chmod(0o644)
    assert store.token() == tok
    assert _mode(store.token_file) == 0o600


def test_server_json_written_and_removed_only_by_its_owner(tmp_path: Path) -> None:
    """server.json carries url/pid/version/tokenFile/startedAt; only the owning pid removes it."""
    store = Store(tmp_path / ".skillz")
    path = store.write_server_json("http://127.0.0.1:1234/mcp", os.getpid(), "0.1.0", store.token_file)
    data = json.loads(path.read_text())
    assert data["url"] == "http://127.0.0.1:1234/mcp"
    assert data["pid"] == os.getpid()
    assert data["tokenFile"] == str(store.token_file)
    assert data["version"] == "0.1.0" and data["startedAt"].endswith("Z")
    store.remove_server_json(pid=os.getpid() + 1)
    assert path.exists()
    store.remove_server_json()
    assert not path.exists()
    store.remove_server_json()  # nothing to remove: fine


def test_redact_secret_values_and_bearer_tokens() -> None:
    """Secret values and `Bearer <token>` are replaced; other text is kept."""
    out = redact("key=s3cr3t-value auth: Bearer abc.DEF-123 done", ["s3cr3t-value"])
    assert "s3cr3t-value" not in out and "abc.DEF-123" not in out
    assert out == f"key={REDACTED} auth: Bearer {REDACTED} done"
    assert secret_values(["A", "B", "C"], {"A": "x1", "B": "", "D": "nope"}) == ["x1"]


def test_audit_append_writes_redacted_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One JSON line per record with the documented keys; secrets from the env are redacted."""
    monkeypatch.setenv("SKILLZ_TEST_TOKEN", "tok-0123456789")
    log = AuditLog(tmp_path / "audit.jsonl", redact=["server-token-xyz"])
    assert log.append(
        AuditRecord(
            "tools/call", "gh", 12.5, False, "failed with tok-0123456789", "sess-1", ("SKILLZ_TEST_TOKEN",)
        )
    )
    assert log.append(AuditRecord("tools/call", "echo", 1.0, True, None, None, ()))
    assert log.append(
        {"method": "tools/call", "tool": "x", "error": "Authorization: Bearer server-token-xyz"}
    )
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert set(first) == {"time", "session", "method", "tool", "duration_ms", "success", "error"}
    assert first["error"] == f"failed with {REDACTED}" and first["success"] is False
    assert first["session"] == "sess-1" and first["duration_ms"] == 12.5
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert "server-token-xyz" not in lines[2]
    assert _mode(tmp_path / "audit.jsonl") == 0o600


@pytest.mark.parametrize("offset", [1, 5, 12, 19])
def test_a_secret_spanning_the_error_cut_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offset: int
) -> None:
    """The audit error is cut at MAX_ERROR_CHARS after redaction: a secret across the cut never leaks
    a piece (issue 15 #4)."""
    secret = "sk-live-ABCDEFGHIJ0123456789"
    monkeypatch.setenv("SKILLZ_API_KEY", secret)
    error = "x" * (MAX_ERROR_CHARS - offset) + secret + " tail"
    log = AuditLog(tmp_path / "audit.jsonl")
    assert log.append(AuditRecord("tools/call", "t", 1.0, False, error, None, ("SKILLZ_API_KEY",)))
    line = json.loads((tmp_path / "audit.jsonl").read_text())["error"]
    assert secret[:4] not in line and secret[-4:] not in line
    assert line == clip("x" * (MAX_ERROR_CHARS - offset) + REDACTED + " tail", MAX_ERROR_CHARS)


def test_pieces_of_a_secret_at_the_edges_of_a_text_cut_elsewhere_are_redacted() -> None:
    """A stderr tail or a result cut before it reaches the audit log holds only part of a secret:
    its start at the end of the text, or its end at the start, is redacted all the same."""
    secret = "tok-0123456789abcdef"
    assert redact("456789abcdef failed", [secret]) == f"{REDACTED} failed"
    assert redact("Result: tok-0123", [secret]) == f"Result: {REDACTED}"
    assert redact("abc plain", [secret]) == "abc plain"  # shorter than EDGE_MIN: text, not a secret


def test_audit_append_never_raises(tmp_path: Path) -> None:
    """A log that cannot be written returns False and remembers why, without raising."""
    log = AuditLog(tmp_path / "missing-dir" / "audit.jsonl")
    assert log.append(AuditRecord("tools/call", "t", 1.0, True)) is False
    assert log.failed is not None and "FileNotFoundError" in log.failed
