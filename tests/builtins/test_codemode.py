"""``execute_code`` through real MCP clients of both eras: the code calls the session's tools as
functions, each call goes back through the engine (audited), and failures are ``isError``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client

from skillz_engine.builtins.codemode import identifiers
from skillz_engine.engine import EngineOptions
from skillz_engine.mcp.server import SkillzServer
from tests.mcp_helpers import served, write

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "2026-07-28"]

PLAIN = """kind: script
description: {description}
entry: main.py
protocol: plain
inputSchema:
  type: object
  properties: {{text: {{type: string}}}}
  required: [text]
"""
TOOLS = {
    "word-count": ("Counts words", "print(json.dumps({'words': len(args['text'].split())}))"),
    "upper": ("Upper-cases text", "print(args['text'].upper())"),
    "fail": ("Always fails", "sys.exit('no luck: ' + args['text'])"),
}


def make_tree(root: Path, **config: Any) -> Path:
    for name, (description, body) in TOOLS.items():
        write(root / "tools" / name / "manifest.yaml", PLAIN.format(description=description))
        write(root / "tools" / name / "main.py", f"import json, sys\nargs = json.load(sys.stdin)\n{body}\n")
    return root


@asynccontextmanager
async def serving(root: Path, **config: Any) -> AsyncIterator[SkillzServer]:
    async with served([make_tree(root)], EngineOptions(config=config, audit="required")) as (_, server):
        yield server.server


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def test_tool_names_become_predictable_identifiers() -> None:
    names = identifiers(["word-count", "upper", "class", "9lives", "call", "a.b", "a-b", "ünï"])
    assert names == {
        "word_count": "word-count",
        "upper": "upper",
        "class_": "class",
        "_9lives": "9lives",
        "call_": "call",
        "a_b": "a-b",
        "a_b_2": "a.b",
        "_n_": "ünï",
    }


@pytest.mark.parametrize("mode", MODES)
async def test_code_composes_tools_in_one_call(tmp_path: Path, mode: str) -> None:
    """Two tools composed in one execute_code call: stdout, `result` and the calls made come back,
    and each nested call is in the audit log like a script's nested tools/call."""
    code = (
        "shout = tools.upper(text='hello code mode')\n"
        "n = tools.word_count(text=shout)['words']\n"
        "same = tools.call('word-count', {'text': 'a b'})\n"
        "print('counted', n)\n"
        "result = {'shout': shout, 'n': n, 'same': same}\n"
    )
    async with serving(tmp_path) as server, Client(server, mode=mode) as c:
        assert "execute_code" in {t.name for t in (await c.list_tools()).tools}
        res = await c.call_tool("execute_code", {"code": code})
    assert not res.is_error, text(res)
    out = res.structured_content
    assert out is not None
    assert out["stdout"] == "counted 3\n"
    assert out["result"] == {"shout": "HELLO CODE MODE", "n": 3, "same": {"words": 2}}
    assert [(c["tool"], c["arguments"], c["isError"]) for c in out["calls"]] == [
        ("upper", {"text": "hello code mode"}, False),
        ("word-count", {"text": "HELLO CODE MODE"}, False),
        ("word-count", {"text": "a b"}, False),
    ]
    audit = [json.loads(line) for line in (tmp_path / ".skillz" / "audit.jsonl").read_text().splitlines()]
    nested = [a for a in audit if "nested" in json.dumps(a)]
    assert len(nested) == 3


async def test_large_arguments_are_listed_cut(tmp_path: Path) -> None:
    async with serving(tmp_path) as server, Client(server) as c:
        res = await c.call_tool("execute_code", {"code": "result = tools.upper(text='x' * 5000)[:3]"})
    assert not res.is_error, text(res)
    assert res.structured_content is not None and res.structured_content["result"] == "XXX"
    shown = res.structured_content["calls"][0]["arguments"]
    assert isinstance(shown, str) and shown.startswith('{"text": "xxx') and len(shown) == 203


@pytest.mark.parametrize("mode", MODES)
async def test_a_failing_tool_raises_tool_error_the_code_can_catch(tmp_path: Path, mode: str) -> None:
    code = "try:\n    tools.fail(text='x')\nexcept tools.ToolError as e:\n    result = str(e)\n"
    async with serving(tmp_path) as server, Client(server, mode=mode) as c:
        res = await c.call_tool("execute_code", {"code": code})
    assert not res.is_error, text(res)
    assert res.structured_content is not None
    assert "no luck: x" in res.structured_content["result"]
    assert res.structured_content["calls"][0]["isError"] is True


@pytest.mark.parametrize("mode", MODES)
async def test_syntax_errors_and_exceptions_are_errors_with_the_codes_traceback(
    tmp_path: Path, mode: str
) -> None:
    async with serving(tmp_path) as server, Client(server, mode=mode) as c:
        bad = await c.call_tool("execute_code", {"code": "x = 1\nif x\n    pass\n"})
        boom = await c.call_tool("execute_code", {"code": "print('before')\n\ndef f():\n    1 / 0\nf()\n"})
        unknown = await c.call_tool("execute_code", {"code": "tools.call('nope')\n"})
        stdin = await c.call_tool("execute_code", {"code": "input()\n"})
    assert bad.is_error and "SyntaxError" in text(bad) and 'File "<code>", line 2' in text(bad)
    assert boom.is_error and "ZeroDivisionError" in text(boom)
    assert 'File "<code>", line 4, in f' in text(boom) and "runner" not in text(boom)
    assert boom.structured_content is not None and boom.structured_content["stdout"] == "before\n"
    assert unknown.is_error and "nope" in text(unknown) and "ToolError" in text(unknown)
    assert stdin.is_error and "EOFError" in text(stdin)  # the protocol's stdin is not the code's


async def test_timeout_of_skillz_yaml_kills_the_code_and_keeps_its_calls(tmp_path: Path) -> None:
    code = "tools.upper(text='a')\nwhile True:\n    pass\n"
    async with serving(tmp_path, limits={"timeout": "1s"}) as server, Client(server) as c:
        res = await c.call_tool("execute_code", {"code": code})
    assert res.is_error and "timed out" in text(res)
    assert res.structured_content is not None
    assert [c["tool"] for c in res.structured_content["calls"]] == ["upper"]


async def test_off_when_builtins_disable_it(tmp_path: Path) -> None:
    async with serving(tmp_path, builtins={"disabled": ["execute_code"]}) as server, Client(server) as c:
        assert "execute_code" not in {t.name for t in (await c.list_tools()).tools}
        res = await c.call_tool("call_tool", {"tool_name": "execute_code", "arguments": {"code": "1"}})
    assert res.is_error


async def test_empty_code_is_refused(tmp_path: Path) -> None:
    async with serving(tmp_path) as server, Client(server) as c:
        res = await c.call_tool("execute_code", {"code": "  "})
    assert res.is_error and "needs `code`" in text(res)
