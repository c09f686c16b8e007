"""Dependency environments of script tools: plans, env keys, real uv / pip / npm installs."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.isolation.deps import normalise_pip, plan_for
from skillz_engine.isolation.envcache import MARKER
from skillz_engine.isolation.installers import EnvSpec
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from tests.conftest import Call, MakeTool, require

pytestmark = pytest.mark.anyio

SIX_SCRIPT = """
import json, sys, six
print(json.dumps({"six": six.__version__, "exe": sys.executable}))
"""


def envs(root: Path) -> list[Path]:
    d = root / ".skillz" / "envs"
    return sorted(p for p in d.iterdir() if p.is_dir()) if d.is_dir() else []


def progress_messages(ctx: LocalCallContext) -> list[str]:
    return [str(p["message"]) for kind, p in ctx.sink if kind == "progress"]


def six_tool(make_tool: MakeTool, name: str, deps: str = "[six]") -> Path:
    return make_tool(
        name,
        f"""
        kind: script
        description: uses six
        entry: main.py
        protocol: plain
        dependencies:
          pip: {deps}
        """,
        {"main.py": SIX_SCRIPT},
    )


# --------------------------------------------------------------------------- keys


def test_requirements_are_normalised() -> None:
    assert normalise_pip("Foo_Bar.baz >= 1.0 ; python_version > '3'", Path("/x")) == (
        "foo-bar-baz>=1.0;python_version>'3'"
    )
    assert normalise_pip("./pkg", Path("/t/tool")) == "/t/tool/pkg"


def test_env_key_is_shared_for_equal_sets_and_changes_with_them(make_tool: MakeTool) -> None:
    a = six_tool(make_tool, "a", "[six, Rich_Text]")
    b = six_tool(make_tool, "b", "[rich-text, SIX, six]")
    c = six_tool(make_tool, "c", "[six==1.17.0]")
    plans = [plan_for(_spec(d), d / "main.py", "python3")[0] for d in (a, b, c)]
    assert all(p is not None for p in plans)
    keys = [EnvSpec("pip", "/usr/bin/python3", "3.11.7", p.pip).key for p in plans if p is not None]
    assert keys[0] == keys[1]
    assert keys[0] != keys[2]
    assert EnvSpec("pip", "/usr/bin/python3", "3.12.1", plans[0].pip).key != keys[0]  # type: ignore[union-attr]
    assert EnvSpec("npm", "/usr/bin/python3", "3.11.7", plans[0].pip).key != keys[0]  # type: ignore[union-attr]


def _spec(d: Path) -> Any:
    tree = Tree([d.parent])
    tree.full_scan()
    return next(r.spec for r in tree.results.values() if r.spec is not None and r.spec.dir == d)


# --------------------------------------------------------------------------- real installs


async def test_uv_install_then_second_call_does_no_install_work(
    make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    require("uv", "pip dependencies are installed with uv when it is there")
    six_tool(make_tool, "sixer")
    result, ctx = await call("sixer")
    assert not result.is_error, result.text_content()
    out = json.loads(result.text_content())
    assert out["six"]
    (env,) = envs(tmp_path)
    assert out["exe"] == str(env / "bin" / "python")
    marker = json.loads((env / MARKER).read_text())
    assert marker["installer"] == "uv" and marker["requirements"] == ["six"]
    assert any("installing 1 pip package with uv" in m for m in progress_messages(ctx))
    assert any(kind == "log" for kind, _ in ctx.sink)
    stamp = (env / MARKER).stat().st_mtime_ns
    inode = env.stat().st_ino

    result, ctx = await call("sixer")
    assert not result.is_error and json.loads(result.text_content())["exe"] == out["exe"]
    assert progress_messages(ctx) == []  # nothing installed, nothing reported
    assert (env / MARKER).stat().st_mtime_ns == stamp and env.stat().st_ino == inode
    assert not list((tmp_path / ".skillz" / "envs").glob(".*"))  # no build dirs left


async def test_pep723_dependencies_install_and_share_an_env(
    make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    require("uv")
    make_tool("inline", "kind: script\ndescription: d\nentry: main.py\nprotocol: plain\n",
              {"main.py": '# /// script\n# dependencies = ["six"]\n# requires-python = ">=3.8"\n# ///\n'
               + SIX_SCRIPT})  # fmt: skip
    six_tool(make_tool, "sixer", "[SIX]")
    first, _ = await call("inline")
    second, ctx = await call("sixer")
    assert not first.is_error and not second.is_error, (first.text_content(), second.text_content())
    assert json.loads(first.text_content())["exe"] == json.loads(second.text_content())["exe"]
    assert len(envs(tmp_path)) == 1  # one environment for the same requirement set
    assert progress_messages(ctx) == []


async def test_changed_requirements_build_a_new_env(make_tool: MakeTool, call: Call, tmp_path: Path) -> None:
    require("uv")
    six_tool(make_tool, "sixer")
    result, _ = await call("sixer")
    assert not result.is_error
    six_tool(make_tool, "sixer", "['six==1.16.0']")
    result, ctx = await call("sixer")
    assert not result.is_error, result.text_content()
    assert json.loads(result.text_content())["six"] == "1.16.0"
    assert len(envs(tmp_path)) == 2
    assert progress_messages(ctx)


async def test_requires_python_unsatisfied_is_an_error(
    make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    make_tool("future", "kind: script\ndescription: d\nentry: main.py\n",
              {"main.py": '# /// script\n# requires-python = ">=9"\n# ///\nprint(1)\n'})  # fmt: skip
    result, _ = await call("future")
    assert result.is_error
    assert "requires Python >=9" in result.text_content()


async def test_plain_venv_and_pip_when_uv_is_not_used(
    make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    (tmp_path / "skillz.yaml").write_text("dependencies:\n  installer: pip\n")
    six_tool(make_tool, "sixer")
    result, _ = await call("sixer")
    assert not result.is_error, result.text_content()
    (env,) = envs(tmp_path)
    assert json.loads((env / MARKER).read_text())["installer"] == "pip"
    # the venv was built elsewhere and renamed: its scripts still run, with the final python
    proc = subprocess.run([env / "bin" / "pip", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert str(env) in proc.stdout


async def test_npm_install_and_node_require(make_tool: MakeTool, call: Call, tmp_path: Path) -> None:
    require("npm")
    make_tool(
        "isnum",
        """
        kind: script
        description: d
        entry: main.js
        protocol: plain
        dependencies:
          npm: [is-number@7.0.0]
        """,
        {"main.js": 'const n = require("is-number");\n'
                    "console.log(JSON.stringify({a: n(5), b: n('x'), p: process.env.NODE_PATH}));\n"},
    )  # fmt: skip
    result, _ = await call("isnum")
    assert not result.is_error, result.text_content()
    (env,) = envs(tmp_path)
    assert env.name.startswith("npm-")
    assert json.loads(result.text_content()) == {"a": True, "b": False, "p": str(env / "node_modules")}


async def test_failed_install_is_an_error_quickly_and_leaves_nothing(
    make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    six_tool(make_tool, "broken", "[skillz-engine-test-no-such-package-xq]")
    started = time.monotonic()
    result, ctx = await call("broken")
    assert time.monotonic() - started < 60
    assert result.is_error
    assert "skillz-engine-test-no-such-package-xq" in result.text_content()
    assert "installer output" in result.text_content()
    assert any(k == "log" and p["level"] == "error" for k, p in ctx.sink)
    root = tmp_path / ".skillz" / "envs"
    assert [p.name for p in root.iterdir() if not p.name.endswith(".lock")] == []  # no env, no build dir


async def test_install_timeout_ends_the_install(make_tool: MakeTool, call: Call, tmp_path: Path) -> None:
    require("npm")
    (tmp_path / "skillz.yaml").write_text("dependencies:\n  timeout: 50ms\n")
    make_tool("slow", "kind: script\ndescription: d\nentry: main.js\ndependencies:\n  npm: [is-number]\n",
              {"main.js": "console.log(1)\n"})  # fmt: skip
    started = time.monotonic()
    result, _ = await call("slow")
    assert time.monotonic() - started < 20
    assert result.is_error and "timed out" in result.text_content()
    assert [p for p in (tmp_path / ".skillz" / "envs").iterdir() if not p.name.endswith(".lock")] == []


async def test_concurrent_first_calls_install_once(
    make_tool: MakeTool, snapshot: Any, tmp_path: Path
) -> None:
    require("uv")
    six_tool(make_tool, "one")
    six_tool(make_tool, "two")
    snap = snapshot()
    contexts = [LocalCallContext(snap, n) for n in ("one", "two", "one")]
    results: list[Any] = []

    async def go(ctx: LocalCallContext) -> None:
        results.append(await run_tool(snap.tools[ctx.tool_name], {}, ctx))

    async with anyio.create_task_group() as tg:
        for c in contexts:
            tg.start_soon(go, c)
    assert all(not r.is_error for r in results), [r.text_content() for r in results]
    installs = [m for c in contexts for m in progress_messages(c) if "installing" in m]
    assert len(installs) == 1
    assert len(envs(tmp_path)) == 1


async def test_rust_skillz_env_directory_is_used(tmp_path: Path, call: Call) -> None:
    require("node")
    tool = tmp_path / "leg"
    (tool / "env" / "node_modules" / "greet").mkdir(parents=True)
    (tool / "env" / "node_modules" / "greet" / "index.js").write_text("module.exports = n => 'hi ' + n;\n")
    (tool / "manifest.json").write_text(json.dumps({
        "name": "leg", "description": "legacy tool", "tool_type": "script", "interpreter": "node",
        "entry_file": "leg.js", "dependencies": ["greet"],
    }))  # fmt: skip
    (tool / "leg.js").write_text(
        "const g = require('greet');\n"
        "process.stdout.write(JSON.stringify({jsonrpc: '2.0', id: 1, result: g('there')}) + '\\n');\n"
    )
    result, _ = await call("leg")
    assert not result.is_error, result.text_content()
    assert "hi there" in result.text_content()
    assert not (tmp_path / ".skillz" / "envs").exists()  # nothing installed: Rust Skillz did it


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_first_call_reports_install_progress_to_the_mcp_client(
    make_tool: MakeTool, tmp_path: Path, mode: str
) -> None:
    """Over MCP, a first call's install shows as progress notifications; the second shows none."""
    require("uv")
    from mcp import Client

    from tests.mcp_helpers import served

    six_tool(make_tool, "sixer")
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    async with served([tmp_path]) as (_, server), Client(server.server, mode=mode) as c:
        result = await c.call_tool("sixer", {}, progress_callback=on_progress)
        assert not result.is_error, result
        assert any(m and "installing 1 pip package" in m for m in seen), seen
        seen.clear()
        result = await c.call_tool("sixer", {}, progress_callback=on_progress)
        assert not result.is_error
        assert seen == []
