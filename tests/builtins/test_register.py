"""``register_script`` through real MCP clients of both eras: write, serve, call, replace, refuse."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
import yaml
from mcp import Client

from skillz_engine.builtins import builtin_tools
from skillz_engine.builtins.register import script_files
from skillz_engine.builtins.writers import WriterError
from skillz_engine.engine import EngineOptions
from skillz_engine.mcp.server import SkillzServer
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from skillz_engine.tree.config import Config
from tests.conftest import open_tree
from tests.mcp_helpers import served

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
MODES = ["legacy", "2026-07-28"]

GREETER = """import json, sys
req = json.loads(sys.stdin.readline())
who = req["params"]["arguments"].get("who", "world")
print(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {"greeting": f"%s, {who}!"}}), flush=True)
"""


@asynccontextmanager
async def serving(root: Path, **config: Any) -> AsyncIterator[SkillzServer]:
    async with served([root], EngineOptions(config=config)) as (_, server):
        yield server.server


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def register_args(greeting: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {
        "name": "greeter",
        "description": "Greets someone",
        "code": GREETER % greeting,
        "interpreter": "python3",
        "input_schema": {"type": "object", "properties": {"who": {"type": "string"}}},
        "outputSchema": {
            "type": "object",
            "properties": {"greeting": {"type": "string"}},
            "required": ["greeting"],
        },
        "annotations": {"readOnlyHint": True},
        **extra,
    }


@pytest.mark.parametrize("mode", MODES)
async def test_register_then_call_in_the_same_session(tmp_path: Path, mode: str) -> None:
    """The registered tool is listed and callable before register_script returns; it is a real
    manifest + script in the tree."""
    async with serving(tmp_path) as server, Client(server, mode=mode) as c:
        reg = await c.call_tool("register_script", register_args())
        assert not reg.is_error, text(reg)
        assert "served now" in text(reg)
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert tools["greeter"].description == "Greets someone"
        assert tools["greeter"].annotations is not None and tools["greeter"].annotations.read_only_hint
        out = await c.call_tool("greeter", {"who": "Ada"})
        assert not out.is_error, text(out)
        assert out.structured_content == {"greeting": "Hello, Ada!"}
    entry = tmp_path / "tools" / "greeter"
    manifest = yaml.safe_load((entry / "manifest.yaml").read_text())
    assert manifest["kind"] == "script" and manifest["entry"] == "main.py"
    assert manifest["inputSchema"]["properties"] == {"who": {"type": "string"}}
    assert (entry / "main.py").stat().st_mode & 0o111


async def test_overwrite_keeps_a_backup_and_refuses_without_it(tmp_path: Path) -> None:
    async with serving(tmp_path) as server, Client(server) as c:
        assert not (await c.call_tool("register_script", register_args())).is_error
        again = await c.call_tool("register_script", register_args("Hi"))
        assert again.is_error and "overwrite" in text(again)
        replaced = await c.call_tool("register_script", register_args("Hi", overwrite=True))
        assert not replaced.is_error, text(replaced)
        assert "previous version is kept" in text(replaced)
        out = await c.call_tool("greeter", {"who": "Bob"})
        assert out.structured_content == {"greeting": "Hi, Bob!"}
    versions = sorted((tmp_path / ".skillz" / "versions" / "tools" / "greeter").iterdir())
    assert [v.name for v in versions] == ["0001", "0002"]
    assert "Hello" in (versions[0] / "files" / "main.py").read_text()
    assert "Hi" in (versions[1] / "files" / "main.py").read_text()


@pytest.mark.parametrize("bad", ["../evil", "a/b", "/abs", "..", "with space"])
async def test_bad_names_are_refused_and_nothing_is_written(tmp_path: Path, bad: str) -> None:
    async with serving(tmp_path) as server, Client(server) as c:
        res = await c.call_tool("register_script", register_args(name=bad))
        assert res.is_error and "invalid name" in text(res)
    assert not (tmp_path / "tools").exists() or not any((tmp_path / "tools").iterdir())
    assert not (tmp_path.parent / "evil").exists()


async def test_a_manifest_that_does_not_compile_is_rolled_back(tmp_path: Path) -> None:
    """A manifest that does not compile (an invalid service name) is never served: the error says
    why and the previous version stays, on disk and served."""
    async with serving(tmp_path) as server, Client(server) as c:
        assert not (await c.call_tool("register_script", register_args())).is_error
        broken = register_args(overwrite=True, requires_services=["not a name!"])
        res = await c.call_tool("register_script", broken)
        assert res.is_error and "does not compile" in text(res) and "previous version is back" in text(res)
        out = await c.call_tool("greeter", {"who": "Cy"})
        assert out.structured_content == {"greeting": "Hello, Cy!"}
    assert "not a name" not in (tmp_path / "tools" / "greeter" / "manifest.yaml").read_text()


@pytest.mark.parametrize(
    "deps",
    [
        ["--index-url=http://127.0.0.1:9/simple", "six"],
        ["./evil"],
        {"npm": ["file:/etc"]},
        {"pip": ["x @ https://e.x/x.whl"]},
    ],
)
async def test_dependency_specs_that_are_not_plain_packages_are_refused(tmp_path: Path, deps: Any) -> None:
    """Options, paths and URLs in register_script's `dependencies` never reach an installer (issue 15
    #3): the entry does not compile, the error names SKZ522, nothing is left written."""
    async with serving(tmp_path) as server, Client(server) as c:
        res = await c.call_tool("register_script", register_args(dependencies=deps))
        assert res.is_error and "SKZ522" in text(res), text(res)
    assert not (tmp_path / "tools" / "greeter").exists()
    assert not (tmp_path / ".skillz" / "envs").exists()


