"""The MCP server through real SDK clients: both protocol eras, in process and over stdio."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.subscriptions import ResourceUpdated, ToolsListChanged
from mcp.shared.exceptions import MCPError

import skillz_engine
from skillz_engine.build.compile import Tree
from skillz_engine.engine import Engine, EngineOptions, debounce_ms
from skillz_engine.mcp.server import DEFAULT_INSTRUCTIONS, McpServer
from skillz_engine.runtimes.base import MAX_CALL_DEPTH
from tests.mcp_helpers import BUILTIN_TOOL_NAMES, Inbox, served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
ENGINE_DIR = str(Path(skillz_engine.__file__).resolve().parents[1])
MODES = ["legacy", "auto"]  # auto negotiates 2026-07-28 against this server

ECHO = """kind: command
description: {description}
inputSchema:
  type: object
  properties:
    text: {{type: string, description: What to echo}}
  required: [text]
argv: ["echo", "{{{{ text }}}}"]
"""
FAIL = """kind: command
description: Always fails
argv: ["sh", "-c", "echo broken >&2; exit 3"]
"""
TODO = """kind: resource
description: The todo list
uri: notes://todo
file: todo.md
mimeType: text/markdown
"""
DOCS = """kind: resource
description: Documentation files
uriTemplate: docs:///{+path}
files: "pages/**/*.md"
"""
GREET = """kind: prompt
description: Greet someone
arguments:
  - name: who
    description: Who to greet
    required: true
    values: [alice, albert, bob]
messages:
  - role: user
    content: "Greet {{ who }}"
"""


def echo_manifest(description: str = "Echo text back") -> str:
    return ECHO.format(description=description)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "tree"
    write(r / "tools" / "echo" / "manifest.yaml", echo_manifest())
    write(r / "tools" / "fail" / "manifest.yaml", FAIL)
    write(r / "resources" / "todo" / "manifest.yaml", TODO)
    write(r / "resources" / "todo" / "todo.md", "- buy milk\n")
    write(r / "resources" / "docs" / "manifest.yaml", DOCS)
    write(r / "resources" / "docs" / "pages" / "intro.md", "# Intro\n")
    write(r / "resources" / "docs" / "pages" / "guide" / "install.md", "# Install\n")
    write(r / "prompts" / "greet" / "manifest.yaml", GREET)
    return r


def serving(root: Path, options: EngineOptions | None = None, **config: Any) -> Any:
    """The tree at ``root`` served in process (``config``: skillz.yaml overrides)."""
    return served([root], replace(options or EngineOptions(), config=config))


def method_is(name: str) -> Callable[[Any], bool]:
    return lambda m: getattr(m, "method", None) == name


async def pump(sub: Any, inbox: Inbox) -> None:
    async for event in sub:
        inbox.put(event)


async def wait_registered(server: McpServer, n: int) -> None:
    with anyio.fail_after(10):
        while len(server.hub.legacy) != n:
            await anyio.sleep(0.01)


def names(result: types.ListToolsResult) -> list[str]:
    return [t.name for t in result.tools]


# --------------------------------------------------------------------------- surface


@pytest.mark.parametrize("mode", MODES)
async def test_capabilities_and_instructions(root: Path, mode: str) -> None:
    """Both eras see listChanged/subscribe capabilities and the default instructions."""
    async with serving(root) as (_, server), Client(server.server, mode=mode) as c:
        assert c.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        caps = c.server_capabilities
        assert caps.tools is not None and caps.tools.list_changed
        assert caps.prompts is not None and caps.prompts.list_changed
        assert caps.resources is not None and caps.resources.list_changed and caps.resources.subscribe
        assert caps.completions is not None
        assert c.instructions == DEFAULT_INSTRUCTIONS
        assert "search_tools" in DEFAULT_INSTRUCTIONS and "skillz://guide" in DEFAULT_INSTRUCTIONS


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_shows_entries_with_schemas_and_builtins(root: Path, mode: str) -> None:
    """tools/list: the built-ins, then the entry tools in snapshot order, with their schemas."""
    async with serving(root) as (engine, server), Client(server.server, mode=mode) as c:
        listed = (await c.list_tools()).tools
        assert [t.name for t in listed] == list(engine.snapshot.tools)
        by_name = {t.name: t for t in listed}
        assert {"list_tools", "search_tools", "call_tool", "echo", "fail"} <= set(by_name)
        assert by_name["echo"].description == "Echo text back"
        assert by_name["echo"].input_schema["required"] == ["text"]
        assert by_name["echo"].input_schema["properties"]["text"]["type"] == "string"
        assert by_name["search_tools"].annotations is not None
        assert by_name["search_tools"].annotations.read_only_hint is True


@pytest.mark.parametrize("mode", MODES)
async def test_call_tool_and_errors(root: Path, mode: str) -> None:
    """A call returns the tool's text; a failing tool is isError; an unknown tool is INVALID_PARAMS."""
    async with serving(root) as (_, server), Client(server.server, mode=mode) as c:
        ok = await c.call_tool("echo", {"text": "hello"})
        assert not ok.is_error
        assert isinstance(ok.content[0], types.TextContent) and ok.content[0].text.strip() == "hello"
        bad = await c.call_tool("fail", {})
        assert bad.is_error
        assert isinstance(bad.content[0], types.TextContent) and "broken" in bad.content[0].text
        wrong_args = await c.call_tool("echo", {"text": 3})
        assert wrong_args.is_error
        with pytest.raises(MCPError) as err:
            await c.call_tool("ecko", {"text": "x"})
        assert err.value.error.code == types.INVALID_PARAMS
        assert "unknown tool 'ecko'" in err.value.error.message and "echo" in err.value.error.message


