"""The skill runtime: the skill's prompt, its `skill://` resources and the SEP-2640 `_manifest`."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.runtimes.base import Runtime
from skillz_engine.runtimes.prompt import PromptRuntime
from skillz_engine.runtimes.resource import ResourceRuntime
from skillz_engine.runtimes.skill import MAX_FILE_BYTES, SkillRuntime

SKILL_MD = """\
---
name: pdf-forms
description: Fill PDF forms. Use when the user mentions PDF forms or fields.
license: MIT
metadata:
  author: acme
---
# PDF forms

Read references/REFERENCE.md first, then run scripts/fill.py.
"""
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
# only these kinds: the nested command tool compiles (unserved) without the command runtime
RUNTIMES: dict[str, Runtime] = {
    "skill": SkillRuntime(),
    "prompt": PromptRuntime(),
    "resource": ResourceRuntime(),
}


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def skill_tree(root: Path) -> Snapshot:
    base = "skills/pdf-forms"
    write(root, f"{base}/SKILL.md", SKILL_MD)
    write(root, f"{base}/manifest.yaml", "kind: skill\nactivation: always\n")
    write(root, f"{base}/references/REFERENCE.md", "# Reference\n\nField names.\n")
    write(root, f"{base}/scripts/fill.py", "print('filled')\n")
    write(root, f"{base}/assets/logo.png", PNG)
    write(root, f"{base}/.secret", "hidden\n")
    write(root, f"{base}/__pycache__/fill.cpython-311.pyc", b"\x00bytecode")
    write(root, f"{base}/node_modules/x/index.js", "module.exports = 1\n")
    write(root, f"{base}/tools/fill/manifest.yaml", "kind: command\ndescription: Fill.\nargv: [echo, hi]\n")
    write(root, f"{base}/tools/fill/helper.txt", "tool file\n")
    write(root, f"{base}/tools/README.md", "Tools of the skill.\n")
    tree = Tree([root], runtimes=RUNTIMES)
    tree.full_scan()
    return tree.snapshot()


def skill_uris(snap: Snapshot) -> list[str]:
    return sorted(u for u in snap.resources if u.startswith("skill://"))


@pytest.mark.anyio
async def test_skill_prompt(tmp_path: Path) -> None:
    """The skill is a prompt named after it: a header listing its files, then the SKILL.md body."""
    snap = skill_tree(tmp_path)
    assert not snap.errors, snap.errors
    prompt = snap.prompts["pdf-forms"]
    assert prompt.description.startswith("Fill PDF forms.")
    assert prompt.arguments == ()
    [message] = await prompt.render({}, None)
    assert message["role"] == "user"
    text = message["content"]["text"]
    assert text.startswith("# Skill: pdf-forms\n")
    assert "- skill://pdf-forms/references/REFERENCE.md\n" in text
    assert "- skill://pdf-forms/SKILL.md\n" in text
    assert text.rstrip().endswith("Read references/REFERENCE.md first, then run scripts/fill.py.")
    assert "name: pdf-forms" not in text  # the front matter is not part of the body


@pytest.mark.anyio
async def test_skill_resources(tmp_path: Path) -> None:
    """Every skill file is a `skill://` resource; ignored files and nested tool directories are not."""
    snap = skill_tree(tmp_path)
    assert skill_uris(snap) == [
        "skill://pdf-forms/SKILL.md",
        "skill://pdf-forms/_manifest",
        "skill://pdf-forms/assets/logo.png",
        "skill://pdf-forms/references/REFERENCE.md",
        "skill://pdf-forms/scripts/fill.py",
        "skill://pdf-forms/tools/README.md",
    ]
    skill_md = snap.resources["skill://pdf-forms/SKILL.md"]
    assert skill_md.mime_type == "text/markdown"
    assert await skill_md.read(snap) == [
        {"uri": "skill://pdf-forms/SKILL.md", "mimeType": "text/markdown", "text": SKILL_MD}
    ]
    ref = snap.resources["skill://pdf-forms/references/REFERENCE.md"]
    assert (await ref.read(snap))[0]["text"] == "# Reference\n\nField names.\n"
    sha = hashlib.sha256(b"# Reference\n\nField names.\n").hexdigest()
    assert ref.digest == sha
    assert ref.description is not None and ref.description.endswith(f"sha256:{sha}")
    assert ref.size == len(b"# Reference\n\nField names.\n")
    [logo] = await snap.resources["skill://pdf-forms/assets/logo.png"].read(snap)
    assert logo["mimeType"] == "image/png"
    assert base64.b64decode(logo["blob"]) == PNG
    # the nested tool is its own entry, owned by the skill
    tool_dir = (tmp_path / "skills/pdf-forms/tools/fill").resolve().as_posix()
    assert snap.specs[tool_dir].owner == "pdf-forms"


@pytest.mark.anyio
async def test_skill_manifest_digests(tmp_path: Path) -> None:
    """The `_manifest` lists front matter and files whose sha256 equal hashlib's over the files."""
    snap = skill_tree(tmp_path)
    [content] = await snap.resources["skill://pdf-forms/_manifest"].read(snap)
    assert content["mimeType"] == "application/json"
    manifest = json.loads(content["text"])
    assert manifest["name"] == "pdf-forms"
    assert manifest["uri"] == "skill://pdf-forms/SKILL.md"
    assert manifest["frontmatter"] == {
        "name": "pdf-forms",
        "description": "Fill PDF forms. Use when the user mentions PDF forms or fields.",
        "license": "MIT",
        "metadata": {"author": "acme"},
    }
    assert manifest["skipped"] == []
    base = tmp_path / "skills/pdf-forms"
    paths = [f["path"] for f in manifest["files"]]
    assert paths == [
        "SKILL.md",
        "assets/logo.png",
        "references/REFERENCE.md",
        "scripts/fill.py",
        "tools/README.md",
    ]
    for f in manifest["files"]:
        data = (base / f["path"]).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
        assert f["size"] == len(data)
        assert f["uri"] == f"skill://pdf-forms/{f['path']}"
        assert snap.resources[f["uri"]].digest == f["sha256"]
    assert {f["path"]: f["mimeType"] for f in manifest["files"]}["scripts/fill.py"] == "text/x-python"


