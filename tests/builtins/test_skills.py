"""Skills through real MCP clients: disclosure modes, per-client activation, bundles and
dependencies, suggest_skill with and without sampling, and the optional skill tool."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
import mcp.types as types
import pytest
from mcp import Client
from mcp.client.subscriptions import ToolsListChanged

from skillz_engine.engine import EngineOptions
from skillz_engine.mcp.server import McpServer
from tests.mcp_helpers import BUILTIN_TOOL_NAMES, Inbox, served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]


def skill_md(name: str, description: str, body: str = "Instructions.\n") -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n{body}"


def command(description: str) -> str:
    return f"kind: command\ndescription: {description}\nargv: [echo, ok]\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Layouts found in the wild: skills/<category>/<name>, <name>/SKILL.md at the root, scripts/."""
    r = tmp_path / "tree"
    write(r / "tools" / "echo" / "manifest.yaml", command("Echo something."))
    pdf = r / "skills" / "documents" / "pdf"
    write(pdf / "SKILL.md", skill_md("pdf", "Fill PDF forms and extract fields.", "Run scripts/fill.py.\n"))
    write(pdf / "manifest.yaml", "kind: skill\ndependsOn: [files]\n")
    write(pdf / "scripts" / "fill.py", "print('filled')\n")
    write(pdf / "tools" / "fill-form" / "manifest.yaml", command("Fill a form field."))
    files = r / "skills" / "files"
    write(files / "SKILL.md", skill_md("files", "Work with files on disk."))
    write(files / "tools" / "list-files" / "manifest.yaml", command("List files."))
    git = r / "skills" / "git-basics"
    write(git / "SKILL.md", skill_md("git-basics", "Everyday git commands."))
    write(git / "manifest.yaml", "kind: skill\nactivation: always\n")
    write(git / "tools" / "git-log" / "manifest.yaml", command("Show the git log."))
    write(r / "review" / "SKILL.md", skill_md("review", "Review pull requests carefully."))
    write(r / "review" / "references" / "CHECKLIST.md", "- tests\n")
    write(r / "bundles" / "office" / "manifest.yaml", "kind: bundle\nskills: [pdf, '@extra']\n")
    write(r / "bundles" / "extra" / "manifest.yaml", "kind: bundle\nskills: [review]\n")
    return r


@asynccontextmanager
async def serving(root: Path, single_client: bool = False, **config: Any) -> AsyncIterator[McpServer]:
    async with served([root], EngineOptions(config=config), single_client=single_client) as (engine, server):
        assert not engine.snapshot.errors, engine.snapshot.errors
        yield server


async def listed(c: Client) -> list[str]:
    return [t.name for t in (await c.list_tools()).tools]


async def call(c: Client, tool: str, **args: Any) -> dict[str, Any]:
    res = await c.call_tool(tool, args)
    assert not res.is_error, res.content
    assert res.structured_content is not None
    return dict(res.structured_content)


def is_list_changed(m: Any) -> bool:
    return getattr(m, "method", None) == "notifications/tools/list_changed"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("all", [*BUILTIN_TOOL_NAMES, "echo", "fill-form", "list-files", "git-log"]),
        ("skills", [*BUILTIN_TOOL_NAMES, "echo", "git-log"]),  # git-basics is activation: always
        ("search", BUILTIN_TOOL_NAMES),
    ],
)
async def test_tool_counts_per_disclosure_mode(root: Path, mode: str, expected: list[str]) -> None:
    """Each mode lists what it promises; every tool stays callable by name in every mode."""
    async with serving(root, disclosure=mode) as server, Client(server.server, mode="legacy") as c:
        assert sorted(await listed(c)) == sorted(expected)
        assert not (await c.call_tool("fill-form", {})).is_error


