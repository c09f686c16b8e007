"""``kind: script``: the Skillz-compatible JSON-RPC protocol and the plain protocol, for real."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from skillz_engine.build.snapshot import Snapshot
from tests.conftest import Call, MakeTool

pytestmark = pytest.mark.anyio

PY_ECHO = """
import json, sys
req = json.loads(sys.stdin.readline())
p = req["params"]
out = {"method": req["method"], "id": req["id"], "arguments": p["arguments"], "context": p["context"]}
print(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": out}), flush=True)
"""


def manifest(entry: str, extra: str = "") -> str:
    return f"kind: script\ndescription: a test tool\nentry: {entry}\n{extra}"


async def test_python_jsonrpc_happy_path(make_tool: MakeTool, call: Call, tmp_path: Path) -> None:
    """A Python script gets one execute request with arguments and context, and its result is returned."""
    make_tool("echo", manifest("main.py"), {"main.py": PY_ECHO})
    result, _ = await call("echo", {"x": 1}, progress_token="tok-1")
    assert not result.is_error, result.text_content()
    out = json.loads(result.text_content())
    assert out["method"] == "execute" and out["id"] == 1 and out["arguments"] == {"x": 1}
    ctx = out["context"]
    assert ctx["tool_name"] == "echo"
    assert ctx["tools_dir"] == str(tmp_path.resolve() / "tools")
    assert ctx["roots"] == [str(tmp_path.resolve())]
    assert ctx["working_directory"] == str((tmp_path / "echo").resolve())
    assert ctx["capabilities"] == {"memory": True, "resources": True, "tools": True,
                                   "sampling": False, "elicitation": False, "roots": False}  # fmt: skip
    assert ctx["_meta"] == {"progressToken": "tok-1"}
    assert set(ctx["environment"]) >= {"PATH", "LANG"}


async def test_node_jsonrpc_happy_path(make_tool: MakeTool, call: Call) -> None:
    """A Node script (chosen by the .js extension) answers over JSON-RPC."""
    js = """
    const rl = require("readline").createInterface({ input: process.stdin });
    rl.once("line", (line) => {
      const req = JSON.parse(line);
      const a = req.params.arguments;
      console.log(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: { sum: a.a + a.b } }));
      rl.close();
    });
    """
    make_tool("add", manifest("main.js", "outputSchema: {type: object, required: [sum]}\n"), {"main.js": js})
    result, _ = await call("add", {"a": 2, "b": 3})
    assert not result.is_error, result.text_content()
    assert result.structured == {"sum": 5}


async def test_bash_jsonrpc_happy_path(make_tool: MakeTool, call: Call) -> None:
    """A Bash script reads the request line and prints a final response."""
    sh = """
    read -r request
    case "$request" in *'"execute"'*) ok=true ;; *) ok=false ;; esac
    echo "{\\"jsonrpc\\": \\"2.0\\", \\"id\\": 1, \\"result\\": {\\"ok\\": $ok, \\"shell\\": \\"bash\\"}}"
    """
    make_tool("sh", manifest("run.sh"), {"run.sh": sh})
    result, _ = await call("sh")
    assert not result.is_error, result.text_content()
    assert json.loads(result.text_content()) == {"ok": True, "shell": "bash"}


async def test_explicit_interpreter_and_args(make_tool: MakeTool, call: Call) -> None:
    """`interpreter` and fixed `args` are honoured (a script without a known extension)."""
    py = """
    import sys
    sys.stdin.readline()
    print('{"jsonrpc": "2.0", "id": 1, "result": %s}' % repr(sys.argv[1:]).replace("'", '"'))
    """
    make_tool("tool", manifest("tool", "interpreter: python3\nargs: [--flag, two words]\n"), {"tool": py})
    result, _ = await call("tool")
    assert json.loads(result.text_content()) == ["--flag", "two words"]


async def test_structured_output_with_schema(make_tool: MakeTool, call: Call) -> None:
    """With an outputSchema a valid result is structuredContent, an invalid one an error."""
    schema = "outputSchema: {type: object, properties: {n: {type: integer}}, required: [n]}\n"
    py = """
    import json, sys
    n = json.loads(sys.stdin.readline())["params"]["arguments"]["n"]
    print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"n": n}}))
    """
    make_tool("num", manifest("main.py", schema), {"main.py": py})
    good, _ = await call("num", {"n": 7})
    assert not good.is_error and good.structured == {"n": 7}
    bad, _ = await call("num", {"n": "seven"})
    assert bad.is_error and "outputSchema" in bad.text_content()


async def test_mcp_shaped_result_passes_through(make_tool: MakeTool, call: Call) -> None:
    """A result shaped like an MCP tool result (an image block) is passed through unchanged."""
    py = """
    import json, sys
    sys.stdin.readline()
    block = {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}
    result = {"content": [block, {"type": "text", "text": "a dot"}]}
    print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}))
    """
    make_tool("img", manifest("main.py"), {"main.py": py})
    result, _ = await call("img")
    assert not result.is_error
    assert result.content[0] == {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}
    assert result.content[1]["text"] == "a dot"


async def test_jsonrpc_error_is_tool_error(make_tool: MakeTool, call: Call) -> None:
    """A JSON-RPC error response becomes isError with code, message, data and stderr."""
    py = """
    import json, sys
    sys.stdin.readline()
    print("about to fail", file=sys.stderr)
    err = {"code": -32000, "message": "no such city", "data": {"city": "Atlantis"}}
    print(json.dumps({"jsonrpc": "2.0", "id": 1, "error": err}))
    """
    make_tool("fail", manifest("main.py"), {"main.py": py})
    result, _ = await call("fail")
    text = result.text_content()
    assert result.is_error
    assert "-32000" in text and "no such city" in text and "Atlantis" in text and "about to fail" in text


async def test_nonzero_exit_is_tool_error(make_tool: MakeTool, call: Call) -> None:
    """A script that crashes gives isError with its exit code and the stderr tail."""
    py = "import sys\nsys.stdin.readline()\nraise SystemExit('fatal: the disk is on fire')\n"
    make_tool("crash", manifest("main.py"), {"main.py": py})
    result, _ = await call("crash")
    assert result.is_error
    assert "exited with code 1" in result.text_content()
    assert "the disk is on fire" in result.text_content()


async def test_script_that_lingers_after_its_result(make_tool: MakeTool, call: Call) -> None:
    """A script that keeps running after its final response is stopped, and its result stands."""
    py = """
    import json, sys, time
    sys.stdin.readline()
    print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": "early"}), flush=True)
    time.sleep(100)
    """
    make_tool("linger", manifest("main.py", "limits: {timeout: 20s}\n"), {"main.py": py})
    started = time.monotonic()
    result, _ = await call("linger")
    assert not result.is_error and result.text_content() == "early"
    assert time.monotonic() - started < 10


async def test_plain_text_without_response(make_tool: MakeTool, call: Call) -> None:
    """A jsonrpc script that only prints text and exits 0 returns that text."""
    make_tool("txt", manifest("main.sh"), {"main.sh": "echo hello\necho world\n"})
    result, _ = await call("txt")
    assert not result.is_error and result.text_content() == "hello\nworld"


async def test_big_output_does_not_deadlock(make_tool: MakeTool, call: Call) -> None:
    """5 MB on stderr and 5 MB on stdout finish quickly; stdout is cut at the cap with a note."""
    py = """
    import sys
    sys.stdin.readline()
    sys.stderr.write("e" * 5_000_000)
    for _ in range(50):
        sys.stdout.write("o" * 99_999 + "\\n")
    """
    make_tool("big", manifest("main.py", "limits: {output: 256KiB}\n"), {"main.py": py})
    with anyio.fail_after(30):
        result, _ = await call("big")
    assert not result.is_error
    note = result.content[-1]["text"]
    assert "output truncated" in note and "5000000 bytes" in note and "262144" in note
    assert len(result.text_content()) < 300_000


async def test_timeout_kills_script_and_grandchild(
    make_tool: MakeTool, call: Call, gone: Callable[..., bool]
) -> None:
    """A script that outlives limits.timeout is killed with its background children."""
    sh = 'sleep 100 &\necho $! > "$PWD/pids"\necho $$ >> "$PWD/pids"\nsleep 100\n'
    # unsandboxed, so the pids are the host's (test_sandbox.py has the sandboxed twin)
    d = make_tool("slow", manifest("main.sh", "limits: {timeout: 700ms}\nsandbox: none\n"), {"main.sh": sh})
    started = time.monotonic()
    result, _ = await call("slow")
    assert result.is_error and "timed out after 0.7s" in result.text_content()
    assert time.monotonic() - started < 5
    for pid in (int(p) for p in (d / "pids").read_text().split()):
        assert gone(pid)


async def test_cancellation_kills_process_group(
    make_tool: MakeTool, call: Call, gone: Callable[..., bool]
) -> None:
    """Cancelling the call (anyio.move_on_after) kills the script's process group within a second."""
    sh = 'sleep 100 &\necho $! > "$PWD/pids"\necho $$ >> "$PWD/pids"\nsleep 100\n'
    d = make_tool("hang", manifest("main.sh", "sandbox: none\n"), {"main.sh": sh})  # see above
    with anyio.move_on_after(0.7) as scope:
        await call("hang")
    assert scope.cancelled_caught
    cancelled = time.monotonic()
    for pid in (int(p) for p in (d / "pids").read_text().split()):
        assert gone(pid, 1.0)
    assert time.monotonic() - cancelled < 1.0


