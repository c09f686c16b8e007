"""Build sources of wasm tools without a compiler: reading a source directory, staging its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.runtimes.wasm.build.source import BuildError, source_from_dir, write_sources


def files(root: Path, names: dict[str, str]) -> Path:
    for rel, text in names.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_source_directory_keeps_its_language_files_and_finds_the_main_one(tmp_path: Path) -> None:
    files(tmp_path, {"src/src/main.rs": "fn main() {}", "src/src/util.rs": "", "src/README.md": "",
                     "src/.hidden/x.rs": ""})  # fmt: skip
    source = source_from_dir("rust", tmp_path, "src", ["serde@1"], "tools/t")
    assert (sorted(source.files), source.main, source.dependencies) == (
        ["src/main.rs", "src/util.rs"],
        "src/main.rs",
        ("serde@1",),
    )
    assert source.display["src/util.rs"] == "tools/t/src/src/util.rs"


@pytest.mark.parametrize(
    ("language", "names", "message"),
    [
        ("rust", {"d/lib.rs": ""}, "needs main.rs or src/main.rs"),
        ("c", {"d/x.h": ""}, "no .c file"),
        ("wat", {"d/a.wat": "", "d/b.wat": ""}, "exactly one .wat file"),
        ("c", {}, "does not exist"),
    ],
)
def test_a_source_directory_without_a_main_file_is_refused(
    tmp_path: Path, language: str, names: dict[str, str], message: str
) -> None:
    files(tmp_path, names)
    with pytest.raises(BuildError, match=message):
        source_from_dir(language, tmp_path, "d")


def test_staging_writes_inside_the_build_directory_only(tmp_path: Path) -> None:
    work = tmp_path / "work"
    write_sources(work / "src", {"a.c": b"int a;", "sub/b.h": b""})
    assert (work / "src" / "sub" / "b.h").is_file()
    (work / "out").symlink_to(tmp_path)
    for rel in ("../escape.c", "/abs.c", "out/escape.c"):
        with pytest.raises(BuildError, match="outside the build directory"):
            write_sources(work, {rel: b""})
    assert not (tmp_path / "escape.c").exists()
