"""Validation: kind detection, the Rust Skillz format, and the per-entry semantic checks (names,
paths that stay inside the entry, files that exist). The schema checks are
:mod:`~skillz_engine.tree.schemacheck`'s (``schema_diagnostics`` and ``did_you_mean`` are
re-exported here for the callers that import them from this module)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from skillz_engine.tree.diagnostics import Diagnostic
from skillz_engine.tree.kinds import KIND_NAMES
from skillz_engine.tree.parse import Document, JsonPath
from skillz_engine.tree.paths import (
    ABSOLUTE,
    CONTROL,
    EMPTY,
    LOOP,
    NOT_DIR,
    NOT_FILE,
    NOT_FOUND,
    OUTSIDE,
    PARENT,
    PathEscape,
    safe_join,
)
from skillz_engine.tree.schemacheck import did_you_mean, schema_diagnostics, type_name

if TYPE_CHECKING:
    from skillz_engine.tree.model import EntrySpec

__all__ = [
    "ENTRY_NAME",
    "SKILL_NAME",
    "check_entry_name",
    "detect_kind",
    "did_you_mean",
    "entry_path",
    "errors_of",
    "is_legacy",
    "schema_diagnostics",
    "skill_name_problem",
]

ENTRY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # always .fullmatch: `$` passes "x\n"
SKILL_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")

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
                f"a manifest must be a mapping of keys, got {type_name(data)}",
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
                hint=f"Add `kind:` with one of: {', '.join(KIND_NAMES)}.",
            )
        ]
    if not isinstance(kind, str) or kind not in KIND_NAMES:
        hint = did_you_mean(str(kind), KIND_NAMES) or f"Use one of: {', '.join(KIND_NAMES)}."
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
    if not pattern.fullmatch(name) or len(name) > 64:
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


# what each refusal of paths.safe_join says about a path a manifest names: (code, message, hint);
# `{rel}` is the path, `{dir}` the entry directory's name
_ESCAPES: dict[str, tuple[str, str, str]] = {
    EMPTY: ("SKZ203", "path {rel!r} must be relative to the entry directory",
            "Name a file inside the entry, e.g. `main.py`."),
    CONTROL: ("SKZ203", "path {rel!r} holds a control character",
              "Remove the control character (NUL, newline, tab, ...) from the path."),
    ABSOLUTE: ("SKZ203", "path {rel!r} must be relative to the entry directory",
               "Name a file inside the entry, e.g. `main.py`."),
    PARENT: ("SKZ203", "path {rel!r} leaves the entry directory",
             "Files a manifest uses live inside its directory; copy the file in."),
    OUTSIDE: ("SKZ203", "path {rel!r} resolves outside the entry (through a symlink)",
              "Replace the symlink with the file itself."),
    LOOP: ("SKZ203", "path {rel!r} is a symlink loop",
           "Remove or fix the symlink that points back at itself."),
}  # fmt: skip


def entry_path(
    spec: EntrySpec,
    path: JsonPath,
    rel: str,
    *,
    must_exist: bool = True,
    kind: str = "file",
) -> tuple[Path | None, list[Diagnostic]]:
    """Resolve a path a manifest names at ``path``; it must stay inside the entry (symlinks
    included) and, with ``must_exist``, be an existing file (``kind="file"``) or directory
    (``kind="dir"``)."""
    want: Literal["any", "file", "dir"] = "any" if not must_exist else "dir" if kind == "dir" else "file"
    try:
        return safe_join(spec.home, rel, kind=want, allow_hidden=True), []
    except PathEscape as exc:
        return None, [_escape_diag(spec, path, rel, kind, exc.reason)]


def _escape_diag(spec: EntrySpec, path: JsonPath, rel: str, kind: str, reason: str) -> Diagnostic:
    where = spec.home.name
    if reason in _ESCAPES:
        code, message, hint = _ESCAPES[reason]
        return spec.diag(path, code, message.format(rel=rel), hint)
    if kind == "dir":
        what = "is not a directory" if reason == NOT_DIR else "does not exist"
        return spec.diag(path, "SKZ204", f"directory {rel!r} {what} in {where}/",
                         "Create the directory or fix the path.")  # fmt: skip
    if reason == NOT_FILE:
        return spec.diag(path, "SKZ204", f"{rel!r} in {where}/ is not a file",
                         "Name a regular file, not a directory or a device.")  # fmt: skip
    assert reason == NOT_FOUND, reason
    candidates = [p.name for p in spec.home.iterdir() if p.is_file()] if spec.home.is_dir() else []
    hint = did_you_mean(Path(rel).name, candidates) or "Create the file or fix the path."
    return spec.diag(path, "SKZ204", f"file {rel!r} does not exist in {where}/", hint)


def errors_of(diags: Sequence[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.is_error]
