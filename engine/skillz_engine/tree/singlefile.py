"""Single-file tools: a script that carries its own manifest in a comment (Script Kit's scripts as
tools), so ``tools/hello.py`` is an entry without a directory or a ``manifest.yaml``.

Two spellings, in the line comments of the script's language (``#`` for Python, shell, Ruby and
Perl; ``//`` for JavaScript), every line of the block starting with the comment and a space:

- a TOML block in the PEP 723 style, anywhere in the file::

      # /// skillz
      # description = "Say hello."
      # inputSchema = {type = "object", properties = {name = {type = "string"}}}
      # ///

- YAML front matter, as the file's first comment (after a ``#!`` line)::

      // ---
      // description: Say hello.
      // ---

The keys are a ``kind: script`` manifest's, minus what the file implies: ``kind`` is ``script``
and ``entry`` is the file itself. The scan (:func:`has_metadata`) reads at most
:data:`HEAD_BYTES` of a file whose extension names a language; :func:`parse_single_file` turns the
block into a :class:`~skillz_engine.tree.parse.Document` whose positions are lines and columns of
the script, so every later check (schema, names, paths) points into the script file.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.parse import Document, parse_yaml_text, read_text
from skillz_engine.tree.positions import JsonPath, Pos, Positions
from skillz_engine.tree.tomlpos import toml_positions

__all__ = ["COMMENTS", "HEAD_BYTES", "has_metadata", "is_candidate", "parse_single_file"]

# file extension -> the language's line comment (the extensions the script runtime knows)
COMMENTS = {".py": "#", ".sh": "#", ".rb": "#", ".pl": "#", ".js": "//", ".mjs": "//", ".cjs": "//"}
HEAD_BYTES = 64 * 1024  # the block must start within the file's first 64 KiB
_TOML_ERROR = re.compile(
    r"^(?P<msg>.*) \((?:at line (?P<line>\d+), column (?P<col>\d+)|at end of document)\)$", re.S
)


def is_candidate(name: str) -> bool:
    """Whether a file called ``name`` may be a single-file tool (its extension names a language)."""
    return Path(name).suffix in COMMENTS and not name.startswith(".")


def _opener(comment: str) -> re.Pattern[str]:
    return re.compile(rf"(?m)^{re.escape(comment)} /// skillz[ \t]*\r?$")


def _fence(comment: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(comment)} ---[ \t]*$")


def _front_start(lines: list[str], comment: str) -> int | None:
    """The index of the front matter's opening ``<comment> ---`` line, if the file starts with one."""
    i = 1 if lines and lines[0].startswith("#!") else 0
    return i if i < len(lines) and _fence(comment).match(lines[i].rstrip("\r")) else None


def _closed_front(lines: list[str], comment: str) -> bool:
    """Whether the file starts with front matter that is closed, with comment lines only between
    the fences: a script whose first line is a ``# ---`` rule for another reason is not an entry."""
    start = _front_start(lines, comment)
    if start is None:
        return False
    for line in lines[start + 1 :]:
        line = line.rstrip("\r")
        if _fence(comment).match(line):
            return True
        if line != comment and not line.startswith(comment + " "):
            return False
    return False


def has_metadata(path: Path) -> bool:
    """Whether ``path`` carries a skillz block or front matter (the scan's test: reads the head only)."""
    comment = COMMENTS.get(path.suffix)
    if comment is None:
        return False
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    return bool(_opener(comment).search(head)) or _closed_front(head.splitlines(), comment)


def _diag(display: str, line: int, col: int, message: str, hint: str, code: str = "SKZ001") -> Diagnostic:
    return Diagnostic(display, line, col, code, Severity.ERROR, message, "$", hint)


def _block(
    lines: list[str], start: int, comment: str, close: str, display: str, what: str
) -> tuple[str | None, list[Pos], list[Diagnostic]]:
    """The text of the block whose opener is ``lines[start]`` and whose last line is ``close``,
    comment prefixes removed, and where each of its lines sits in the file (1-based line, and the
    columns the prefix took)."""
    closer = re.compile(rf"^{re.escape(close)}[ \t]*$")
    hint = f"End the block with a line `{close}`; every line inside starts with `{comment} `."
    content: list[str] = []
    where: list[Pos] = []
    for n in range(start + 1, len(lines)):
        line = lines[n].rstrip("\r")
        if closer.match(line):
            return "\n".join(content) + "\n", where, []
        if line == comment:
            content.append("")
        elif line.startswith(comment + " "):
            content.append(line[len(comment) + 1 :])
        else:
            message = f"{what} is not closed: this line is not a `{comment} ` comment"
            return None, [], [_diag(display, n + 1, 1, message, hint)]
        where.append((n + 1, len(comment) + 1))
    return None, [], [_diag(display, start + 1, 1, f"{what} is not closed", hint)]


