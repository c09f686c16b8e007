"""``kind: pipeline``: steps that call other tools of the same snapshot, in order.

Each step's ``args`` are rendered with the sandboxed Jinja2 environment over ``input`` (the
pipeline's arguments), ``steps`` (``steps.<id>`` is an earlier step's value) and ``prev`` (the
last step that ran). A string that is exactly one ``{{ expr }}`` keeps its JSON type. The Rust
Skillz forms ``$prev``, ``$prev.a.b``, ``$input.x`` and ``$<step>.x`` are accepted as well.

A step's *value* is its tool's ``structuredContent`` when present, else its text parsed as
JSON when it is JSON, else the text. ``when`` skips a step whose expression is falsy;
``onError`` decides what a failing step does: ``fail`` (default) stops with an error that
names the step, ``continue`` records the error and goes on, ``retry`` tries again up to
``retries`` times (default 2). ``timeout`` bounds one step; ``limits.timeout`` the whole run.
``output`` (any JSON with templates) is the result; by default the last step's value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from skillz_engine.build.contract import CallContext
from skillz_engine.runtimes.base import CompileProblem, Services, tool_def
from skillz_engine.runtimes.results import from_json
from skillz_engine.tree.conditions import condition_expression, is_skillz_condition
from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.model import Args, Compiled, EntrySpec, ToolResult
from skillz_engine.tree.parse import walk
from skillz_engine.tree.specs import PipelineSpec
from skillz_engine.tree.templating import TemplateError, check_syntax, environment, render_value
from skillz_engine.units import parse_duration

_LEGACY_REF = re.compile(r"\$(?P<root>[A-Za-z_][A-Za-z0-9_-]*)(?P<rest>(\.[A-Za-z0-9_-]+)*)")


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    tool: str
    args: Any
    when: str | None
    on_error: str
    retries: int
    timeout: float | None


def _legacy(value: str, scope: Mapping[str, Any]) -> Any:
    """``$prev.a``, ``$input.x``, ``$step.x``: Skillz whole-value references (type preserved)."""
    m = _LEGACY_REF.fullmatch(value)
    if m is None:
        return value
    root, rest = m.group("root"), [p for p in m.group("rest").split(".") if p]
    if root in ("prev", "input"):
        cur: Any = scope[root]
    elif root in scope["steps"]:
        cur = scope["steps"][root]
    else:
        raise TemplateError(f"{value!r}: no step named {root!r} has run")
    for part in rest:
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise TemplateError(f"{value!r}: {part!r} not found")
    return cur


def render_args(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render every string of a JSON structure as a template (or a legacy ``$`` reference)."""
    if isinstance(value, str):
        if value.startswith("$") and _LEGACY_REF.fullmatch(value):
            return _legacy(value, scope)
        if "{{" in value or "{%" in value:
            return render_value(value, scope)
        return value
    if isinstance(value, list):
        return [render_args(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: render_args(v, scope) for k, v in value.items()}
    return value


def step_value(result: ToolResult) -> Any:
    if result.structured is not None:
        return result.structured
    text = result.text_content()
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return text


def when_source(expr: str) -> str:
    """The Jinja2 expression of a ``when``: ``{{ }}`` around it dropped, and Skillz's condition
    form (``$prev.success == true``) translated (:mod:`skillz_engine.tree.conditions`)."""
    if is_skillz_condition(expr):
        return condition_expression(expr)
    source = expr.strip()
    if source.startswith("{{") and source.endswith("}}"):
        source = source[2:-2]
    return source


def _truthy(expr: str, scope: Mapping[str, Any]) -> bool:
    try:
        return bool(environment().compile_expression(when_source(expr), undefined_to_none=True)(**scope))
    except Exception as exc:
        raise TemplateError(f"`when: {expr}`: {exc}") from exc


def _when_problem(expr: str) -> str | None:
    """Why a ``when`` does not parse, or ``None``: checked at compile time, so a bad one is a
    diagnostic at its position instead of a failure of every call."""
    try:
        environment().compile_expression(when_source(expr))
    except Exception as exc:
        return str(exc)
    return None


class PipelineRuntime:
    kind = "pipeline"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        r = spec.record_as(PipelineSpec)
        diags: list[Diagnostic] = []
        steps: list[Step] = []
        seen: set[str] = set()
        for i, raw in enumerate(r.steps):
            if raw.id in seen:
                diags.append(
                    spec.diag(
                        ("steps", i, "id"),
                        "SKZ207",
                        f"step id {raw.id!r} is used twice",
                        "Give every step its own id.",
                    )
                )
            seen.add(raw.id)
            for path, val in walk(raw.args, ("steps", i, "args")):
                if isinstance(val, str):
                    err = check_syntax(val)
                    if err is not None:
                        diags.append(
                            spec.diag(
                                path,
                                "SKZ503",
                                f"template error: {err[1]}",
                                "Check the {{ }} and {% %} pairs.",
                            )
                        )
            problem = _when_problem(raw.when) if raw.when is not None else None
            if problem is not None:
                diags.append(
                    spec.diag(
                        ("steps", i, "when"),
                        "SKZ503",
                        f"`when` is not a valid expression: {problem}",
                        "Write a Jinja2 expression over input, steps.<id> and prev (`prev.ok == true`), "
                        "or Skillz's `$prev.ok == true`.",
                    )
                )
            timeout = parse_duration(raw.timeout) if raw.timeout is not None else None
            steps.append(
                Step(raw.id, raw.tool, raw.args, raw.when, raw.on_error, raw.extra_attempts, timeout)
            )
        if any(d.is_error for d in diags):
            raise CompileProblem(diags)
        total = parse_duration(r.total_timeout)
        run = _Pipeline(spec.name, tuple(steps), r.output, r.has_output, total, r.output_schema)
        tool = tool_def(spec, run)
        return Compiled(spec, tools=(tool,))


@dataclass(frozen=True, slots=True)
class _Pipeline:
    name: str
    steps: tuple[Step, ...]
    output: Any
    has_output: bool
    timeout: float
    output_schema: Mapping[str, Any] | None

    async def __call__(self, arguments: Args, ctx: CallContext) -> ToolResult:
        scope: dict[str, Any] = {"input": dict(arguments), "steps": {}, "prev": None}
        report: list[dict[str, Any]] = []
        with anyio.move_on_after(self.timeout) as scope_cancel:
            for n, step in enumerate(self.steps, 1):
                await ctx.progress(n - 1, len(self.steps), f"step {step.id}: {step.tool}")
                try:
                    if step.when is not None and not _truthy(step.when, scope):
                        report.append({"id": step.id, "skipped": True})
                        continue
                    args = render_args(step.args, scope)
                except TemplateError as exc:
                    return ToolResult.error(f"pipeline {self.name}: step {step.id!r}: {exc}")
                result = await self._attempt(step, args, ctx)
                if result.is_error:
                    message = result.text_content() or "failed"
                    report.append({"id": step.id, "error": message})
                    if step.on_error == "continue":
                        scope["steps"][step.id] = {"error": message}
                        continue
                    return ToolResult.error(
                        f"pipeline {self.name}: step {step.id!r} ({step.tool}) failed: {message}"
                    )
                value = step_value(result)
                scope["steps"][step.id] = value
                scope["prev"] = value
                report.append({"id": step.id, "ok": True})
            await ctx.progress(len(self.steps), len(self.steps), "done")
        if scope_cancel.cancelled_caught:
            return ToolResult.error(f"pipeline {self.name} timed out after {self.timeout:g}s")
        try:
            value = render_args(self.output, scope) if self.has_output else scope["prev"]
        except TemplateError as exc:
            return ToolResult.error(f"pipeline {self.name}: output: {exc}")
        return from_json(value, self.output_schema)

    async def _attempt(self, step: Step, args: Any, ctx: CallContext) -> ToolResult:
        attempts = 1 + (step.retries if step.on_error == "retry" else 0)
        result = ToolResult.error("not run")
        for _ in range(attempts):
            with anyio.move_on_after(step.timeout or self.timeout) as cs:
                result = await ctx.call_tool(step.tool, args)
            if cs.cancelled_caught:
                result = ToolResult.error(f"timed out after {step.timeout:g}s")
            if not result.is_error:
                break
        return result
