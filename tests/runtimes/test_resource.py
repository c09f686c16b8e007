"""The resource runtime: files, inline text, URI templates over globs, path safety, digests."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.runtimes.resource import glob_prefix, glob_regex
from skillz_engine.runtimes.uri_template import UriTemplate

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\xff"


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def build(root: Path) -> tuple[Tree, Snapshot]:
    tree = Tree([root])
    tree.full_scan()
    return tree, tree.snapshot()


NOTES = "kind: resource\ndescription: My notes.\nuriTemplate: 'notes:///{+path}'\nfiles: 'notes/**/*.md'\n"


def notes_tree(root: Path) -> tuple[Tree, Snapshot]:
    write(root, "resources/notes/manifest.yaml", NOTES)
    write(root, "resources/notes/notes/a.md", "# A\n")
    write(root, "resources/notes/notes/sub/b.md", "# B\n")
    write(root, "resources/notes/notes/c.txt", "not markdown\n")
    write(root, "resources/notes/notes/.hidden.md", "secret\n")
    write(root, "resources/notes/outside.md", "not under the prefix\n")
    return build(root)


@pytest.mark.anyio
async def test_file_resource_text(tmp_path: Path) -> None:
    """`uri` + `file` serves a text file with its guessed MIME type, size and content digest."""
    write(
        tmp_path,
        "resources/todo/manifest.yaml",
        "kind: resource\ndescription: Todo.\nuri: notes://todo\nfile: todo.md\n",
    )
    write(tmp_path, "resources/todo/todo.md", "- buy milk\n")
    _, snap = build(tmp_path)
    assert not snap.errors
    res = snap.resources["notes://todo"]
    assert (res.name, res.mime_type, res.size, res.description) == ("todo", "text/markdown", 11, "Todo.")
    assert res.subscribe is True
    assert len(res.digest) == 64
    assert await res.read(snap) == [
        {"uri": "notes://todo", "mimeType": "text/markdown", "text": "- buy milk\n"}
    ]


@pytest.mark.anyio
async def test_file_resource_binary(tmp_path: Path) -> None:
    """A binary file is served as a base64 blob; `subscribe: false` is kept."""
    write(
        tmp_path,
        "resources/logo/manifest.yaml",
        "kind: resource\nuri: img://logo\nfile: logo.png\nsubscribe: false\n",
    )
    write(tmp_path, "resources/logo/logo.png", PNG)
    _, snap = build(tmp_path)
    res = snap.resources["img://logo"]
    assert res.mime_type == "image/png"
    assert res.subscribe is False
    [content] = await res.read(snap)
    assert content["mimeType"] == "image/png"
    assert base64.b64decode(content["blob"]) == PNG
    assert "text" not in content


@pytest.mark.anyio
async def test_unknown_type_is_sniffed(tmp_path: Path) -> None:
    """A file without a known extension is text/plain when it is UTF-8, octet-stream otherwise."""
    write(tmp_path, "resources/t/manifest.yaml", "kind: resource\nuri: x://t\nfile: data\n")
    write(tmp_path, "resources/t/data", "plain words\n")
    write(tmp_path, "resources/b/manifest.yaml", "kind: resource\nuri: x://b\nfile: data\n")
    write(tmp_path, "resources/b/data", b"\x00\x01\xfe")
    _, snap = build(tmp_path)
    assert snap.resources["x://t"].mime_type == "text/plain"
    assert (await snap.resources["x://t"].read(snap))[0]["text"] == "plain words\n"
    assert snap.resources["x://b"].mime_type == "application/octet-stream"
    assert "blob" in (await snap.resources["x://b"].read(snap))[0]


@pytest.mark.anyio
async def test_inline_text(tmp_path: Path) -> None:
    """`uri` + `text` serves inline text, text/plain unless `mimeType` says otherwise."""
    write(tmp_path, "resources/hello/manifest.yaml", "kind: resource\nuri: memo://hello\ntext: hi there\n")
    write(
        tmp_path,
        "resources/cfg/manifest.yaml",
        "kind: resource\nuri: memo://cfg\ntext: '{\"a\": 1}'\nmimeType: application/json\n",
    )
    _, snap = build(tmp_path)
    hello = snap.resources["memo://hello"]
    assert (hello.mime_type, hello.size) == ("text/plain", 8)
    assert await hello.read(snap) == [{"uri": "memo://hello", "mimeType": "text/plain", "text": "hi there"}]
    cfg = await snap.resources["memo://cfg"].read(snap)
    assert cfg[0]["mimeType"] == "application/json"


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A `file` that does not exist is SKZ204 and nothing is served."""
    write(tmp_path, "resources/gone/manifest.yaml", "kind: resource\nuri: x://gone\nfile: gone.md\n")
    _, snap = build(tmp_path)
    assert [d.code for d in snap.errors] == ["SKZ204"]
    assert "x://gone" not in snap.resources


