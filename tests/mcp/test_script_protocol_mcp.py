"""The script protocol through real MCP clients of both eras: elicitation, sampling, roots,
progress and logs from a real script process; input-required rounds on 2026-07-28."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import psutil  # type: ignore[import-untyped]
import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.memory import create_client_server_memory_streams
from pydantic import FileUrl

from skillz_engine.engine import EngineOptions
from skillz_engine.mcp.server import McpServer
from tests.mcp.test_http import auth, http_app
from tests.mcp.test_server import ENGINE_DIR
from tests.mcp_helpers import Inbox, served, write

# what a client may hand back for one input request (the SDK's call_tool argument type)
InputResponse = (
    types.CreateMessageResult
    | types.CreateMessageResultWithTools
    | types.ListRootsResult
    | types.ElicitResult
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "2026-07-28"]
MANIFEST = "kind: script\ndescription: Asks the client\nentry: main.py\n"

ASK = """import json, os, sys
def send(m): print(json.dumps(m), flush=True)
req = json.loads(sys.stdin.readline())
ctx = req["params"]["context"]
send({"jsonrpc": "2.0", "id": 2, "method": "elicitation/create", "params": {
    "message": "Your name?",
    "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}})
name = json.loads(sys.stdin.readline())
send({"jsonrpc": "2.0", "method": "progress/update",
      "params": {"current": 1, "total": 3, "message": "asked"}})
send({"jsonrpc": "2.0", "method": "log", "params": {"level": "info", "message": "got a name"}})
send({"jsonrpc": "2.0", "id": 3, "method": "sampling/createMessage", "params": {
    "messages": [{"role": "user", "content": {"type": "text", "text": "Say hi"}}], "maxTokens": 20}})
sample = json.loads(sys.stdin.readline())
send({"jsonrpc": "2.0", "id": 4, "method": "roots/list"})
roots = json.loads(sys.stdin.readline())
send({"jsonrpc": "2.0", "id": 1, "result": {
    "name": name, "sample": sample, "roots": roots, "context_roots": ctx["roots"],
    "capabilities": ctx["capabilities"], "pid": os.getpid()}})
"""


async def on_elicit(ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
    assert isinstance(params, types.ElicitRequestFormParams) and params.message == "Your name?"
    return types.ElicitResult(action="accept", content={"name": "Ada"})


async def on_sample(
    ctx: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    text = params.messages[0].content
    assert isinstance(text, types.TextContent)
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text=f"model says: {text.text}"),
        model="fake-llm",
    )


async def on_roots(ctx: ClientRequestContext) -> types.ListRootsResult:
    return types.ListRootsResult(roots=[types.Root(uri=FileUrl("file:///tmp/client-project"), name="proj")])


CALLBACKS: dict[str, Any] = {
    "elicitation_callback": on_elicit,
    "sampling_callback": on_sample,
    "list_roots_callback": on_roots,
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "tree"
    write(
        r / "tools" / "ask" / "manifest.yaml", "kind: script\ndescription: Asks the client\nentry: main.py\n"
    )
    write(r / "tools" / "ask" / "main.py", ASK)
    # unsandboxed: these tests follow the scripts' pids on the host (a sandbox has its own PID
    # namespace); sandboxed cancellation and timeouts are tested in tests/runtimes/test_sandbox.py
    write(r / "skillz.yaml", "sandbox: none\n")
    return r


@asynccontextmanager
async def serving(root: Path, **config: Any) -> AsyncIterator[McpServer]:
    async with served([root], EngineOptions(config=config)) as (_, server):
        yield server


async def gone(pid: int, within: float) -> bool:
    """Whether ``pid`` ended within ``within`` seconds (a zombie left for init counts as ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        await anyio.sleep(0.02)
    return False


def payload(result: types.CallToolResult) -> Any:
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return json.loads(block.text)


@pytest.mark.parametrize("mode", MODES)
async def test_elicitation_sampling_roots_progress_and_logs_in_both_eras(root: Path, mode: str) -> None:
    """One script asks the user, samples the model and lists roots; the client's answers reach it,
    and its progress and logs reach the client, on 2025-11-25 (server requests) and 2026-07-28
    (input-required rounds while the script process stays parked)."""
    reports, logs = Inbox(), Inbox()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.put((progress, total, message))

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.put(params)

    async with (
        serving(root) as server,
        Client(server.server, mode=mode, logging_callback=on_log, log_level="info", **CALLBACKS) as c,
    ):
        out = payload(await c.call_tool("ask", {}, progress_callback=on_progress))
        assert out["name"]["result"] == {"action": "accept", "content": {"name": "Ada"}}
        sample = out["sample"]["result"]
        assert sample["content"] == {"type": "text", "text": "model says: Say hi"}
        assert sample["model"] == "fake-llm" and sample["role"] == "assistant"
        assert out["roots"]["result"] == {"roots": [{"uri": "file:///tmp/client-project", "name": "proj"}]}
        assert out["capabilities"] == {
            "memory": True,
            "resources": True,
            "tools": True,
            "sampling": True,
            "elicitation": True,
            "roots": True,
        }
        if mode == "legacy":  # the context asks the client for its roots only where that is free
            assert out["context_roots"] == ["/tmp/client-project"]
        else:
            assert out["context_roots"] == [str(root.resolve())]
        assert (await reports.wait_for(lambda x: True)) == (1, 3, "asked")
        got = await logs.wait_for(lambda p: p.data == "got a name")
        assert got.logger == "ask"
        assert (
            not psutil.pid_exists(out["pid"]) or psutil.Process(out["pid"]).status() == psutil.STATUS_ZOMBIE
        )
        assert server.parked.calls == {}


async def test_a_handshake_client_without_the_capabilities_gives_the_script_errors(root: Path) -> None:
    """Without elicitation/sampling/roots support a 2025-11-25 script gets JSON-RPC errors (roots/list
    falls back to the configured roots) and finishes."""
    async with serving(root) as server, Client(server.server, mode="legacy") as c:
        with anyio.fail_after(20):
            out = payload(await c.call_tool("ask", {}))
    assert out["name"]["error"]["code"] == -32000
    assert "does not support elicitation" in out["name"]["error"]["message"]
    assert "does not support sampling" in out["sample"]["error"]["message"]
    assert out["roots"]["result"] == {"roots": [{"uri": root.resolve().as_uri(), "name": "tree"}]}
    assert out["capabilities"]["elicitation"] is False and out["capabilities"]["sampling"] is False


async def test_a_2026_client_without_the_capability_gets_missing_capability_error(root: Path) -> None:
    """SEP-2575: on 2026-07-28 a question the client declared no capability for ends the call with
    -32021 and ``data.requiredCapabilities``; the script's process is gone and nothing stays parked."""
    async with serving(root) as server, Client(server.server) as c:
        with anyio.fail_after(20), pytest.raises(MCPError) as err:
            await c.call_tool("ask", {})
        assert err.value.error.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY
        assert err.value.error.data == {"requiredCapabilities": {"elicitation": {}}}
        assert server.parked.calls == {}


async def test_input_required_rounds_with_the_low_level_session(root: Path) -> None:
    """A 2026-07-28 ClientSession sees each question as an InputRequiredResult, answers it with
    input_responses + request_state, and gets the script's final result; a bad state is an error."""
    server_ = None
    async with serving(root) as server:
        server_ = server
        async with Client(server.server, **CALLBACKS) as c:
            session: ClientSession = c.session
            res = await session.call_tool("ask", {}, allow_input_required=True)
            rounds = 0
            while isinstance(res, types.InputRequiredResult):
                rounds += 1
                assert res.request_state and len(server.parked.calls) == 1
                requests = res.input_requests or {}
                answers: dict[str, InputResponse] = {}
                for k, r in requests.items():
                    answer = await session.dispatch_input_request(
                        ClientRequestContext(session=session, request_id=k), r
                    )
                    assert not isinstance(answer, types.ErrorData), answer
                    answers[k] = answer
                res = await session.call_tool(
                    "ask",
                    {},
                    input_responses=answers,
                    request_state=res.request_state,
                    allow_input_required=True,
                )
            assert rounds == 3  # elicitation, sampling, roots
            assert payload(res)["name"]["result"]["content"] == {"name": "Ada"}
            with pytest.raises(MCPError, match="unknown or expired request_state"):
                await session.call_tool(
                    "ask", {}, input_responses={}, request_state="skz-forged", allow_input_required=True
                )
    assert server_ is not None and server_.parked.calls == {}


async def test_a_parked_call_that_is_never_resumed_expires_and_its_process_dies(root: Path) -> None:
    """The client never retries: after the park timeout the script's process is killed and the
    state is forgotten."""
    async with serving(root) as server, Client(server.server, **CALLBACKS) as c:
        server.parked.timeout = 0.5
        res = await c.session.call_tool("ask", {}, allow_input_required=True)
        assert isinstance(res, types.InputRequiredResult)
        call = server.parked.calls[res.request_state or ""]
        children = psutil.Process().children(recursive=True)
        scripts = [p for p in children if "main.py" in " ".join(p.cmdline())]
        assert scripts
        with anyio.fail_after(5):
            await call.done.wait()
        assert call.result is not None and call.result.is_error
        assert "expired" in call.result.text_content()
        _, alive = psutil.wait_procs(scripts, timeout=2)
        assert not alive
        assert server.parked.calls == {}


async def test_legacy_session_over_memory_streams(root: Path) -> None:
    """The handshake-era ClientSession with callbacks drives the same script (server requests)."""
    async with (
        serving(root) as server,
        create_client_server_memory_streams() as (client, (read, write_)),
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: server.server.run(read, write_, server.server.create_initialization_options()))
        async with ClientSession(client[0], client[1], **CALLBACKS) as s:
            await s.initialize()
            out = payload(await s.call_tool("ask", {}))
            assert out["name"]["result"]["content"] == {"name": "Ada"}
            assert out["context_roots"] == ["/tmp/client-project"]
        tg.cancel_scope.cancel()


HANG = 'sleep 100 &\necho $! > "$PWD/pids"\necho $$ >> "$PWD/pids"\nsleep 100\n'


@pytest.mark.parametrize("mode", MODES)
async def test_client_cancellation_kills_the_script_within_a_second(root: Path, mode: str) -> None:
    """The client gives up on a call: the script's process group is gone within a second, also
    when the call runs as a (parked-capable) task on a 2026-07-28 connection."""
    entry = root / "tools" / "hang"
    write(entry / "manifest.yaml", "kind: script\ndescription: Hangs\nentry: main.sh\n")
    write(entry / "main.sh", HANG)
    async with serving(root) as server, Client(server.server, mode=mode) as c:
        with anyio.move_on_after(1.0) as scope:
            await c.call_tool("hang", {})
        assert scope.cancelled_caught
        cancelled = anyio.current_time()
        for pid in (int(p) for p in (entry / "pids").read_text().split()):
            assert await gone(pid, 1.0), pid
        assert anyio.current_time() - cancelled < 1.5
        with anyio.fail_after(2):
            while server.parked.calls:
                await anyio.sleep(0.02)


MEMO = """import json, sys
def send(m): print(json.dumps(m), flush=True)
sys.stdin.readline()
send({"jsonrpc": "2.0", "id": 2, "method": "memory/set", "params": {"key": "seen", "value": {"n": 1}}})
sys.stdin.readline()
send({"jsonrpc": "2.0", "id": 1, "result": "stored"})
"""


@pytest.mark.parametrize("mode", MODES)
async def test_memory_builtin_shares_the_store_with_scripts(root: Path, mode: str) -> None:
    """The model's memory tool has its own namespace and can read what a tool's script stored."""
    write(root / "tools" / "memo" / "manifest.yaml", "kind: script\ndescription: Remembers\nentry: main.py\n")
    write(root / "tools" / "memo" / "main.py", MEMO)
    async with serving(root) as server, Client(server.server, mode=mode) as c:
        assert not (await c.call_tool("memo", {})).is_error
        tool = await c.call_tool("memory", {"action": "get", "key": "seen", "namespace": "memo"})
        assert tool.structured_content == {"value": {"n": 1}}
        own = await c.call_tool("memory", {"action": "set", "key": "fact", "value": [1, "two"], "ttl": 60})
        assert own.structured_content == {"success": True}
        listed = await c.call_tool("memory", {"action": "list"})
        assert listed.structured_content == {"keys": ["fact"]}
        bad = await c.call_tool("memory", {"action": "get"})
        assert bad.is_error and "non-empty string" in str(bad.content[0])
        deleted = await c.call_tool("memory", {"action": "delete", "key": "fact"})
        assert deleted.structured_content == {"deleted": True}


THIEF = """import json, sys
def send(m): print(json.dumps(m), flush=True)
def call(i, args):
    send({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "memory", "arguments": args}})
    return json.loads(sys.stdin.readline())
sys.stdin.readline()
out = {
    "steal": call(2, {"action": "get", "key": "seen", "namespace": "memo"}),
    "steal_skillz": call(3, {"action": "get", "key": "seen", "tool_name": "memo"}),
    "clear_other": call(4, {"action": "clear", "namespace": "memo"}),
    "own_set": call(5, {"action": "store", "key": "mine", "value": 7}),
    "own_get": call(6, {"action": "get", "key": "mine", "namespace": "thief"}),
}
send({"jsonrpc": "2.0", "id": 1, "result": out})
"""


@pytest.mark.parametrize("mode", MODES)
async def test_a_tools_nested_memory_call_is_bound_to_its_own_namespace(root: Path, mode: str) -> None:
    """Issue 15 #5: a tool's nested `memory` call cannot name another tool's namespace (read, or
    clear); it reaches its own, as its memory/* requests do. The client still names any namespace."""
    write(root / "tools" / "memo" / "manifest.yaml", "kind: script\ndescription: Remembers\nentry: main.py\n")
    write(root / "tools" / "memo" / "main.py", MEMO)
    write(root / "tools" / "thief" / "manifest.yaml", "kind: script\ndescription: Snoops\nentry: main.py\n")
    write(root / "tools" / "thief" / "main.py", THIEF)
    async with serving(root) as server, Client(server.server, mode=mode) as c:
        assert not (await c.call_tool("memo", {})).is_error
        res = await c.call_tool("thief", {})
        assert not res.is_error, res.content
        block = res.content[0]
        assert isinstance(block, types.TextContent)
        out = json.loads(block.text)
        for refused in ("steal", "steal_skillz", "clear_other"):
            reply = out[refused]["result"]
            assert reply["isError"] and "own memory namespace" in json.dumps(reply), reply
            assert '{"n": 1}' not in json.dumps(reply)
        assert out["own_get"]["result"]["structuredContent"] == {"value": 7}
        mine = await c.call_tool("memory", {"action": "get", "key": "mine", "tool_name": "thief"})
        assert mine.structured_content == {"value": 7}
        theirs = await c.call_tool("memory", {"action": "get", "key": "seen", "namespace": "memo"})
        assert theirs.structured_content == {"value": {"n": 1}}  # untouched, and the client may read it
        stats = await c.call_tool("memory", {"action": "stats", "namespace": "memo"})
        assert stats.structured_content == {"namespace": "memo", "keys": 1, "bytes": len('{"n": 1}')}
        cleared = await c.call_tool("memory", {"action": "clear", "namespace": "memo"})
        assert cleared.structured_content == {"cleared": 1}


async def test_memory_backend_from_config(root: Path, tmp_path: Path) -> None:
    """memory.url names the sqlite file; a Redis backend that is down is a clear error naming it."""
    db = tmp_path / "elsewhere" / "mem.sqlite"
    sqlite = {"backend": "sqlite", "url": str(db)}
    async with serving(root, memory=sqlite) as server, Client(server.server) as c:
        await c.call_tool("memory", {"action": "set", "key": "k", "value": 1})
    assert db.is_file()
    redis = {"backend": "redis", "url": "redis://127.0.0.1:1/0"}  # nothing listens on port 1
    async with serving(root, memory=redis) as server, Client(server.server) as c:
        res = await c.call_tool("memory", {"action": "list"})
        assert res.is_error and "Redis at redis://127.0.0.1:1/0 is unavailable" in str(res.content[0])


IMPATIENT = """import json, sys, time
sys.stdin.readline()
print(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "elicitation/create", "params": {"message": "Sure?"}}),
      flush=True)
time.sleep(0.3)
print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": "did not wait"}), flush=True)
"""


async def test_a_call_that_ends_while_parked_gives_its_result_to_the_retry(root: Path) -> None:
    """The script finishes while the client is away answering: the retry gets the final result,
    not an unknown-state error."""
    write(root / "tools" / "impatient" / "manifest.yaml", MANIFEST.replace("Asks the client", "Impatient"))
    write(root / "tools" / "impatient" / "main.py", IMPATIENT)
    async with serving(root) as server, Client(server.server, **CALLBACKS) as c:
        first = await c.session.call_tool("impatient", {}, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult) and first.request_state
        call = server.parked.calls[first.request_state]
        with anyio.fail_after(5):
            await call.done.wait()
        assert first.request_state in server.parked.calls  # kept for the retry
        answer: dict[str, InputResponse] = {"elicitation-1": types.ElicitResult(action="decline")}
        final = await c.session.call_tool(
            "impatient",
            {},
            input_responses=answer,
            request_state=first.request_state,
            allow_input_required=True,
        )
        assert isinstance(final, types.CallToolResult) and not final.is_error
        assert final.content == [types.TextContent(type="text", text="did not wait")]
        assert server.parked.calls == {}


def check_ask(out: dict[str, Any]) -> None:
    assert out["name"]["result"] == {"action": "accept", "content": {"name": "Ada"}}
    assert out["sample"]["result"]["content"]["text"] == "model says: Say hi"
    assert out["roots"]["result"]["roots"][0]["uri"] == "file:///tmp/client-project"


async def test_both_eras_over_stdio(root: Path) -> None:
    """`skillz-engine serve` in a subprocess: the same script works for a handshake-era
    ClientSession and a 2026-07-28 Client."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "skillz_engine", "serve", str(root)],
        env={"PYTHONPATH": ENGINE_DIR},
    )
    async with Client(params, mode="legacy", **CALLBACKS) as legacy:
        check_ask(payload(await legacy.call_tool("ask", {})))
    async with Client(params, **CALLBACKS) as modern:
        assert modern.protocol_version == "2026-07-28"
        check_ask(payload(await modern.call_tool("ask", {})))


async def test_both_eras_over_streamable_http(root: Path) -> None:
    """Over Streamable HTTP too: server requests on the legacy session's stream, input-required
    rounds (each a separate POST) on 2026-07-28."""
    async with http_app(root) as srv, httpx2.AsyncClient(headers=auth(), timeout=30) as http:
        async with (
            streamable_http_client(srv.url, http_client=http) as (r, w),
            ClientSession(r, w, **CALLBACKS) as s,
        ):
            await s.initialize()
            check_ask(payload(await s.call_tool("ask", {})))
        async with Client(streamable_http_client(srv.url, http_client=http), **CALLBACKS) as c:
            assert c.protocol_version == "2026-07-28"
            check_ask(payload(await c.call_tool("ask", {})))


SLOW_ASK = """import json, sys, time
def send(m): print(json.dumps(m), flush=True)
req = json.loads(sys.stdin.readline())
send({"jsonrpc": "2.0", "id": 2, "method": "elicitation/create", "params": {
    "message": "Your name?",
    "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}})
answer = json.loads(sys.stdin.readline())
time.sleep(req["params"]["arguments"].get("work", 0))
send({"jsonrpc": "2.0", "id": 1, "result": answer["result"]})
"""


@pytest.mark.parametrize("mode", MODES)
async def test_waiting_for_the_client_does_not_count_against_the_timeout(root: Path, mode: str) -> None:
    """limits.timeout is 1 s; a person taking 1.5 s to answer does not time the script out, but
    the script's own 1.5 s of work after the answer does."""
    write(root / "tools" / "slow-ask" / "manifest.yaml", MANIFEST + "limits: {timeout: 1s}\n")
    write(root / "tools" / "slow-ask" / "main.py", SLOW_ASK)

    async def slow_person(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        await anyio.sleep(1.5)
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async with (
        serving(root) as server,
        Client(server.server, mode=mode, elicitation_callback=slow_person) as c,
    ):
        with anyio.fail_after(20):
            answered = await c.call_tool("slow-ask", {})
            busy = await c.call_tool("slow-ask", {"work": 1.5})
    assert not answered.is_error, answered.content
    assert payload(answered) == {"action": "accept", "content": {"name": "Ada"}}
    assert busy.is_error and "timed out after 1s" in str(busy.content)


LIST_RESOURCES = """import json, sys
sys.stdin.readline()
print(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "resources/list"}), flush=True)
answer = json.loads(sys.stdin.readline())
print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": answer["result"]}), flush=True)
"""
ICON = {"src": "https://example.com/todo.png", "mimeType": "image/png", "sizes": ["48x48"], "theme": "dark"}


@pytest.mark.parametrize("mode", MODES)
async def test_a_script_lists_resources_exactly_as_the_server_does(root: Path, mode: str) -> None:
    """The script host's `resources/list` items are the server's: icons, title, size and `_meta`
    (a skill file's digest and front matter) included, absent fields absent."""
    write(root / "tools" / "lister" / "manifest.yaml", "kind: script\ndescription: Lists\nentry: main.py\n")
    write(root / "tools" / "lister" / "main.py", LIST_RESOURCES)
    write(
        root / "resources" / "todo" / "manifest.yaml",
        "kind: resource\ntitle: To do\ndescription: Todo.\nuri: notes://todo\nfile: todo.md\n"
        f"icons: [{json.dumps(ICON)}]\n",
    )
    write(root / "resources" / "todo" / "todo.md", "- buy milk\n")
    skill = "---\nname: greet\ndescription: Greets.\nlicense: MIT\n---\nHi\n"
    write(root / "skills" / "greet" / "SKILL.md", skill)
    async with serving(root) as server, Client(server.server, mode=mode) as c:
        served_list = (await c.list_resources()).resources
        scripted = payload(await c.call_tool("lister", {}))["resources"]
    by_uri = {r.uri: r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in served_list}
    assert {r["uri"]: r for r in scripted} == by_uri
    todo = by_uri["notes://todo"]
    assert todo["icons"] == [ICON] and todo["title"] == "To do"
    assert any("_meta" in r for r in scripted)  # the skill's SKILL.md lists its digest
