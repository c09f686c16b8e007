"""tree.paths: the one containment rule set (syntax table, symlinks, kinds, globs, is_inside)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

import pytest

from skillz_engine.errors import EngineError
from skillz_engine.tree.paths import (
    ABSOLUTE,
    CONTROL,
    EMPTY,
    HIDDEN,
    LOOP,
    NOT_DIR,
    NOT_FILE,
    NOT_FOUND,
    OUTSIDE,
    PARENT,
    PathEscape,
    check_relative,
    is_inside,
    safe_glob,
    safe_join,
)

# (rel, expected reason or None); the tree under base holds a/b.txt, a/c/, .hidden/x
ROWS: list[tuple[str, str | None]] = [
    ("a", None),
    ("a/b.txt", None),
    ("./a", None),
    ("a/./b.txt", None),
    ("a//b.txt", None),
    ("a/", None),
    (".", None),
    ("a\\b.txt", None),  # a backslash is a separator
    ("a\\c", None),
    ("new/file.txt", None),  # need not exist for kind="any"
    ("", EMPTY),
    ("/etc/passwd", ABSOLUTE),
    ("/", ABSOLUTE),
    ("\\x", ABSOLUTE),
    ("\\\\server\\share", ABSOLUTE),
    ("//server/share", ABSOLUTE),
    ("C:\\x", ABSOLUTE),
    ("C:x", ABSOLUTE),
    ("c:/x", ABSOLUTE),
    ("a\x00b", CONTROL),
    ("\x00", CONTROL),
    ("a.txt\n", CONTROL),
    ("a.txt\r", CONTROL),
    ("a\tb", CONTROL),
    ("a\x1fb", CONTROL),
    ("a\x7fb", CONTROL),
    ("/x\x00", CONTROL),
    ("..", PARENT),
    ("../x", PARENT),
    ("a/..", PARENT),
    ("a/../a", PARENT),  # even one that comes back down
    ("a\\..\\..\\x", PARENT),
    ("a/../../etc/passwd", PARENT),
    (".hidden", HIDDEN),
    (".hidden/x", HIDDEN),
    ("a/.git/config", HIDDEN),
    ("a\\.env", HIDDEN),
    ("...x", HIDDEN),
    ("1.0..2.0", None),  # '..' only counts as a whole segment
    ("a..", None),
]


@pytest.fixture
def base(tmp_path: Path) -> Path:
    root = tmp_path / "base"
    (root / "a" / "c").mkdir(parents=True)
    (root / "a" / "b.txt").write_text("b")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x").write_text("x")
    return root


@pytest.mark.parametrize(("rel", "reason"), ROWS)
def test_rules(base: Path, rel: str, reason: str | None) -> None:
    assert check_relative(rel) == reason
    if reason is None:
        joined = safe_join(base, rel)
        assert joined == base.resolve().joinpath(*rel.replace("\\", "/").split("/"))
        assert is_inside(joined, base)
    else:
        with pytest.raises(PathEscape) as info:
            safe_join(base, rel)
        exc = info.value
        assert isinstance(exc, EngineError)
        assert (exc.rel, exc.base, exc.reason) == (rel, base, reason)
        assert exc.hint and repr(rel) in str(exc) and reason in str(exc) and "\n" not in str(exc)


def test_allow_hidden(base: Path) -> None:
    assert check_relative(".hidden/x", allow_hidden=True) is None
    assert safe_join(base, ".hidden/x", kind="file", allow_hidden=True) == base.resolve() / ".hidden" / "x"
    assert check_relative("../.x", allow_hidden=True) == PARENT


def test_pure_paths(base: Path) -> None:
    assert safe_join(base, PurePosixPath("a/b.txt"), kind="file").name == "b.txt"
    assert safe_join(base, PureWindowsPath("a\\b.txt"), kind="file").name == "b.txt"
    with pytest.raises(PathEscape, match="absolute path"):
        safe_join(base, PureWindowsPath("C:\\x"))


def test_kinds(base: Path) -> None:
    assert safe_join(base, "a/b.txt", kind="file").read_text() == "b"
    assert safe_join(base, "a/c", kind="dir").is_dir()
    assert safe_join(base, ".", kind="dir") == base.resolve()
    cases: list[tuple[str, Literal["file", "dir"], str]] = [
        ("a/c", "file", NOT_FILE),
        (".", "file", NOT_FILE),
        ("a/b.txt", "dir", NOT_DIR),
        ("nope.txt", "file", NOT_FOUND),
        ("nope", "dir", NOT_FOUND),
        ("a/b.txt/x", "file", NOT_FOUND),
    ]
    for rel, kind, reason in cases:
        with pytest.raises(PathEscape) as info:
            safe_join(base, rel, kind=kind)
        assert info.value.reason == reason, rel


def test_symlink_outside(tmp_path: Path, base: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    (base / "file-link").symlink_to(outside / "secret")
    (base / "dir-link").symlink_to(outside, target_is_directory=True)
    (base / "dangling").symlink_to(outside / "not-yet")
    (base / "abs-up").symlink_to(base.parent)
    for rel in ["file-link", "dir-link", "dir-link/secret", "dir-link/new", "dangling", "abs-up"]:
        with pytest.raises(PathEscape) as info:
            safe_join(base, rel)
        assert info.value.reason == OUTSIDE, rel
        assert not is_inside(base / rel, base)


def test_symlink_inside(base: Path) -> None:
    (base / "link.txt").symlink_to("a/b.txt")
    (base / "dir-link").symlink_to("a", target_is_directory=True)
    (base / "a" / "up").symlink_to("..", target_is_directory=True)  # up to base: still inside
    assert safe_join(base, "link.txt", kind="file") == base.resolve() / "a" / "b.txt"
    assert safe_join(base, "dir-link/b.txt", kind="file") == base.resolve() / "a" / "b.txt"
    assert safe_join(base, "a/up", kind="dir") == base.resolve()
    # the base itself may sit behind a symlink
    alias = base.parent / "alias"
    alias.symlink_to(base, target_is_directory=True)
    assert safe_join(alias, "a/b.txt", kind="file") == base.resolve() / "a" / "b.txt"


def test_symlink_loop(base: Path) -> None:
    (base / "loop").symlink_to("loop")
    (base / "ping").symlink_to("pong")
    (base / "pong").symlink_to("ping")
    for rel in ["loop", "ping", "loop/x", "ping/deeper/file"]:
        kinds: tuple[Literal["any", "file", "dir"], ...] = ("any", "file", "dir")
        for kind in kinds:
            with pytest.raises(PathEscape) as info:
                safe_join(base, rel, kind=kind)
            assert info.value.reason == LOOP, (rel, kind)
    looped_base = base / "loop"
    with pytest.raises(PathEscape, match="symlink loop"):
        safe_join(looped_base, "x")


def test_safe_glob(tmp_path: Path, base: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    (base / "top.txt").write_text("t")
    (base / ".dot.txt").write_text("d")
    (base / "a" / "c" / "deep.txt").write_text("d")
    (base / "a" / "c" / "deep.md").write_text("d")
    (base / "a" / ".git").mkdir()
    (base / "a" / ".git" / "config.txt").write_text("g")
    (base / "out.txt").symlink_to(outside / "secret.txt")
    (base / "out-dir").symlink_to(outside, target_is_directory=True)
    (base / "in.txt").symlink_to("a/b.txt")
    (base / "loop.txt").symlink_to("loop.txt")

    def rels(pattern: str, **kw: bool) -> list[str]:
        return [p.relative_to(base).as_posix() for p in safe_glob(base, pattern, **kw)]

    assert rels("*.txt") == ["in.txt", "top.txt"]
    assert rels("**") == ["a/b.txt", "a/c/deep.md", "a/c/deep.txt", "in.txt", "top.txt"]
    assert rels("**/*.txt") == ["a/b.txt", "a/c/deep.txt", "in.txt", "top.txt"]
    assert rels("a/**/*.txt") == ["a/b.txt", "a/c/deep.txt"]
    assert rels("a\\c\\*") == ["a/c/deep.md", "a/c/deep.txt"]
    assert rels("a/*/deep.?d") == ["a/c/deep.md"]
    assert rels("out-dir/*") == []  # named literally, but it leads outside
    assert rels("**", allow_hidden=True) == [
        ".dot.txt",
        ".hidden/x",
        "a/.git/config.txt",
        "a/b.txt",
        "a/c/deep.md",
        "a/c/deep.txt",
        "in.txt",
        "top.txt",
    ]
    assert rels("missing/*") == []
    assert len(safe_glob(base, "**", limit=2)) == 2
    for pattern, reason in [("/etc/*", ABSOLUTE), ("../*", PARENT), ("a\x00*", CONTROL), ("", EMPTY)]:
        with pytest.raises(PathEscape) as info:
            safe_glob(base, pattern)
        assert info.value.reason == reason
    with pytest.raises(PathEscape, match="hidden name"):
        safe_glob(base, ".*")


def test_is_inside_never_raises(tmp_path: Path, base: Path) -> None:
    (base / "loop").symlink_to("loop")
    assert is_inside(base, base)
    assert is_inside(base / "a" / "b.txt", base)
    assert is_inside(base / "not" / "there", base)
    assert not is_inside(tmp_path, base)
    assert not is_inside(base / ".." / "x", base)
    assert not is_inside(base / "loop", base)
    assert not is_inside(base / "loop" / "x", base)
    assert not is_inside(base / "a", base / "loop")
    assert not is_inside(Path("a\x00b"), base)
    assert isinstance(is_inside(base / ("x" * 5000), base), bool)  # ENAMETOOLONG: no exception
    (base / "a").chmod(0)
    try:
        assert isinstance(is_inside(base / "a" / "b.txt", base), bool)
    finally:
        (base / "a").chmod(0o755)
