"""The spec cache across serve starts: same snapshot as a cold compile, invalidated by any change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.build.contract import CompileProblem, Services
from skillz_engine.build.restore import LazyData, ReparsePositions
from skillz_engine.runtimes.base import LocalCallContext, run_tool
from skillz_engine.tree.model import Compiled, EntrySpec

CMD = 'kind: command\ndescription: Say {{ "hi" }}\nargv: [echo, "hi {{ who }}"]\n'
BROKEN = "kind: command\ndescription: 3\nargv: [echo]\n"
PROMPT = "kind: prompt\ndescription: p\nmessages:\n  - role: user\n    content: hi {{ x }}\n"


def _tree(root: Path, write) -> None:  # type: ignore[no-untyped-def]
    write("tools/hello/manifest.yaml", CMD, root=root)
    write("tools/broken/manifest.yaml", BROKEN, root=root)
    write("tools/extra/manifest.yaml", CMD + "bogus: 1\n", root=root)
    write("prompts/p/manifest.yaml", PROMPT, root=root)
    write("pipelines/pl/manifest.yaml",
          "kind: pipeline\ndescription: p\nsteps:\n  - id: a\n    tool: hello\n    args: {who: you}\n",
          root=root)  # fmt: skip


def _start(root: Path):  # type: ignore[no-untyped-def]
    tree = Tree([root], lenient=True, cache=True)
    tree.full_scan()
    return tree, tree.snapshot()


def _view(snap) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    return (
        [t.definition() for t in snap.tools.values()],
        [(t.name, t.digest) for t in snap.tools.values()],
        sorted(snap.prompts),
        [d.format() for d in snap.diagnostics],
    )


@pytest.mark.anyio
async def test_warm_start_serves_what_a_cold_compile_serves(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A restart from the cache lists the same tools, digests and diagnostics, and tools still run."""
    _tree(tmp_path, write)
    cold_tree, cold = _start(tmp_path)
    cache_file = cold_tree.state_dir / "cache" / "specs.json"
    assert cache_file.is_file()
    assert (cold_tree.state_dir / ".gitignore").read_text() == "*\n"
    warm_tree, warm = _start(tmp_path)
    assert _view(warm) == _view(cold)
    hello = warm_tree.results[(tmp_path / "tools/hello").resolve().as_posix()]
    assert type(hello.compiled.tools[0].invoke).__name__ == "_LazyInvoke"  # from the cache, not parsed
    assert "broken" not in warm.tools and any(d.code == "SKZ103" for d in warm.diagnostics)
    ctx = LocalCallContext(warm, "pl")
    result = await run_tool(warm.tools["pl"], {}, ctx)
    assert result.text_content().strip() == "hi you", result
    result = await run_tool(warm.tools["hello"], {"who": "cache"}, LocalCallContext(warm, "hello"))
    assert result.text_content().strip() == "hi cache"


