"""``kind: command``: argv templates rendered over the arguments and run with no shell."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.runtimes.command import argv_value
from skillz_engine.tree.diagnostics import Severity
from skillz_engine.tree.model import ToolResult
from tests.conftest import Call, MakeTool

# prints its argv (after the program name) as a JSON list
ARGV_JSON = "import json, sys; print(json.dumps(sys.argv[1:]))"


def args_of(result: ToolResult) -> list[str]:
    assert not result.is_error, result.text_content()
    value = json.loads(result.text_content())
    assert isinstance(value, list)
    return value


def test_argv_value() -> None:
    """Lists expand; strings pass as is; other values become JSON text."""
    assert argv_value(["a", 1, True, None]) == ["a", "1", "true", "null"]
    assert argv_value("x y") == ["x y"]
    assert argv_value(False) == ["false"]
    assert argv_value(2.5) == ["2.5"]
    assert argv_value({"k": "é"}) == ['{"k": "é"}']
    assert argv_value([]) == []


@pytest.mark.anyio
async def test_argv_rendering(make_tool: MakeTool, call: Call) -> None:
    """Each argv element is rendered with the arguments; a whole-value list expands into elements."""
    make_tool("show", f"""
        kind: command
        description: show argv
        argv: [python3, -c, "{ARGV_JSON}", "--name={{{{ name }}}}", "{{{{ files }}}}", "{{{{ count }}}}",
               "{{{{ flag }}}}", "{{{{ name | upper }}}}"]
        """)  # fmt: skip
    result, _ = await call("show", {"name": "ada", "files": ["a.txt", "b c.txt"], "count": 3, "flag": True})
    assert args_of(result) == ["--name=ada", "a.txt", "b c.txt", "3", "true", "ADA"]


@pytest.mark.anyio
async def test_shell_metacharacters_are_literal(make_tool: MakeTool, call: Call, tmp_path: Path) -> None:
    """Shell metacharacters in arguments reach the program as one literal argv element."""
    make_tool("show", f"""
        kind: command
        description: show argv
        argv: [python3, -c, "{ARGV_JSON}", "{{{{ text }}}}"]
        """)  # fmt: skip
    nasty = f'"; rm -rf {tmp_path}/show; echo $HOME `id` $(id) | cat > x'
    result, _ = await call("show", {"text": nasty})
    assert args_of(result) == [nasty]
    assert (tmp_path / "show" / "manifest.yaml").exists() and not (tmp_path / "show" / "x").exists()


@pytest.mark.anyio
async def test_missing_argument_is_error(make_tool: MakeTool, call: Call) -> None:
    """A template variable that is not an argument makes an isError result naming it."""
    make_tool("greet", """
        kind: command
        description: greet
        argv: [echo, "hello {{ who }}"]
        """)  # fmt: skip
    result, _ = await call("greet", {"someone": "x"})
    assert result.is_error
    assert "'who' is undefined" in result.text_content() and "argv[1]" in result.text_content()


@pytest.mark.anyio
async def test_optional_arguments(make_tool: MakeTool, call: Call) -> None:
    """Optional properties left out are falsy in `if`, take `default(...)` and schema defaults."""
    make_tool("opt", f"""
        kind: command
        description: optional arguments
        inputSchema:
          type: object
          properties:
            verbose: {{type: boolean}}
            limit: {{type: integer}}
            mode: {{type: string, default: fast}}
            paths: {{type: array, items: {{type: string}}}}
        argv: [python3, -c, "{ARGV_JSON}", "{{% if verbose %}}-v{{% else %}}-q{{% endif %}}",
               "--limit={{{{ limit | default(10) }}}}", "--mode={{{{ mode }}}}",
               "{{{{ paths if paths is defined else [] }}}}"]
        """)  # fmt: skip
    result, _ = await call("opt")
    assert args_of(result) == ["-q", "--limit=10", "--mode=fast"]
    result, _ = await call("opt", {"verbose": True, "limit": 2, "mode": "slow", "paths": ["p"]})
    assert args_of(result) == ["-v", "--limit=2", "--mode=slow", "p"]


@pytest.mark.anyio
async def test_printing_absent_optional_is_error(make_tool: MakeTool, call: Call) -> None:
    """Printing an optional argument the call left out is an error naming it, not an empty string."""
    make_tool("opt", """
        kind: command
        description: d
        inputSchema: {type: object, properties: {ref: {type: string}}}
        argv: [echo, "--ref={{ ref }}"]
        """)  # fmt: skip
    result, _ = await call("opt")
    assert result.is_error and "'ref' is undefined" in result.text_content()


@pytest.mark.anyio
async def test_stdout_json(make_tool: MakeTool, call: Call) -> None:
    """stdout: json parses stdout (structured with an outputSchema); non-JSON stdout is an error."""
    make_tool("js", """
        kind: command
        description: json out
        stdout: json
        outputSchema: {type: object, properties: {n: {type: integer}}, required: [n]}
        argv: [python3, -c, "print('{\\"n\\": {{ n }}}')"]
        """)  # fmt: skip
    make_tool("notjs", """
        kind: command
        description: not json
        stdout: json
        argv: [echo, "not json"]
        """)  # fmt: skip
    good, _ = await call("js", {"n": 5})
    assert good.structured == {"n": 5} and not good.is_error
    bad, _ = await call("notjs")
    assert bad.is_error and "not JSON" in bad.text_content() and "not json" in bad.text_content()


@pytest.mark.anyio
async def test_stdin_template_and_text_output(make_tool: MakeTool, call: Call) -> None:
    """The stdin template is rendered and written to the program; text stdout is the result."""
    make_tool("up", """
        kind: command
        description: upper
        stdin: "{{ text }}"
        argv: [tr, a-z, A-Z]
        """)  # fmt: skip
    result, _ = await call("up", {"text": "shout\nthis"})
    assert result.text_content() == "SHOUT\nTHIS" and not result.is_error


@pytest.mark.anyio
async def test_ok_exit_codes(make_tool: MakeTool, call: Call) -> None:
    """Exit codes in okExitCodes succeed; others are isError with the code and stderr."""
    make_tool("grepper", """
        kind: command
        description: grep
        okExitCodes: [0, 1]
        stdin: "alpha\\nbeta\\n"
        argv: [grep, "{{ pattern }}"]
        """)  # fmt: skip
    make_tool("fails", """
        kind: command
        description: fails
        argv: [sh, -c, "echo broken pipe dream >&2; exit 3"]
        """)  # fmt: skip
    hit, _ = await call("grepper", {"pattern": "alp"})
    assert hit.text_content() == "alpha" and not hit.is_error
    miss, _ = await call("grepper", {"pattern": "zzz"})
    assert not miss.is_error and miss.text_content() == ""
    broken, _ = await call("grepper", {"pattern": "["})
    assert broken.is_error and "exited with code 2" in broken.text_content()
    fails, _ = await call("fails")
    assert fails.is_error and "exited with code 3" in fails.text_content()
    assert "broken pipe dream" in fails.text_content()


@pytest.mark.anyio
async def test_timeout(make_tool: MakeTool, call: Call) -> None:
    """A command that outlives limits.timeout is killed and reported as timed out."""
    make_tool("nap", """
        kind: command
        description: nap
        limits: {timeout: 300ms}
        argv: [sleep, "30"]
        """)  # fmt: skip
    result, _ = await call("nap")
    assert result.is_error and "timed out after 0.3s" in result.text_content()


def test_template_syntax_error_diagnostic(make_tool: MakeTool, snapshot: Callable[[], Snapshot]) -> None:
    """A bad argv template is error SKZ503 at the element's line and column; the tool is not served."""
    make_tool("broken", """
        kind: command
        description: broken
        argv:
          - echo
          - "{{ name }"
        """)  # fmt: skip
    snap = snapshot()
    diags = [d for d in snap.diagnostics if d.code == "SKZ503"]
    assert len(diags) == 1
    d = diags[0]
    assert (d.line, d.col) == (5, 5) and d.severity is Severity.ERROR
    assert d.path.endswith("broken/manifest.yaml") and "argv[1]" in d.message and d.hint
    assert "broken" not in snap.tools