def _toml(text: str, where: list[Pos], display: str) -> tuple[Any, Positions, list[Diagnostic]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_ERROR.match(str(exc))
        line, col = (int(m["line"]), int(m["col"])) if m and m["line"] else (len(where), 1)
        file_line, offset = where[min(line, len(where)) - 1] if where else (1, 0)
        message = m["msg"] if m else str(exc)
        return (
            None,
            Positions(),
            [
                _diag(
                    display,
                    file_line,
                    col + offset,
                    f"invalid TOML in the skillz block: {message}",
                    'Write TOML after the comment prefix, e.g. `# description = "Say hello."`.',
                )
            ],
        )
    values, keys = toml_positions(text, where)
    return data, Positions(values, keys), []


def _yaml(text: str, where: list[Pos], display: str) -> tuple[Any, Positions, list[Diagnostic]]:
    data, positions, diags = parse_yaml_text(text, display)

    def shift(pos: Pos) -> Pos:
        line, col = pos
        file_line, offset = where[min(max(line, 1), len(where)) - 1]
        return file_line, col + offset

    moved = [
        Diagnostic(d.path, *shift((d.line, d.col)), d.code, d.severity, d.message, d.json_path, d.hint)
        for d in diags
    ]
    values = {p: shift(v) for p, v in positions.values.items()}
    keys = {p: shift(v) for p, v in positions.keys.items()}
    return data, Positions(values, keys), moved


def parse_single_file(path: Path, display: str) -> Document:
    """The manifest a script carries: its block as data (``kind`` and ``entry`` filled in), with
    positions in the script. A block that names ``entry`` or another ``kind`` is an error (SKZ210)."""
    comment = COMMENTS[path.suffix]
    text, diags = read_text(path, display)
    if text is None:
        return Document(path, display, None, Positions(), tuple(diags))
    lines = text.splitlines()
    openers = [n for n, line in enumerate(lines) if _opener(comment).match(line)]
    front = _front_start(lines, comment)
    if len(openers) > 1 or (openers and front is not None):
        second = openers[1] if len(openers) > 1 else openers[0]
        return _failed(
            path,
            display,
            _diag(
                display,
                second + 1,
                1,
                "a second skillz block in one file",
                "Keep one block: the `/// skillz` block or the front matter.",
            ),
        )
    if openers:
        close, what = f"{comment} ///", "the skillz block"
        body, where, problems = _block(lines, openers[0], comment, close, display, what)
        parse = _toml
        first = openers[0]
    elif front is not None:
        close, what = f"{comment} ---", "the front matter"
        body, where, problems = _block(lines, front, comment, close, display, what)
        parse = _yaml
        first = front
    else:
        return _failed(
            path,
            display,
            _diag(
                display,
                1,
                1,
                "no skillz block in this file",
                f"Add a `{comment} /// skillz` ... `{comment} ///` block.",
            ),
        )
    if body is None:
        return Document(path, display, None, Positions(), tuple(problems))
    if not body.strip():
        return _failed(
            path,
            display,
            _diag(
                display,
                first + 1,
                1,
                "the skillz block is empty",
                "Write at least its `description`.",
                "SKZ002",
            ),
        )
    data, positions, pdiags = parse(body, where, display)
    if data is None or any(d.is_error for d in pdiags):
        return Document(path, display, None, positions, tuple(pdiags))
    if not isinstance(data, dict):
        return _failed(
            path,
            display,
            _diag(display, first + 2, 1, "the skillz block must be a mapping", "Write `key: value` lines."),
        )
    return _implied(path, display, data, positions, first, pdiags)


def _failed(path: Path, display: str, diag: Diagnostic) -> Document:
    return Document(path, display, None, Positions(), (diag,))


def _implied(
    path: Path, display: str, data: dict[str, Any], positions: Positions, first: int, diags: list[Diagnostic]
) -> Document:
    """Fill in what the file implies (``kind: script``, ``entry``: the file), refusing a block that
    says otherwise."""
    at: Pos = (first + 1, 1)
    problems = list(diags)
    doc = Document(path, display, data, positions)
    if "entry" in data:
        problems.append(
            doc.diag(
                ("entry",),
                "SKZ210",
                "a single-file tool's entry is the file itself",
                hint="Remove `entry`; to run another file, make a tool directory.",
                at_key=True,
            )
        )
    kind = data.get("kind", "script")
    if kind != "script":
        problems.append(
            doc.diag(
                ("kind",),
                "SKZ210",
                f"a single-file entry is a script tool, not {kind!r}",
                hint="Remove `kind`, or make a directory with a manifest for this kind.",
            )
        )
    full: dict[str, Any] = {**data, "kind": "script", "entry": path.name}
    values: dict[JsonPath, Pos] = {("kind",): at, ("entry",): at, **positions.values}
    return Document(path, display, full, Positions(values, dict(positions.keys)), tuple(problems))