def test_a_changed_file_is_compiled_again(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """An entry whose files changed since the cache was written is parsed and validated anew."""
    _tree(tmp_path, write)
    _start(tmp_path)
    write("tools/hello/manifest.yaml", CMD.replace("Say", "Greet"), root=tmp_path)
    write("tools/broken/manifest.yaml", CMD, root=tmp_path)
    _, snap = _start(tmp_path)
    assert snap.tools["hello"].description.startswith("Greet")
    assert "broken" in snap.tools and not any(d.code == "SKZ103" for d in snap.diagnostics)


def test_config_change_or_corruption_invalidates_everything(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A skillz.yaml edit or a corrupt cache file means a full compile, never a crash."""
    _tree(tmp_path, write)
    tree, cold = _start(tmp_path)
    cache_file = tree.state_dir / "cache" / "specs.json"
    cache_file.write_text("{not json")
    _, snap = _start(tmp_path)
    assert _view(snap) == _view(cold)
    data = json.loads(cache_file.read_text())  # rewritten whole
    assert data["format"] == 3
    write("skillz.yaml", "server:\n  name: renamed\n", root=tmp_path)
    _, snap = _start(tmp_path)
    assert snap.config.server_name == "renamed" and _view(snap)[0] == _view(cold)[0]


def test_validate_never_uses_the_cache(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """validate (cache=False) writes no cache and reads none."""
    _tree(tmp_path, write)
    tree = Tree([tmp_path])
    tree.full_scan()
    assert not (tree.state_dir / "cache").exists()


class _RefusingCommands:
    """A real runtime for ``kind: command`` that refuses every entry, as a runtime does when
    something outside the entry's files (a program, a dependency) went away since the cache was
    written: only a lazy compile, on the first call, can notice."""

    kind = "command"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        raise CompileProblem([spec.diag(("argv",), "SKZ999", "the program went away", "Install it again.")])


@pytest.mark.anyio
async def test_a_lazy_compile_that_fails_answers_is_error_with_the_diagnostic(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A tool listed from the cache whose runtime refuses it on the first call: that call answers
    ``isError`` with the runtime's diagnostic, at the manifest's position; the tree stays up."""
    _tree(tmp_path, write)
    _start(tmp_path)
    warm_tree = Tree([tmp_path], lenient=True, cache=True, runtimes={"command": _RefusingCommands()})
    warm_tree.full_scan()
    warm = warm_tree.snapshot()
    assert "hello" in warm.tools  # listed from the cache: nothing compiled yet
    result = await run_tool(warm.tools["hello"], {"who": "x"}, LocalCallContext(warm, "hello"))
    assert result.is_error and "the program went away" in result.text_content()
    assert "manifest.yaml:3:" in result.text_content()  # the position, read again from the file


def test_a_restored_spec_decodes_nothing_until_read(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A warm start keeps a lazy kind's manifest data as JSON text and its positions unread;
    `enabled` and references are answered without decoding; what is read equals the cold spec."""
    _tree(tmp_path, write)
    write("tools/off/manifest.yaml", CMD + "enabled: false\n", root=tmp_path)
    cold_tree, cold = _start(tmp_path)
    warm_tree, warm = _start(tmp_path)
    assert "off" not in warm.tools and "off" not in cold.tools
    key = (tmp_path / "tools/hello").resolve().as_posix()
    spec = warm_tree.results[key].spec
    assert spec is not None and isinstance(spec.data, LazyData)
    pl = warm_tree.results[(tmp_path / "pipelines/pl").resolve().as_posix()].spec
    assert pl is not None and [r.name for r in pl.refs] == ["hello"]
    assert isinstance(pl.data, LazyData) and pl.data._real is None  # refs came from the cache
    cold_spec = cold_tree.results[key].spec
    assert cold_spec is not None
    assert isinstance(spec.positions, ReparsePositions) and spec.positions._real is None
    assert spec.positions.value(("argv", 1)) == cold_spec.positions.value(("argv", 1)) == (3, 14)
    assert dict(spec.data) == dict(cold_spec.data) and spec.record == cold_spec.record


def test_a_warm_start_shares_what_many_tools_repeat(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Two tools with the same annotations and one property written alike: after a restart they
    hold one object each for those, and list exactly what a cold compile lists."""
    extra = (
        "inputSchema: {type: object, properties: {who: {type: string, maxLength: 9}, n: {type: integer}}}\n"
        "annotations: {readOnlyHint: true}\n"
    )
    write("tools/a/manifest.yaml", CMD + extra, root=tmp_path)
    write("tools/b/manifest.yaml", CMD.replace("Say", "Tell") + extra, root=tmp_path)
    _, cold = _start(tmp_path)
    _, warm = _start(tmp_path)
    a, b = warm.tools["a"], warm.tools["b"]
    assert a.annotations is b.annotations and a.annotations == {"readOnlyHint": True}
    assert a.input_schema["properties"]["who"] is b.input_schema["properties"]["who"]
    assert a.input_schema is not b.input_schema
    assert [t.definition() for t in warm.tools.values()] == [t.definition() for t in cold.tools.values()]
