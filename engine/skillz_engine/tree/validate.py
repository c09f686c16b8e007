"""Validation: schema checks mapped to positions, kind detection, the Rust Skillz format, and
the per-entry semantic checks (names, paths that stay inside the entry, files that exist)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.kinds import KIND_NAMES as ALL_KINDS
from skillz_engine.tree.parse import Document, JsonPath

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

    from skillz_engine.tree.model import EntrySpec

ENTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SKILL_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

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


def _type_name(value: Any) -> str:
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

        best = best_match(error.context, key=relevance)
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
            if key in allowed or any(re.search(p, key) for p in patterns):
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
        return [doc.diag(path, "SKZ103", f"expected {exp}, got {_type_name(inst)}")]
    if v in ("enum", "const"):
        raw: Any = error.validator_value
        choices: list[Any] = list(raw) if v == "enum" else [raw]
        hint = did_you_mean(str(inst), [str(c) for c in choices]) or (
            f"Use one of: {', '.join(map(str, choices))}."
        )
        return [doc.diag(path, "SKZ104", f"{inst!r} is not allowed here", hint=hint)]
    if v in ("pattern", "format"):
        desc = error.schema.get("description") if isinstance(error.schema, dict) else None
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


# --------------------------------------------------------------------------- kinds and legacy


LEGACY_KEYS = {"tool_type", "input_schema", "entry_file", "pipeline_steps", "mcp_server", "wasm_dependencies"}


def is_legacy(data: Any) -> bool:
    return isinstance(data, dict) and "kind" not in data and bool(LEGACY_KEYS & set(data))


def detect_kind(doc: Document, default: str | None = None) -> tuple[str | None, list[Diagnostic]]:
    """The manifest's kind, or diagnostics saying why there is none."""
    data = doc.data
    if not isinstance(data, dict):
        return None, [
            doc.diag(
                (),
                "SKZ101",
                f"a manifest must be a mapping of keys, got {_type_name(data)}",
                hint="Start with `kind: script` (or another kind) and `description: ...`.",
            )
        ]
    kind = data.get("kind", default)
    if kind is None:
        return None, [
            doc.diag(
                (),
                "SKZ102",
                "missing required key 'kind'",
                hint=f"Add `kind:` with one of: {', '.join(ALL_KINDS)}.",
            )
        ]
    if not isinstance(kind, str) or kind not in ALL_KINDS:
        hint = did_you_mean(str(kind), ALL_KINDS) or f"Use one of: {', '.join(ALL_KINDS)}."
        return None, [doc.diag(("kind",), "SKZ104", f"unknown kind {kind!r}", hint=hint)]
    return kind, []


def skill_name_problem(name: str) -> str | None:
    """Which Agent Skills name rule ``name`` breaks (``None`` when it keeps them all)."""
    if not name:
        return "must not be empty"
    if len(name) > 64:
        return f"too long: {len(name)} characters, at most 64"
    if name != name.lower() and name.lower() == name.casefold() and re.fullmatch(r"[A-Za-z0-9-]+", name):
        return "must be lowercase"
    if not re.fullmatch(r"[a-z0-9-]+", name):
        bad = sorted({c for c in name if not re.fullmatch(r"[a-z0-9-]", c)})
        return "may hold only lowercase letters, digits and hyphens, not " + " ".join(repr(c) for c in bad)
    if name.startswith("-") or name.endswith("-"):
        return "must not start or end with a hyphen"
    if "--" in name:
        return "must not hold two hyphens in a row"
    return None


def check_entry_name(doc: Document, name: str, kind: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    pattern, rule = (
        (SKILL_NAME, "lowercase letters, digits and single hyphens, 1-64 characters")
        if kind == "skill"
        else (
            ENTRY_NAME,
            "letters, digits, '.', '_' and '-', starting with a letter or digit, 1-64 characters",
        )
    )
    if not pattern.match(name) or len(name) > 64:
        out.append(
            doc.diag(
                (),
                "SKZ202",
                f"directory name {name!r} is not a valid {kind} name",
                hint=f"Rename the directory: {rule}.",
            )
        )
    declared = doc.data.get("name") if isinstance(doc.data, dict) else None
    if declared is not None and declared != name:
        out.append(
            doc.diag(
                ("name",),
                "SKZ201",
                f"name {declared!r} does not match the directory name {name!r}",
                hint=f"Set `name: {name}` or rename the directory to {declared!r}.",
            )
        )
    return out


# --------------------------------------------------------------------------- paths inside entries


def entry_path(
    spec: EntrySpec, path: JsonPath, rel: str, *, must_exist: bool = True, kind: str = "file"
) -> tuple[Path | None, list[Diagnostic]]:
    """Resolve a path a manifest names; it must stay inside the entry (symlinks included)."""
    from skillz_engine.tree.parse import format_json_path

    def diag(code: str, message: str, hint: str | None) -> Diagnostic:
        line, col = spec.positions.value(path)
        return Diagnostic(
            spec.display, line, col, code, Severity.ERROR, message, format_json_path(path), hint
        )

    if "\x00" in rel or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        return None, [
            diag(
                "SKZ203",
                f"path {rel!r} must be relative to the entry directory",
                "Name a file inside the entry, e.g. `main.py`.",
            )
        ]
    if any(part == ".." for part in re.split(r"[\\/]", rel)):
        return None, [
            diag(
                "SKZ203",
                f"path {rel!r} leaves the entry directory",
                "Files a manifest uses live inside its directory; copy the file in.",
            )
        ]
    base = spec.dir.resolve()
    target = (spec.dir / rel).resolve()
    if target != base and base not in target.parents:
        return None, [
            diag(
                "SKZ203",
                f"path {rel!r} resolves outside the entry (through a symlink)",
                "Replace the symlink with the file itself.",
            )
        ]
    if must_exist:
        if kind == "file" and not target.is_file():
            candidates = [p.name for p in spec.dir.iterdir() if p.is_file()] if spec.dir.is_dir() else []
            hint = did_you_mean(Path(rel).name, candidates) or "Create the file or fix the path."
            return None, [diag("SKZ204", f"file {rel!r} does not exist in {spec.dir.name}/", hint)]
        if kind == "dir" and not target.is_dir():
            return None, [
                diag(
                    "SKZ204",
                    f"directory {rel!r} does not exist in {spec.dir.name}/",
                    "Create the directory or fix the path.",
                )
            ]
    return target, []


def errors_of(diags: Sequence[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.is_error]