async def test_clean_environment(make_tool: MakeTool, call: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process sees only PATH, HOME, LANG, its env and its listed secrets; so does the context's
    environment (where Skillz scripts read their secrets)."""
    monkeypatch.setenv("SKILLZ_TOKEN", "s3cret-value")
    monkeypatch.setenv("SKILLZ_OTHER", "not-listed")
    monkeypatch.setenv("AWS_SECRET", "aws-value")
    js = """
    const rl = require("readline").createInterface({ input: process.stdin });
    rl.once("line", (line) => {
      const ctx = JSON.parse(line).params.context;
      const result = { env: process.env, context_env: ctx.environment, secrets: ctx.secrets };
      console.log(JSON.stringify({ jsonrpc: "2.0", id: 1, result }));
      rl.close();
    });
    """
    extra = "env: {FOO: bar}\nsecrets: [SKILLZ_TOKEN]\n"
    make_tool("env", manifest("main.js", extra), {"main.js": js})
    result, _ = await call("env")
    out = json.loads(result.text_content())
    assert set(out["env"]) == {"PATH", "HOME", "LANG", "FOO", "SKILLZ_TOKEN"}
    assert out["env"]["SKILLZ_TOKEN"] == "s3cret-value" and out["env"]["FOO"] == "bar"
    assert out["context_env"] == out["env"]
    assert out["secrets"] == ["SKILLZ_TOKEN"]
    assert "not-listed" not in json.dumps(out["context_env"]) and "aws-value" not in json.dumps(out)


async def test_log_and_progress_notifications(make_tool: MakeTool, call: Call) -> None:
    """log, progress and stream notifications reach the call context as they arrive."""
    py = """
    import json, sys
    sys.stdin.readline()
    def send(method, params):
        print(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}), flush=True)
    send("log", {"level": "warn", "message": "careful"})
    send("logging/message", {"level": "debug", "message": "m", "data": {"k": 1}})
    send("progress", {"current": 1, "total": 4, "message": "a quarter"})
    send("notifications/progress", {"progress": 2, "total": 4})
    send("progress/update", {"progress": 4})
    send("stream/chunk", {"data": "part", "index": 0, "is_final": True})
    print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": "done"}))
    """
    make_tool("chatty", manifest("main.py"), {"main.py": py})
    result, ctx = await call("chatty")
    assert result.text_content() == "done"
    logs = [p for kind, p in ctx.sink if kind == "log"]
    progress = [p for kind, p in ctx.sink if kind == "progress"]
    assert logs[0] == {"level": "warning", "data": "careful", "logger": "chatty"}
    assert logs[1]["level"] == "debug" and logs[1]["data"] == {"k": 1}
    assert logs[2]["data"] == {"type": "stream_chunk", "index": 0, "is_final": True, "data": "part"}
    assert progress == [
        {"progress": 1.0, "total": 4.0, "message": "a quarter"},
        {"progress": 2.0, "total": 4.0, "message": None},
        {"progress": 4.0, "total": None, "message": None},
    ]


async def test_nested_tools_call(make_tool: MakeTool, call: Call) -> None:
    """A script's tools/call request runs another tool and gets its MCP result back."""
    make_tool("double", "kind: command\ndescription: d\nargv: [python3, -c, 'print({{ n }} * 2)']\n")
    py = """
    import json, sys
    sys.stdin.readline()
    params = {"name": "double", "arguments": {"n": 21}}
    req = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params}
    print(json.dumps(req), flush=True)
    reply = json.loads(sys.stdin.readline())
    print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": reply}))
    """
    make_tool("outer", manifest("main.py"), {"main.py": py})
    result, _ = await call("outer")
    reply = json.loads(result.text_content())
    assert reply["id"] == 5
    assert reply["result"] == {"content": [{"type": "text", "text": "42"}], "isError": False, "output": 42}