def test_stdin_syntax_error_diagnostic(make_tool: MakeTool, snapshot: Callable[[], Snapshot]) -> None:
    """A bad stdin template is error SKZ503 at the stdin value."""
    make_tool("broken", """
        kind: command
        description: broken
        stdin: "{% if x %}"
        argv: [cat]
        """)  # fmt: skip
    (d,) = [d for d in snapshot().diagnostics if d.code == "SKZ503"]
    assert (d.line, d.col) == (3, 8) and "stdin" in d.message


def test_missing_program_is_a_warning(make_tool: MakeTool, snapshot: Callable[[], Snapshot]) -> None:
    """A program not found on PATH is warning SKZ504 (the serving machine may have it), not an error."""
    make_tool("ghost", """
        kind: command
        description: ghost
        argv: [no-such-program-xyz, "{{ a }}"]
        """)  # fmt: skip
    make_tool("templated", """
        kind: command
        description: the program comes from an argument
        argv: ["{{ program }}"]
        """)  # fmt: skip
    snap = snapshot()
    (d,) = [d for d in snap.diagnostics if d.code == "SKZ504"]
    assert d.severity is Severity.WARNING and (d.line, d.col) == (3, 8) and "no-such-program-xyz" in d.message
    assert "templated" in snap.tools


@pytest.mark.anyio
async def test_program_from_template_and_missing_at_call(make_tool: MakeTool, call: Call) -> None:
    """A program that cannot be started is an isError result naming it."""
    make_tool("run", """
        kind: command
        description: run a program
        argv: ["{{ program }}"]
        """)  # fmt: skip
    result, _ = await call("run", {"program": "no-such-program-xyz"})
    assert result.is_error and "no-such-program-xyz" in result.text_content()
    ok, _ = await call("run", {"program": "true"})
    assert not ok.is_error