async def test_activation_is_per_client_and_announced_to_that_client_only(root: Path) -> None:
    """Two clients at once: one activates a skill, only it sees the tools and the list_changed."""
    inbox_a, inbox_b = Inbox(), Inbox()
    async with (
        serving(root, disclosure="skills") as server,
        Client(server.server, mode="legacy", message_handler=inbox_a.handler) as a,
        Client(server.server, mode="legacy", message_handler=inbox_b.handler) as b,
    ):
        base = await listed(a)
        assert await listed(b) == base and "fill-form" not in base
        out = await call(a, "activate_skill", name="pdf")
        assert out["skills"] == ["pdf", "files"] and out["dependencies"] == ["files"]
        assert {t["name"] for t in out["tools"]} == {"fill-form", "list-files"}
        assert out["listChanged"] is True
        await inbox_a.wait_for(is_list_changed)
        assert set(await listed(a)) == {*base, "fill-form", "list-files"}
        assert await listed(b) == base
        # b activates something else; a's list does not move
        await call(b, "activate_skill", name="review")  # no tools: no list_changed for b either
        assert set(await listed(a)) == {*base, "fill-form", "list-files"}
        # the barrier: b's own list_changed comes after anything a's activation could have sent b
        await call(b, "activate_skill", name="files")
        await inbox_b.wait_for(is_list_changed)
        assert len([m for m in inbox_b.items if is_list_changed(m)]) == 1
        assert set(await listed(b)) == {*base, "list-files"}
        assert set(await listed(a)) == {*base, "fill-form", "list-files"}
        assert len(server.sessions) == 2
    assert len(server.sessions) == 0  # dropped with the connections


async def test_activation_result_carries_instructions(root: Path) -> None:
    async with serving(root, disclosure="skills") as server, Client(server.server, mode="legacy") as c:
        res = await c.call_tool("activate_skill", {"name": "pdf"})
        text = res.content[0].text if isinstance(res.content[0], types.TextContent) else ""
        assert "# Skill: pdf" in text and "Run scripts/fill.py." in text
        assert "skill://pdf/scripts/fill.py" in text
        missing = await c.call_tool("activate_skill", {"name": "pfd"})
        assert missing.is_error and "'pdf'" in str(missing.content[0])


async def test_bundles_and_dependency_chains(root: Path) -> None:
    """@bundles expand (nested @references included); deactivation undoes only what was activated."""
    async with serving(root, disclosure="skills") as server, Client(server.server, mode="legacy") as c:
        out = await call(c, "activate_skill", name="@office")
        assert set(out["skills"]) == {"pdf", "files", "review"}
        assert set(out["active"]) == {"pdf", "files", "review", "git-basics"}
        assert {"fill-form", "list-files"} <= set(await listed(c))
        # pdf came from the bundle: it stays until the bundle goes
        kept = await call(c, "deactivate_skill", name="pdf")
        assert kept["deactivated"] is None
        assert kept["stillActive"] == {"pdf": ["bundle @office is active"]}
        gone = await call(c, "deactivate_skill", name="office")  # '@' is optional
        assert gone["deactivated"] == "@office"
        assert set(gone["inactiveNow"]) == {"pdf", "files", "review"}
        assert "fill-form" not in await listed(c)
        # a dependency stays while the skill that needs it is active
        await call(c, "activate_skill", name="pdf")
        dep = await call(c, "deactivate_skill", name="files")
        assert dep["stillActive"] == {"files": ["active skill 'pdf' depends on it"]}
        assert "list-files" in await listed(c)
        always = await call(c, "deactivate_skill", name="git-basics")
        assert always["stillActive"] == {"git-basics": ["it is `activation: always`"]}
        assert "git-log" in await listed(c)


async def test_modern_http_like_requests_have_no_session(root: Path) -> None:
    """2026-07-28 requests without a single-client transport: activation answers with the tools,
    the list stays the shared one (lists must not vary per connection)."""
    async with serving(root, disclosure="skills") as server, Client(server.server) as c:
        base = await listed(c)
        out = await call(c, "activate_skill", name="pdf")
        assert "note" in out and out["listChanged"] is False
        assert {t["name"] for t in out["tools"]} == {"fill-form", "list-files"}
        assert await listed(c) == base
        assert not (await c.call_tool("fill-form", {})).is_error
        assert len(server.sessions) == 0


