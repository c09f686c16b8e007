"""Scan and compile rules that protect the tree: symlinks, ignored names, bad files while serving."""

from __future__ import annotations

from pathlib import Path

from skillz_engine.build.compile import Tree
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.builtins import catalog
from skillz_engine.tree.parse import MAX_MANIFEST_BYTES
from tests.conftest import open_tree

PROMPT = "kind: prompt\ndescription: ok\nmessages:\n  - role: user\n    content: hi\n"


def _snap(root: Path, lenient: bool = True):  # type: ignore[no-untyped-def]
    tree = open_tree([root], lenient=lenient)
    tree.full_scan()
    return tree.snapshot()


def _codes(snap) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.code for d in snap.diagnostics]


def test_symlinked_directory_out_of_root_is_not_followed(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A directory symlink that leads outside the root is reported and not scanned."""
    outside = tmp_path / "outside"
    write("evil/manifest.yaml", PROMPT, root=outside)
    root = tmp_path / "root"
    (root / "prompts").mkdir(parents=True)
    (root / "prompts/evil").symlink_to(outside / "evil", target_is_directory=True)
    snap = _snap(root)
    assert "evil" not in snap.prompts
    assert "SKZ206" in _codes(snap)


def test_symlink_inside_root_is_followed(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A directory symlink that stays inside the root is an ordinary entry."""
    write("real/p/manifest.yaml", PROMPT)
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    snap = _snap(tmp_path)
    assert "p" in snap.prompts
    assert "SKZ206" not in _codes(snap)


def test_manifest_symlinked_out_of_root_is_refused(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A manifest file that is a symlink to a file outside the root is an error."""
    target = write("elsewhere.yaml", PROMPT, root=tmp_path / "out")
    (tmp_path / "root/prompts/p").mkdir(parents=True)
    (tmp_path / "root/prompts/p/manifest.yaml").symlink_to(target)
    snap = _snap(tmp_path / "root")
    assert "p" not in snap.prompts and "SKZ206" in _codes(snap)


def test_template_symlinked_out_of_entry_is_refused(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A file a manifest names must not resolve outside its entry through a symlink."""
    secret = write("secret.txt", "top secret", root=tmp_path / "out")
    write("prompts/p/manifest.yaml", "kind: prompt\ndescription: x\ntemplate: t.j2\n", root=tmp_path / "root")
    (tmp_path / "root/prompts/p/t.j2").symlink_to(secret)
    snap = _snap(tmp_path / "root", lenient=False)
    assert "p" not in snap.prompts and "SKZ203" in _codes(snap)


def test_ignored_names_are_not_scanned(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Dot dirs, node_modules, __pycache__, venvs and editor files never become entries."""
    for d in (".git/p", "node_modules/p", "__pycache__/p", ".venv/p", "venv/p", ".skillz/p"):
        write(f"{d}/manifest.yaml", PROMPT)
    write("prompts/real/manifest.yaml", PROMPT)
    write("prompts/real/manifest.yaml~", "garbage: [")
    write("prompts/real/.manifest.yaml.swp", "garbage: [")
    snap = _snap(tmp_path)
    builtin = {p.name for p in catalog().prompts}  # the authoring prompts every snapshot has
    assert [p for p in snap.prompts if p not in builtin] == ["real"] and snap.diagnostics == ()


def test_inside_an_entry_nothing_is_walked_except_in_skills(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A manifest below a tool entry is not an entry; below a skill it is the skill's own."""
    write("tools/t/manifest.yaml", PROMPT)
    write("tools/t/vendor/inner/manifest.yaml", PROMPT)
    write("skills/s/SKILL.md", "---\nname: s\ndescription: A skill. Use for tests.\n---\nbody\n")
    write("skills/s/tools/owned/manifest.yaml", PROMPT)
    snap = _snap(tmp_path)
    assert "inner" not in snap.prompts
    assert snap.prompts["owned"].owner == "s"
    assert snap.prompts["t"].owner is None


def test_serve_keeps_serving_through_every_kind_of_bad_file(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Huge, binary, empty, malformed and duplicate manifests are diagnostics; good entries still serve."""
    write("prompts/good/manifest.yaml", PROMPT)
    write("prompts/huge/manifest.yaml", "description: " + "x" * (MAX_MANIFEST_BYTES + 10))
    (tmp_path / "prompts/binary").mkdir()
    (tmp_path / "prompts/binary/manifest.yaml").write_bytes(bytes(range(256)) * 10)
    write("prompts/empty/manifest.yaml", "")
    write("prompts/broken/manifest.json", '{"kind": "prompt",')
    write("prompts/two/manifest.yaml", PROMPT)
    write("prompts/two/manifest.yml", PROMPT)
    write("other/good/manifest.yaml", PROMPT)
    snap = _snap(tmp_path)
    assert "good" in snap.prompts
    codes = set(_codes(snap))
    assert {"SKZ003", "SKZ004", "SKZ002", "SKZ001", "SKZ205", "SKZ207"} <= codes
    for d in snap.diagnostics:
        assert d.line >= 0 and d.path and d.message and "Traceback" not in d.message


def test_duplicate_names_across_roots(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Two roots exposing one prompt name: the first wins, the second is an error at its manifest."""
    write("p/manifest.yaml", PROMPT, root=tmp_path / "a")
    write("p/manifest.yaml", PROMPT, root=tmp_path / "b")
    tree = open_tree([tmp_path / "a", tmp_path / "b"])
    tree.full_scan()
    snap = tree.snapshot()
    assert snap.prompts["p"].entry == (tmp_path / "a/p").resolve().as_posix()
    dup = [d for d in snap.diagnostics if d.code == "SKZ207"]
    assert len(dup) == 1 and "/b/p/" in dup[0].path


def test_entry_named_like_a_builtin_is_an_error(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """An entry cannot take a built-in tool's name."""
    write(
        "tools/call_tool/manifest.yaml",
        "kind: command\ndescription: impostor\nargv: [echo, hi]\n",
    )
    snap = _snap(tmp_path)
    assert snap.tools["call_tool"].kind == "builtin"
    assert "SKZ207" in _codes(snap)


def test_legacy_skillz_manifest_is_read_with_a_warning(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """A Rust Skillz manifest.json is translated (tool_type, input_schema, entry_file) and warned about."""
    write(
        "old/manifest.json",
        '{"name": "old", "description": "d", "tool_type": "script", "entry_file": "old.py", '
        '"interpreter": "python3", "input_schema": {"type": ""}, "requires_services": []}',
    )
    write("old/old.py", "print(1)\n")
    snap = _snap(tmp_path)
    spec = next(iter(snap.specs.values()))
    assert spec.legacy and spec.kind == "script" and spec.data["entry"] == "old.py"
    assert spec.data["inputSchema"] == {"type": "object"}
    assert [d.code for d in snap.diagnostics] == ["SKZ401"]


def test_per_snapshot_caches_never_mix_trees(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Caches keyed per snapshot answer for that snapshot only, even at the same generation."""
    from skillz_engine.builtins.search import search

    write("p/manifest.yaml", "kind: command\ndescription: alpha tool\nargv: [echo, a]\n", root=tmp_path / "a")
    write("q/manifest.yaml", "kind: command\ndescription: beta tool\nargv: [echo, b]\n", root=tmp_path / "b")
    snaps = []
    for root in ("a", "b"):
        tree = open_tree([tmp_path / root])
        tree.full_scan()
        snaps.append(tree.snapshot())
    assert snaps[0].generation == snaps[1].generation

    def names(snap: Snapshot) -> list[str]:
        return snap.derived("names", lambda: sorted(snap.tools))

    assert [names(s) for s in snaps] == [
        sorted(snaps[0].tools),
        sorted(snaps[1].tools),
    ]
    assert search(snaps[0], "alpha")[0][0].name == "p"
    assert search(snaps[1], "beta")[0][0].name == "q"


def test_builtins_and_runtimes_are_what_the_caller_passes(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """The build layer knows no built-in and no runtime module: a bare tree serves entries only,
    loading each kind's runtime by the kind registry's name; the catalog adds the built-ins,
    filtered by the tree's configuration."""
    write("prompts/p/manifest.yaml", PROMPT)
    write("skillz.yaml", "builtins:\n  disabled: [memory]\n")
    bare = Tree([tmp_path])
    bare.full_scan()
    snap = bare.snapshot()
    assert list(snap.tools) == [] and list(snap.prompts) == ["p"] and snap.resources == {}
    full = open_tree([tmp_path])
    full.full_scan()
    snap = full.snapshot()
    assert "search_tools" in snap.tools and "memory" not in snap.tools and "skillz://guide" in snap.resources
    assert snap.builtins is catalog()