async def test_unknown_method_and_unknown_tool(make_tool: MakeTool, call: Call) -> None:
    """An unknown request method gets -32601; a tools/call of a missing tool gets an error too."""
    py = """
    import json, sys
    sys.stdin.readline()
    print(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "memory/nuke", "params": {}}), flush=True)
    first = json.loads(sys.stdin.readline())
    call = {"name": "nope", "arguments": {}}
    print(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": call}), flush=True)
    second = json.loads(sys.stdin.readline())
    print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": [first, second]}))
    """
    make_tool("ask", manifest("main.py"), {"main.py": py})
    result, _ = await call("ask")
    first, second = json.loads(result.text_content())
    assert first == {
        "jsonrpc": "2.0",
        "id": 2,
        "error": {"code": -32601, "message": "Method not found: memory/nuke"},
    }
    assert second["id"] == 3 and "unknown tool 'nope'" in second["error"]["message"]


async def test_resources_list_and_read(make_tool: MakeTool, call: Call) -> None:
    """resources/list and resources/read are answered from the snapshot; unknown URIs are errors."""
    py = """
    import json, sys
    sys.stdin.readline()
    answers = []
    for i, (method, params) in enumerate([("resources/list", {}),
                                          ("resources/read", {"uri": "skillz://diagnostics"}),
                                          ("resources/read", {"uri": "nowhere://x"})]):
        print(json.dumps({"jsonrpc": "2.0", "id": 10 + i, "method": method, "params": params}), flush=True)
        answers.append(json.loads(sys.stdin.readline()))
    print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": answers}))
    """
    make_tool("res", manifest("main.py"), {"main.py": py})
    result, _ = await call("res")
    listed, read, missing = json.loads(result.text_content())
    uris = [r["uri"] for r in listed["result"]["resources"]]
    assert "skillz://diagnostics" in uris
    assert read["result"]["contents"][0]["uri"] == "skillz://diagnostics"
    assert missing["error"]["code"] == -32002


