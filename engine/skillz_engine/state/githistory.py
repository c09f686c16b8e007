"""``history: git``: each change a writer makes becomes one commit of the tree's repository.

People keep their tool trees in git, so a change made by the model should read like a change made
by a person: one commit per write, touching only that entry (``git commit -- <entry>``, so whatever
else the user has staged stays staged), with a message naming the entry, the writer and the client.
A rollback is written by the history store like any other write and committed as a revert of the
entry to the version it restores. A tree that is not in a git repository gets no commits (the file
history of :mod:`~skillz_engine.state.history` is kept either way: it is what ``version`` reads).

GitPython is imported here only, lazily (the architecture test allows git in this module and in
:mod:`~skillz_engine.state.sources`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from skillz_engine.state.history import Version

if TYPE_CHECKING:
    import git

log = logging.getLogger("skillz_engine.state.githistory")

IDENTITY = {"GIT_AUTHOR_NAME": "skillz-engine", "GIT_AUTHOR_EMAIL": "skillz-engine@localhost"}


def message(version: Version) -> str:
    """The commit message: a subject naming writer and entry, then the version's record."""
    verb = {"delete": "delete", "rollback": "revert", "external": "record"}.get(version.action, "write")
    subject = f"{version.writer}: {verb} {version.entry}"
    if version.action == "rollback" and version.note:
        subject = f'Revert "{version.entry}" {version.note}'
    body = [
        f"entry: {version.entry}",
        f"writer: {version.writer}",
        f"client: {version.client or 'none'}",
        f"version: {version.id}",
        f"digest: {version.digest or 'deleted'}",
    ]
    return subject + "\n\n" + "\n".join(body) + "\n"


def commit_entry(root: Path, version: Version) -> str | None:
    """Commit the entry of ``version`` under ``root``; the new commit's SHA, or ``None`` when the
    root is in no repository, nothing changed, or git failed (logged: the change is served and in
    the file history already)."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    work = repo.working_tree_dir
    if work is None:
        return None
    rel = os.path.relpath(root / version.entry, work)
    env = {k: v for k, v in IDENTITY.items() if not _configured(repo, k)}
    env |= {k.replace("AUTHOR", "COMMITTER"): v for k, v in env.items()}
    try:
        with repo.git.custom_environment(**env):
            repo.git.add("--all", "--", rel)
            if not repo.git.diff("--cached", "--name-only", "--", rel).strip():
                return None
            repo.git.commit("-m", message(version), "--no-verify", "--", rel)
        return repo.head.commit.hexsha
    except git.GitCommandError as exc:
        log.warning("history: git: cannot commit %s: %s", rel, exc)
        return None


def _configured(repo: git.Repo, variable: str) -> bool:
    """Whether git has the identity ``variable`` stands for (environment or config)."""
    if os.environ.get(variable):
        return True
    key = "name" if variable.endswith("NAME") else "email"
    reader = repo.config_reader()
    return bool(reader.get_value("user", key, ""))
