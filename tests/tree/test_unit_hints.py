"""A duration or a size in the wrong form is reported as that (SKZ105), with a hint naming the
accepted forms, not as "expected number, got a string" (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.tree.parse import parse_file
from skillz_engine.tree.schemacheck import schema_diagnostics

HEAD = "kind: command\ndescription: echo\nargv: [echo, hi]\nlimits:\n"


@pytest.mark.parametrize(
    ("line", "forms"),
    [
        ("timeout: fast", ("500ms", "30s", "2m")),
        ("memory: lots", ("64KiB", "256MiB")),
        ("output: 12 parsecs", ("64KiB", "256MiB")),
    ],
)
def test_unit_forms_are_named(tmp_path: Path, line: str, forms: tuple[str, ...]) -> None:
    p = tmp_path / "manifest.yaml"
    p.write_text(HEAD + f"  {line}\n")
    [d] = schema_diagnostics(parse_file(p), "command")
    assert (d.code, d.line) == ("SKZ105", 5)
    assert d.hint is not None and all(f in d.hint for f in forms)


def test_wrong_type_of_an_alternative_is_still_a_type_error(tmp_path: Path) -> None:
    """A value no alternative's type fits (a list) is still reported as a type error."""
    p = tmp_path / "manifest.yaml"
    p.write_text(HEAD + "  timeout: [1]\n")
    assert [d.code for d in schema_diagnostics(parse_file(p), "command")] in (["SKZ103"], ["SKZ107"])