async def test_without_an_engine_and_read_only(tmp_path: Path) -> None:
    tree = open_tree([tmp_path], lenient=True)  # compiled, with no engine behind the call
    tree.full_scan()
    snap = tree.snapshot()
    local = LocalCallContext(snap, "register_script")
    res = await run_tool(snap.tools["register_script"], register_args(), local)
    assert res.is_error and "needs a running engine" in (res.text_content() or "")
    async with serving(tmp_path, readOnly=True) as server, Client(server) as c:
        assert "register_script" not in {t.name for t in (await c.list_tools()).tools}
    assert "register_script" not in {
        t.name for t in builtin_tools(Config({"builtins": {"disabled": ["register_script"]}}))
    }


def test_skillz_arguments_map_to_a_modern_manifest() -> None:
    files, entry = script_files(
        {
            "description": "d",
            "code": "console.log(1)",
            "interpreter": "node",
            "input_schema": {"type": ""},
            "dependencies": ["lodash@4"],
            "requires_services": ["postgres"],
        }
    )
    assert entry == "main.js" and files["main.js"] == "console.log(1)\n"
    manifest = yaml.safe_load(files["manifest.yaml"])
    assert manifest == {
        "kind": "script",
        "description": "d",
        "interpreter": "node",
        "entry": "main.js",
        "inputSchema": {"type": "object"},
        "dependencies": {"npm": ["lodash@4"]},
        "requires": {"services": ["postgres"]},
    }
    files, entry = script_files({"description": "d", "code": "#!/bin/sh\necho hi\n"})
    assert entry == "main" and "interpreter" not in yaml.safe_load(files["manifest.yaml"])
    with pytest.raises(WriterError, match="interpreter"):
        script_files({"description": "d", "code": "echo hi"})
    with pytest.raises(WriterError, match="python or node"):
        script_files({"description": "d", "code": "x", "interpreter": "bash", "dependencies": ["jq"]})
    assert json.loads(json.dumps(files))  # plain strings only


async def test_dependencies_go_through_the_runtimes_build_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a build hook (the dependency engine's seam) register_script installs through it and
    reports its errors; without one the install is left to the first call."""
    from skillz_engine.runtimes import RUNTIMES

    runtime = RUNTIMES["script"]
    built: list[tuple[str, Any]] = []
    args = register_args(dependencies=["six"], overwrite=True)
    async with serving(tmp_path) as server, Client(server) as c:
        if getattr(runtime, "build", None) is None:
            res = await c.call_tool("register_script", args)
            assert not res.is_error and "installed on its first call" in text(res)

        async def build(spec: Any, services: Any, progress: Any, options: Any) -> list[Any]:
            built.append((spec.name, spec.data.get("dependencies")))
            progress("installing six")
            return []

        monkeypatch.setattr(runtime, "build", build, raising=False)
        res = await c.call_tool("register_script", args)
        assert not res.is_error and "dependencies are installed." in text(res)
        assert built == [("greeter", {"pip": ["six"]})]

        from skillz_engine.tree.diagnostics import Diagnostic, Severity

        async def failing(spec: Any, services: Any, progress: Any, options: Any) -> list[Any]:
            return [Diagnostic(str(spec.dir), 1, 1, "SKZ999", Severity.ERROR, "pip failed: no six", "$", "")]

        monkeypatch.setattr(runtime, "build", failing, raising=False)
        res = await c.call_tool("register_script", args)
        assert res.is_error and "pip failed: no six" in text(res)
        assert "greeter" in {t.name for t in (await c.list_tools()).tools}  # written and served all the same