@pytest.mark.anyio
async def test_uri_template_lists_matches_and_reads(tmp_path: Path) -> None:
    """`uriTemplate` + `files` lists each matching file and reads template matches."""
    _, snap = notes_tree(tmp_path)
    assert not snap.errors
    listed = sorted(u for u in snap.resources if u.startswith("notes:"))
    assert listed == ["notes:///a.md", "notes:///sub/b.md"]
    assert snap.resources["notes:///sub/b.md"].mime_type == "text/markdown"
    assert snap.resources["notes:///sub/b.md"].name == "notes/sub/b.md"

    found = snap.find_template("notes:///sub/b.md")
    assert found is not None
    template, variables = found
    assert template.uri_template == "notes:///{+path}"
    assert template.description == "My notes."
    assert variables == {"path": "sub/b.md"}
    assert await template.read("notes:///sub/b.md", variables, snap) == [
        {"uri": "notes:///sub/b.md", "mimeType": "text/markdown", "text": "# B\n"}
    ]
    assert await snap.resources["notes:///a.md"].read(snap) == [
        {"uri": "notes:///a.md", "mimeType": "text/markdown", "text": "# A\n"}
    ]


def test_uri_template_completion(tmp_path: Path) -> None:
    """Completion lists the template variable's current values by prefix."""
    _, snap = notes_tree(tmp_path)
    found = snap.find_template("notes:///a.md")
    assert found is not None
    complete = found[0].complete
    assert complete is not None
    assert list(complete("path", "", {})) == ["a.md", "sub/b.md"]
    assert list(complete("path", "S", {})) == ["sub/b.md"]
    assert list(complete("other", "", {})) == []
    write(tmp_path, "resources/notes/notes/sub/new.md", "new\n")
    assert list(complete("path", "sub/", {})) == ["sub/b.md", "sub/new.md"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("uri", "error"),
    [
        ("notes:///../../etc/passwd", PermissionError),
        ("notes:///%2e%2e/%2e%2e/etc/passwd", PermissionError),
        ("notes:///sub/%2E%2E/../manifest.yaml", PermissionError),
        ("notes:////etc/passwd", PermissionError),
        ("notes:///a.md%00.md", PermissionError),
        ("notes:///.hidden.md", PermissionError),
        ("notes:///c.txt", KeyError),
        ("notes:///missing.md", KeyError),
        ("notes:///sub//b.md", KeyError),
    ],
)
async def test_template_traversal_refused(tmp_path: Path, uri: str, error: type[Exception]) -> None:
    """Template reads refuse traversal, absolute paths, NUL, hidden files and paths outside the glob."""
    _, snap = notes_tree(tmp_path)
    found = snap.find_template(uri)
    assert found is not None
    template, variables = found
    with pytest.raises(error):
        await template.read(uri, variables, snap)


@pytest.mark.anyio
async def test_symlink_out_of_entry_refused(tmp_path: Path) -> None:
    """A symlink leading out of the entry is neither listed nor readable."""
    root = tmp_path / "root"
    write(tmp_path, "secret.md", "top secret\n")
    notes_tree(root)
    (root / "resources/notes/notes/evil.md").symlink_to(tmp_path / "secret.md")
    (root / "resources/notes/notes/inside.md").symlink_to(root / "resources/notes/notes/a.md")
    _, snap = build(root)
    assert "notes:///evil.md" not in snap.resources
    assert "notes:///inside.md" in snap.resources
    found = snap.find_template("notes:///evil.md")
    assert found is not None
    with pytest.raises(PermissionError, match="outside"):
        await found[0].read("notes:///evil.md", found[1], snap)


def test_template_needs_exactly_one_variable(tmp_path: Path) -> None:
    """A uriTemplate with two variables or an unsupported operator is SKZ507 at `uriTemplate`."""
    write(
        tmp_path, "resources/two/manifest.yaml", "kind: resource\nfiles: '*.md'\nuriTemplate: 'x:///{a,b}'\n"
    )
    write(
        tmp_path, "resources/frag/manifest.yaml", "kind: resource\nfiles: '*.md'\nuriTemplate: 'y:///{#a}'\n"
    )
    _, snap = build(tmp_path)
    errors = sorted((d.path.split("/")[-2], d.code, d.line, d.json_path) for d in snap.errors)
    assert errors == [
        ("frag", "SKZ507", 3, "$.uriTemplate"),
        ("two", "SKZ507", 3, "$.uriTemplate"),
    ]
    assert not [t for t in snap.templates if t.uri_template.startswith(("x:", "y:"))]


