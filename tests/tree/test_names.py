"""Every name rule is a full match: a trailing newline (Python's ``$`` matches before one) fails.

Issue 15 item 6: ``register_script {"name": "abc\\n"}`` created ``tools/abc\\n/``, which served and
validated clean. The writers, the directory names the scanner finds, the scaffold and the schemas'
``pattern`` keywords (ECMA semantics, where ``$`` ends the string) all refuse it now.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.builtins.writers import WriterError, check_name
from skillz_engine.tree import schemas
from skillz_engine.tree.validate import ENTRY_NAME, SKILL_NAME
from tests.conftest import open_tree


@pytest.mark.parametrize("name", ["abc\n", "abc\r\n", "\nabc"])
def test_writers_refuse_a_name_with_a_newline(name: str) -> None:
    with pytest.raises(WriterError, match="invalid name"):
        check_name(name)


def test_name_patterns_are_full_matches() -> None:
    assert ENTRY_NAME.fullmatch("abc") and not ENTRY_NAME.fullmatch("abc\n")
    assert SKILL_NAME.fullmatch("a-b") and not SKILL_NAME.fullmatch("a-b\n")


def test_a_directory_name_ending_in_a_newline_does_not_validate(tmp_path: Path) -> None:
    bad = tmp_path / "tools" / "abc\n"
    bad.mkdir(parents=True)
    (bad / "manifest.yaml").write_text("kind: command\ndescription: d\nargv: [echo, hi]\n")
    good = tmp_path / "tools" / "abc"
    good.mkdir()
    (good / "manifest.yaml").write_text("kind: command\ndescription: d\nargv: [echo, hi]\n")
    tree = open_tree([tmp_path], lenient=False)
    tree.full_scan()
    snap = tree.snapshot()
    codes = [(d.code, d.path) for d in snap.errors]
    assert any(code == "SKZ202" and "abc\n" in path for code, path in codes), codes
    assert not any("tools/abc/" in path for _, path in codes)


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("^[a-z]+$", "abc", True),
        ("^[a-z]+$", "abc\n", False),
        (r"^a\$$", "a$", True),  # an escaped dollar is a literal
        ("^[$]+$", "$$", True),  # and so is one in a class
        ("^[$]+$", "$$\n", False),
        (r"\.(wasm|wat)$", "x.wasm\n", False),
    ],
)
def test_schema_patterns_read_dollar_as_ecma_does(pattern: str, text: str, matches: bool) -> None:
    assert schemas.ecma_search(pattern, text) is matches


def test_the_python_validator_refuses_a_trailing_newline_in_a_schema_name() -> None:
    """The Python validator (which explains errors) and the Rust one (which says valid or not)
    agree: a declared name with a trailing newline is an error with a position."""
    v = schemas.validator("skill-md")
    errors = list(v.iter_errors({"name": "my-skill\n", "description": "d"}))
    assert any(e.validator == "pattern" for e in errors), [e.message for e in errors]
    assert not any(e.validator == "pattern" for e in v.iter_errors({"name": "my-skill", "description": "d"}))
    fast = schemas.fast_validator("skill-md")
    if fast is not None:
        assert not fast.is_valid({"name": "my-skill\n", "description": "d"})
