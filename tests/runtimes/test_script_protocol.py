"""The script protocol with real processes: memory, streams, Python, Node and Bash speakers."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from skillz_engine.runtimes.base import LocalCallContext
from skillz_engine.state.memory import MAX_KEY, SqliteMemory, open_memory
from skillz_engine.tree.model import ToolResult
from tests.conftest import require

MakeTool = Callable[..., Path]
Call = Callable[..., Awaitable[tuple[ToolResult, LocalCallContext]]]

pytestmark = pytest.mark.anyio

MEMORY = """
import json, sys
def ask(i, method, params):
    print(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}), flush=True)
    return json.loads(sys.stdin.readline())["result"]
args = json.loads(sys.stdin.readline())["params"]["arguments"]
out = []
for i, (method, params) in enumerate(args["steps"], start=2):
    out.append(ask(i, method, params))
print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": out}), flush=True)
"""


def manifest(entry: str, extra: str = "") -> str:
    return f"kind: script\ndescription: a test tool\nentry: {entry}\n{extra}"


async def steps(call: Call, tool: str, *pairs: tuple[str, dict[str, object]]) -> list[dict[str, object]]:
    result, _ = await call(tool, {"steps": [list(p) for p in pairs]})
    assert not result.is_error, result.text_content()
    out = json.loads(result.text_content())
    assert isinstance(out, list)
    return out


async def test_memory_set_get_list_delete_in_skillz_shapes(
    make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    """memory/* answer {success}, {value}, {keys}, {deleted} and keep JSON values across calls."""
    make_tool("notes", manifest("main.py"), {"main.py": MEMORY})
    out = await steps(
        call,
        "notes",
        ("memory/set", {"key": "b", "value": {"n": [1, 2]}}),
        ("memory/set", {"key": "a", "value": "text"}),
        ("memory/get", {"key": "b"}),
        ("memory/list", {}),
        ("memory/delete", {"key": "a"}),
        ("memory/delete", {"key": "a"}),
        ("memory/get", {"key": "missing"}),
    )
    assert out == [
        {"success": True},
        {"success": True},
        {"value": {"n": [1, 2]}},
        {"keys": ["a", "b"]},
        {"deleted": True},
        {"deleted": False},
        {"value": None},
    ]
    again = await steps(call, "notes", ("memory/get", {"key": "b"}))  # a new process, same store
    assert again == [{"value": {"n": [1, 2]}}]
    assert (tmp_path / ".skillz" / "memory.db").is_file()


async def test_memory_refusals_are_errors_inside_the_result(make_tool: MakeTool, call: Call) -> None:
    """Bad keys, missing values, bad TTLs and oversized values get {error} (as Skillz answers)."""
    make_tool("notes", manifest("main.py", "limits: {output: 4MiB}\n"), {"main.py": MEMORY})
    out = await steps(
        call,
        "notes",
        ("memory/get", {}),
        ("memory/set", {"key": "k"}),
        ("memory/set", {"key": "k", "value": 1, "ttl": -5}),
        ("memory/set", {"key": "x" * (MAX_KEY + 1), "value": 1}),
        ("memory/set", {"key": "big", "value": "x" * (1 << 20)}),
    )
    assert [sorted(o) for o in out] == [["error"]] * 5
    assert "non-empty string" in str(out[0]["error"])
    assert "needs a `value`" in str(out[1]["error"])
    assert "positive number" in str(out[2]["error"])
    assert "longer than" in str(out[3]["error"])
    assert "larger than" in str(out[4]["error"])


class Clock:
    """A clock that moves only when told to (the memory store's ``clock``)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_memory_namespaces_are_per_tool_and_ttl_expires(
    make_tool: MakeTool, call: Call, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tools never see each other's keys; a key with a TTL is gone after it. The scripts are
    real processes; time is the store's clock, moved by the test."""
    clock = Clock()
    monkeypatch.setattr(open_memory(tmp_path / ".skillz"), "clock", clock)  # the store the tools use
    make_tool("one", manifest("main.py"), {"main.py": MEMORY})
    make_tool("two", manifest("main.py"), {"main.py": MEMORY})
    first = await steps(
        call,
        "one",
        ("memory/set", {"key": "shared", "value": 1}),
        ("memory/set", {"key": "brief", "value": 2, "ttl": 1.5}),
        ("memory/get", {"key": "brief"}),
    )
    assert first[2] == {"value": 2}
    assert await steps(call, "two", ("memory/get", {"key": "shared"}), ("memory/list", {})) == [
        {"value": None},
        {"keys": []},
    ]
    clock.now += 1.49
    assert await steps(call, "one", ("memory/get", {"key": "brief"})) == [{"value": 2}]
    clock.now += 0.01
    assert await steps(call, "one", ("memory/get", {"key": "brief"}), ("memory/list", {})) == [
        {"value": None},
        {"keys": ["shared"]},
    ]


def test_expired_rows_are_purged_from_the_file(tmp_path: Path) -> None:
    """Expired rows are deleted on access, not just hidden; open_memory caches per path."""
    store = open_memory(tmp_path)
    assert open_memory(tmp_path) is store and isinstance(store, SqliteMemory)
    clock = Clock()
    store.clock = clock
    store.set("t", "gone", 1, ttl=0.05)
    store.set("other", "gone-too", 1, ttl=0.05)
    store.set("t", "kept", 2)
    clock.now += 0.05
    assert store.keys("t") == ["kept"]
    rows = sqlite3.connect(tmp_path / "memory.db").execute("SELECT namespace, key FROM memories").fetchall()
    assert ("t", "gone") not in rows and ("t", "kept") in rows
    store._purged = 0.0  # the periodic purge sweeps every namespace
    store.keys("t")
    rows = sqlite3.connect(tmp_path / "memory.db").execute("SELECT namespace, key FROM memories").fetchall()
    assert rows == [("t", "kept")]
    assert sqlite3.connect(tmp_path / "memory.db").execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_stream_chunks_are_sent_while_running_and_become_the_result(
    make_tool: MakeTool, call: Call
) -> None:
    """stream/stream/chunk notifications reach the client as they come and, with a null final
    result, are the tool's result."""
    py = """
    import json, sys
    sys.stdin.readline()
    for i, part in enumerate(["Hel", "lo ", "world"]):
        m = "stream" if i % 2 else "stream/chunk"
        params = {"data": part, "index": i, "is_final": i == 2}
        print(json.dumps({"jsonrpc": "2.0", "method": m, "params": params}), flush=True)
    print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": None}), flush=True)
    """
    make_tool("streamer", manifest("main.py"), {"main.py": py})
    result, ctx = await call("streamer")
    assert result.text_content() == "Hello world" and not result.is_error
    chunks = [d["data"] for kind, d in ctx.sink if kind == "log"]
    assert [c["data"] for c in chunks] == ["Hel", "lo ", "world"]
    assert chunks[2] == {"type": "stream_chunk", "index": 2, "is_final": True, "data": "world"}


async def test_elicitation_and_sampling_without_a_client_are_clear_errors(
    make_tool: MakeTool, call: Call
) -> None:
    """Outside a server (CLI call) the script is answered with an error at once, not left waiting;
    roots/list falls back to the configured roots."""
    make_tool("asker", manifest("main.py"), {"main.py": MEMORY})
    result, _ = await call(
        "asker",
        {
            "steps": [
                ["elicitation/create", {"message": "Name?", "requestedSchema": {"type": "object"}}],
                ["sampling/createMessage", {"messages": []}],
            ]
        },
    )
    # the script reads ["result"], which an error reply lacks: it crashes, and the crash is the tool error
    assert result.is_error and "KeyError: 'result'" in result.text_content()


ASK_RAW = """
import json, sys
sys.stdin.readline()
replies = []
for i, (m, p) in enumerate([["elicitation/create", {"message": "Name?"}],
                            ["sampling/createMessage", {"messages": []}],
                            ["roots/list", {}], ["elicitation/create", {}]], start=2):
    print(json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p}), flush=True)
    replies.append(json.loads(sys.stdin.readline()))
print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": replies}), flush=True)
"""


async def test_unsupported_requests_get_json_rpc_errors(
    make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    make_tool("asker", manifest("main.py"), {"main.py": ASK_RAW})
    result, _ = await call("asker")
    elicit, sample, roots, bad = json.loads(result.text_content())
    assert elicit["error"] == {"code": -32000, "message": "the connected client does not support elicitation"}
    assert sample["error"]["code"] == -32000 and "sampling" in sample["error"]["message"]
    assert roots["result"] == {"roots": [{"uri": tmp_path.resolve().as_uri(), "name": tmp_path.name}]}
    assert bad["error"]["code"] == -32602


NODE = """
const readline = require("readline");
const rl = readline.createInterface({ input: process.stdin });
let step = 0;
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...m }) + "\\n");
rl.on("line", (line) => {
  const msg = JSON.parse(line);
  if (step === 0) {
    send({ method: "log", params: { level: "warn", message: "node here" } });
    send({ method: "notifications/progress", params: { progress: 1, total: 2 } });
    send({ id: 2, method: "memory/set", params: { key: "lang", value: "js", ttl: 60 } });
  } else if (step === 1) {
    send({ id: 3, method: "memory/get", params: { key: "lang" } });
  } else if (step === 2) {
    send({ id: 4, method: "whatever/else" });
  } else {
    send({ id: 1, result: { got: msg.error } });
    rl.close();
  }
  step++;
});
"""


async def test_node_script_speaks_the_protocol(make_tool: MakeTool, call: Call) -> None:
    require("node")
    make_tool("nodey", manifest("main.js"), {"main.js": NODE})
    result, ctx = await call("nodey", progress_token=7)
    assert not result.is_error, result.text_content()
    assert json.loads(result.text_content()) == {
        "got": {"code": -32601, "message": "Method not found: whatever/else"}
    }
    assert ("log", {"level": "warning", "data": "node here", "logger": "nodey"}) in ctx.sink
    assert ("progress", {"progress": 1.0, "total": 2.0, "message": None}) in ctx.sink


BASH = """
read -r request
printf '%s\\n' '{"jsonrpc":"2.0","method":"progress","params":{"current":3,"total":4,"message":"bash"}}'
printf '%s\\n' '{"jsonrpc":"2.0","id":2,"method":"memory/set","params":{"key":"k","value":[1,2,3]}}'
read -r set_reply
printf '%s\\n' '{"jsonrpc":"2.0","id":3,"method":"memory/get","params":{"key":"k"}}'
read -r get_reply
printf '{"jsonrpc":"2.0","id":1,"result":{"set":%s,"get":%s}}\\n' "$set_reply" "$get_reply"
"""


async def test_bash_script_speaks_the_protocol(make_tool: MakeTool, call: Call) -> None:
    make_tool("bashy", manifest("main.sh"), {"main.sh": BASH})
    result, ctx = await call("bashy")
    assert not result.is_error, result.text_content()
    out = json.loads(result.text_content())
    assert out["set"] == {"jsonrpc": "2.0", "id": 2, "result": {"success": True}}
    assert out["get"]["result"] == {"value": [1, 2, 3]}
    assert ("progress", {"progress": 3.0, "total": 4.0, "message": "bash"}) in ctx.sink


async def test_nested_tools_call_answers_carry_skillz_output_and_error(
    make_tool: MakeTool, call: Call
) -> None:
    """A tools/call answer is the MCP result plus Skillz's `output` (or `error` for a failure)."""
    make_tool("double", "kind: command\ndescription: d\nargv: [python3, -c, 'print({{ n }} * 2)']\n")
    make_tool("broken", "kind: command\ndescription: b\nargv: [sh, -c, 'echo nope >&2; exit 4']\n")
    make_tool("outer", manifest("main.py"), {"main.py": MEMORY})
    out = await steps(
        call,
        "outer",
        ("tools/call", {"name": "double", "arguments": {"n": 4}}),
        ("tools/call", {"name": "broken"}),
    )
    assert out[0]["output"] == 8 and out[0]["isError"] is False
    assert out[1]["isError"] is True and "output" not in out[1]
    assert str(out[1]["error"]).startswith("Tool 'broken' failed:") and "nope" in str(out[1]["error"])