async def test_plain_protocol(make_tool: MakeTool, call: Call) -> None:
    """protocol: plain sends the arguments as JSON on stdin; JSON stdout is structured, text is text."""
    py = "import json, sys\nargs = json.load(sys.stdin)\nprint(json.dumps({'n': args['n'] + 1}))\n"
    schema = "protocol: plain\noutputSchema: {type: object, required: [n]}\n"
    make_tool("inc", manifest("main.py", schema), {"main.py": py})
    make_tool(
        "say", manifest("say.sh", "protocol: plain\n"), {"say.sh": "cat >/dev/null\necho plain words\n"}
    )
    make_tool("bad", manifest("bad.sh", "protocol: plain\n"), {"bad.sh": "echo oops >&2\nexit 4\n"})
    inc, _ = await call("inc", {"n": 1})
    assert inc.structured == {"n": 2} and not inc.is_error
    say, _ = await call("say")
    assert say.text_content() == "plain words" and say.structured is None
    bad, _ = await call("bad")
    assert bad.is_error and "exited with code 4" in bad.text_content() and "oops" in bad.text_content()


async def test_missing_interpreter_is_tool_error(make_tool: MakeTool, call: Call) -> None:
    """An interpreter that is not installed gives an isError result naming it, not an exception."""
    make_tool("ghost", manifest("main.x", "interpreter: no-such-interpreter-xyz\n"), {"main.x": "x"})
    result, _ = await call("ghost")
    assert result.is_error and "no-such-interpreter-xyz" in result.text_content()


async def test_compile_problems(make_tool: MakeTool, snapshot: Callable[[], Snapshot]) -> None:
    """A missing entry file (SKZ204) and a file with no way to run it (SKZ505) stop the entry."""
    make_tool("noentry", manifest("main.py"))
    make_tool("norun", manifest("data.bin"), {"data.bin": "?"})
    snap = snapshot()
    codes = {d.code for d in snap.diagnostics}
    assert {"SKZ204", "SKZ505"} <= codes
    assert "noentry" not in snap.tools and "norun" not in snap.tools


async def test_tool_definition(make_tool: MakeTool, snapshot: Callable[[], Snapshot]) -> None:
    """The tool definition carries description, default inputSchema, title, annotations and tags."""
    extra = "title: Echo\nannotations: {readOnlyHint: true}\ntags: [demo]\n"
    make_tool("echo", manifest("main.py", extra), {"main.py": PY_ECHO})
    tool = snapshot().tools["echo"]
    assert tool.definition() == {
        "name": "echo",
        "description": "a test tool",
        "inputSchema": {"type": "object"},
        "title": "Echo",
        "annotations": {"readOnlyHint": True},
    }
    assert tool.tags == ("demo",) and tool.kind == "script"
