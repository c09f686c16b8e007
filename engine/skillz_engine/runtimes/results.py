"""From a tool's raw output to a :class:`~skillz_engine.tree.model.ToolResult`.

Three shapes, in this order:

1. A JSON value that already is an MCP tool result (an object whose only keys are ``content``,
   ``structuredContent``, ``isError`` and ``_meta``, and whose ``content`` is a list of valid MCP
   content blocks) is passed through, so tools can return images, audio, resource links and
   embedded resources.
2. Any other JSON value becomes one text block (a string as is, anything else as JSON text). When
   the tool declares an ``outputSchema`` the value must validate against it and is also returned
   as ``structuredContent``; a value that does not validate is an error result saying why.
3. Text that is not JSON stays text (an error when an ``outputSchema`` is declared, since MCP
   clients then require ``structuredContent``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from skillz_engine.tree.model import ToolResult

__all__ = [
    "STDERR_TAIL",
    "error_result",
    "from_json",
    "from_output",
    "from_text",
    "is_content_block",
    "is_tool_result",
    "schema_problem",
    "tail",
    "with_note",
]

STDERR_TAIL = 2048  # bytes of stderr an error result carries

_RESULT_KEYS = frozenset({"content", "structuredContent", "isError", "_meta"})


def _str(block: Mapping[str, Any], *keys: str) -> bool:
    return all(isinstance(block.get(k), str) for k in keys)


def is_content_block(block: Any) -> bool:
    """Whether ``block`` is a valid MCP content block (text, image, audio, resource_link, resource)."""
    if not isinstance(block, Mapping):
        return False
    kind = block.get("type")
    if kind == "text":
        return _str(block, "text")
    if kind in ("image", "audio"):
        return _str(block, "data", "mimeType")
    if kind == "resource_link":
        return _str(block, "uri", "name")
    if kind == "resource":
        res = block.get("resource")
        return isinstance(res, Mapping) and _str(res, "uri") and (_str(res, "text") or _str(res, "blob"))
    return False


def is_tool_result(value: Any) -> bool:
    """Whether ``value`` has the shape of an MCP ``CallToolResult``."""
    if not isinstance(value, Mapping) or not set(value) <= _RESULT_KEYS:
        return False
    content = value.get("content")
    if not isinstance(content, list) or not all(is_content_block(b) for b in content):
        return False
    if "isError" in value and not isinstance(value["isError"], bool):
        return False
    return "_meta" not in value or isinstance(value["_meta"], Mapping)


_VALIDATORS: dict[str, Any] = {}


def schema_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why ``value`` does not validate against ``schema`` (``None`` when it does)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    key = json.dumps(schema, sort_keys=True, default=str)
    validator = _VALIDATORS.get(key)
    if validator is None:
        try:
            validator = Draft202012Validator(dict(schema))
        except Exception as exc:  # a broken schema is validate's business; say so here too
            return f"the outputSchema cannot be used: {exc}"
        if len(_VALIDATORS) > 1024:
            _VALIDATORS.clear()
        _VALIDATORS[key] = validator
    try:
        error = best_match(validator.iter_errors(value))
    except Exception as exc:  # e.g. UnknownType: validate reports it (SKZ111); here it is the call's error
        return f"the outputSchema cannot be used ({type(exc).__name__}: {exc})"
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the result"
    return f"{where}: {error.message}"


def _invalid(value: Any, problem: str) -> ToolResult:
    shown = json.dumps(value, ensure_ascii=False, default=str)
    if len(shown) > 2000:
        shown = shown[:2000] + "..."
    return ToolResult.error(f"the tool's result does not match its outputSchema: {problem}\nResult: {shown}")


def from_json(value: Any, output_schema: Mapping[str, Any] | None = None) -> ToolResult:
    """The result for a JSON value a tool produced (pass-through, or one text block)."""
    if is_tool_result(value):
        structured = value.get("structuredContent")
        is_error = bool(value.get("isError", False))
        meta = value.get("_meta")
        if output_schema is not None and not is_error:
            if structured is None:
                return ToolResult.error(
                    "the tool declares an outputSchema but its result has no structuredContent"
                )
            problem = schema_problem(structured, output_schema)
            if problem is not None:
                return _invalid(structured, problem)
        return ToolResult(tuple(dict(b) for b in value["content"]), structured, is_error, meta)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if output_schema is None:
        return ToolResult.text(text)
    problem = schema_problem(value, output_schema)
    if problem is not None:
        return _invalid(value, problem)
    return ToolResult.text(text, structured=value)


def from_text(text: str, output_schema: Mapping[str, Any] | None = None) -> ToolResult:
    """The result for plain text output: text, unless an ``outputSchema`` asks for JSON."""
    if output_schema is None:
        return ToolResult.text(text)
    try:
        value = json.loads(text)
    except ValueError:
        shown = text if len(text) <= 500 else text[:500] + "..."
        return ToolResult.error(
            "the tool declares an outputSchema but its output is not JSON"
            + (f":\n{shown}" if shown.strip() else " (it printed nothing)")
        )
    return from_json(value, output_schema)


def from_output(text: str, output_schema: Mapping[str, Any] | None = None) -> ToolResult:
    """Output that may be JSON: JSON goes through :func:`from_json`, anything else is text."""
    stripped = text.strip()
    if stripped:
        try:
            value = json.loads(stripped)
        except ValueError:
            pass
        else:
            return from_json(value, output_schema)
    return from_text(text, output_schema)


def tail(data: bytes | str, limit: int = STDERR_TAIL) -> str:
    """The last ``limit`` bytes of ``data`` as text, marked when cut."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    cut = len(raw) > limit
    text = raw[-limit:].decode("utf-8", "replace") if cut else raw.decode("utf-8", "replace")
    text = text.strip()
    return f"...{text}" if cut else text


def error_result(message: str, stderr: bytes | str = b"", *, limit: int = STDERR_TAIL) -> ToolResult:
    """An error result: ``message``, then the tail of ``stderr`` when there is any."""
    err = tail(stderr, limit)
    if err:
        message = f"{message}\nstderr:\n{err}"
    return ToolResult.error(message)


def with_note(result: ToolResult, note: str | None) -> ToolResult:
    """``result`` with one more text block carrying ``note`` (no change when ``note`` is empty)."""
    if not note:
        return result
    return dataclasses.replace(result, content=(*result.content, {"type": "text", "text": note}))