async def test_modern_single_client_gets_its_list_and_a_listen_event(root: Path) -> None:
    """Over stdio one process serves one client: its activations hold across 2026-07-28 requests
    and the change arrives on its subscriptions/listen stream."""
    events = Inbox()
    async with (
        serving(root, single_client=True, disclosure="skills") as server,
        Client(server.server) as c,
        c.listen(tools_list_changed=True) as sub,
        anyio.create_task_group() as tg,
    ):

        async def pump() -> None:
            async for event in sub:
                events.put(event)

        tg.start_soon(pump)
        await call(c, "activate_skill", name="pdf")
        await events.wait_for(lambda e: isinstance(e, ToolsListChanged))
        assert {"fill-form", "list-files"} <= set(await listed(c))
        tg.cancel_scope.cancel()


async def test_search_tools_ranks_by_skill_text_and_call_tool_runs(root: Path) -> None:
    async with serving(root, disclosure="search") as server, Client(server.server, mode="legacy") as c:
        out = await call(c, "search_tools", query="pdf forms", limit=3)
        top = out["results"][0]
        assert top["name"] == "fill-form" and top["skill"] == "pdf"
        assert top["score"] > 0 and top["inputSchema"] == {"type": "object"}
        ran = await c.call_tool("call_tool", {"name": "fill-form", "arguments": {}})
        assert not ran.is_error and "ok" in str(ran.content[0])
        ran = await c.call_tool("call_tool", {"tool_name": "echo", "arguments": "{}"})
        assert not ran.is_error


async def test_suggest_skill_through_sampling(root: Path) -> None:
    """With a sampling client, the client's model picks; unknown names in its answer are dropped."""
    asked: list[str] = []

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        content = params.messages[0].content
        asked.append(content.text if isinstance(content, types.TextContent) else "")
        answer = json.dumps([{"name": "review", "reason": "It is about a PR."}, {"name": "nope"}])
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=answer), model="test-model"
        )

    async with serving(root) as server, Client(server.server, mode="legacy", sampling_callback=sampling) as c:
        out = await call(c, "suggest_skill", context="Look over this pull request")
        assert out["method"] == "sampling"
        assert out["suggestions"] == [
            {
                "name": "review",
                "reason": "It is about a PR.",
                "description": "Review pull requests carefully.",
                "active": False,
            }
        ]
        assert "Look over this pull request" in asked[0] and "- pdf: Fill PDF forms" in asked[0]


async def test_suggest_skill_ranks_locally_without_sampling(root: Path) -> None:
    async with serving(root) as server, Client(server.server, mode="legacy") as c:
        out = await call(c, "suggest_skill", context="I need to fill in a PDF form", limit=2)
        assert out["method"] == "local" and "sampling" in out["note"]
        first = out["suggestions"][0]
        assert first["name"] == "pdf" and "'pdf'" in first["reason"] and first["score"] > 0


async def test_skill_tool_for_tool_only_clients(root: Path) -> None:
    """`tool: true` (or skills.asTools) adds a tool named after the skill returning its
    instructions; calling it activates the skill for that client."""
    write(root / "skills" / "files" / "manifest.yaml", "kind: skill\ntool: true\n")
    async with serving(root, disclosure="skills") as server, Client(server.server, mode="legacy") as c:
        names = await listed(c)
        assert "files" in names and "review" not in names
        res = await c.call_tool("files", {"task": "tidy up"})
        text = res.content[0].text if isinstance(res.content[0], types.TextContent) else ""
        assert "# Skill: files" in text and "Task: tidy up" in text
        assert "list-files" in await listed(c)
    async with serving(root, skills={"asTools": True}) as server, Client(server.server, mode="legacy") as c:
        assert {"files", "review", "pdf", "git-basics"} <= set(await listed(c))


