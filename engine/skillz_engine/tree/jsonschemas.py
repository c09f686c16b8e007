"""The JSON Schemas a manifest carries (a tool's ``inputSchema`` and ``outputSchema``) are checked
against the JSON Schema 2020-12 metaschema when the tree is validated, so a schema that could never
be used (``type: strng``, a ``pattern`` that is no regular expression, a ``$ref`` to nowhere at
its top) is an SKZ111 error at the offending key, not an ``UnknownType`` raised at every call.

The runtimes still treat a schema that fails while validating as the tool's error (``isError``),
for schemas that did not come through here (an upstream MCP server's, a cached spec's).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.parse import Document, JsonPath, format_json_path
from skillz_engine.tree.schemacheck import did_you_mean

__all__ = ["SCHEMA_KEYS", "json_schema_diagnostics"]

SCHEMA_KEYS = ("inputSchema", "outputSchema")
_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
_TRIALS: tuple[Any, ...] = (None, {}, [], "", 0)  # instances that reach every top-level keyword
_HINT = "Fix it as JSON Schema 2020-12 defines the keyword (https://json-schema.org/draft/2020-12)."


@cache
def _metaschema_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@cache
def _fast_metaschema() -> Any:
    """A Rust (``jsonschema-rs``) metaschema validator, formats checked, for the common case: is
    this schema valid at all? ``None`` when unavailable: everything takes the Python path."""
    try:
        import jsonschema_rs
        from jsonschema import Draft202012Validator

        return jsonschema_rs.validator_for(Draft202012Validator.META_SCHEMA, validate_formats=True)
    except Exception:
        return None


def _python_regexes(node: Any) -> bool:
    """Whether every ``pattern`` and ``patternProperties`` key below ``node`` is a Python regular
    expression (the Rust check knows ECMA ones; some of those Python rejects). Conservative: any
    string under a key ``pattern`` counts."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str) and not _compiles(v):
                return False
            if k == "patternProperties" and isinstance(v, dict) and not all(map(_compiles, v)):
                return False
            if not _python_regexes(v):
                return False
    elif isinstance(node, list):
        return all(_python_regexes(v) for v in node)
    return True


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, TypeError, RecursionError):
        return False
    return True


def _metaschema_errors(schema: dict[str, Any]) -> list[Any]:
    """The metaschema's errors about ``schema``: none without the Python validator when the Rust
    one and the regex check both pass (nearly always; the Python one took 3/4 of a first start)."""
    fast = _fast_metaschema()
    if fast is not None and _python_regexes(schema):
        try:
            if fast.is_valid(schema):
                return []
        except Exception:  # e.g. a value the Rust side cannot read: the Python path decides
            pass
    return sorted(_metaschema_validator().iter_errors(schema), key=lambda e: list(map(str, e.absolute_path)))


def json_schema_diagnostics(doc: Document) -> list[Diagnostic]:
    """SKZ111 for every problem of the manifest's ``inputSchema`` / ``outputSchema`` (when it is a
    mapping: other types are the kind schema's SKZ103)."""
    if not isinstance(doc.data, dict):
        return []
    out: list[Diagnostic] = []
    for key in SCHEMA_KEYS:
        schema = doc.data.get(key)
        if isinstance(schema, dict):
            out.extend(_check(doc, (key,), schema))
    return out


def _check(doc: Document, base: JsonPath, schema: dict[str, Any]) -> list[Diagnostic]:
    from jsonschema import Draft202012Validator

    out: list[Diagnostic] = []
    errors = _metaschema_errors(schema)
    for error in errors[:10]:
        path: JsonPath = (*base, *error.absolute_path)
        value = error.instance
        if path[-1] == "type" and isinstance(value, str | list):
            bad = [t for t in ([value] if isinstance(value, str) else value) if t not in _TYPES]
            shown = ", ".join(repr(t) for t in bad) or repr(value)
            hint = (did_you_mean(str(bad[0]), _TYPES) if bad else None) or f"Use one of: {', '.join(_TYPES)}."
            message = f"unknown JSON Schema type {shown} in {format_json_path(path)}"
        else:
            message = f"{format_json_path(path)} is not a valid JSON Schema: {error.message[:200]}"
            hint = _HINT
        out.append(doc.diag(path, "SKZ111", message, hint=hint, at_key=len(path) > len(base)))
    if out:
        return out
    validator = Draft202012Validator(schema)
    for trial in _TRIALS:
        try:
            for _ in validator.iter_errors(trial):
                pass
        except Exception as exc:  # the schema cannot be used at all (e.g. an unresolvable $ref)
            message = f"{format_json_path(base)} cannot be used: {str(exc)[:200]}"
            return [doc.diag(base, "SKZ111", message, hint=_HINT, at_key=True)]
    return out
