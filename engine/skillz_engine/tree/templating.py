"""One Jinja2 environment for every template in a tree: sandboxed, StrictUndefined.

A value that is exactly one ``{{ expr }}`` can keep its JSON type (:func:`render_value`), which
pipelines and command argv use; everything else renders to a string.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from skillz_engine.errors import EngineError

__all__ = [
    "TemplateError",
    "TemplateSyntaxError",
    "UndefinedError",
    "compile_template",
    "environment",
    "render",
    "render_value",
    "template_error_message",
]

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.S)


class TemplateError(EngineError):
    """A template failed to render (undefined variable, bad filter, sandbox violation)."""


def _tojson(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson"] = _tojson
    env.filters["json"] = _tojson
    return env


@functools.lru_cache(maxsize=4096)
def compile_template(source: str) -> Any:
    """Compile (and cache) a template; raises ``TemplateSyntaxError`` with ``lineno``."""
    return environment().from_string(source)


def template_error_message(exc: BaseException) -> str:
    if isinstance(exc, UndefinedError):
        return f"undefined variable: {exc.message}"
    if isinstance(exc, TemplateSyntaxError):
        return f"template syntax error: {exc.message} (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"


@functools.lru_cache(maxsize=4096)
def _expression(expr: str) -> Any:
    """Compile (and cache) one ``{{ expr }}``: a command tool renders its argv on every call."""
    return environment().compile_expression(expr, undefined_to_none=False)


def render(source: str, variables: Mapping[str, Any]) -> str:
    if "{" not in source:  # no template marks: the text renders to itself
        return source
    try:
        return str(compile_template(source).render(**variables))
    except Exception as exc:
        raise TemplateError(template_error_message(exc)) from exc


def render_value(source: str, variables: Mapping[str, Any]) -> Any:
    """Render a string template; exactly one ``{{ expr }}`` keeps the expression's type."""
    m = _SINGLE.match(source)
    if m and "{{" not in m.group("expr") and "{%" not in source:
        try:
            value = _expression(m.group("expr").strip())(**variables)
        except Exception as exc:
            raise TemplateError(template_error_message(exc)) from exc
        if isinstance(value, StrictUndefined):
            raise TemplateError(f"undefined variable in {source.strip()!r}")
        return value
    return render(source, variables)


@functools.lru_cache(maxsize=8192)
def check_syntax(source: str) -> tuple[int, str] | None:
    """``(line, message)`` of a syntax error, or ``None``.

    Parses without generating code (several times faster than compiling); the template is
    compiled on first render.
    """
    if "{" not in source:
        return None
    env = environment()
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        return (exc.lineno or 1, exc.message or "syntax error")
    except RecursionError:  # Jinja's parser recurses per bracket: `{{{{...` nested hundreds deep
        return (1, "the template is nested too deeply to parse")
    # what compiling would also reject: unknown filters and tests
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        known = env.filters if isinstance(node, nodes.Filter) else env.tests
        if node.name not in known:
            what = "filter" if isinstance(node, nodes.Filter) else "test"
            return (node.lineno or 1, f"no {what} named {node.name!r}")
    return None