@pytest.mark.parametrize("mode", MODES)
async def test_search_tools_and_call_tool_builtins(root: Path, mode: str) -> None:
    """search_tools finds entry tools and call_tool runs them through the client."""
    async with serving(root) as (_, server), Client(server.server, mode=mode) as c:
        found = await c.call_tool("search_tools", {"query": "echo text"})
        assert not found.is_error
        assert found.structured_content is not None
        assert found.structured_content["results"][0]["name"] == "echo"
        ran = await c.call_tool("call_tool", {"tool_name": "echo", "arguments": {"text": "via builtin"}})
        assert not ran.is_error
        assert isinstance(ran.content[0], types.TextContent) and "via builtin" in ran.content[0].text
        missing = await c.call_tool("call_tool", {"tool_name": "nope", "arguments": {}})
        assert missing.is_error


@pytest.mark.parametrize("mode", MODES)
async def test_builtin_and_entry_resources(root: Path, mode: str) -> None:
    """skillz://guide, skillz://diagnostics, skillz://tools/{name} and file resources are readable."""
    not_found = -32002 if mode == "legacy" else types.INVALID_PARAMS
    async with serving(root) as (_, server), Client(server.server, mode=mode) as c:
        uris = [str(r.uri) for r in (await c.list_resources()).resources]
        assert {"skillz://guide", "skillz://diagnostics", "notes://todo", "docs:///intro.md"} <= set(uris)
        templates = [t.uri_template for t in (await c.list_resource_templates()).resource_templates]
        assert "skillz://tools/{name}" in templates and "docs:///{+path}" in templates
        guide = (await c.read_resource("skillz://guide")).contents[0]
        assert isinstance(guide, types.TextResourceContents) and "echo" in guide.text
        diags = (await c.read_resource("skillz://diagnostics")).contents[0]
        assert isinstance(diags, types.TextResourceContents) and json.loads(diags.text)["errors"] == 0
        tool = (await c.read_resource("skillz://tools/echo")).contents[0]
        assert isinstance(tool, types.TextResourceContents)
        assert json.loads(tool.text)["inputSchema"]["required"] == ["text"]
        todo = (await c.read_resource("notes://todo")).contents[0]
        assert isinstance(todo, types.TextResourceContents) and todo.text == "- buy milk\n"
        page = (await c.read_resource("docs:///guide/install.md")).contents[0]
        assert isinstance(page, types.TextResourceContents) and page.text == "# Install\n"
        for uri in ("skillz://tools/nope", "nothing://here", "docs:///missing.md"):
            with pytest.raises(MCPError) as err:
                await c.read_resource(uri)
            assert err.value.error.code == not_found, uri


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_get_and_completion(root: Path, mode: str) -> None:
    """prompts/list + get render arguments; bad calls are INVALID_PARAMS; completion suggests values."""
    async with serving(root) as (_, server), Client(server.server, mode=mode) as c:
        prompts = (await c.list_prompts()).prompts
        greet = next(p for p in prompts if p.name == "greet")
        assert greet.arguments and greet.arguments[0].name == "who" and greet.arguments[0].required
        got = await c.get_prompt("greet", {"who": "Bob"})
        msg = got.messages[0]
        assert msg.role == "user" and isinstance(msg.content, types.TextContent)
        assert msg.content.text == "Greet Bob"
        for name, args in (("greet", {}), ("nope", {"who": "x"})):
            with pytest.raises(MCPError) as err:
                await c.get_prompt(name, args)
            assert err.value.error.code == types.INVALID_PARAMS
        done = await c.complete(types.PromptReference(name="greet"), {"name": "who", "value": "al"})
        assert done.completion.values == ["alice", "albert"]
        ref = types.ResourceTemplateReference(uri="docs:///{+path}")
        pages = await c.complete(ref, {"name": "path", "value": "gu"})
        assert pages.completion.values == ["guide/install.md"]


