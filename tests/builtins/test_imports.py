"""``import_tool`` and ``skillz-engine import`` with real git repositories made by GitPython
(file:// URLs): pinned copies with provenance, served at once; refusals leave the tree untouched."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client

from skillz_engine.builtins import imports
from skillz_engine.builtins.imports import PROVENANCE, content_digest
from skillz_engine.cli.main import main
from skillz_engine.engine import EngineOptions
from skillz_engine.mcp.server import SkillzServer
from skillz_engine.state.sources import clone_url
from tests.conftest import require
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "2026-07-28"]


def tool(description: str, word: str) -> dict[str, str]:
    manifest = f"kind: script\ndescription: {description}\nentry: main.py\nprotocol: plain\n"
    return {"manifest.yaml": manifest, "main.py": f"print({word!r})\n"}


class Upstream:
    """A git repository (GitPython) served as ``file://``; ``commit`` writes files and tags."""

    def __init__(self, base: Path) -> None:
        require("git", "imports are cloned with it (GitPython drives the git binary)")
        import git

        self.dir = base
        self.repo = git.Repo.init(base, initial_branch="main")
        with self.repo.config_writer() as cw:
            cw.set_value("user", "name", "Test")
            cw.set_value("user", "email", "test@example.invalid")
        self.url = base.as_uri()

    def commit(self, files: dict[str, str], tag: str | None = None) -> str:
        for rel, text in files.items():
            write(self.dir / rel, text)
        self.repo.git.add("-A")
        self.repo.index.commit(f"commit {tag or ''}")
        if tag:
            self.repo.create_tag(tag)
        return str(self.repo.head.commit.hexsha)


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    up = Upstream(tmp_path / "upstream")
    files = {f"tools/hello/{k}": v for k, v in tool("Says hello.", "hello v1").items()}
    files |= {f"tools/bye/{k}": v for k, v in tool("Says bye.", "bye").items()}
    up.commit(files, tag="v1")
    up.commit({"tools/hello/main.py": "print('hello v2')\n"}, tag="v2")
    return up


@asynccontextmanager
async def serving(root: Path, **options: Any) -> AsyncIterator[SkillzServer]:
    async with served([root], EngineOptions(**options)) as (_, server):
        yield server.server


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


@pytest.mark.parametrize("mode", MODES)
async def test_import_one_tool_pinned_served_at_once_with_provenance(
    tmp_path: Path, upstream: Upstream, mode: str
) -> None:
    root = tmp_path / "home"
    root.mkdir()
    args = {"url": upstream.url, "rev": "v1", "path": "tools/hello"}
    async with serving(root) as server, Client(server, mode=mode) as c:
        res = await c.call_tool("import_tool", args)
        assert not res.is_error, text(res)
        out = await c.call_tool("hello", {})
        assert text(out).strip() == "hello v1"
    entry = root / "tools" / "hello"
    provenance = json.loads((entry / PROVENANCE).read_text())
    assert provenance["url"] == upstream.url and provenance["rev"] == "v1"
    assert provenance["path"] == "tools/hello" and len(provenance["commit"]) == 40
    files = {p.name: p.read_bytes() for p in entry.iterdir() if p.name != PROVENANCE}
    assert provenance["digest"] == content_digest(files, ())
    assert not (root / "tools" / "bye").exists()


async def test_a_directory_of_entries_and_an_explicit_update(tmp_path: Path, upstream: Upstream) -> None:
    """`path: tools` imports both tools; a second import of the same URL is refused until
    `update: true`, which replaces the entries with the new rev."""
    root = tmp_path / "home"
    root.mkdir()
    async with serving(root) as server, Client(server) as c:
        res = await c.call_tool("import_tool", {"url": upstream.url, "rev": "v1", "path": "tools"})
        assert not res.is_error, text(res)
        assert res.structured_content is not None
        assert sorted(res.structured_content["entries"]) == ["bye", "hello"]
        again = await c.call_tool("import_tool", {"url": upstream.url, "rev": "v2", "path": "tools/hello"})
        assert again.is_error and "pass update: true" in text(again)
        assert text(await c.call_tool("hello", {})).strip() == "hello v1"
        upd = {"url": upstream.url, "rev": "v2", "path": "tools/hello", "update": True}
        res = await c.call_tool("import_tool", upd)
        assert not res.is_error, text(res)
        assert res.structured_content is not None and res.structured_content["replaced"] == ["hello"]
        assert text(await c.call_tool("hello", {})).strip() == "hello v2"
    assert json.loads((root / "tools" / "hello" / PROVENANCE).read_text())["rev"] == "v2"


