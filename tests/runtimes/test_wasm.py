"""``kind: wasm`` with the real wasmtime, real clang and real Debian cargo: limits, WASI, caches, builds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from skillz_engine.live.reload import Reloader
from skillz_engine.runtimes import wasm
from skillz_engine.runtimes.base import BuildOptions, LocalCallContext, Services, run_tool
from skillz_engine.runtimes.wasm import build as wasmbuild
from skillz_engine.runtimes.wasm import cache, engine
from tests.conftest import IN_CI, Call, MakeTool, open_tree, require
from tests.mcp_helpers import served

pytestmark = pytest.mark.anyio
DATA = Path(__file__).resolve().parents[1] / "data" / "wasm"


def wat_tool(make_tool: MakeTool, name: str, fixture: str, extra: str = "") -> Path:
    d = make_tool(name, f"kind: wasm\ndescription: {name}\nmodule: {fixture}.wat\n{extra}")
    shutil.copy(DATA / f"{fixture}.wat", d / f"{fixture}.wat")
    return d


def require_rust() -> None:
    """Skip (locally) or fail (CI) without a rustc that has the wasm32 WASI std and cargo."""
    if wasmbuild.rust_toolchain() is None:
        message = "no rustc with the wasm32-wasi std (Debian: rustc cargo libstd-rust-dev-wasm32)"
        if IN_CI:
            pytest.fail(f"{message} (CI must install it)")
        pytest.skip(message)


def fresh_engine() -> None:
    """Drop the process's shared engine and its in-memory modules: what a restart does."""
    engine._SHARED = None


def stats() -> dict[str, int]:
    return dict(cache.STATS)


# --------------------------------------------------------------------------- running WAT modules


async def test_json_arguments_in_stdout_out_with_structured_content(make_tool: MakeTool, call: Call) -> None:
    schema = "outputSchema: {type: object, properties: {a: {type: integer}}, required: [a]}\n"
    wat_tool(make_tool, "echo", "echo", schema)
    result, _ = await call("echo", {"a": 7, "s": "é"})
    assert not result.is_error, result
    assert result.structured == {"a": 7, "s": "é"}
    assert json.loads(result.text_content()) == {"a": 7, "s": "é"}
    bad, _ = await call("echo", {"s": "no a"})
    assert bad.is_error and "outputSchema" in bad.text_content()


async def test_an_infinite_loop_stops_at_the_timeout_and_the_engine_stays_up(
    make_tool: MakeTool, call: Call
) -> None:
    wat_tool(make_tool, "spin", "spin", "limits: {timeout: 300ms}\n")
    wat_tool(make_tool, "echo", "echo")
    result, _ = await call("spin")
    assert result.is_error and "timed out after 0.3s" in result.text_content()
    after, _ = await call("echo", {"still": "here"})
    assert json.loads(after.text_content()) == {"still": "here"}
    assert engine.CALLS == {}


async def test_fuel_runs_out(make_tool: MakeTool, call: Call) -> None:
    wat_tool(make_tool, "spin", "spin", "limits: {fuel: 1000000, timeout: 30s}\n")
    result, _ = await call("spin")
    assert result.is_error and "out of fuel" in result.text_content() and "1000000" in result.text_content()


async def test_a_memory_hog_stops_at_the_cap(make_tool: MakeTool, call: Call) -> None:
    wat_tool(make_tool, "hog", "hog", "limits: {memory: 2MiB}\n")
    result, _ = await call("hog")
    text = result.text_content()
    assert result.is_error and "trapped: unreachable" in text and "limits.memory is 2 MiB" in text


async def test_opening_a_file_outside_the_mounts_fails(make_tool: MakeTool, call: Call) -> None:
    d = wat_tool(make_tool, "escape", "escape", "wasi:\n  mounts: [{host: data, guest: /data}]\n")
    (d / "data").mkdir()
    result, _ = await call("escape")
    assert result.is_error and "exited with status 1" in result.text_content()
    assert "denied" in result.text_content() and "opened" not in result.text_content()