SCRIPT = """import json, sys
request = json.loads(sys.stdin.readline())
def send(message):
    print(json.dumps(message), flush=True)
send({"jsonrpc": "2.0", "method": "log", "params": {"level": "info", "message": "working hard"}})
send({"jsonrpc": "2.0", "method": "progress", "params": {"progress": 1, "total": 2, "message": "half"}})
send({"jsonrpc": "2.0", "id": "n1", "method": "tools/call",
      "params": {"name": "echo", "arguments": {"text": "inner"}}})
reply = json.loads(sys.stdin.readline())
inner = reply["result"]["content"][0]["text"].strip()
send({"jsonrpc": "2.0", "id": request["id"], "result": {"nested": inner}})
"""


@pytest.mark.parametrize("mode", MODES)
async def test_script_log_progress_and_nested_call_reach_the_client(root: Path, mode: str) -> None:
    """A script's log and progress reach the client, and its nested tools/call runs in the same snapshot."""
    write(root / "tools" / "busy" / "manifest.yaml", "kind: script\ndescription: Busy\nentry: main.py\n")
    write(root / "tools" / "busy" / "main.py", SCRIPT)
    logs, reports = Inbox(), Inbox()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.put(params)

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.put((progress, total, message))

    async with (
        serving(root) as (_, server),
        Client(server.server, mode=mode, logging_callback=on_log, log_level="info") as c,
    ):
        result = await c.call_tool("busy", {}, progress_callback=on_progress)
        assert not result.is_error, result
        assert isinstance(result.content[0], types.TextContent) and "inner" in result.content[0].text
        assert (await reports.wait_for(lambda x: True)) == (1, 2, "half")
        got = await logs.wait_for(lambda p: p.data == "working hard")
        assert got.level == "info" and got.logger == "busy"


LOOP = """import json, sys
request = json.loads(sys.stdin.readline())
call = {"jsonrpc": "2.0", "id": "n", "method": "tools/call", "params": {"name": "loop"}}
print(json.dumps(call), flush=True)
reply = json.loads(sys.stdin.readline())
text = reply["result"]["content"][0]["text"] if "result" in reply else json.dumps(reply)
print(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": text}), flush=True)
"""


