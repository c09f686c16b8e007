"""Git sources with real repositories made by GitPython: a bare repo served over file://,
pinned by tag, commit and branch; add_skill_repo through an MCP client; `sources:` updates."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from skillz_engine.engine import Engine, EngineOptions
from skillz_engine.mcp.server import SkillzServer
from skillz_engine.state.sources import PINS_FILE, Source, SourceError, clone_dir, fetch
from tests.conftest import open_tree, require
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]


@pytest.fixture(autouse=True)
def _git_binary() -> None:
    require("git", "git sources are cloned with it (GitPython drives the git binary)")


def gitpython() -> Any:
    import git  # imported here: GitPython refuses to import without the git binary

    return git


def skill_md(name: str, description: str) -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\nUse {name}.\n"


class Upstream:
    """A work repo pushed to a bare repo; ``url`` is the bare repo's file:// URL."""

    def __init__(self, base: Path) -> None:
        git = gitpython()
        self.work_dir = base / "work"
        self.repo = git.Repo.init(self.work_dir, initial_branch="main")
        with self.repo.config_writer() as cw:
            cw.set_value("user", "name", "Test")
            cw.set_value("user", "email", "test@example.invalid")
        self.bare = base / "skills.git"
        git.Repo.init(self.bare, bare=True, initial_branch="main")
        self.repo.create_remote("origin", self.bare.as_uri())
        self.url = self.bare.as_uri()

    def commit(self, files: dict[str, str], message: str, tag: str | None = None) -> str:
        for rel, text in files.items():
            write(self.work_dir / rel, text)
        self.repo.git.add("-A")
        self.repo.index.commit(message)
        if tag:
            self.repo.create_tag(tag)
        self.repo.git.push("origin", "main", "--tags")
        return str(self.repo.head.commit.hexsha)


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    up = Upstream(tmp_path / "upstream")
    up.commit({"skills/alpha/SKILL.md": skill_md("alpha", "Alpha, first version.")}, "v1", tag="v1")
    up.commit(
        {
            "skills/alpha/SKILL.md": skill_md("alpha", "Alpha, second version."),
            "skills/beta/SKILL.md": skill_md("beta", "Beta skill."),
            "skills/beta/references/NOTES.md": "notes\n",
            "gamma/SKILL.md": skill_md("gamma", "A skill at the repository root."),  # other layout
            "broken/SKILL.md": "---\nname: broken\n---\nNo description.\n",
        },
        "v2",
        tag="v2",
    )
    return up


@asynccontextmanager
async def serving(root: Path, **config: Any) -> AsyncIterator[tuple[Engine, SkillzServer]]:
    async with served([root], EngineOptions(config=config)) as (engine, server):
        yield engine, server.server


def skills_of(engine: Engine) -> dict[str, str]:
    snap = engine.snapshot
    return {s.name: s.description for s in snap.skills() if s.key in snap.entries}


async def test_add_skill_repo_pins_mounts_and_updates(tmp_path: Path, upstream: Upstream) -> None:
    root = tmp_path / "home"
    write(root / "tools" / "echo" / "manifest.yaml", "kind: command\ndescription: Echo.\nargv: [echo]\n")
    async with serving(root) as (engine, server), Client(server, mode="legacy") as c:
        res = await c.call_tool("add_skill_repo", {"url": upstream.url, "rev": "v1"})
        assert not res.is_error, res.content
        out = res.structured_content
        assert out is not None and out["served"] == {"skill": ["alpha"]} and out["ref"] == "tag"
        assert skills_of(engine) == {"alpha": "Alpha, first version."}
        assert "alpha" in [p.name for p in (await c.list_prompts()).prompts]
        pins = json.loads((root / ".skillz" / PINS_FILE).read_text())
        assert pins == {"sources": [{"url": upstream.url, "rev": "v1"}]}
        # update: a new rev replaces the pin; the old clone is unmounted (no duplicate names)
        res = await c.call_tool("add_skill_repo", {"url": upstream.url, "rev": "v2"})
        out = res.structured_content
        assert not res.is_error and out is not None
        assert out["served"] == {"skill": ["alpha", "beta", "gamma"]}
        assert out["errors"] == 1 and out["diagnostics"][0]["code"] == "SKZ102"  # broken: reported
        assert skills_of(engine) == {
            "alpha": "Alpha, second version.",
            "beta": "Beta skill.",
            "gamma": "A skill at the repository root.",
        }
        notes = await c.read_resource("skill://beta/references/NOTES.md")
        assert notes.contents[0].text == "notes\n"  # type: ignore[union-attr]
        assert json.loads((root / ".skillz" / PINS_FILE).read_text())["sources"][0]["rev"] == "v2"
        [err] = engine.snapshot.errors  # the broken skill, reported in skillz://diagnostics
        assert err.code == "SKZ102" and err.path.endswith("broken/SKILL.md")


