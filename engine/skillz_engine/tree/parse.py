"""Parse manifests (YAML, JSON, SKILL.md front matter) into data plus source positions.

Every value and every mapping key gets a 1-based (line, col) under its JSON path, so any later
check (schema, semantics) can point at the exact spot. YAML is composed once with the C loader
when available; JSON is parsed strictly with :mod:`json` (duplicate keys are reported) and
composed with the YAML loader only for positions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from skillz_engine.tree.bounded import Builder, ManifestTooComplex, json_too_deep
from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.positions import JsonPath, Positions, format_json_path

__all__ = [
    "MANIFEST_NAMES",
    "MAX_MANIFEST_BYTES",
    "SKILL_FILE",
    "Document",
    "JsonPath",
    "Positions",
    "format_json_path",
    "parse_file",
    "parse_json_text",
    "parse_skill_md",
    "parse_yaml_text",
    "read_text",
    "split_front_matter",
    "walk",
]

try:  # the C loader is ~10x faster; fall back to pure Python where libyaml is missing
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

MAX_MANIFEST_BYTES = 1 << 20  # 1 MiB


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed manifest: its data, where each piece sits, and what went wrong reading it."""

    path: Path
    display: str
    data: Any
    positions: Positions
    diagnostics: tuple[Diagnostic, ...] = ()
    body: str | None = None  # SKILL.md: the Markdown after the front matter
    body_line: int = 0  # SKILL.md: the 1-based line where the body starts

    @property
    def ok(self) -> bool:
        return self.data is not None and not any(d.is_error for d in self.diagnostics)

    def diag(
        self,
        path: JsonPath,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        severity: Severity = Severity.ERROR,
        at_key: bool = False,
    ) -> Diagnostic:
        return self.positions.diagnostic(self.display, path, code, message, hint, severity, at_key=at_key)