async def test_non_zero_exit_and_trap_are_errors_with_stderr(make_tool: MakeTool, call: Call) -> None:
    wat_tool(make_tool, "exit3", "exit3")
    wat_tool(make_tool, "trap", "trap")
    result, _ = await call("exit3")
    assert result.is_error
    assert (
        "exited with status 3" in result.text_content()
        and "bad input: need a number" in result.text_content()
    )
    trapped, _ = await call("trap")
    assert trapped.is_error and "trapped: integer division by zero" in trapped.text_content()


async def test_output_over_the_cap_stops_the_module(make_tool: MakeTool, call: Call) -> None:
    wat_tool(make_tool, "flood", "flood", "limits: {output: 10KiB, timeout: 20s}\n")
    started = time.monotonic()
    result, _ = await call("flood")
    assert result.is_error and "more than 10 KiB to stdout (limits.output)" in result.text_content()
    assert time.monotonic() - started < 15  # stopped by the cap, not by the 20 s timeout


async def test_cancelling_the_call_stops_the_module(make_tool: MakeTool, snapshot: Any) -> None:
    wat_tool(make_tool, "spin", "spin", "limits: {timeout: 60s}\n")
    snap = snapshot()
    started = time.monotonic()
    with anyio.move_on_after(0.3) as scope:
        await run_tool(snap.tools["spin"], {}, LocalCallContext(snap, "spin"))
    # the awaiting returns only once the module has stopped (its stdio must outlive it)
    assert scope.cancelled_caught and time.monotonic() - started < 30
    assert engine.CALLS == {}


async def test_wat_source_syntax_error_is_a_diagnostic(make_tool: MakeTool, tmp_path: Path) -> None:
    d = make_tool("broken", "kind: wasm\ndescription: broken\nbuild: {language: wat, source: main.wat}\n")
    (d / "main.wat").write_text('(module (func (export "_start") (i32.bogus)))\n')
    tree = open_tree([tmp_path], lenient=True)
    tree.full_scan()
    snap = tree.snapshot()
    runtime = wasm.WasmRuntime()
    diags = await runtime.build(
        snap.specs[d.as_posix()], Services(tree.config, tree.state_dir), lambda m: None, BuildOptions()
    )
    assert [(Path(x.path).name, x.line, x.code) for x in diags] == [("main.wat", 1, "SKZ531")]
    assert "i32.bogus" in diags[0].message


# --------------------------------------------------------------------------- module cache


async def test_a_restart_loads_the_compiled_module_from_the_cache(
    make_tool: MakeTool, tmp_path: Path
) -> None:
    wat_tool(make_tool, "echo", "echo")

    async def serve_once() -> dict[str, int]:
        fresh_engine()
        before = stats()
        reloader = Reloader(open_tree([tmp_path], lenient=True, cache=True))
        live = await reloader.start()  # Compiled.start loads the module (make-before-break)
        snap = live.current
        result = await run_tool(snap.tools["echo"], {"n": 1}, LocalCallContext(snap, "echo"))
        assert json.loads(result.text_content()) == {"n": 1}
        await live.close()
        return {k: stats().get(k, 0) - before.get(k, 0) for k in ("compiled", "deserialized")}

    assert await serve_once() == {"compiled": 1, "deserialized": 0}
    cached = list((tmp_path / ".skillz" / "cache" / "wasm").glob("*.cwasm"))
    assert len(cached) == 1
    assert await serve_once() == {"compiled": 0, "deserialized": 1}
    # a damaged cache file is not trusted: compiled again, and rewritten
    cached[0].write_bytes(b"garbage")
    assert await serve_once() == {"compiled": 1, "deserialized": 0}
    assert await serve_once() == {"compiled": 0, "deserialized": 1}


