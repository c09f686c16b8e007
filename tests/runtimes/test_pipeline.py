"""Pipelines: steps over other tools, typed templates, Skillz references, when, onError, output."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.runtimes.base import LocalCallContext, run_tool

UPPER = (
    "kind: command\ndescription: upper\n"
    'argv: [python3, -c, "import sys; print(sys.argv[1].upper())", "{{ text }}"]\n'
)
JSON = (
    "kind: command\ndescription: json\nstdout: json\n"
    'argv: [python3, -c, \'import json,sys; print(json.dumps({"n": len(sys.argv[1]), "s": sys.argv[1]}))\', '
    '"{{ text }}"]\n'
)
FAIL = "kind: command\ndescription: fails\nargv: [python3, -c, 'import sys; sys.exit(2)']\n"


def _tree(tmp_path: Path, pipeline: str) -> Tree:
    for name, text in (("upper", UPPER), ("measure", JSON), ("fail", FAIL)):
        (tmp_path / "tools" / name).mkdir(parents=True)
        (tmp_path / "tools" / name / "manifest.yaml").write_text(text)
    (tmp_path / "pipelines/p").mkdir(parents=True)
    (tmp_path / "pipelines/p/manifest.yaml").write_text(pipeline)
    tree = Tree([tmp_path])
    tree.full_scan()
    return tree


async def _call(tmp_path: Path, pipeline: str, args: dict[str, object]):  # type: ignore[no-untyped-def]
    snap = _tree(tmp_path, pipeline).snapshot()
    assert snap.errors == (), snap.errors
    ctx = LocalCallContext(snap, "p")
    return await run_tool(snap.tools["p"], args, ctx), ctx


@pytest.mark.anyio
async def test_steps_feed_each_other_with_types_kept(tmp_path: Path) -> None:
    """A step's structured value is reachable as steps.<id>; a lone {{ expr }} keeps its type."""
    result, ctx = await _call(
        tmp_path,
        """kind: pipeline
description: measure then shout
steps:
  - id: m
    tool: measure
    args: {text: "{{ input.text }}"}
  - id: up
    tool: upper
    args: {text: "{{ steps.m.s }} has {{ steps.m.n }} chars"}
output:
  shout: "{{ steps.up }}"
  length: "{{ steps.m.n }}"
""",
        {"text": "hello"},
    )
    assert not result.is_error, result
    assert result.structured is None and '"length": 5' in result.text_content()
    assert "HELLO HAS 5 CHARS" in result.text_content()
    assert [k for k, _ in ctx.sink].count("progress") == 3


@pytest.mark.anyio
async def test_skillz_dollar_references(tmp_path: Path) -> None:
    """$input.x, $prev and $<step>.x work as in Rust Skillz, and the last value is the default output."""
    result, _ = await _call(
        tmp_path,
        """kind: pipeline
description: legacy refs
steps:
  - id: m
    tool: measure
    args: {text: $input.text}
  - id: up
    tool: upper
    args: {text: $m.s}
""",
        {"text": "abc"},
    )
    assert result.text_content().strip() == "ABC"


@pytest.mark.anyio
async def test_when_skips_and_on_error_continue(tmp_path: Path) -> None:
    """A falsy `when` skips a step; onError: continue records the failure and goes on."""
    result, _ = await _call(
        tmp_path,
        """kind: pipeline
description: branches
steps:
  - id: maybe
    tool: upper
    when: "input.loud"
    args: {text: never}
  - id: bad
    tool: fail
    onError: continue
  - id: last
    tool: upper
    args: {text: "{{ 'skipped' if steps.maybe is not defined else 'ran' }}"}
""",
        {"loud": False},
    )
    assert not result.is_error and result.text_content().strip() == "SKIPPED"


@pytest.mark.anyio
async def test_failing_step_names_itself_and_retries(tmp_path: Path) -> None:
    """A failing step stops the run with an isError that names the step (after its retries)."""
    result, _ = await _call(
        tmp_path,
        """kind: pipeline
description: fails
steps:
  - id: boom
    tool: fail
    onError: retry
    retries: 1
""",
        {},
    )
    assert result.is_error and "step 'boom' (fail) failed" in result.text_content()


def test_template_error_in_args_is_a_diagnostic(tmp_path: Path) -> None:
    """A broken template in a step's args is reported at its position at compile time."""
    snap = _tree(
        tmp_path,
        "kind: pipeline\ndescription: x\nsteps:\n  - id: a\n    tool: upper\n    args: {text: '{{ oops '}\n",
    ).snapshot()
    d = [d for d in snap.diagnostics if d.code == "SKZ503"]
    assert d and d[0].line == 6 and "p" not in snap.tools