async def test_add_skill_repo_failures_change_nothing(tmp_path: Path, upstream: Upstream) -> None:
    root = tmp_path / "home"
    root.mkdir()
    async with serving(root) as (engine, server), Client(server, mode="legacy") as c:
        for args, words in [
            ({"url": "http://example.com/x.git"}, "https:// or file://"),
            ({"url": "ext::sh -c touch% /tmp/pwned"}, "https:// or file://"),
            ({"url": (tmp_path / "nowhere").as_uri()}, "cannot reach"),
            ({"url": upstream.url, "rev": "no-such-tag"}, "neither a tag"),
            ({"url": upstream.url, "rev": "v1", "path": "../etc"}, "relative"),
            ({"url": upstream.url, "rev": "v1", "path": "missing"}, "no directory"),
        ]:
            res = await c.call_tool("add_skill_repo", args)
            assert res.is_error and words in str(res.content[0]), (args, res.content)
        assert not (root / ".skillz" / PINS_FILE).exists()
        assert skills_of(engine) == {}


async def test_a_path_through_a_committed_symlink_is_never_served(tmp_path: Path, upstream: Upstream) -> None:
    """A repository is hostile: a committed symlink to a directory outside the clone, named as
    `path`, is refused by add_skill_repo, by a pin in skillz.yaml, and by a clone fetched earlier
    for another path at the same rev; nothing outside the clone is ever mounted."""
    outside = tmp_path / "private"
    write(outside / "exfil-skill" / "SKILL.md", skill_md("exfil-skill", "Outside the clone."))
    write(outside / "exfil-skill" / "private.txt", "secret\n")
    (upstream.work_dir / "exfil").symlink_to(outside)  # an absolute link, committed as a symlink
    (upstream.work_dir / "skills" / "via").symlink_to("../exfil")  # a relative link to that link
    upstream.commit({}, "link out", tag="v3")
    root = tmp_path / "home"
    root.mkdir()
    async with serving(root) as (engine, server), Client(server, mode="legacy") as c:
        for path in ("exfil", "skills/via", "exfil/exfil-skill"):
            res = await c.call_tool("add_skill_repo", {"url": upstream.url, "rev": "v3", "path": path})
            assert res.is_error and "outside base" in str(res.content[0]), (path, res.content)
        assert "exfil-skill" not in skills_of(engine)
        assert not (root / ".skillz" / PINS_FILE).exists()
        ok = await c.call_tool("add_skill_repo", {"url": upstream.url, "rev": "v3", "path": "skills"})
        assert not ok.is_error, ok.content  # the same clone, a path inside it: served
        assert "exfil-skill" not in skills_of(engine) and "alpha" in skills_of(engine)
    # a pin in skillz.yaml naming the link, with that clone already in the cache
    write(root / "skillz.yaml", f"sources:\n  - url: {upstream.url}\n    rev: v3\n    path: exfil\n")
    tree = open_tree([root])
    tree.full_scan()
    snap = tree.snapshot()
    assert "exfil-skill" not in {s.name for s in snap.skills()}
    assert any(d.code == "SKZ603" and "outside base" in d.message for d in snap.diagnostics)


async def test_branch_pin_warns_and_no_rev_pins_the_commit(tmp_path: Path, upstream: Upstream) -> None:
    root = tmp_path / "home"
    root.mkdir()
    async with serving(root) as (engine, server), Client(server, mode="legacy") as c:
        res = await c.call_tool("add_skill_repo", {"url": upstream.url, "rev": "main"})
        out = res.structured_content
        assert out is not None and out["ref"] == "branch" and "moves" in out["notes"][0]
        codes = [d.code for d in engine.snapshot.diagnostics]
        assert "SKZ602" in codes
        # the branch moved: calling again fetches it anew (same pin, same clone directory)
        upstream.commit({"skills/delta/SKILL.md": skill_md("delta", "Delta, on main only.")}, "v3")
        res = await c.call_tool("add_skill_repo", {"url": upstream.url, "rev": "main"})
        out = res.structured_content
        assert out is not None and "delta" in out["served"]["skill"]
        assert skills_of(engine)["delta"] == "Delta, on main only."
        head = upstream.repo.head.commit.hexsha
        res = await c.call_tool("add_skill_repo", {"url": upstream.url, "path": "skills"})
        out = res.structured_content
        assert out is not None and out["rev"] == head and out["ref"] == "default"
        pins = json.loads((root / ".skillz" / PINS_FILE).read_text())["sources"]
        assert {"url": upstream.url, "rev": head, "path": "skills"} in pins


async def test_sources_in_config_fetch_on_start_and_follow_a_rev_change(
    tmp_path: Path, upstream: Upstream
) -> None:
    root = tmp_path / "home"
    v1 = upstream.repo.commit("v1").hexsha
    config = write(root / "skillz.yaml", f"sources:\n  - url: {upstream.url}\n    rev: {v1}\n")
    async with serving(root) as (engine, _):
        assert skills_of(engine) == {"alpha": "Alpha, first version."}
        assert (clone_dir(root / ".skillz", upstream.url, v1) / ".git").is_dir()
        write(config, f"sources:\n  - url: {upstream.url}\n    rev: v2\n    path: skills\n")
        await engine.apply([config])
        assert skills_of(engine) == {"alpha": "Alpha, second version.", "beta": "Beta skill."}
        # an unreachable pin is an error on its line in skillz.yaml; the rest is served
        bad = (tmp_path / "gone.git").as_uri()
        pins = f"  - url: {upstream.url}\n    rev: v2\n    path: skills\n  - url: {bad}\n    rev: v1\n"
        write(config, "sources:\n" + pins)
        await engine.apply([config])
        [d] = [d for d in engine.snapshot.diagnostics if d.code == "SKZ601"]
        assert (d.line, d.col, d.severity.value) == (5, 5, "error") and "cannot be fetched" in d.message
        assert "beta" in skills_of(engine)


