"""``kind: command``: one command line, built from templates over the arguments, run with no shell.

Each ``argv`` element is a Jinja2 template (sandboxed, StrictUndefined) over the call's arguments:

* an element that is exactly one ``{{ expr }}`` keeps the expression's type: a list expands into
  several arguments (an empty list into none), a string is passed as is, anything else as JSON
  text (``true``, ``3``, ``null``, ``{"a": 1}``);
* any other element renders to one string argument (use ``| tojson`` for JSON text there);
* a name that is neither an argument nor a property of ``inputSchema`` is an error naming it;
  an optional property the call left out is *absent*: false in ``{% if x %}``, replaced by
  ``x | default(...)``, ``x is defined`` is false, but printing it is an error naming it. A
  property with a ``default`` in ``inputSchema`` gets that default.

No shell ever runs: arguments reach the program exactly as rendered, one element each, so
``"; rm -rf /"`` is a single harmless argument. ``stdin`` (a template) is written to the program's
stdin. ``stdout: text`` returns stdout as text; ``stdout: json`` parses it (an error if it is not
JSON); ``extract`` keeps part of it (``regex``: a capture of the text; ``pointer``: a JSON value).
Exit codes outside ``okExitCodes`` (default ``[0]``) make an error result with stderr.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Undefined

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.command import Launcher, build_env
from skillz_engine.isolation.process import run
from skillz_engine.runtimes import results
from skillz_engine.runtimes.base import CompileProblem, Services, tool_def
from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.model import Args, Compiled, EntrySpec, ToolResult
from skillz_engine.tree.parse import JsonPath
from skillz_engine.tree.specs import CommandSpec
from skillz_engine.tree.templating import TemplateError, check_syntax, render, render_value

__all__ = ["CommandRuntime", "argv_value"]

_TEMPLATE_MARKS = ("{{", "{%", "{#")


class _Absent(StrictUndefined):
    """An optional argument the call left out: falsy, empty, equal to nothing; printing it fails."""

    __slots__ = ()
    # StrictUndefined types these as "always raises"; the overrides below are the point of the class

    def __bool__(self) -> bool:  # type: ignore[override]
        return False

    def __len__(self) -> int:  # type: ignore[override]
        return 0

    def __iter__(self) -> Any:
        return iter(())

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        return isinstance(other, Undefined)

    def __ne__(self, other: object) -> bool:  # type: ignore[override]
        return not isinstance(other, Undefined)

    def __hash__(self) -> int:  # type: ignore[override]
        return id(type(self))


def argv_value(value: Any) -> list[str]:
    """The argv elements one rendered element becomes (lists expand; non-strings become JSON)."""
    if isinstance(value, list | tuple):
        return [_scalar(v) for v in value]
    return [_scalar(value)]


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | dict | list | tuple) or value is None:
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _syntax(spec: EntrySpec, path: JsonPath, label: str, source: str) -> list[Diagnostic]:
    problem = check_syntax(source)
    if problem is None:
        return []
    line, message = problem
    where = f" (template line {line})" if line > 1 else ""
    return [
        spec.diag(path, "SKZ503", f"template syntax error in {label}{where}: {message}",
                  "Fix the Jinja2 template: `{{ name }}` inserts an argument, `{% if name %}...{% endif %}` "
                  "tests one; write a literal `{{` as `{{ '{{' }}`.")
    ]  # fmt: skip


@functools.lru_cache(maxsize=1024)
def _which(program: str, path: str) -> str | None:
    """``shutil.which``, remembered: a tree of many commands asks for the same few programs."""
    return shutil.which(program, path=path)


def _program_warning(spec: EntrySpec, program: str, cwd: Path) -> list[Diagnostic]:
    if any(mark in program for mark in _TEMPLATE_MARKS) or program.startswith("/"):
        return []
    if "/" in program:
        if (cwd / program).is_file():
            return []
        message = f"program {program!r} does not exist (relative to {cwd.name}/)"
    elif _which(program, build_env(spec)["PATH"]) is not None:
        return []
    else:
        message = f"program {program!r} is not found on PATH on this machine"
    hint = "Install it, or name it by absolute path; calls fail until the program is there."
    return [spec.diag(("argv", 0), "SKZ504", message, hint, Severity.WARNING)]


def _extract_regex(spec: EntrySpec, r: CommandSpec) -> tuple[re.Pattern[str] | None, list[Diagnostic]]:
    """``extract``, checked once at compile: a regex that compiles, a pointer only over JSON."""
    if r.extract is None:
        return None, []
    if r.extract.pointer is not None and r.stdout != "json":
        hint = "Add `stdout: json`, or use `extract: {regex: ...}` over text."
        return None, [
            spec.diag(("extract", "pointer"), "SKZ515", "extract.pointer needs `stdout: json`", hint)
        ]
    if r.extract.regex is None:
        return None, []
    try:
        return re.compile(r.extract.regex, re.MULTILINE), []
    except re.error as exc:
        hint = "Fix the Python regular expression; `(?P<value>...)` or the first group is the result."
        return None, [
            spec.diag(("extract", "regex"), "SKZ515", f"extract.regex does not compile: {exc}", hint)
        ]


def _captured(found: re.Match[str]) -> str:
    """The group named ``value``, else the first group, else the whole match."""
    if "value" in found.re.groupindex:
        return found.group("value") or ""
    return (found.group(1) if found.re.groups else found.group(0)) or ""


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at RFC 6901 ``pointer`` in ``document``; ``LookupError`` naming the step that fails."""
    value = document
    if not pointer:
        return value
    for raw in pointer[1:].split("/"):
        step = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, Mapping) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            raise LookupError(f"extract.pointer {pointer!r}: nothing at {step!r}")
    return value