async def test_guide_lists_skills_and_bundles(root: Path) -> None:
    async with serving(root) as server, Client(server.server, mode="legacy") as c:
        guide = await c.read_resource("skillz://guide")
        text = guide.contents[0].text if isinstance(guide.contents[0], types.TextResourceContents) else ""
        assert "- `pdf`: Fill PDF forms" in text and "- `@office`: pdf, @extra" in text


class ScopedListParams(types.PaginatedRequestParams):
    uri: str  # SEP-2093 scoped resources/list, as SEP-2640 discovery uses it


class ScopedList(types.Request[ScopedListParams, Literal["resources/list"]]):
    method: Literal["resources/list"] = "resources/list"
    params: ScopedListParams


async def test_sep_2640_shape(root: Path) -> None:
    """The extension is declared; SKILL.md resources carry the front matter's name and
    description and a SHA-256 in `_meta`; `resources/list(uri="skill://")` lists only SKILL.md."""
    async with serving(root) as server, Client(server.server) as modern:
        # 2026-07-28 carries SEP-2133 extensions (the SDK's handshake-era client drops them)
        assert "io.modelcontextprotocol/skills" in (modern.server_capabilities.extensions or {})
    async with serving(root) as server, Client(server.server, mode="legacy") as c:
        listed_all = {r.uri: r for r in (await c.list_resources()).resources}
        skill_md = listed_all["skill://pdf/SKILL.md"]
        assert (skill_md.name, skill_md.description, skill_md.mime_type) == (
            "pdf",
            "Fill PDF forms and extract fields.",
            "text/markdown",
        )
        text = (root / "skills/documents/pdf/SKILL.md").read_bytes()
        assert skill_md.meta is not None
        assert skill_md.meta["io.modelcontextprotocol.skills/sha256"] == hashlib.sha256(text).hexdigest()
        assert "skill://pdf/scripts/fill.py" in listed_all
        request = ScopedList(params=ScopedListParams(uri="skill://"))
        scoped = await c.session.send_request(request, types.ListResourcesResult)
        assert sorted(r.uri for r in scoped.resources) == [
            f"skill://{n}/SKILL.md" for n in ("files", "git-basics", "pdf", "review")
        ]
        request = ScopedList(params=ScopedListParams(uri="skill://pdf/"))
        one = await c.session.send_request(request, types.ListResourcesResult)
        assert sorted(r.uri for r in one.resources) == [
            "skill://pdf/SKILL.md",
            "skill://pdf/_manifest",
            "skill://pdf/scripts/fill.py",
        ]


async def test_activation_over_streamable_http(root: Path) -> None:
    """Two handshake-era clients over real Streamable HTTP (Mcp-Session-Id): one activates, only
    its list changes; a 2026-07-28 HTTP client keeps the shared list and gets the tools in the answer."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from tests.mcp.test_http import auth, http_app

    write(root / "skillz.yaml", "disclosure: skills\n")
    inbox = Inbox()
    async with (
        http_app(root) as srv,
        httpx2.AsyncClient(headers=auth()) as http,
        streamable_http_client(srv.url, http_client=http) as (r1, w1),
        ClientSession(r1, w1, message_handler=inbox.handler) as one,
        streamable_http_client(srv.url, http_client=http) as (r2, w2),
        ClientSession(r2, w2) as two,
    ):
        await one.initialize()
        await two.initialize()
        base = [t.name for t in (await two.list_tools()).tools]
        res = await one.call_tool("activate_skill", {"name": "pdf"})
        assert not res.is_error
        await inbox.wait_for(is_list_changed)
        assert "fill-form" in [t.name for t in (await one.list_tools()).tools]
        assert [t.name for t in (await two.list_tools()).tools] == base
        async with Client(streamable_http_client(srv.url, http_client=http)) as modern:
            out = await call(modern, "activate_skill", name="pdf")
            assert out["listChanged"] is False and "note" in out
            assert "fill-form" not in await listed(modern)