def test_validate_reports_unfetched_sources_without_network(tmp_path: Path) -> None:
    root = tmp_path / "home"
    write(root / "skillz.yaml", "sources:\n  - url: https://example.invalid/skills.git\n    rev: v1\n")
    tree = open_tree([root])
    tree.full_scan()
    snap = tree.snapshot()
    [d] = [d for d in snap.diagnostics if d.code == "SKZ601"]
    assert d.severity.value == "warning" and "not fetched yet" in d.message and (d.line, d.col) == (2, 5)


def test_fetch_by_commit_is_cached_and_shallow(tmp_path: Path, upstream: Upstream) -> None:
    state = tmp_path / "state"
    v1 = upstream.repo.commit("v1").hexsha
    first = fetch(state, Source(upstream.url, v1))
    assert first.commit == v1 and first.ref == "commit"
    assert gitpython().Repo(first.dir).git.rev_list("--count", "HEAD") == "1"  # shallow
    again = fetch(state, Source(upstream.url, v1))
    assert again.dir == first.dir and again.commit == v1
    short = fetch(state, Source(upstream.url, v1[:10]))
    assert short.commit == v1
    with pytest.raises(SourceError):
        fetch(state, Source("file:///nonexistent/repo.git", "v1"))


async def test_read_only_turns_add_skill_repo_off(tmp_path: Path) -> None:
    root = tmp_path / "home"
    root.mkdir()
    async with serving(root, readOnly=True) as (_, server), Client(server, mode="legacy") as c:
        names = [t.name for t in (await c.list_tools()).tools]
        assert "add_skill_repo" not in names and "activate_skill" in names


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_add_skill_repo_without_rev_serves_at_once_and_after_a_restart(
    tmp_path: Path, upstream: Upstream, mode: str
) -> None:
    """No ``rev`` (the documented default) pins the default branch's commit, and the clone is
    stored as that commit: the skills are served before the call returns (not only the pin), none
    is reported as a name clash, and a restart serves the same clone without fetching again."""
    root = tmp_path / "home"
    root.mkdir()
    head = str(upstream.repo.head.commit.hexsha)
    async with serving(root) as (engine, server), Client(server, mode=mode) as c:
        res = await c.call_tool("add_skill_repo", {"url": upstream.url, "path": "skills"})
        assert not res.is_error, res.content
        out = res.structured_content
        assert out is not None and out["rev"] == head and out["ref"] == "default"
        assert out["served"] == {"skill": ["alpha", "beta"]}
        text = res.content[0].text  # type: ignore[union-attr]
        assert "name clash" not in text and "no rev given" in text
        assert skills_of(engine) == {"alpha": "Alpha, second version.", "beta": "Beta skill."}
        notes = await c.read_resource("skill://beta/references/NOTES.md")
        assert notes.contents[0].text == "notes\n"  # type: ignore[union-attr]
    assert clone_dir(root / ".skillz", upstream.url, head).is_dir()
    assert not clone_dir(root / ".skillz", upstream.url, None).exists()
    upstream.bare.rename(upstream.bare.with_name("moved.git"))  # a restart must not need the network
    async with serving(root) as (engine, _):
        assert skills_of(engine) == {"alpha": "Alpha, second version.", "beta": "Beta skill."}
        assert not [d for d in engine.snapshot.diagnostics if d.code in ("SKZ601", "SKZ602")]


async def test_writers_leave_a_mounted_repository_alone(tmp_path: Path, upstream: Upstream) -> None:
    """A mounted clone is a root, but it is the repository's: delete_tool, version and an
    overwriting register_script refuse its entries, and its files stay."""
    root = tmp_path / "home"
    root.mkdir()
    async with serving(root) as (engine, server), Client(server) as c:
        assert not (await c.call_tool("add_skill_repo", {"url": upstream.url, "rev": "v1"})).is_error
        alpha = next(s.dir for s in engine.snapshot.skills() if s.name == "alpha")
        res = await c.call_tool("delete_tool", {"tool_name": "alpha"})
        assert res.is_error and "mounted repository" in res.content[0].text  # type: ignore[union-attr]
        res = await c.call_tool("version", {"action": "list", "tool_name": "alpha"})
        assert res.is_error and "no entry called 'alpha'" in res.content[0].text  # type: ignore[union-attr]
        assert (alpha / "SKILL.md").is_file() and "alpha" in skills_of(engine)