async def test_the_skillz_layout_loads(tmp_path: Path) -> None:
    """A Rust Skillz wasm tool: manifest.json (tool_type wasm), <name>.wasm and src.rs."""
    from wasmtime import wat2wasm

    d = tmp_path / "echoer"
    d.mkdir()
    (d / "echoer.wasm").write_bytes(bytes(wat2wasm((DATA / "echo.wat").read_text())))
    (d / "src.rs").write_text("fn main() {}\n")
    manifest = {"name": "echoer", "description": "Echo", "tool_type": "wasm", "input_schema": {"type": ""}}
    (d / "manifest.json").write_text(json.dumps(manifest))
    tree = open_tree([tmp_path], lenient=True)
    tree.full_scan()
    snap = tree.snapshot()
    assert [x.code for x in snap.diagnostics] == ["SKZ401"]
    result = await run_tool(snap.tools["echoer"], {"k": "v"}, LocalCallContext(snap, "echoer"))
    assert json.loads(result.text_content()) == {"k": "v"}


# --------------------------------------------------------------------------- C and Rust builds


async def test_c_tool_sees_args_env_and_read_only_mounts(
    make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    require("clang", "C wasm tools are built with clang --target=wasm32-wasi")
    d = make_tool(
        "probe",
        """
        kind: wasm
        description: probe
        build: {language: c, source: probe.c}
        wasi:
          args: [first]
          env: {MODE: fast}
          mounts: [{host: data, guest: /data}]
        """,
    )
    shutil.copy(DATA / "probe.c", d / "probe.c")
    (d / "data").mkdir()
    (d / "data" / "note.txt").write_text("hello from the host\n")
    result, ctx = await call("probe", {"x": [1, 2]})
    assert not result.is_error, result
    assert json.loads(result.text_content()) == {
        "argc": 2, "arg1": "first", "mode": "fast", "note": "hello from the host", "wrote": False,
        "input": {"x": [1, 2]},
    }  # fmt: skip
    assert not (d / "data" / "written.txt").exists()
    assert [p for kind, p in ctx.sink if kind == "progress"]  # the lazy build reported progress
    # built once into the cache, outside the tree
    assert len(list((tmp_path / ".skillz" / "cache" / "wasm-build").glob("*/module.wasm"))) == 1
    assert sorted(p.name for p in d.iterdir()) == ["data", "manifest.yaml", "probe.c"]


async def test_c_compiler_errors_point_at_the_source(make_tool: MakeTool, tmp_path: Path) -> None:
    require("clang", "C wasm tools are built with clang --target=wasm32-wasi")
    d = make_tool("bad", "kind: wasm\ndescription: bad\nbuild: {language: c, source: main.c}\n")
    (d / "main.c").write_text("int main(void) {\n    return missing;\n}\n")
    tree = open_tree([tmp_path], lenient=True)
    tree.full_scan()
    snap = tree.snapshot()
    assert "bad" in snap.tools  # compile is side-effect free: the build waits for `build` or a call
    diags = await wasm.WasmRuntime().build(
        snap.specs[d.as_posix()], Services(tree.config, tree.state_dir), lambda m: None, BuildOptions()
    )
    assert [(Path(x.path).name, x.line, x.col, x.code) for x in diags] == [("main.c", 2, 12, "SKZ531")]
    assert "missing" in diags[0].message
    result = await run_tool(snap.tools["bad"], {}, LocalCallContext(snap, "bad"))
    assert result.is_error and "use of undeclared identifier 'missing'" in result.text_content()


async def test_rust_tool_with_serde_json_builds_ahead_of_time_and_runs(
    make_tool: MakeTool, tmp_path: Path
) -> None:
    require_rust()
    d = make_tool(
        "wordcount",
        """
        kind: wasm
        description: Count words
        inputSchema: {type: object, properties: {text: {type: string}}, required: [text]}
        outputSchema: {type: object, properties: {words: {type: integer}}, required: [words]}
        build: {language: rust, source: src.rs, dependencies: ["serde_json@1"]}
        """,
    )
    shutil.copy(DATA / "wordcount.rs", d / "src.rs")
    tree = open_tree([tmp_path], lenient=True)
    tree.full_scan()
    snap = tree.snapshot()
    spec = snap.specs[d.as_posix()]
    services = Services(tree.config, tree.state_dir)
    said: list[str] = []
    before = stats()
    assert await wasm.WasmRuntime().build(spec, services, said.append, BuildOptions()) == []
    assert any("cargo build" in m for m in said)
    assert stats().get("built", 0) == before.get("built", 0) + 1
    assert await wasm.WasmRuntime().build(spec, services, said.append, BuildOptions()) == []  # idempotent
    assert stats().get("built", 0) == before.get("built", 0) + 1
    result = await run_tool(
        snap.tools["wordcount"], {"text": "one two  three"}, LocalCallContext(snap, "wordcount")
    )
    assert not result.is_error, result
    assert result.structured == {"words": 3, "chars": 14}
    panicked = await run_tool(snap.tools["wordcount"], {"text": "panic"}, LocalCallContext(snap, "wordcount"))
    assert panicked.is_error and "trapped: unreachable" in panicked.text_content()
    assert "asked to panic" in panicked.text_content()


async def test_rust_compiler_errors_point_at_the_source(make_tool: MakeTool, tmp_path: Path) -> None:
    require_rust()
    d = make_tool("oops", "kind: wasm\ndescription: oops\nbuild: {language: rust, source: src.rs}\n")
    (d / "src.rs").write_text('fn main() {\n    let n: u32 = "text";\n}\n')
    tree = open_tree([tmp_path], lenient=True)
    tree.full_scan()
    snap = tree.snapshot()
    diags = await wasm.WasmRuntime().build(
        snap.specs[d.as_posix()], Services(tree.config, tree.state_dir), lambda m: None, BuildOptions()
    )
    assert [(Path(x.path).name, x.line, x.code) for x in diags] == [("src.rs", 2, "SKZ531")]
    assert "mismatched types" in diags[0].message


# --------------------------------------------------------------------------- dependencies


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("serde_json", ("serde_json", "*", ())),
        ("serde_json@1", ("serde_json", "1", ())),
        ("serde@1.0[derive]", ("serde", "1.0", ("derive",))),
        ("rand@>=0.8, <0.9", ("rand", ">=0.8, <0.9", ())),
        ("itoa@~1.0.4", ("itoa", "~1.0.4", ())),
    ],
)
def test_good_crate_specs_parse(spec: str, expected: tuple[str, str, tuple[str, ...]]) -> None:
    assert wasmbuild.parse_dependency(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        'serde@1"\n[patch.crates-io]',
        "serde@{ git = 'https://example.com/x' }",
        'x@1[derive"]',
        "../path",
        "1serde",
        "serde@latest",
        "serde@1; rm -rf /",
        "a" * 65,
    ],
)
def test_injection_and_non_registry_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        wasmbuild.parse_dependency(spec)