@pytest.mark.anyio
async def test_skill_skips_large_and_escaping_files(tmp_path: Path) -> None:
    """Files over 5 MiB and symlinks out of the skill are skipped and listed in the `_manifest`."""
    root = tmp_path / "root"
    write(tmp_path, "outside.txt", "not yours\n")
    write(root, "skills/big/SKILL.md", "---\nname: big\ndescription: Big files.\n---\nBody.\n")
    write(root, "skills/big/huge.bin", b"\x01" * (MAX_FILE_BYTES + 1))
    write(root, "skills/big/small file.txt", "ok\n")
    (root / "skills/big/link.txt").symlink_to(tmp_path / "outside.txt")
    tree = Tree([root], runtimes=RUNTIMES)
    tree.full_scan()
    snap = tree.snapshot()
    assert not snap.errors
    assert skill_uris(snap) == [
        "skill://big/SKILL.md",
        "skill://big/_manifest",
        "skill://big/small%20file.txt",
    ]
    [content] = await snap.resources["skill://big/_manifest"].read(snap)
    skipped = {s["path"]: s for s in json.loads(content["text"])["skipped"]}
    assert skipped["huge.bin"]["size"] == MAX_FILE_BYTES + 1
    assert "5 MiB" in skipped["huge.bin"]["reason"]
    assert "outside" in skipped["link.txt"]["reason"]
    [small] = await snap.resources["skill://big/small%20file.txt"].read(snap)
    assert small["text"] == "ok\n"


def test_skill_digest_changes(tmp_path: Path) -> None:
    """Editing a skill file changes its resource digest after a rescan."""
    snap = skill_tree(tmp_path)
    ref = tmp_path / "skills/pdf-forms/references/REFERENCE.md"
    uri = "skill://pdf-forms/references/REFERENCE.md"
    old = snap.resources[uri].digest
    tree = Tree([tmp_path], runtimes=RUNTIMES)
    tree.full_scan()
    snap = tree.snapshot()
    ref.write_text("# Reference v2\n", encoding="utf-8")
    tree.rescan([ref])
    new = tree.snapshot(snap)
    assert new.resources[uri].digest == hashlib.sha256(b"# Reference v2\n").hexdigest() != old