def test_glob_escape_refused(tmp_path: Path) -> None:
    """A `files` glob whose fixed prefix is a symlink out of the entry is refused."""
    root = tmp_path / "root"
    (tmp_path / "elsewhere").mkdir()
    write(root, "resources/esc/manifest.yaml", "kind: resource\nfiles: 'out/*.md'\nuriTemplate: 'e:///{p}'\n")
    (root / "resources/esc/out").symlink_to(tmp_path / "elsewhere")
    _, snap = build(root)
    assert [d.code for d in snap.errors] == ["SKZ203"]


def touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_digest_changes_with_content(tmp_path: Path) -> None:
    """Rebuilding after a file changes gives the resource (and the listed template file) a new digest."""
    write(tmp_path, "resources/todo/manifest.yaml", "kind: resource\nuri: notes://todo\nfile: todo.md\n")
    todo = write(tmp_path, "resources/todo/todo.md", "one\n")
    tree, snap = build(tmp_path)
    write(tmp_path, "resources/notes/manifest.yaml", NOTES)
    a = write(tmp_path, "resources/notes/notes/a.md", "# A\n")
    tree.rescan([tmp_path / "resources/notes"])
    snap = tree.snapshot(snap)
    old_todo, old_a = snap.resources["notes://todo"].digest, snap.resources["notes:///a.md"].digest

    touch_later(todo, "two\n")
    touch_later(a, "# A changed\n")
    tree.rescan([todo, a])
    new = tree.snapshot(snap)
    assert new.resources["notes://todo"].digest != old_todo
    assert new.resources["notes:///a.md"].digest != old_a


def test_uri_template_helpers() -> None:
    """The RFC 6570 matcher, expansion, glob regex and glob prefix agree with each other."""
    simple = UriTemplate("x://files/{name}.txt")
    assert simple.match("x://files/report.txt") == {"name": "report"}
    assert simple.match("x://files/a/b.txt") is None
    assert simple.expand("a/b") == "x://files/a%2Fb.txt"
    assert simple.match(simple.expand("a/b c")) == {"name": "a/b c"}
    slash = UriTemplate("x://root{/path}")
    assert slash.match("x://root/a/b.md") == {"path": "a/b.md"}
    assert slash.expand("a/b.md") == "x://root/a/b.md"
    plus = UriTemplate("notes:///{+path}")
    assert plus.match(plus.expand("dir/with space#1.md")) == {"path": "dir/with space#1.md"}
    assert glob_prefix("notes/**/*.md") == "notes"
    assert glob_prefix("*.md") == ""
    assert glob_prefix("a/b/c.md") == "a/b"
    rx = glob_regex("notes/**/*.md")
    assert rx.fullmatch("notes/a.md")
    assert rx.fullmatch("notes/x/y/a.md")
    assert not rx.fullmatch("notes/a.txt")
    assert not rx.fullmatch("other/a.md")
    assert glob_regex("d/[!a]?.md").fullmatch("d/bc.md")
    assert not glob_regex("d/[!a]?.md").fullmatch("d/ac.md")
    assert glob_regex("data/**").fullmatch("data/x/y")


@pytest.mark.anyio
async def test_uri_template_with_text_renders_the_variable(tmp_path: Path) -> None:
    """`uriTemplate` + `text`: each read renders the text with the URI's (decoded) variable."""
    write(
        tmp_path,
        "resources/items/manifest.yaml",
        "kind: resource\ndescription: One item.\nuriTemplate: 'items://{id}/data'\n"
        "mimeType: application/json\ntext: '{\"id\": {{ id | tojson }}}'\n",
    )
    _, snap = build(tmp_path)
    assert not snap.errors, snap.errors
    assert not [r for r in snap.resources.values() if r.uri.startswith("items:")]  # nothing to list
    (tpl,) = [t for t in snap.templates if t.name == "items"]
    assert (tpl.uri_template, tpl.mime_type, tpl.description) == (
        "items://{id}/data",
        "application/json",
        "One item.",
    )
    found = snap.find_template("items://a%20b/data")
    assert found is not None
    contents = await found[0].read("items://a%20b/data", found[1], snap)
    assert contents == [
        {"uri": "items://a%20b/data", "mimeType": "application/json", "text": '{"id": "a b"}'}
    ]
    assert snap.find_template("items://a/b/data") is None  # {id} holds no '/'


def test_uri_template_text_syntax_error_and_both_sources(tmp_path: Path) -> None:
    write(tmp_path, "resources/bad/manifest.yaml", "kind: resource\nuriTemplate: 'x://{id}'\ntext: '{{ id'\n")
    write(
        tmp_path,
        "resources/both/manifest.yaml",
        "kind: resource\nuriTemplate: 'y://{id}'\ntext: hi\nfiles: '*.md'\n",
    )
    _, snap = build(tmp_path)
    by_entry = {d.path.split("/")[-2]: d for d in snap.errors}
    assert by_entry["bad"].code == "SKZ503" and by_entry["bad"].line == 3
    assert "both" in by_entry and not [t for t in snap.templates if t.name in ("bad", "both")]