class CommandRuntime:
    """Compiles ``kind: command`` entries into one tool each."""

    kind = "command"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        from skillz_engine.tree.validate import entry_path

        r = spec.record_as(CommandSpec)
        argv = [str(a) for a in r.argv]
        diags: list[Diagnostic] = []
        for i, element in enumerate(argv):
            diags += _syntax(spec, ("argv", i), f"argv[{i}]", element)
        if r.stdin is not None:
            diags += _syntax(spec, ("stdin",), "stdin", r.stdin)
        cwd: Path | None = spec.dir
        if r.cwd is not None:
            cwd, more = entry_path(spec, ("cwd",), r.cwd, kind="dir")
            diags += more
        pattern, more = _extract_regex(spec, r)
        diags += more
        if diags or cwd is None:
            raise CompileProblem(diags)
        launcher = Launcher(spec, cwd=cwd, config=services.config)
        command = _Command(spec, services, r, tuple(argv), cwd, launcher, pattern)
        tool = tool_def(spec, command.invoke)
        compiled = Compiled(spec, tools=(tool,))
        warnings = _program_warning(spec, argv[0], cwd)
        if warnings:
            raise CompileProblem(warnings, compiled)
        return compiled


@dataclass(frozen=True, slots=True)
class _Command:
    spec: EntrySpec
    services: Services
    record: CommandSpec
    argv: tuple[str, ...]
    cwd: Path
    launcher: Launcher  # the sandbox prepared once for this compiled entry
    pattern: re.Pattern[str] | None = None  # extract.regex, compiled once

    def variables(self, arguments: Args) -> dict[str, Any]:
        """The template variables: the arguments, schema defaults, and absent optionals."""
        props = self.record.input_schema.get("properties")
        out: dict[str, Any] = {}
        for name, prop in (props or {}).items():
            if isinstance(prop, Mapping) and "default" in prop:
                out[name] = prop["default"]
            else:
                out[name] = _Absent(name=name)
        out.update(arguments)
        return out

    def _template_error(self, label: str, source: str, exc: TemplateError, arguments: Args) -> ToolResult:
        given = ", ".join(sorted(arguments)) or "none"
        return ToolResult.error(
            f"{self.spec.name}: cannot render {label} {source!r}: {exc}\n"
            f"Arguments given: {given}. An optional argument that was left out can be tested with "
            "`{% if name %}` or given a fallback with `{{ name | default(...) }}`."
        )

    async def invoke(self, arguments: Args, ctx: CallContext) -> ToolResult:
        del ctx
        name = self.spec.name
        variables = self.variables(arguments)
        argv: list[str] = []
        for i, element in enumerate(self.argv):
            try:
                argv += argv_value(render_value(element, variables))
            except TemplateError as exc:
                return self._template_error(f"argv[{i}]", element, exc, arguments)
        payload: bytes | None = None
        stdin = self.record.stdin
        if stdin is not None:
            try:
                payload = render(stdin, variables).encode()
            except TemplateError as exc:
                return self._template_error("stdin", stdin, exc, arguments)
        if not argv or not argv[0]:
            return ToolResult.error(f"{name}: the command line is empty after rendering argv")
        try:
            cmd = self.launcher.command(argv)
            proc = await run(cmd, input=payload)
        except RuntimeFailure as exc:
            return ToolResult.error(f"{name}: {exc}")
        note = proc.truncation_note()
        ok_codes = self.record.ok_exit_codes
        if proc.timed_out or proc.returncode not in ok_codes:
            if proc.timed_out:
                message = f"{name} timed out after {cmd.limits.timeout:g}s"
            else:
                message = f"{name}: {argv[0]} {proc.exit_description()}"
                if proc.returncode is not None and proc.returncode >= 0 and ok_codes != (0,):
                    message += f" (ok exit codes: {', '.join(map(str, ok_codes))})"
            if not proc.stderr.strip() and proc.stdout.strip():
                message += f"\nstdout:\n{results.tail(proc.stdout)}"
            return results.with_note(results.error_result(message, proc.stderr), note)
        text = proc.stdout_text().rstrip("\n")
        output_schema = self.record.output_schema
        pointer = self.record.extract.pointer if self.record.extract is not None else None
        if self.record.stdout == "json":
            try:
                value = json.loads(text)
            except ValueError as exc:
                shown = results.tail(text, 1000) or "(nothing)"
                return results.with_note(
                    ToolResult.error(f"{name}: stdout is not JSON ({exc}); it was:\n{shown}"), note
                )
            if pointer is not None:
                try:
                    value = resolve_pointer(value, pointer)
                except LookupError as exc:
                    shown = results.tail(text, 1000)
                    return results.with_note(ToolResult.error(f"{name}: {exc}; stdout was:\n{shown}"), note)
            return results.with_note(results.from_json(value, output_schema), note)
        if self.pattern is not None:
            found = self.pattern.search(text)
            if found is None:
                shown = results.tail(text, 1000) or "(nothing)"
                return results.with_note(
                    ToolResult.error(
                        f"{name}: stdout does not match extract.regex {self.pattern.pattern!r}:\n{shown}"
                    ),
                    note,
                )
            text = _captured(found)
        return results.with_note(results.from_text(text, output_schema), note)
