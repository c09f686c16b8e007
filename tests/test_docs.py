"""The documentation cannot drift from the repository: links resolve, and the code it names exists.

(a) Every relative Markdown link in README.md and docs/*.md points at an existing file or directory
and, with a ``#fragment``, at a heading (or ``<a id>``) of the Markdown file it names, by GitHub's
anchor rules.

(b) In the docs that describe the code (docs/architecture.md, docs/development.md), every inline
code span whose first word looks like a repository path must name something that exists. The rule,
applied to that first word with a trailing ``:`` or ``,`` removed:

* a placeholder (``<``, ``*``, ``{``), a URI (``://``) or a path starting with ``/``, ``~``, ``.``
  or ``$`` is not a repository path;
* a path whose first segment is a top-level entry of the repository (``tests/...``,
  ``schemas/...``, ``engine/skillz_engine/...``) is resolved against the repository root;
* a path of lower-case segments ending in ``.py`` or ``/`` (:data:`PACKAGE_PATH`) is resolved
  against ``engine/skillz_engine/``: ``build/compile.py``, ``runtimes/script/``, ``engine.py``
  (so in those two docs a backticked ``*.py`` name is always a module of the package). A single
  folder (``tree/``) counts only when the package has it: ``tools/`` or ``env/`` are folders of a
  manifest tree, not of the code;
* in a line about a package (a table row whose first cell, or a list item that starts with, a
  package folder: ``| `build/` | ...``, ``- `build/`: ...``, with the item's indented continuation
  lines), a bare module or folder name (``compile.py``, ``script/``) is resolved inside that package;
* a span of the form ``path: Name`` or ``path: Class.member`` must also define that name in that
  module (for a package directory, in one of its modules): functions, classes and assignments at
  module level, methods and attributes in a class body.

Code blocks (fenced) are not read: they show manifests and commands, not the repository.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "engine" / "skillz_engine"
LINKED = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
DESCRIBE_CODE = [REPO / "docs" / "architecture.md", REPO / "docs" / "development.md"]

PACKAGE_PATH = re.compile(r"^[a-z_][a-z0-9_]*(?:/[a-z_][a-z0-9_]*)*(?:\.py|/)$")
SYMBOL = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?$")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# [text](target) and ![alt](target), an optional "title"; text may span lines
INLINE_LINK = re.compile(r"\]\(\s*<?([^()\s<>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose(text: str) -> str:
    """``text`` with every fenced code block blanked (line numbers kept)."""
    out, fenced = [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if fenced is None and m:
            fenced = m[1]
            out.append("")
        elif fenced is not None:
            if line.strip().startswith(fenced):
                fenced = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: the rendered text lower-cased, punctuation dropped (word
    characters, hyphens and spaces kept), spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    text = unicodedata.normalize("NFC", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every anchor of a Markdown file; repeated headings get ``-1``, ``-2``... as on GitHub."""
    text = prose(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set(HTML_ANCHOR.findall(text))
    for line in text.splitlines():
        m = HEADING.match(line)
        if m is None:
            continue
        base = slug(m[2])
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return frozenset(out)


def links(text: str) -> Iterator[str]:
    """Every link target of ``text`` outside code blocks and code spans."""
    body = CODE_SPAN.sub(lambda m: " " * len(m[0]), prose(text))
    yield from INLINE_LINK.findall(body)
    yield from REF_DEFINITION.findall(body)


def broken_links(doc: Path) -> list[str]:
    problems = []
    for target in links(doc.read_text(encoding="utf-8")):
        if SCHEME.match(target):  # https:, mailto:, ...
            continue
        raw_path, _, fragment = target.partition("#")
        dest = (doc.parent / unquote(raw_path)).resolve() if raw_path else doc
        if not dest.exists():
            shown = dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest
            problems.append(f"{target}: {shown} is missing")
        elif fragment and dest.suffix == ".md" and unquote(fragment) not in anchors(dest):
            problems.append(f"{target}: no heading with anchor #{fragment} in {dest.name}")
    return problems


@pytest.mark.parametrize("doc", LINKED, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    problems = broken_links(doc)
    assert problems == [], "\n".join(problems)


# ----------------------------------------------------------------------------------- code paths


def top_level() -> frozenset[str]:
    return frozenset(p.name for p in REPO.iterdir() if not p.name.startswith("."))


def resolve(word: str, package: str = "") -> list[Path] | None:
    """The files or directories ``word`` may name (any one existing will do), or ``None`` when
    ``word`` is not a repository path by the rule of the module docstring. ``package`` is the
    package folder of the table row the word is in (``"build/"``), if any."""
    if any(c in word for c in "<*{") or "://" in word or word[:1] in "/~.$":
        return None
    if word.split("/", 1)[0] in top_level() and "/" in word:
        return [REPO / word]
    if not PACKAGE_PATH.match(word):
        return None
    bare = "/" not in word.rstrip("/")
    if bare and package:
        word = package + word
    elif bare and word.endswith("/") and not (PACKAGE / word).is_dir():
        return None  # a folder of a manifest tree (tools/, env/), not of the package
    return [PACKAGE / word]


def line_package(line: str) -> str:
    """The package folder a line is about: a table row whose first cell, or a list item whose
    start, is one code span naming a package folder (``"build/"``); else ``""``."""
    head = line.split("|")[1] if line.lstrip().startswith("|") else line.lstrip(" -*")
    m = re.match(r"\s*`([a-z_][a-z0-9_]*/)`", head)
    return m[1] if m and (PACKAGE / m[1]).is_dir() else ""


def defines(source: Path, symbol: str) -> bool:
    """Whether module ``source`` defines ``symbol`` (``Name`` or ``Class.member``)."""
    first, _, member = symbol.partition(".")

    def names(body: list[ast.stmt]) -> dict[str, ast.stmt]:
        out: dict[str, ast.stmt] = {}
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out[node.name] = node
            elif isinstance(node, ast.Assign):
                out.update((t.id, node) for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                out[node.target.id] = node
        return out

    node = names(ast.parse(source.read_text(encoding="utf-8")).body).get(first)
    if node is None or not member:
        return node is not None
    return isinstance(node, ast.ClassDef) and member in names(node.body)


def modules_of(path: Path) -> list[Path]:
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def missing_code(doc: Path) -> list[str]:
    problems = []
    text = prose(doc.read_text(encoding="utf-8"))
    package = ""
    for n, line in enumerate(text.splitlines(), 1):
        starts = line_package(line)
        if starts or not (package and line[:1].isspace() and line.strip()):
            package = starts  # a new line about a package, or none; else the item continues
        for i, span in enumerate(CODE_SPAN.findall(line)):
            word, _, rest = span.strip().partition(" ")
            word = word.rstrip(":,")
            candidates = resolve(word, "" if starts and i == 0 else package)
            if candidates is None:
                continue
            found = [c for c in candidates if c.exists()]
            if not found:
                problems.append(f"{doc.name}:{n}: `{span}`: {candidates[0].relative_to(REPO)} does not exist")
                continue
            symbol = rest.strip()
            if span.strip().startswith(f"{word}: ") and SYMBOL.match(symbol):
                sources = [m for c in found for m in modules_of(c) if m.suffix == ".py"]
                if not any(defines(m, symbol) for m in sources):
                    problems.append(f"{doc.name}:{n}: `{span}`: {word} defines no {symbol}")
    return problems


@pytest.mark.parametrize("doc", DESCRIBE_CODE, ids=lambda p: p.name)
def test_code_named_in_the_docs_exists(doc: Path) -> None:
    problems = missing_code(doc)
    assert problems == [], "\n".join(problems)


# ----------------------------------------------------------------------------------- the checkers


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("One manifest, from disk to a tools/call answer", "one-manifest-from-disk-to-a-toolscall-answer"),
        ("`register_script`: adding a script from a client", "register_script-adding-a-script-from-a-client"),
        ("Rust Skillz manifest.json (read with warnings)", "rust-skillz-manifestjson-read-with-warnings"),
        ("kind: mcp-server", "kind-mcp-server"),
        ("See [the docs](x.md) *now*", "see-the-docs-now"),
    ],
)
def test_slug_follows_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_the_checkers_catch_drift(tmp_path: Path) -> None:
    """A broken link, a missing anchor, a missing module and a missing name are each reported;
    code blocks, placeholders and protocol names are left alone."""
    (tmp_path / "other.md").write_text("# Title\n\n## Same\n\n## Same\n", encoding="utf-8")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[a](other.md#same-1) [b](other.md#nope) [c](gone.md) [d](https://x.test/y) `[e](gone2.md)`\n"
        "`build/compile.py: Tree.full_scan` `build/compile.py: Tree.no_such` `build/nothing.py`\n"
        "`runtimes/script/: ScriptRuntime` `tests/test_docs.py` `tests/nothing.py` `tools/call`\n"
        "`schemas/<kind>.schema.json` `~/.skillz/tools/x/` `engine.py: Engine.open` `tools/` `nothing.py`\n"
        "| `runtimes/` | one runtime per kind | `base.py`, `script/`, `wasm/`, `gone.py` |\n"
        "- `live/`: the running state: `registry.py`,\n  `reload.py`, `gone2.py`\n"
        "`gone3/`\n"
        "```\n`build/in_a_fence.py` [f](in-a-fence.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(doc) == [
        "other.md#nope: no heading with anchor #nope in other.md",
        f"gone.md: {tmp_path / 'gone.md'} is missing",
    ]
    assert [p.split(": ", 1)[1] for p in missing_code(doc)] == [
        "`build/compile.py: Tree.no_such`: build/compile.py defines no Tree.no_such",
        "`build/nothing.py`: engine/skillz_engine/build/nothing.py does not exist",
        "`tests/nothing.py`: tests/nothing.py does not exist",
        "`nothing.py`: engine/skillz_engine/nothing.py does not exist",
        "`gone.py`: engine/skillz_engine/runtimes/gone.py does not exist",
        "`gone2.py`: engine/skillz_engine/live/gone2.py does not exist",
    ]
