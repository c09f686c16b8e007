"""Schema checks mapped to positions: each JSON Schema error of a document becomes a diagnostic at
the spot it is about, in words (a did-you-mean for an unknown key or value, the rule a path breaks).

Separate from :mod:`~skillz_engine.tree.validate` (the per-entry semantics) so that reading
``skillz.yaml`` needs no entry model.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.parse import Document, JsonPath
from skillz_engine.tree.schemas import ecma_search

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

_RANGE = {
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
}


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"Did you mean {close[0]!r}?" if close else None


def type_name(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For oneOf/anyOf, the errors of the alternative that came closest; else the error itself."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match, relevance

        # an alternative the value's type fits (the string form of a duration, for `fast`) says
        # more than one it does not (`expected number`): judge among those first
        fitting = [e for e in error.context if e.validator != "type"]
        best = best_match(fitting or error.context, key=relevance)
        # only descend when the closest alternative fails on something specific
        if (
            best is not None
            and best.validator not in ("oneOf", "anyOf", "not", "if")
            and (
                len(best.absolute_path) > len(error.absolute_path)
                or best.validator
                in (
                    "required",
                    "additionalProperties",
                    "type",
                    "enum",
                    "const",
                    "pattern",
                )
            )
        ):
            return [best]
    return [error]


def _description(error: ValidationError) -> str | None:
    """The schema's description of the value, or of the key it is one form of (a duration's
    string form has none; the duration, with its accepted forms, has)."""
    e: Any = error  # a ValidationError, then its parents (typed as jsonschema's private _Error)
    while e is not None:
        desc = e.schema.get("description") if isinstance(e.schema, dict) else None
        if isinstance(desc, str) and desc:
            return desc
        e = e.parent
    return None


def _schema_diag(doc: Document, error: ValidationError, schema: dict[str, Any]) -> list[Diagnostic]:
    path: JsonPath = tuple(error.absolute_path)
    v = error.validator
    inst = error.instance
    if v == "additionalProperties" and isinstance(inst, dict):
        allowed = set((error.schema.get("properties") or {}) if isinstance(error.schema, dict) else {})
        patterns = list(
            (error.schema.get("patternProperties") or {}) if isinstance(error.schema, dict) else {}
        )
        out = []
        for key in inst:
            if key in allowed or any(ecma_search(p, key) for p in patterns):
                continue
            hint = did_you_mean(key, allowed) or (
                f"Allowed keys here: {', '.join(sorted(allowed))}." if allowed else None
            )
            out.append(
                doc.diag(
                    (*path, key),
                    "SKZ110",
                    f"unknown key {key!r}",
                    hint=hint,
                    severity=Severity.WARNING,
                    at_key=True,
                )
            )
        return out
    if v == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        key = missing[0] if missing else str(error.validator_value)
        where = "the manifest" if not path else f"`{doc.diag(path, '', '').json_path}`"
        return [
            doc.diag(
                path,
                "SKZ102",
                f"missing required key {key!r} in {where}",
                hint=f"Add `{key}:`.",
            )
        ]
    if v == "type":
        expected = error.validator_value
        exp = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return [doc.diag(path, "SKZ103", f"expected {exp}, got {type_name(inst)}")]
    if v in ("enum", "const"):
        raw: Any = error.validator_value
        choices: list[Any] = list(raw) if v == "enum" else [raw]
        hint = did_you_mean(str(inst), [str(c) for c in choices]) or (
            f"Use one of: {', '.join(map(str, choices))}."
        )
        return [doc.diag(path, "SKZ104", f"{inst!r} is not allowed here", hint=hint)]
    if v in ("pattern", "format"):
        desc = _description(error)
        hint = desc if isinstance(desc, str) and desc else None
        if (
            isinstance(inst, str)
            and ("\x00" in inst or inst.startswith(("/", "\\")) or ".." in re.split(r"[\\/]", inst))
            and "relative" in (hint or "").lower()
        ):
            return [
                doc.diag(
                    path,
                    "SKZ203",
                    f"path {inst!r} must stay inside the entry directory",
                    hint="Use a path relative to the entry, without `..`, e.g. `main.py`.",
                )
            ]
        shown = inst if not isinstance(inst, str) or len(inst) < 80 else inst[:77] + "..."
        return [doc.diag(path, "SKZ105", f"{shown!r} is not in the expected form", hint=hint)]
    if v in ("minLength", "maxLength") and isinstance(inst, str):
        n = len(inst)
        if v == "minLength" and n == 0:
            return [doc.diag(path, "SKZ106", "must not be empty")]
        word = "too short" if v == "minLength" else "too long"
        bound = "at least" if v == "minLength" else "at most"
        limit = error.validator_value
        return [doc.diag(path, "SKZ106", f"{word}: {n} characters, {bound} {limit}")]
    if v in _RANGE:
        return [doc.diag(path, "SKZ106", error.message)]
    if v in ("oneOf", "anyOf", "not"):
        desc = error.schema.get("description") if isinstance(error.schema, dict) else None
        hint = desc.split(".")[0] + "." if isinstance(desc, str) and desc else None
        return [
            doc.diag(
                path, "SKZ107", f"value does not match any allowed form: {error.message[:160]}", hint=hint
            )
        ]
    return [doc.diag(path, "SKZ100", error.message)]


def schema_diagnostics(doc: Document, schema_name: str) -> list[Diagnostic]:
    """Every schema problem of ``doc`` against schema ``schema_name``, each with its position."""
    from skillz_engine.tree import schemas

    fast = schemas.fast_validator(schema_name)
    if fast is not None:
        try:
            if fast.is_valid(doc.data):
                return []
        except Exception:  # e.g. an integer beyond 64 bits: let the Python validator judge
            pass
    v = schemas.validator(schema_name)
    out: list[Diagnostic] = []
    for error in v.iter_errors(doc.data):
        for leaf in _leaf_errors(error):
            out.extend(_schema_diag(doc, leaf, schemas.load(schema_name)))
    # unique, stable order
    seen: set[tuple[int, int, str, str]] = set()
    unique = []
    for d in sorted(out, key=lambda d: (d.line, d.col, d.code)):
        k = (d.line, d.col, d.code, d.message)
        if k not in seen:
            seen.add(k)
            unique.append(d)
    return unique
