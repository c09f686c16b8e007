"""The writers' common path: names checked, atomic write, backup, served before return, rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.builtins.writers import (
    WriterError,
    check_name,
    existing_entry,
    serve_written,
    write_entry,
)
from skillz_engine.live.reload import Reloader

pytestmark = pytest.mark.anyio


def command(text: str) -> str:
    return f"kind: command\ndescription: says {text}\nargv: [echo, {text}]\n"


@pytest.mark.parametrize(
    "bad", ["", "..", "../x", "a/b", "a\\b", "/abs", "x\x00y", ".hidden", "-dash", "a" * 65, 3]
)
def test_unsafe_names_are_refused(bad: object) -> None:
    with pytest.raises(WriterError):
        check_name(bad)


def test_good_names_pass() -> None:
    assert check_name("my-tool_2.v1") == "my-tool_2.v1"


async def test_new_entry_is_served_before_return(tmp_path: Path) -> None:
    reloader = Reloader(Tree([tmp_path], lenient=True))
    live = await reloader.start()
    assert "hello" not in live.current.tools
    written = write_entry(reloader, "hello", {"manifest.yaml": command("hi")}, kind="command")
    assert written.path == tmp_path / "tools" / "hello" and not written.replaced
    snap = await serve_written(reloader, written, "hello")
    assert "hello" in snap.tools and live.current is snap
    # no staging directory is left behind
    assert sorted(p.name for p in (tmp_path / "tools").iterdir()) == ["hello"]


async def test_replace_keeps_a_backup_and_refuses_without_overwrite(tmp_path: Path) -> None:
    reloader = Reloader(Tree([tmp_path], lenient=True))
    live = await reloader.start()
    first = write_entry(reloader, "t", {"manifest.yaml": command("one")}, kind="command")
    await serve_written(reloader, first, "t")
    existing = existing_entry(live.current, "t")
    assert existing == first.path
    with pytest.raises(WriterError, match="overwrite"):
        write_entry(reloader, "t", {"manifest.yaml": command("two")}, kind="command", existing=existing)
    second = write_entry(
        reloader, "t", {"manifest.yaml": command("two")}, kind="command", overwrite=True, existing=existing
    )
    assert second.backup is not None
    assert "one" in (second.backup / "manifest.yaml").read_text()
    # the replaced state is version 1 of the entry's history (recorded when it was served)
    assert second.backup == tmp_path / ".skillz" / "versions" / "tools" / "t" / "0001" / "files"
    snap = await serve_written(reloader, second, "t")
    assert snap.tools["t"].description == "says two"


async def test_a_broken_replacement_rolls_back(tmp_path: Path) -> None:
    reloader = Reloader(Tree([tmp_path], lenient=True))
    live = await reloader.start()
    good = write_entry(reloader, "t", {"manifest.yaml": command("one")}, kind="command")
    await serve_written(reloader, good, "t")
    bad = write_entry(
        reloader,
        "t",
        {"manifest.yaml": "kind: command\ndescription: x\nargv: 7\n"},
        kind="command",
        overwrite=True,
        existing=good.path,
    )
    with pytest.raises(WriterError, match="does not compile") as info:
        await serve_written(reloader, bad, "t")
    assert "manifest.yaml" in str(info.value) and "previous version is back" in str(info.value)
    assert "one" in (good.path / "manifest.yaml").read_text()
    assert live.current.tools["t"].description == "says one"
    assert not live.current.stale


async def test_a_broken_new_entry_is_removed(tmp_path: Path) -> None:
    reloader = Reloader(Tree([tmp_path], lenient=True))
    live = await reloader.start()
    bad = write_entry(reloader, "nope", {"manifest.yaml": "kind: command\nargv: []\n"}, kind="command")
    with pytest.raises(WriterError, match="nothing was kept"):
        await serve_written(reloader, bad, "nope")
    assert not bad.path.exists()
    assert "nope" not in live.current.tools and not live.current.diagnostics


@pytest.mark.parametrize("rel", ["../escape.txt", "/etc/escape.txt", "sub/../../escape.txt", "bad\x00name"])
async def test_a_staged_file_cannot_leave_the_entry(tmp_path: Path, rel: str) -> None:
    """Every staged file goes through safe_join: nothing is written outside, nothing is left staged."""
    reloader = Reloader(Tree([tmp_path], lenient=True))
    await reloader.start()
    files = {"manifest.yaml": command("hi"), rel: "x"}
    with pytest.raises(WriterError, match="cannot be written in the entry"):
        write_entry(reloader, "t", files, kind="command")
    assert not (tmp_path / "tools" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    assert list((tmp_path / "tools").iterdir()) == []


async def test_a_staged_file_may_be_hidden_or_nested(tmp_path: Path) -> None:
    reloader = Reloader(Tree([tmp_path], lenient=True))
    await reloader.start()
    files = {"manifest.yaml": command("hi"), ".config/x.json": "{}", "a/b/c.txt": "c"}
    written = write_entry(reloader, "t", files, kind="command")
    assert (written.path / ".config" / "x.json").read_text() == "{}"
    assert (written.path / "a" / "b" / "c.txt").read_text() == "c"
