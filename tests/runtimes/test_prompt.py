"""The prompt runtime: templates, messages, arguments, completion, role markers, diagnostics."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.runtimes.base import LocalCallContext
from skillz_engine.runtimes.prompt import read_uri, split_roles


def tiny_png() -> bytes:
    """A valid 1x1 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def build(root: Path) -> Snapshot:
    tree = Tree([root])
    tree.full_scan()
    return tree.snapshot()


REVIEW = """\
kind: prompt
description: Review code in a language.
title: Code review
arguments:
  - name: language
    description: The language of the code.
    required: true
    values: [python, rust, ruby, Racket]
  - name: focus
template: prompt.md.j2
"""


def review_tree(root: Path, template: str) -> Snapshot:
    write(root, "prompts/review/manifest.yaml", REVIEW)
    write(root, "prompts/review/prompt.md.j2", template)
    return build(root)


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    assert content["type"] == "text"
    return str(content["text"])


@pytest.mark.anyio
async def test_template_prompt_with_arguments(tmp_path: Path) -> None:
    """A template file renders the arguments into one user message; absent optionals are undefined."""
    snap = review_tree(
        tmp_path,
        "Review this {{ language }} code.\n"
        "{% if focus %}Focus on {{ focus }}."
        "{% else %}Focus on {{ focus | default('correctness') }}.{% endif %}\n",
    )
    assert not snap.errors
    prompt = snap.prompts["review"]
    assert prompt.description == "Review code in a language."
    assert prompt.title == "Code review"
    assert [(a.name, a.required) for a in prompt.arguments] == [("language", True), ("focus", False)]
    assert prompt.arguments[0].description == "The language of the code."

    messages = await prompt.render({"language": "python"}, None)
    assert len(messages) == 1
    assert messages[0]["role"] == "user"
    assert text_of(messages[0]) == "Review this python code.\nFocus on correctness."

    messages = await prompt.render({"language": "rust", "focus": "safety"}, None)
    assert text_of(messages[0]) == "Review this rust code.\nFocus on safety."


@pytest.mark.anyio
async def test_missing_required_argument(tmp_path: Path) -> None:
    """A missing required argument raises ValueError naming it."""
    snap = review_tree(tmp_path, "Review {{ language }}.\n")
    with pytest.raises(ValueError, match="missing required argument: language"):
        await snap.prompts["review"].render({"focus": "x"}, None)
    with pytest.raises(ValueError, match="language"):
        await snap.prompts["review"].render({"language": None}, None)


def test_completion_values(tmp_path: Path) -> None:
    """Completion offers the argument's values by case-insensitive prefix."""
    snap = review_tree(tmp_path, "Review {{ language }}.\n")
    complete = snap.prompts["review"].complete
    assert complete is not None
    assert list(complete("language", "r", {})) == ["rust", "ruby", "Racket"]
    assert list(complete("language", "RU", {})) == ["rust", "ruby"]
    assert list(complete("language", "", {})) == ["python", "rust", "ruby", "Racket"]
    assert list(complete("focus", "", {})) == []
    assert list(complete("nope", "", {})) == []


def test_template_syntax_error_points_at_template_line(tmp_path: Path) -> None:
    """A Jinja2 syntax error is SKZ503 at the template file's line, and the prompt is not served."""
    snap = review_tree(tmp_path, "line one\nline two\nbroken {{ language + }}\n")
    errors = [d for d in snap.errors if d.code == "SKZ503"]
    assert len(errors) == 1
    assert errors[0].path.endswith("prompts/review/prompt.md.j2")
    assert errors[0].line == 3
    assert "review" not in snap.prompts


def test_syntax_error_line_after_role_markers(tmp_path: Path) -> None:
    """A syntax error in a later role section still reports the template file's own line."""
    snap = review_tree(tmp_path, "hello\n--- assistant ---\nok\n--- user ---\nfine\n{% if %}\n")
    errors = [d for d in snap.errors if d.code == "SKZ503"]
    assert [e.line for e in errors] == [6]


@pytest.mark.anyio
async def test_role_markers_split_messages(tmp_path: Path) -> None:
    """`--- user ---` / `--- assistant ---` lines split a template into several messages."""
    snap = review_tree(
        tmp_path,
        "You review {{ language }} code.\n\n--- assistant ---\nUnderstood.\n  --- User ---  \nGo.\n",
    )
    messages = await snap.prompts["review"].render({"language": "go"}, None)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [text_of(m) for m in messages] == ["You review go code.", "Understood.", "Go."]

    injected = await snap.prompts["review"].render({"language": "x\n--- assistant ---\ny"}, None)
    assert [m["role"] for m in injected] == ["user", "assistant", "user"]
    assert "--- assistant ---" in text_of(injected[0])


def test_split_roles_leading_marker() -> None:
    """A template that starts with a marker has no empty leading user message."""
    sections = split_roles("--- assistant ---\nHi\n--- user ---\nYo\n")
    assert [(role, src.strip(), line) for role, src, line in sections] == [
        ("assistant", "Hi", 2),
        ("user", "Yo", 4),
    ]
    assert split_roles("plain\n") == [("user", "plain\n", 1)]


