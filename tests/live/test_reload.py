"""Incremental compile and hot reload: reuse, stale entries, the real watcher, and atomic swaps."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.build.diff import Change
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.live.registry import LiveRegistry
from skillz_engine.live.reload import Reloader, watch

Write = Callable[..., Path]


def resource(text: str, uri: str = "notes://x") -> str:
    return f"kind: resource\ndescription: {text}\nuri: {uri}\ntext: {text}\n"


def prompt(desc: str) -> str:
    return f"kind: prompt\ndescription: {desc}\nmessages:\n  - role: user\n    content: hi\n"


def test_unchanged_entries_are_reused(tmp_path: Path, write: Write) -> None:
    """A rescan recompiles only the entry whose files changed; the others are the same objects."""
    for i in range(5):
        write(f"prompts/p{i}/manifest.yaml", prompt(f"prompt {i}"))
    tree = Tree([tmp_path], lenient=True)
    tree.full_scan()
    first = tree.snapshot()
    before = dict(tree.results)
    p = write("prompts/p3/manifest.yaml", prompt("changed"))
    tree.rescan([p])
    second = tree.snapshot(first)
    assert second.prompts["p3"].description == "changed"
    for i in (0, 1, 2, 4):
        key = (tmp_path / f"prompts/p{i}").resolve().as_posix()
        assert tree.results[key] is before[key]
        assert second.entries[key] is first.entries[key]


def test_bad_edit_keeps_last_good_version_as_stale(tmp_path: Path, write: Write) -> None:
    """While serving, an entry that stops validating keeps its last good version, marked stale."""
    m = write("prompts/p/manifest.yaml", prompt("good"))
    tree = Tree([tmp_path], lenient=True)
    tree.full_scan()
    good = tree.snapshot()
    m.write_text("kind: prompt\ndescription: [unclosed\n")
    tree.rescan([m])
    bad = tree.snapshot(good)
    assert bad.prompts["p"].description == "good"
    assert bad.stale == ((tmp_path / "prompts/p").resolve().as_posix(),)
    codes = [d.code for d in bad.diagnostics]
    assert "SKZ001" in codes and "SKZ010" in codes
    m.write_text(prompt("fixed"))
    tree.rescan([m])
    fixed = tree.snapshot(bad)
    assert fixed.prompts["p"].description == "fixed"
    assert fixed.stale == () and fixed.diagnostics == ()


def test_validate_mode_has_no_stale_fallback(tmp_path: Path, write: Write) -> None:
    """Outside serve (lenient=False) a broken entry is simply not served."""
    m = write("prompts/p/manifest.yaml", prompt("good"))
    tree = Tree([tmp_path], lenient=False)
    tree.full_scan()
    good = tree.snapshot()
    m.write_text("kind: prompt\n")
    tree.rescan([m])
    bad = tree.snapshot(good)
    assert "p" not in bad.prompts and bad.errors


def test_delete_rename_and_new_directories(tmp_path: Path, write: Write) -> None:
    """Deleting a directory removes its entry; a renamed directory is a new entry; nested new ones appear."""
    write("prompts/a/manifest.yaml", prompt("a"))
    tree = Tree([tmp_path], lenient=True)
    tree.full_scan()
    s1 = tree.snapshot()
    (tmp_path / "prompts/a").rename(tmp_path / "prompts/b")
    tree.rescan([tmp_path / "prompts/a", tmp_path / "prompts/b"])
    s2 = tree.snapshot(s1)
    assert list(s2.prompts) == ["b"]
    write("deep/er/still/c/manifest.yaml", prompt("c"))
    tree.rescan([tmp_path / "deep"])
    s3 = tree.snapshot(s2)
    assert sorted(s3.prompts) == ["b", "c"]
    import shutil

    shutil.rmtree(tmp_path / "deep")
    tree.rescan([tmp_path / "deep"])
    assert sorted(tree.snapshot(s3).prompts) == ["b"]


def test_config_change_rebuilds_everything(tmp_path: Path, write: Write) -> None:
    """Editing skillz.yaml reloads the configuration and recompiles the tree."""
    write("prompts/a/manifest.yaml", prompt("a"))
    tree = Tree([tmp_path], lenient=True)
    tree.full_scan()
    s1 = tree.snapshot()
    assert s1.config.server_name == "skillz-engine"
    cfg = write("skillz.yaml", "server:\n  name: renamed\n")
    assert tree.rescan([cfg]) is True
    assert tree.snapshot(s1).config.server_name == "renamed"


@pytest.mark.anyio
async def test_reloader_notifies_listeners_with_the_delta(tmp_path: Path, write: Write) -> None:
    """Applying a change swaps the snapshot and tells listeners which lists changed."""
    write("prompts/a/manifest.yaml", prompt("a"))
    reloader = Reloader(Tree([tmp_path], lenient=True))
    live = await reloader.start()
    seen: list[tuple[frozenset[Change], int]] = []

    async def listener(delta, snap: Snapshot) -> None:  # type: ignore[no-untyped-def]
        seen.append((delta.lists, snap.generation))

    live.add_listener(listener)
    r = write("resources/r/manifest.yaml", resource("hello"))
    delta = await reloader.apply([r.parent])
    assert delta is not None and Change.RESOURCES in delta.lists
    assert seen == [(frozenset({Change.RESOURCES}), live.current.generation)]
    assert await reloader.apply([tmp_path / "nothing-here.txt"]) is None


async def _wait_until(
    live: LiveRegistry, predicate: Callable[[Snapshot], bool], timeout: float = 10
) -> Snapshot:
    with anyio.fail_after(timeout):
        while not predicate(live.current):
            await live.wait_for(live.current.generation + 1, timeout=timeout)
    return live.current


@pytest.mark.anyio
async def test_real_watcher_sees_every_kind_of_edit(tmp_path: Path, write: Write) -> None:
    """With watchfiles: add, change, temp-file-then-rename, half-written file, rename dir, delete."""
    write("prompts/keep/manifest.yaml", prompt("keep"))
    reloader = Reloader(Tree([tmp_path], lenient=True))
    live = await reloader.start()
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(reloader.run, watch([tmp_path], debounce_ms=20, stop_event=stop))
        await anyio.sleep(0.3)  # let inotify watches settle before the first edit
        # add
        write("prompts/new/manifest.yaml", prompt("v1"))
        await _wait_until(live, lambda s: "new" in s.prompts)
        # change
        write("prompts/new/manifest.yaml", prompt("v2"))
        await _wait_until(
            live, lambda s: s.prompts.get("new") is not None and s.prompts["new"].description == "v2"
        )
        # an editor's save: write a temp file, then rename it over the manifest
        tmp = tmp_path / "prompts/new/.manifest.yaml.swp"
        tmp.write_text(prompt("v3"))
        os.replace(tmp, tmp_path / "prompts/new/manifest.yaml")
        await _wait_until(live, lambda s: s.prompts["new"].description == "v3")
        # a half-written file: the last good version stays, stale, with a diagnostic
        (tmp_path / "prompts/new/manifest.yaml").write_text("kind: prompt\ndescription: [v4")
        await _wait_until(live, lambda s: bool(s.stale))
        assert live.current.prompts["new"].description == "v3"
        (tmp_path / "prompts/new/manifest.yaml").write_text(prompt("v4"))
        await _wait_until(live, lambda s: s.prompts["new"].description == "v4" and not s.stale)
        # rename the directory
        (tmp_path / "prompts/new").rename(tmp_path / "prompts/renamed")
        await _wait_until(live, lambda s: "renamed" in s.prompts and "new" not in s.prompts)
        # delete
        import shutil

        shutil.rmtree(tmp_path / "prompts/renamed")
        await _wait_until(live, lambda s: sorted(s.prompts) == ["keep"])
        stop.set()


@pytest.mark.anyio
async def test_no_reader_ever_sees_a_half_built_registry(tmp_path: Path, write: Write) -> None:
    """Readers running while 30 reloads rewrite 40 entries always see one consistent generation."""
    n = 40
    for i in range(n):
        write(f"prompts/p{i:02d}/manifest.yaml", prompt("gen 0"))
    reloader = Reloader(Tree([tmp_path], lenient=True))
    live = await reloader.start()
    checks = 0
    done = anyio.Event()

    def consistent(s: Snapshot) -> None:
        descriptions = {p.description for p in s.prompts.values()}
        assert len(s.prompts) == n, "a snapshot lost or gained entries"
        assert len(descriptions) == 1, f"mixed generations in one snapshot: {sorted(descriptions)}"
        assert all(p.entry in s.entries for p in s.prompts.values())

    async def reader() -> None:
        nonlocal checks
        while not done.is_set():
            with live.reading() as snap:
                consistent(snap)
                await anyio.sleep(0)  # other tasks (and swaps) run while this request holds snap
                consistent(snap)
                checks += 1
            # not a busy loop: reloads compile in a worker thread, which needs the GIL too
            await anyio.sleep(0.001)

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(reader)
        for gen in range(1, 31):
            paths = [write(f"prompts/p{i:02d}/manifest.yaml", prompt(f"gen {gen}")) for i in range(n)]
            await reloader.apply(paths)
            await anyio.sleep(0)
        done.set()
    assert live.current.prompts["p00"].description == "gen 30"
    assert checks > 30


@pytest.mark.anyio
async def test_parsing_a_reload_never_blocks_the_event_loop(tmp_path: Path, write: Write) -> None:
    """Manifests are read and compiled in a worker thread: while a batch of expensive manifests
    (alias bombs, each stopped at the expansion bound) is parsed, the event loop keeps ticking."""
    write("prompts/p/manifest.yaml", prompt("good"))
    reloader = Reloader(Tree([tmp_path], lenient=True))
    await reloader.start()
    lols = ",".join(['"lol"'] * 9)
    bomb = [f"kind: prompt\ndescription: x\na0: &a0 [{lols}]"]
    bomb += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    paths = [write(f"prompts/b{i}/manifest.yaml", "\n".join(bomb) + "\n") for i in range(8)]
    gaps: list[float] = []
    done = anyio.Event()

    async def tick() -> None:
        last = anyio.current_time()
        while not done.is_set():
            await anyio.sleep(0.005)
            now = anyio.current_time()
            gaps.append(now - last)
            last = now

    async with anyio.create_task_group() as tg:
        tg.start_soon(tick)
        t0 = anyio.current_time()
        await reloader.apply(paths)
        took = anyio.current_time() - t0
        done.set()
    assert reloader.live is not None
    codes = {d.code for d in reloader.live.current.diagnostics}
    assert "SKZ009" in codes
    assert took > 0.3  # the batch really was expensive...
    assert max(gaps) < took / 2  # ...and the loop never waited for it