async def test_an_entry_not_imported_from_this_url_is_a_clash_even_with_update(
    tmp_path: Path, upstream: Upstream
) -> None:
    root = tmp_path / "home"
    write(
        root / "tools" / "hello" / "manifest.yaml", "kind: command\ndescription: Mine.\nargv: [echo, mine]\n"
    )
    async with serving(root) as server, Client(server) as c:
        upd = {"url": upstream.url, "rev": "v1", "path": "tools/hello", "update": True}
        res = await c.call_tool("import_tool", upd)
        assert res.is_error and "not imported from this URL" in text(res)
        assert text(await c.call_tool("hello", {})).strip() == "mine"


async def test_a_symlink_out_of_the_repository_is_refused(tmp_path: Path, upstream: Upstream) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy me\n")
    link = upstream.dir / "tools" / "hello" / "data.txt"
    link.symlink_to(secret)
    upstream.commit({}, tag="linked")
    root = tmp_path / "home"
    root.mkdir()
    async with serving(root) as server, Client(server) as c:
        res = await c.call_tool("import_tool", {"url": upstream.url, "rev": "linked", "path": "tools/hello"})
    assert res.is_error and "outside the repository" in text(res)
    assert not (root / "tools" / "hello").exists()


async def test_oversized_files_and_broken_entries_are_refused(
    tmp_path: Path, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream.commit({"tools/bad/manifest.yaml": "kind: script\nentry: missing.py\n"}, tag="bad")
    root = tmp_path / "home"
    root.mkdir()
    async with serving(root) as server, Client(server) as c:
        bad = await c.call_tool("import_tool", {"url": upstream.url, "rev": "bad", "path": "tools"})
        monkeypatch.setattr(imports, "MAX_FILE", 10)
        big = await c.call_tool("import_tool", {"url": upstream.url, "rev": "v1", "path": "tools/hello"})
    assert bad.is_error and "do not compile" in text(bad) and "bad" in text(bad)
    assert big.is_error and "byte limit" in text(big)
    assert not (root / "tools").exists() or not list((root / "tools").iterdir())


async def test_read_only_servers_have_no_import_tool(tmp_path: Path) -> None:
    async with serving(tmp_path, read_only=True) as server, Client(server) as c:
        assert "import_tool" not in {t.name for t in (await c.list_tools()).tools}


def test_gist_pages_are_cloned_as_gist_repositories() -> None:
    gist = "https://gist.github.com/ada/0123456789abcdef0123"
    assert clone_url(gist) == "https://gist.github.com/0123456789abcdef0123.git"
    assert clone_url("https://gist.github.com/0123456789abcdef0123") == clone_url(gist)
    assert clone_url("https://github.com/ada/tools.git") == "https://github.com/ada/tools.git"


def test_cli_import_a_whole_repository_that_is_one_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A repository that is itself one entry (the shape of a gist) is imported under its name."""
    up = Upstream(tmp_path / "word-tool")
    sha = up.commit(tool("Says a word.", "word"))
    root = tmp_path / "home"
    root.mkdir()
    assert main(["import", up.url, str(root), "--rev", sha]) == 0
    assert "imported word-tool" in capsys.readouterr().out
    assert main(["call", "word-tool", str(root)]) == 0
    assert capsys.readouterr().out.strip() == "word"
    assert main(["import", up.url, str(root), "--rev", sha]) == 1
    assert "already exists" in capsys.readouterr().err