@pytest.mark.anyio
async def test_cwd_and_env(make_tool: MakeTool, call: Call) -> None:
    """cwd is relative to the entry; env reaches the program."""
    d = make_tool("where", """
        kind: command
        description: where am I
        cwd: data
        env: {GREETING: hi}
        argv: [sh, -c, 'echo "$PWD $GREETING"']
        """)  # fmt: skip
    (d / "data").mkdir()
    result, _ = await call("where")
    assert result.text_content() == f"{(d / 'data').resolve()} hi"


@pytest.mark.anyio
async def test_extract_shapes_stdout(make_tool: MakeTool, call: Call) -> None:
    """extract.regex keeps a capture (group `value`, else group 1, else the match); extract.pointer
    keeps a JSON value; no match or nothing at the pointer is an error that shows the output."""
    make_tool("first", """
        kind: command
        description: digest
        stdin: "{{ text }}"
        argv: [sha256sum]
        extract: {regex: '^([0-9a-f]+)'}
        """)  # fmt: skip
    make_tool("named", """
        kind: command
        description: named group
        argv: [echo, "size=42 unit=kB"]
        extract: {regex: 'unit=(\\w+) |size=(?P<value>\\d+)'}
        """)  # fmt: skip
    make_tool("nomatch", """
        kind: command
        description: no digits
        argv: [echo, "no digits here"]
        extract: {regex: '\\d+'}
        """)  # fmt: skip
    make_tool("ptr", """
        kind: command
        description: pointer
        stdout: json
        argv: [python3, -c, "print('{\\"a\\": [{\\"b/c\\": {{ n }}}]}')"]
        extract: {pointer: /a/0/b~1c}
        """)  # fmt: skip
    digest, _ = await call("first", {"text": "hello"})
    assert digest.text_content() == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    named, _ = await call("named")
    assert named.text_content() == "42"
    miss, _ = await call("nomatch")
    assert miss.is_error and "does not match extract.regex" in miss.text_content()
    assert "no digits here" in miss.text_content()
    value, _ = await call("ptr", {"n": 7})
    assert value.text_content() == "7" and not value.is_error
    make_tool("ptr2", """
        kind: command
        description: pointer to nothing
        stdout: json
        argv: [echo, '{"a": 1}']
        extract: {pointer: /b}
        """)  # fmt: skip
    nothing, _ = await call("ptr2")
    assert nothing.is_error and "nothing at 'b'" in nothing.text_content()


def test_extract_problems_are_positioned(make_tool: MakeTool, snapshot: Callable[[], Snapshot]) -> None:
    """A regex that does not compile, or a pointer over text, is SKZ515 at its key; not served."""
    make_tool("badre", """
        kind: command
        description: bad regex
        argv: [echo, hi]
        extract:
          regex: '(unclosed'
        """)  # fmt: skip
    make_tool("textptr", """
        kind: command
        description: pointer over text
        argv: [echo, hi]
        extract:
          pointer: /a
        """)  # fmt: skip
    snap = snapshot()
    found = {d.path.split("/")[-2]: d for d in snap.diagnostics if d.code == "SKZ515"}
    assert set(found) == {"badre", "textptr"}
    assert (found["badre"].line, found["badre"].col) == (5, 10) and "does not compile" in found[
        "badre"
    ].message
    assert found["textptr"].line == 5 and "stdout: json" in (found["textptr"].hint or "")
    assert "badre" not in snap.tools and "textptr" not in snap.tools
