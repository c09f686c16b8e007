"""Paths a manifest names (``validate.entry_path``): tree/paths.py decides, the diagnostic says why
at the key that names the path (SKZ203: it would leave the entry; SKZ204: it is not there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.parse import parse_yaml_text
from skillz_engine.tree.validate import entry_path


def _spec(entry: Path, rel: str) -> EntrySpec:
    data, positions, _ = parse_yaml_text(f"kind: script\ndescription: d\nentry: {rel!r}\n", "manifest.yaml")
    return EntrySpec(kind="script", name=entry.name, root=entry.parent, dir=entry,
                     manifest=entry / "manifest.yaml", display="manifest.yaml", data=data,
                     positions=positions, fingerprint="")  # fmt: skip


@pytest.fixture
def entry(tmp_path: Path) -> Path:
    d = tmp_path / "tool"
    (d / "data").mkdir(parents=True)
    (d / "main.py").write_text("print()\n")
    (tmp_path / "secret.txt").write_text("s\n")
    (d / "out").symlink_to(tmp_path / "secret.txt")
    (d / "loop").symlink_to(d / "loop")
    return d


@pytest.mark.parametrize(
    ("rel", "kind", "code", "words"),
    [
        ("/etc/passwd", "file", "SKZ203", "must be relative"),
        ("C:\\x.py", "file", "SKZ203", "must be relative"),
        ("../secret.txt", "file", "SKZ203", "leaves the entry"),
        ("out", "file", "SKZ203", "through a symlink"),
        ("loop", "file", "SKZ203", "symlink loop"),
        ("mian.py", "file", "SKZ204", "does not exist"),
        ("data", "file", "SKZ204", "is not a file"),
        ("nope", "dir", "SKZ204", "does not exist"),
        ("main.py", "dir", "SKZ204", "is not a directory"),
    ],
)
def test_refusals_say_why_at_the_key(entry: Path, rel: str, kind: str, code: str, words: str) -> None:
    """Each refusal of tree/paths maps to its code and wording, positioned at `entry:`."""
    target, diags = entry_path(_spec(entry, rel), ("entry",), rel, kind=kind)
    assert target is None and len(diags) == 1
    d = diags[0]
    assert (d.code, d.line, d.col, d.json_path) == (code, 3, 8, "$.entry")
    assert words in d.message


def test_did_you_mean_and_acceptance(entry: Path) -> None:
    """A near miss suggests the file; good paths resolve inside the entry; globs need not exist."""
    _, diags = entry_path(_spec(entry, "mian.py"), ("entry",), "mian.py")
    assert diags[0].hint == "Did you mean 'main.py'?"
    assert entry_path(_spec(entry, "main.py"), ("entry",), "main.py") == ((entry / "main.py").resolve(), [])
    assert entry_path(_spec(entry, "data"), ("cwd",), "data", kind="dir") == ((entry / "data").resolve(), [])
    target, diags = entry_path(_spec(entry, "x"), ("files",), "docs/**/*.md", must_exist=False)
    assert diags == [] and target is not None and target.is_relative_to(entry.resolve())
