"""The history store on its own (record, ensure, get, diff, half-made versions) and ``history: git``
(one commit per write, naming entry, writer and client; a rollback is a revert commit)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from skillz_engine.engine import EngineOptions
from skillz_engine.state.history import Author, History, HistoryError, digest
from tests.conftest import require
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
ME = Author("test", "session-1")


def entry(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "tools" / "t"
    write(d / "manifest.yaml", f"kind: command\ndescription: {text}\nargv: [echo]\n")
    return d


def test_record_get_diff_and_ensure(tmp_path: Path) -> None:
    h = History(tmp_path / "state")
    d = entry(tmp_path, "one")
    (d / "env").mkdir()
    (d / "env" / "big.bin").write_bytes(b"x" * 100)  # an environment is rebuilt, not versioned
    v1 = h.record("tools/t", d, ME, "write", kind="command")
    assert v1.id == "0001" and not (v1.files / "env").exists()
    assert h.ensure("tools/t", d, ME).id == "0001"  # unchanged: the latest version holds it
    entry(tmp_path, "two")
    v2 = h.ensure("tools/t", d, ME)  # changed behind the writers' back: recorded as external
    assert (v2.id, v2.action, v2.writer, v2.client) == ("0002", "external", "external", "session-1")
    assert v2.digest == digest(d) != v1.digest
    diff = h.diff("tools/t", 1, 2)
    assert (
        "-description: one" in diff and "+description: two" in diff and "tools/t@0001/manifest.yaml" in diff
    )
    assert h.get("tools/t", -1).id == "0002" and h.get("tools/t", "1").id == "0001"
    with pytest.raises(HistoryError, match="no version 7"):
        h.get("tools/t", 7)
    with pytest.raises(HistoryError, match="not an entry path"):
        h.versions("../x")
    assert h.entries() == ["tools/t"] and h.find("t") == ["tools/t"]


def test_entries_named_with_digits_are_not_taken_for_versions(tmp_path: Path) -> None:
    h = History(tmp_path / "state")
    for path in ("1234", "tools/0001", "skills/x", "skills/x/tools/0002"):
        d = tmp_path / path
        write(d / "manifest.yaml", "kind: command\ndescription: d\nargv: [echo]\n")
        h.record(path, d, ME, "write")
    assert h.entries() == ["1234", "skills/x", "skills/x/tools/0002", "tools/0001"]
    assert [v.id for v in h.versions("tools/0001")] == ["0001"]
    assert h.versions("tools") == [] and h.find("0002") == ["skills/x/tools/0002"]


def test_a_half_made_version_is_never_listed_and_is_cleared(tmp_path: Path) -> None:
    h = History(tmp_path / "state")
    d = entry(tmp_path, "one")
    h.record("tools/t", d, ME, "write")
    half = h.dir / "tools" / "t" / ".new.tmp-1-2"
    (half / "files").mkdir(parents=True)  # killed before meta.json and the rename
    no_meta = h.dir / "tools" / "t" / "0002"
    no_meta.mkdir()  # a directory without meta.json is not a version either
    assert [v.id for v in h.versions("tools/t")] == ["0001"]
    v = h.record("tools/t", d, ME, "write")
    assert v.id == "0002"  # the empty, unfinished directory is taken over by the rename
    assert not half.exists()


def test_delete_moves_the_directory(tmp_path: Path) -> None:
    h = History(tmp_path / "state")
    d = entry(tmp_path, "one")
    inode = d.stat().st_ino
    v = h.record("tools/t", d, ME, "delete", move=True)
    assert v.deleted and not d.exists() and v.files.stat().st_ino == inode
    assert h.versions("tools/t") == [v]
    write(d / "manifest.yaml", "kind: command\ndescription: back\nargv: [echo]\n")
    h.record("tools/t", d, ME, "rollback")
    assert "+description: back" in h.diff("tools/t", 1, 2)  # a deleted state diffs as no files


def git_tree(tmp_path: Path) -> Any:
    require("git", "history: git commits with it")
    import git

    repo = git.Repo.init(tmp_path, initial_branch="main")
    write(tmp_path / "skillz.yaml", "history: git\n")
    write(tmp_path / ".gitignore", ".skillz/\n")
    write(tmp_path / "notes.txt", "the user's own, staged work\n")
    repo.git.add(".gitignore", "skillz.yaml")
    repo.git.commit("-m", "init", env={**os.environ, **_identity()})
    repo.git.add("notes.txt")  # staged by the user: a writer's commit must leave it staged
    return repo


def _identity() -> dict[str, str]:
    return {
        k: "t" if "NAME" in k else "t@example.invalid"
        for k in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
    }


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_git_history_commits_each_write_and_reverts(tmp_path: Path, mode: str) -> None:
    repo = git_tree(tmp_path)
    script = '#!/bin/sh\nread line\necho \'{"jsonrpc":"2.0","id":1,"result":"%s"}\'\n'
    args = {"name": "s", "description": "d", "code": script % "one", "interpreter": "sh"}
    async with served([tmp_path], EngineOptions()) as (_, server), Client(server.server, mode=mode) as c:
        assert not (await c.call_tool("register_script", args)).is_error
        again = {**args, "code": script % "two", "overwrite": True}
        assert not (await c.call_tool("register_script", again)).is_error
        back = await c.call_tool("version", {"action": "rollback", "tool_name": "s"})
        assert not back.is_error
        assert not (await c.call_tool("delete_tool", {"tool_name": "s"})).is_error
    log = [c.message for c in repo.iter_commits("main")]
    subjects = [m.splitlines()[0] for m in log]
    assert subjects[:4] == [
        "delete_tool: delete tools/s",
        'Revert "tools/s" to version 0001',
        "register_script: write tools/s",
        "register_script: write tools/s",
    ]
    assert "writer: register_script" in log[3] and "client: " in log[3] and "entry: tools/s" in log[3]
    assert repo.head.commit.stats.files.keys() <= {"tools/s/manifest.yaml", "tools/s/main.sh"}
    staged = repo.git.diff("--cached", "--name-only").split()
    assert staged == ["notes.txt"]  # the user's staged file was not swept into a writer's commit
    assert not (tmp_path / "tools" / "s").exists()
