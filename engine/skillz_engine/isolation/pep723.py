"""PEP 723 inline script metadata: the ``# /// script`` block of a Python file, read and checked.

A Python script entry can declare its own ``dependencies`` and ``requires-python`` in a comment
block (https://peps.python.org/pep-0723/); :func:`inline_metadata` reads it with the reference
regular expression and turns every malformation into a diagnostic pointing at the block.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from skillz_engine.tree.diagnostics import Diagnostic, Severity

__all__ = ["inline_metadata"]

# PEP 723, the reference regular expression
_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
_OPENER = re.compile(r"(?m)^# /// script[ \t]*$")


def inline_metadata(text: str, display: str) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """The ``script`` metadata block of a Python file (PEP 723), or ``None`` when there is none.

    Malformed blocks (several ``script`` blocks, a block never closed, TOML that does not parse,
    keys of the wrong type, dependencies that are not PEP 508) give error diagnostics.
    """

    def diag(offset: int, message: str, hint: str) -> Diagnostic:
        line = text.count("\n", 0, offset) + 1
        return Diagnostic(display, line, 1, "SKZ520", Severity.ERROR, message, "$", hint)

    matches = [m for m in _BLOCK.finditer(text) if m.group("type") == "script"]
    if not matches:
        opener = _OPENER.search(text)
        if opener is None:
            return None, []
        return None, [
            diag(
                opener.start(),
                "PEP 723 `# /// script` block is not closed",
                "End the block with a line `# ///`; every line inside starts with `#`.",
            )
        ]
    if len(matches) > 1:
        return None, [
            diag(
                matches[1].start(),
                "more than one PEP 723 `# /// script` block",
                "Keep one `# /// script` block per file.",
            )
        ]
    m = matches[0]
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in m.group("content").splitlines(keepends=True)
    )
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        return None, [
            diag(
                m.start(),
                f"PEP 723 block is not valid TOML: {exc}",
                'Write TOML inside the block, e.g. `# dependencies = ["requests<3"]`.',
            )
        ]
    problems: list[Diagnostic] = []
    deps = data.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        problems.append(
            diag(
                m.start(),
                "PEP 723 `dependencies` must be an array of strings",
                'Example: `# dependencies = ["requests<3", "rich"]`.',
            )
        )
    else:
        from packaging.requirements import InvalidRequirement, Requirement

        for d in deps:
            try:
                Requirement(d)
            except InvalidRequirement as exc:
                problems.append(
                    diag(
                        m.start(),
                        f"PEP 723 dependency {d!r} is not a PEP 508 requirement: {exc}",
                        "Write a requirement such as `requests>=2.31`.",
                    )
                )
    rp = data.get("requires-python")
    if rp is not None:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(str(rp)) if isinstance(rp, str) else None
        except InvalidSpecifier as exc:
            problems.append(
                diag(
                    m.start(),
                    f"PEP 723 `requires-python` is not a version specifier: {exc}",
                    'Example: `# requires-python = ">=3.11"`.',
                )
            )
        if not isinstance(rp, str):
            problems.append(
                diag(
                    m.start(),
                    "PEP 723 `requires-python` must be a string",
                    'Example: `# requires-python = ">=3.11"`.',
                )
            )
    return (None, problems) if problems else (data, [])