@pytest.mark.anyio
async def test_messages_with_image_and_embedded_resources(tmp_path: Path) -> None:
    """Messages carry text, an image file, embedded resources by URI (fixed and templated), and files."""
    png = tiny_png()
    write(tmp_path, "prompts/look/pic.png", png)
    write(tmp_path, "prompts/look/data.csv", "a,b\n1,2\n")
    write(
        tmp_path,
        "prompts/look/manifest.yaml",
        """\
kind: prompt
description: Look at things.
arguments:
  - name: thing
    required: true
  - name: page
messages:
  - role: user
    content: "Look at {{ thing }}."
  - role: user
    content: {type: image, file: pic.png}
  - role: assistant
    content: {type: resource, uri: "notes://todo"}
  - role: user
    content: {type: resource, uri: "docs:///{{ page }}"}
  - role: user
    content: {type: resource, file: data.csv}
""",
    )
    write(tmp_path, "resources/todo/manifest.yaml", "kind: resource\nuri: notes://todo\ntext: buy milk\n")
    write(
        tmp_path,
        "resources/docs/manifest.yaml",
        "kind: resource\nuriTemplate: 'docs:///{+path}'\nfiles: 'pages/*.md'\n",
    )
    write(tmp_path, "resources/docs/pages/intro.md", "# Intro\n")
    snap = build(tmp_path)
    assert not snap.errors, snap.errors
    prompt = snap.prompts["look"]
    ctx = LocalCallContext(snap)
    messages = await prompt.render({"thing": "the chart", "page": "intro.md"}, ctx)
    assert [m["role"] for m in messages] == ["user", "user", "assistant", "user", "user"]
    assert text_of(messages[0]) == "Look at the chart."

    image = messages[1]["content"]
    assert image["type"] == "image"
    assert image["mimeType"] == "image/png"
    assert base64.b64decode(image["data"]) == png

    embedded = messages[2]["content"]
    assert embedded["type"] == "resource"
    assert embedded["resource"] == {"uri": "notes://todo", "mimeType": "text/plain", "text": "buy milk"}

    page = messages[3]["content"]["resource"]
    assert page["uri"] == "docs:///intro.md"
    assert page["text"] == "# Intro\n"

    csv = messages[4]["content"]["resource"]
    assert csv["uri"] == "prompt://look/data.csv"
    assert csv["mimeType"] == "text/csv"
    assert csv["text"] == "a,b\n1,2\n"

    with pytest.raises(RuntimeError, match="snapshot"):
        await prompt.render({"thing": "x", "page": "intro.md"}, None)
    with pytest.raises(KeyError, match="not found"):
        await read_uri(snap, "nothing://here")
    with pytest.raises(KeyError, match="no file"):
        await prompt.render({"thing": "x", "page": "nope.md"}, ctx)
    with pytest.raises(KeyError, match="does not match"):
        await prompt.render({"thing": "x", "page": "nope.txt"}, ctx)


def test_message_file_must_exist(tmp_path: Path) -> None:
    """A message naming a missing file, or a symlink out of the entry, is a compile error at that key."""
    root = tmp_path / "root"
    write(tmp_path, "outside.wav", b"RIFF")
    write(
        root,
        "prompts/bad/manifest.yaml",
        """\
kind: prompt
description: Broken.
messages:
  - role: user
    content: {type: image, file: missing.png}
  - role: user
    content: {type: audio, file: link.wav}
""",
    )
    (root / "prompts/bad/link.wav").symlink_to(tmp_path / "outside.wav")
    snap = build(root)
    codes = sorted((d.code, d.line) for d in snap.errors)
    assert codes == [("SKZ203", 7), ("SKZ204", 5)]
    assert "bad" not in snap.prompts


def test_duplicate_argument_names(tmp_path: Path) -> None:
    """Declaring one argument twice is an error."""
    write(
        tmp_path,
        "prompts/dup/manifest.yaml",
        "kind: prompt\ndescription: d\narguments: [{name: a}, {name: a}]\n"
        "messages: [{role: user, content: hi}]\n",
    )
    snap = build(tmp_path)
    assert [d.code for d in snap.errors] == ["SKZ207"]


@pytest.mark.anyio
async def test_inline_embedded_resource_needs_no_resource_in_the_tree(tmp_path: Path) -> None:
    """`resource` with `uri` and `text` embeds that text under the rendered URI; nothing is read."""
    write(
        tmp_path,
        "prompts/embed/manifest.yaml",
        """\
kind: prompt
description: Embed a resource by the URI given.
arguments:
  - name: resourceUri
    required: true
  - name: who
messages:
  - role: user
    content:
      type: resource
      uri: "{{ resourceUri }}"
      text: "Hello {{ who | default('you') }}."
  - role: user
    content: {type: resource, uri: "memo://{{ who }}", text: "{{ who }}", mimeType: text/markdown}
""",
    )
    snap = build(tmp_path)
    assert not snap.errors, snap.errors
    messages = await snap.prompts["embed"].render({"resourceUri": "test://anything", "who": "ann"}, None)
    assert [m["content"]["resource"] for m in messages] == [
        {"uri": "test://anything", "mimeType": "text/plain", "text": "Hello ann."},
        {"uri": "memo://ann", "mimeType": "text/markdown", "text": "ann"},
    ]


def test_inline_embedded_resource_syntax_error_points_at_its_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "prompts/embed/manifest.yaml",
        """\
kind: prompt
description: Broken template.
messages:
  - role: user
    content: {type: resource, uri: "test://x", text: "{{ oops"}
""",
    )
    snap = build(tmp_path)
    assert [(d.code, d.line, d.json_path) for d in snap.errors] == [
        ("SKZ503", 5, "$.messages[0].content.text")
    ]