def _diag(display: str, line: int, col: int, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(display, line, col, code, Severity.ERROR, message, "$", hint)


# --------------------------------------------------------------------------- reading bytes


def read_text(path: Path, display: str) -> tuple[str | None, list[Diagnostic]]:
    """Read a manifest's text, refusing what no manifest can be (huge, binary, not UTF-8, empty)."""
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            return None, [
                _diag(
                    display,
                    1,
                    1,
                    "SKZ003",
                    f"manifest is {size} bytes; the limit is {MAX_MANIFEST_BYTES} (1 MiB)",
                    "Move large data into a separate file of the entry and reference it.",
                )
            ]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [_diag(display, 0, 0, "SKZ005", f"cannot read file: {exc.strerror or exc}")]
    if b"\x00" in raw:
        return None, [
            _diag(
                display,
                1,
                1,
                "SKZ004",
                "file is binary (contains NUL bytes), not a manifest",
                "A manifest is UTF-8 text: YAML, JSON or SKILL.md.",
            )
        ]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [
            _diag(display, line, col, "SKZ004", "file is not valid UTF-8", "Save the file as UTF-8.")
        ]
    if not text.strip():
        return None, [
            _diag(
                display,
                1,
                1,
                "SKZ002",
                "file is empty",
                "Write at least `kind:` and `description:`, or run `skillz-engine new KIND NAME`.",
            )
        ]
    return text, []


# --------------------------------------------------------------------------- YAML with positions


def _yaml_error(display: str, exc: yaml.YAMLError, line_offset: int = 0, text: str = "") -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = (mark.line + 1 if mark else 1) + line_offset
    col = mark.column + 1 if mark else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    hint = "Check indentation and quoting; a value containing ': ' or '#' needs quotes."
    index = getattr(mark, "index", None)
    if isinstance(index, int) and 0 <= index < len(text) and text[index] == "\t":
        message = "invalid YAML: a tab character is used for indentation"
        hint = "YAML does not allow tabs for indentation; use spaces."
    return _diag(display, line, col, "SKZ001", message, hint)


def _too_complex(display: str, exc: ManifestTooComplex, line_offset: int = 0) -> Diagnostic:
    line, col = exc.pos
    return _diag(display, line + line_offset, col, "SKZ009", str(exc), exc.hint)


def parse_yaml_text(text: str, display: str, line_offset: int = 0) -> tuple[Any, Positions, list[Diagnostic]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, Positions(), [_diag(display, 1 + line_offset, 1, "SKZ002", "document is empty")]
        builder = Builder(loader, display)
        data = builder.build(node, ())
    except yaml.YAMLError as exc:
        return None, Positions(), [_yaml_error(display, exc, line_offset, text)]
    except ManifestTooComplex as exc:
        return None, Positions(), [_too_complex(display, exc, line_offset)]
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. bad timestamps
        return None, Positions(), [_diag(display, 1 + line_offset, 1, "SKZ001", f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    diags = builder.diagnostics
    if line_offset:
        diags = [
            Diagnostic(
                d.path, d.line + line_offset, d.col, d.code, d.severity, d.message, d.json_path, d.hint
            )
            for d in diags
        ]
    return data, Positions(builder.values, builder.keys, line_offset), diags


# --------------------------------------------------------------------------- JSON


def _strict_json(text: str, display: str) -> tuple[Any, list[Diagnostic]]:
    dups: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                dups.append(k)
            out[k] = v
        return out

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    too_deep = json_too_deep(text)
    if too_deep is not None:
        return None, [_too_complex(display, too_deep)]
    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        return None, [
            _diag(
                display,
                exc.lineno,
                exc.colno,
                "SKZ001",
                f"invalid JSON: {exc.msg}",
                "JSON needs double quotes, no trailing commas and no comments (or use manifest.yaml).",
            )
        ]
    except ValueError as exc:
        return None, [_diag(display, 1, 1, "SKZ001", f"invalid JSON: {exc}")]
    return data, [
        _diag(display, 1, 1, "SKZ006", f"duplicate key {k!r}", "Remove one of the two.") for k in dups
    ]


def parse_json_text(text: str, display: str) -> tuple[Any, Positions, list[Diagnostic]]:
    data, diags = _strict_json(text, display)
    if data is None:
        return None, Positions(), diags
    # positions come from composing the same text as YAML (JSON is, for our purposes, YAML)
    _, positions, ydiags = parse_yaml_text(text.replace("\t", " "), display)
    if ydiags and not any(d.code == "SKZ006" for d in ydiags):
        positions = Positions()
    if diags:  # re-point duplicate-key diagnostics at the key YAML found
        dup_diags = [d for d in ydiags if d.code == "SKZ006"]
        if len(dup_diags) == len(diags):
            diags = dup_diags
    return data, positions, diags


# --------------------------------------------------------------------------- SKILL.md

_FENCE = re.compile(r"^---[ \t]*$")


def split_front_matter(text: str) -> tuple[str | None, int, str, int]:
    """Split SKILL.md into (front matter, its first line, body, body's first line); lines 1-based."""
    lines = text.splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
        return None, 0, text, 1
    for i in range(1, len(lines)):
        if _FENCE.match(lines[i].rstrip("\r\n")):
            return "".join(lines[1:i]), 2, "".join(lines[i + 1 :]), i + 2
    return None, 0, text, 1


def parse_skill_md(path: Path, display: str) -> Document:
    text, diags = read_text(path, display)
    if text is None:
        return Document(path, display, None, Positions(), tuple(diags))
    front, start, body, body_line = split_front_matter(text)
    if front is None:
        return Document(
            path,
            display,
            None,
            Positions(),
            (
                _diag(
                    display,
                    1,
                    1,
                    "SKZ007",
                    "SKILL.md has no YAML front matter",
                    "Start the file with a `---` line, then `name:` and `description:`, then `---`.",
                ),
            ),
            body,
            body_line,
        )
    if not front.strip():
        return Document(
            path,
            display,
            None,
            Positions(),
            (
                _diag(
                    display,
                    2,
                    1,
                    "SKZ002",
                    "SKILL.md front matter is empty",
                    "Add `name:` and `description:` between the `---` lines.",
                ),
            ),
            body,
            body_line,
        )
    data, positions, pdiags = parse_yaml_text(front, display, line_offset=start - 1)
    return Document(path, display, data, positions, tuple(pdiags), body, body_line)


# --------------------------------------------------------------------------- entry point

MANIFEST_NAMES = ("manifest.yaml", "manifest.yml", "manifest.json")
SKILL_FILE = "SKILL.md"


def parse_file(path: Path, display: str | None = None) -> Document:
    """Parse one manifest file (by its name) into a :class:`Document`."""
    display = display or path.as_posix()
    if path.name == SKILL_FILE:
        return parse_skill_md(path, display)
    text, diags = read_text(path, display)
    if text is None:
        return Document(path, display, None, Positions(), tuple(diags))
    if path.suffix == ".json":
        data, positions, pdiags = parse_json_text(text, display)
    else:
        data, positions, pdiags = parse_yaml_text(text, display)
    return Document(path, display, data, positions, tuple(pdiags))


def walk(data: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    """Every (path, value) of a JSON-like structure, depth first."""
    yield path, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from walk(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from walk(v, (*path, i))