def test_generated_cargo_toml_quotes_everything() -> None:
    text = wasmbuild.cargo_toml("skillz_tool", ["serde@1.0[derive]", "serde_json"])
    assert '"serde" = { version = "1.0", features = ["derive"] }' in text
    assert '"serde_json" = { version = "*" }' in text
    assert "build = false" in text  # no build script runs on the host


async def test_a_bad_dependency_is_a_manifest_diagnostic(make_tool: MakeTool, tmp_path: Path) -> None:
    d = make_tool(
        "dep",
        "kind: wasm\ndescription: d\n"
        'build: {language: rust, source: src.rs, dependencies: ["serde@latest"]}\n',
    )
    (d / "src.rs").write_text("fn main() {}\n")
    tree = open_tree([tmp_path], lenient=True)
    tree.full_scan()
    snap = tree.snapshot()
    assert [(x.code, x.line) for x in snap.diagnostics] == [("SKZ532", 3)]
    assert "dep" not in snap.tools


# --------------------------------------------------------------------------- build_tool over MCP


WAT_TOOL = (DATA / "echo.wat").read_text()


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_build_tool_through_a_real_client(tmp_path: Path, mode: str) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    async with served([root]) as (_, server), Client(server.server, mode=mode) as c:
        assert "build_tool" in [t.name for t in (await c.list_tools()).tools]
        result = await c.call_tool(
            "build_tool",
            {
                "name": "echo-back",
                "language": "wat",
                "code": WAT_TOOL,
                "description": "Echo the arguments",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        )
        assert not result.is_error, result
        assert (root / "tools" / "echo-back" / "module.wat").read_text() == WAT_TOOL
        called = await c.call_tool("echo-back", {"q": "hi"})
        assert not called.is_error and json.loads(called.content[0].text) == {"q": "hi"}  # type: ignore[union-attr]
        again = await c.call_tool("build_tool", {"name": "echo-back", "language": "wat", "code": WAT_TOOL,
                                                 "description": "x"})  # fmt: skip
        assert again.is_error and "overwrite" in again.content[0].text  # type: ignore[union-attr]
        broken = await c.call_tool(
            "build_tool",
            {"name": "bad", "language": "wat", "code": "(module (func (i32.nope)))", "description": "x"},
        )
        assert broken.is_error and "nope" in broken.content[0].text  # type: ignore[union-attr]
        assert not (root / "tools" / "bad").exists()


async def test_build_tool_c_error_returns_the_compiler_message_and_writes_nothing(tmp_path: Path) -> None:
    require("clang", "C wasm tools are built with clang --target=wasm32-wasi")
    root = tmp_path / "tree"
    root.mkdir()
    async with served([root]) as (_, server), Client(server.server, mode="legacy") as c:
        bad = await c.call_tool("build_tool", {"name": "cbad", "language": "c", "description": "x",
                                               "code": "int main(void) { return nope; }\n"})  # fmt: skip
        text = bad.content[0].text  # type: ignore[union-attr]
        assert bad.is_error and "cbad/main.c:1:25" in text and "undeclared identifier 'nope'" in text
        assert not (root / "tools" / "cbad").exists()
        code = (DATA / "probe.c").read_text()
        good = await c.call_tool("build_tool", {"name": "cprobe", "language": "c", "description": "probe",
                                                "code": code})  # fmt: skip
        assert not good.is_error, good
        assert good.structured_content is not None and good.structured_content["built"] == "compiled"
        out = await c.call_tool("cprobe", {"z": 1})
        assert json.loads(out.content[0].text)["input"] == {"z": 1}  # type: ignore[union-attr]


async def test_build_tool_is_off_when_read_only(tmp_path: Path) -> None:
    reloader = Reloader(open_tree([tmp_path], lenient=True, config_overrides={"readOnly": True}))
    live = await reloader.start()
    assert "build_tool" not in live.current.tools
    await live.close()


# --------------------------------------------------------------------------- skillz-engine build


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skillz_engine", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_skillz_engine_build_builds_ahead_of_time_then_reports_cached(tmp_path: Path) -> None:
    require("clang", "C wasm tools are built with clang --target=wasm32-wasi")
    tree = tmp_path / "tree"
    probe = tree / "tools" / "probe"
    probe.mkdir(parents=True)
    (probe / "manifest.yaml").write_text(
        "kind: wasm\ndescription: probe\nbuild: {language: c, source: probe.c}\n"
    )
    shutil.copy(DATA / "probe.c", probe / "probe.c")
    echo = tree / "tools" / "echo"
    echo.mkdir(parents=True)
    (echo / "manifest.yaml").write_text("kind: wasm\ndescription: echo\nmodule: echo.wat\n")
    shutil.copy(DATA / "echo.wat", echo / "echo.wat")

    first = _cli("build", str(tree), cwd=tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "probe (wasm): module compiled and cached for restarts" in first.stderr
    assert "echo (wasm): module compiled and cached for restarts" in first.stderr
    assert len(list((tree / ".skillz" / "cache" / "wasm-build").glob("*/module.wasm"))) == 1
    assert len(list((tree / ".skillz" / "cache" / "wasm").glob("*.cwasm"))) == 2

    again = _cli("build", str(tree), cwd=tmp_path)
    assert again.returncode == 0
    assert "probe (wasm): cached" in again.stderr and "echo (wasm): cached" in again.stderr

    called = _cli("call", "probe", str(tree), "--json", "--args", '{"k": 1}', cwd=tmp_path)
    assert called.returncode == 0, called.stderr
    assert "[progress]" not in called.stderr  # built ahead of time: the call builds nothing
    assert json.loads(json.loads(called.stdout)["content"][0]["text"])["input"] == {"k": 1}