async def test_nested_calls_are_depth_limited(root: Path) -> None:
    """A tool that calls itself is stopped at MAX_CALL_DEPTH with an error result, not a crash."""
    write(root / "tools" / "loop" / "manifest.yaml", "kind: script\ndescription: Recurses\nentry: main.py\n")
    write(root / "tools" / "loop" / "main.py", LOOP)
    async with serving(root) as (_, server), Client(server.server) as c:
        result = await c.call_tool("loop", {})
        assert isinstance(result.content[0], types.TextContent)
        assert f"deeper than {MAX_CALL_DEPTH}" in result.content[0].text


async def test_search_disclosure_lists_only_builtins(root: Path) -> None:
    """With disclosure: search only the built-ins are listed, yet every tool stays callable."""
    async with serving(root, disclosure="search") as (_, server), Client(server.server) as c:
        assert names(await c.list_tools()) == BUILTIN_TOOL_NAMES
        res = await c.call_tool("echo", {"text": "hidden but callable"})
        assert not res.is_error


# --------------------------------------------------------------------------- live changes


async def test_list_changed_reaches_both_eras_on_add_change_delete(root: Path) -> None:
    """Adding, changing and deleting a manifest notifies a legacy session and a 2026 listener."""
    inbox, events = Inbox(), Inbox()
    async with (
        serving(root) as (engine, server),
        Client(server.server, mode="legacy", message_handler=inbox.handler) as legacy,
        Client(server.server) as modern,
        modern.listen(tools_list_changed=True) as sub,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(pump, sub, events)
        await wait_registered(server, 1)
        added = root / "tools" / "added"
        manifest = added / "manifest.yaml"
        steps: list[tuple[Callable[[], object], Callable[[list[str]], bool]]] = [
            (lambda: write(manifest, echo_manifest("Added")), lambda n: "added" in n),
            (lambda: write(manifest, echo_manifest("Changed")), lambda n: "added" in n),
            (lambda: shutil.rmtree(added), lambda n: "added" not in n),
        ]
        for change, check in steps:
            inbox.clear()
            events.clear()
            change()
            delta = await engine.apply([added])
            assert delta is not None
            await inbox.wait_for(method_is("notifications/tools/list_changed"))
            await events.wait_for(lambda e: isinstance(e, ToolsListChanged))
            assert check(names(await legacy.list_tools()))
            assert check(names(await modern.list_tools()))
        listed = {t.name: t for t in (await legacy.list_tools()).tools}
        assert "added" not in listed
        tg.cancel_scope.cancel()


async def test_list_changed_through_the_real_watcher(root: Path) -> None:
    """The watcher (watchfiles) picks up a new manifest and both eras are told."""
    inbox, events = Inbox(), Inbox()
    async with (
        serving(root, EngineOptions(watch=True, debounce_ms=20)) as (_, server),
        Client(server.server, mode="legacy", message_handler=inbox.handler) as legacy,
        Client(server.server) as modern,
        modern.listen(tools_list_changed=True) as sub,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(pump, sub, events)
        await wait_registered(server, 1)
        manifest = root / "tools" / "watched" / "manifest.yaml"
        with anyio.fail_after(15):
            for attempt in range(100):  # the watcher starts asynchronously: write until it sees us
                write(manifest, echo_manifest(f"Watched {attempt}"))
                with anyio.move_on_after(0.3):
                    await inbox.wait_for(method_is("notifications/tools/list_changed"))
                    break
        await events.wait_for(lambda e: isinstance(e, ToolsListChanged))
        assert "watched" in names(await legacy.list_tools())
        assert "watched" in names(await modern.list_tools())
        tg.cancel_scope.cancel()


async def test_resources_updated_for_subscribed_file(root: Path) -> None:
    """Editing a subscribed file resource sends resources/updated (legacy) and ResourceUpdated (2026)."""
    inbox, events = Inbox(), Inbox()
    async with (
        serving(root) as (engine, server),
        Client(server.server, mode="legacy", message_handler=inbox.handler) as legacy,
        Client(server.server) as modern,
        modern.listen(resource_subscriptions=["notes://todo"]) as sub,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(pump, sub, events)
        await legacy.subscribe_resource("notes://todo")
        todo = write(root / "resources" / "todo" / "todo.md", "- buy milk\n- call mum\n")
        await engine.apply([todo])
        got = await inbox.wait_for(method_is("notifications/resources/updated"))
        assert got.params.uri == "notes://todo"
        await events.wait_for(lambda e: isinstance(e, ResourceUpdated) and e.uri == "notes://todo")
        content = (await legacy.read_resource("notes://todo")).contents[0]
        assert isinstance(content, types.TextResourceContents) and "call mum" in content.text
        await legacy.unsubscribe_resource("notes://todo")
        inbox.clear()
        await engine.apply([write(todo, "- done\n")])
        await events.wait_for(lambda e: isinstance(e, ResourceUpdated) and e.uri == "notes://todo")
        assert not [
            m
            for m in inbox.items
            if getattr(m, "method", "") == "notifications/resources/updated"
            and m.params.uri == "notes://todo"
        ]
        tg.cancel_scope.cancel()


async def test_bad_edit_logs_diagnostics_and_keeps_serving_stale_entry(root: Path) -> None:
    """A broken manifest sends a warning log with diagnostics; the last good tool keeps working."""
    logs = Inbox()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.put(params)

    async with (
        serving(root) as (engine, server),
        Client(server.server, mode="legacy", logging_callback=on_log) as legacy,
    ):
        await wait_registered(server, 1)
        manifest = write(root / "tools" / "echo" / "manifest.yaml", "kind: command\ndescription: [oops\n")
        await engine.apply([manifest])
        entry = await logs.wait_for(lambda p: p.logger == "skillz-engine")
        assert entry.level == "warning"
        assert "error" in entry.data["message"] and "echo" in entry.data["message"]
        assert entry.data["diagnostics"] and entry.data["diagnostics"][0]["path"].endswith("manifest.yaml")
        assert "echo" in names(await legacy.list_tools())
        still = await legacy.call_tool("echo", {"text": "stale but alive"})
        assert not still.is_error
        diags = (await legacy.read_resource("skillz://diagnostics")).contents[0]
        assert isinstance(diags, types.TextResourceContents)
        report = json.loads(diags.text)
        assert report["errors"] >= 1 and "echo" in report["stale"]
        logs.clear()
        await engine.apply([write(manifest, echo_manifest())])
        fixed = await logs.wait_for(lambda p: p.logger == "skillz-engine")
        assert fixed.level == "info" and fixed.data["diagnostics"] == []


LEVELS_SCRIPT = """import json, sys
request = json.loads(sys.stdin.readline())
for level in ("debug", "info", "warning", "error"):
    log = {"jsonrpc": "2.0", "method": "log", "params": {"level": level, "message": level}}
    print(json.dumps(log), flush=True)
print(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "done"}), flush=True)
"""


async def test_logging_set_level_filters_tool_logs_and_diagnostics(root: Path) -> None:
    """Handshake era: ``logging/setLevel`` answers ``{}`` and drops what is below the level, per
    connection (tool logs and the tree's diagnostics log); 2026-07-28 filters by the request's _meta."""
    write(root / "tools" / "levels" / "manifest.yaml", "kind: script\ndescription: Logs\nentry: main.py\n")
    write(root / "tools" / "levels" / "main.py", LEVELS_SCRIPT)
    quiet, chatty, modern = Inbox(), Inbox(), Inbox()

    async def collect(inbox: Inbox, params: types.LoggingMessageNotificationParams) -> None:
        inbox.put(params)

    async with (
        serving(root) as (engine, server),
        Client(server.server, mode="legacy", logging_callback=lambda p: collect(quiet, p)) as q,
        Client(server.server, mode="legacy", logging_callback=lambda p: collect(chatty, p)) as c,
        Client(server.server, logging_callback=lambda p: collect(modern, p), log_level="warning") as m,
    ):
        assert q.server_capabilities.logging is not None
        assert (await q.set_logging_level("warning")).model_dump(exclude_none=True) == {}
        await c.set_logging_level("debug")
        for client in (q, c, m):
            assert not (await client.call_tool("levels", {})).is_error
        await chatty.wait_for(lambda p: p.data == "error")
        assert [p.data for p in chatty.items] == ["debug", "info", "warning", "error"]
        await quiet.wait_for(lambda p: p.data == "error")
        assert [p.data for p in quiet.items] == ["warning", "error"]
        await modern.wait_for(lambda p: p.data == "error")
        assert [p.data for p in modern.items] == ["warning", "error"]

        quiet.clear()
        chatty.clear()
        await q.set_logging_level("error")
        manifest = write(root / "tools" / "echo" / "manifest.yaml", "kind: command\ndescription: [oops\n")
        await engine.apply([manifest])  # a warning-level diagnostics log
        await chatty.wait_for(lambda p: p.logger == "skillz-engine" and p.level == "warning")
        # the barrier: an error q asks for now comes after anything the reload could have sent q
        assert not (await q.call_tool("levels", {})).is_error
        await quiet.wait_for(lambda p: p.data == "error")
        assert [p.data for p in quiet.items] == ["error"]


async def test_legacy_registry_follows_connections(root: Path) -> None:
    """The hub registers each handshake-era connection and forgets it when it closes."""
    async with serving(root) as (_, server):
        async with Client(server.server, mode="legacy") as one, Client(server.server, mode="legacy") as two:
            await wait_registered(server, 2)
            await one.list_tools()
            await two.list_tools()
        await wait_registered(server, 0)
        async with Client(server.server) as modern:
            await modern.list_tools()
            assert len(server.hub.legacy) == 0


async def test_audit_records_calls_with_session_and_redaction(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every tools/call lands in the audit log; a secret named by a manifest never does."""
    monkeypatch.setenv("SKILLZ_TEST_SECRET", "hunter2-0123456789")
    write(
        root / "tools" / "leaky" / "manifest.yaml",
        "kind: command\ndescription: Leaks\n"
        'secrets: [SKILLZ_TEST_SECRET]\nargv: ["sh", "-c", "echo secret=$SKILLZ_TEST_SECRET >&2; exit 1"]\n',
    )
    audited = EngineOptions(audit="optional", state_dir=tmp_path)  # the log: tmp_path/audit.jsonl
    async with serving(root, audited) as (_, server), Client(server.server, mode="legacy") as c:
        leaked = await c.call_tool("leaky", {})
        assert leaked.is_error  # the client sees the tool's own output ...
        await c.call_tool("echo", {"text": "x"})
        with pytest.raises(MCPError):
            await c.call_tool("missing", {})
    text = (tmp_path / "audit.jsonl").read_text()
    assert "hunter2-0123456789" not in text  # ... the audit log never does
    records = [json.loads(line) for line in text.splitlines()]
    assert [(r["tool"], r["success"]) for r in records] == [
        ("leaky", False),
        ("echo", True),
        ("missing", False),
    ]
    assert "[REDACTED]" in records[0]["error"]
    assert all(r["method"] == "tools/call" and r["session"] for r in records)


async def test_audit_policy_optional_warns_once_required_raises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A state dir that cannot be created disables an optional audit log with a warning, not a
    crash (stdio); a required one (HTTP) fails the engine before anything is served."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    root = tmp_path / "tree"
    root.mkdir()
    blocked = blocker / ".skillz"
    async with Engine.open([root], EngineOptions(audit="optional", state_dir=blocked)) as engine:
        assert engine.audit is None
    assert capsys.readouterr().err.count("warning: no audit log") == 1
    async with Engine.open([root], EngineOptions(audit="optional")) as engine:
        assert engine.audit is not None and (root / ".skillz" / ".gitignore").exists()
    with pytest.raises(OSError):
        async with Engine.open([root], EngineOptions(audit="required", state_dir=blocked)):
            pass


def test_debounce_is_read_from_config(tmp_path: Path) -> None:
    """watch.debounce accepts durations with units; the default is 50 ms."""
    assert debounce_ms(Tree([tmp_path]).config) == 50
    assert debounce_ms(Tree([tmp_path], config_overrides={"watch": {"debounce": "200ms"}}).config) == 200
    assert debounce_ms(Tree([tmp_path], config_overrides={"watch": {"debounce": 0.1}}).config) == 100


# --------------------------------------------------------------------------- real stdio subprocess


def stdio_params(root: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "skillz_engine", "serve", str(root)],
        env={"PYTHONPATH": ENGINE_DIR},
    )


async def write_until(manifest: Path, inbox: Inbox, pred: Callable[[Any], bool]) -> None:
    """Write a new tool until the server's watcher has seen it (it starts asynchronously)."""
    with anyio.fail_after(20):
        for attempt in range(200):
            write(manifest, echo_manifest(f"From the test {attempt}"))
            with anyio.move_on_after(0.3):
                await inbox.wait_for(pred)
                return


async def test_stdio_subprocess_handshake_era(root: Path) -> None:
    """`skillz-engine serve` over stdio with a ClientSession: list, call, and list_changed on a file edit."""
    inbox = Inbox()
    async with (
        stdio_client(stdio_params(root)) as (read, write_stream),
        ClientSession(read, write_stream, message_handler=inbox.handler) as s,
    ):
        init = await s.initialize()
        assert init.protocol_version == "2025-11-25"
        assert init.capabilities.tools is not None and init.capabilities.tools.list_changed
        assert "echo" in names(await s.list_tools())
        r = await s.call_tool("echo", {"text": "over stdio"})
        assert isinstance(r.content[0], types.TextContent) and r.content[0].text.strip() == "over stdio"
        await write_until(
            root / "tools" / "fresh" / "manifest.yaml", inbox, method_is("notifications/tools/list_changed")
        )
        assert "fresh" in names(await s.list_tools())
    records = [json.loads(x) for x in (root / ".skillz" / "audit.jsonl").read_text().splitlines()]
    assert records[0]["tool"] == "echo" and records[0]["success"] is True


async def test_stdio_subprocess_2026_era(root: Path) -> None:
    """`skillz-engine serve` over stdio with mcp.Client (2026-07-28): listen sees a new tool."""
    events = Inbox()
    async with (
        Client(stdio_params(root)) as c,
        c.listen(tools_list_changed=True) as sub,
        anyio.create_task_group() as tg,
    ):
        assert c.protocol_version == "2026-07-28"
        tg.start_soon(pump, sub, events)
        r = await c.call_tool("echo", {"text": "modern"})
        assert isinstance(r.content[0], types.TextContent) and r.content[0].text.strip() == "modern"
        await write_until(
            root / "tools" / "fresh" / "manifest.yaml", events, lambda e: isinstance(e, ToolsListChanged)
        )
        assert "fresh" in names(await c.list_tools())
        tg.cancel_scope.cancel()


async def test_a_new_client_hears_of_problems_the_tree_had_at_start(root: Path) -> None:
    """A skill skipped at start-up (no description) is told to a client that connects afterwards,
    as a log message naming it, not only in skillz://diagnostics."""
    write(root / "skills" / "broken-skill" / "SKILL.md", "---\nname: broken-skill\n---\nBody\n")
    logs = Inbox()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.put(params)

    async with (
        serving(root) as (engine, server),
        Client(server.server, mode="legacy", logging_callback=on_log),
    ):
        assert any("broken-skill" in d.path for d in engine.snapshot.diagnostics)
        entry = await logs.wait_for(lambda p: p.logger == "skillz-engine")
        assert entry.level in ("warning", "error") and "skillz://diagnostics" in entry.data["message"]
        assert any("broken-skill" in d["path"] for d in entry.data["diagnostics"])
