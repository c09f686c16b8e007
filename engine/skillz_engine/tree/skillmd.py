"""Lenient reading of SKILL.md front matter, as the Agent Skills client guide asks of clients.

Many SKILL.md files in the wild write ``description: Use when: the user asks ...``: the second
``: `` makes it invalid YAML. While serving (never in ``validate``), :func:`repair` retries such a
front matter with each plain top-level value that holds ``: `` quoted, and the skill loads with a
warning (SKZ008) pointing at the original parse error.
"""

from __future__ import annotations

import dataclasses
import json
import re

from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.parse import Document, parse_yaml_text, read_text, split_front_matter

_PLAIN = re.compile(r"^([A-Za-z0-9_-]+):[ \t]+(.+?)[ \t]*$")


def quote_colon_values(front: str) -> str | None:
    """``front`` with unquoted top-level values containing ``: `` quoted; ``None`` if none."""
    out, changed = [], False
    for line in front.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        m = _PLAIN.match(body)
        value = m.group(2) if m else ""
        if m and ": " in value and value[0] not in "\"'|>[{&*!#":
            line = f"{m.group(1)}: {json.dumps(value, ensure_ascii=False)}" + line[len(body) :]
            changed = True
        out.append(line)
    return "".join(out) if changed else None


def repair(doc: Document) -> Document | None:
    """A :class:`Document` read from the repaired front matter (with an SKZ008 warning), or
    ``None`` when the problem is not the unquoted-colon one."""
    failed = next((d for d in doc.diagnostics if d.code == "SKZ001"), None)
    if failed is None:
        return None
    text, _ = read_text(doc.path, doc.display)
    if text is None:
        return None
    front, start, _body, _ = split_front_matter(text)
    fixed = quote_colon_values(front) if front is not None else None
    if fixed is None:
        return None
    data, positions, diags = parse_yaml_text(fixed, doc.display, line_offset=start - 1)
    if data is None or any(d.is_error for d in diags):
        return None
    warning = Diagnostic(
        doc.display,
        failed.line,
        failed.col,
        "SKZ008",
        Severity.WARNING,
        "front matter is not valid YAML (a value holds ': '); read leniently with the value quoted",
        "$",
        'Quote the value: description: "Use when: ..."',
    )
    return dataclasses.replace(doc, data=data, positions=positions, diagnostics=(warning, *diags))
