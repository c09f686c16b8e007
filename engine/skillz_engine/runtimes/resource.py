"""Resource entries: a fixed ``uri`` (``file`` or inline ``text``) or a ``uriTemplate`` over ``files``.

* ``uri`` + ``file``: one resource; text for text MIME types, a base64 ``blob`` otherwise.
* ``uri`` + ``text``: one resource with inline text (``text/plain`` unless ``mimeType`` says).
* ``uriTemplate`` + ``text``: a resource template whose content is ``text`` rendered as a Jinja2
  template over the URI's variable (``mimeType`` default ``text/plain``); for resources computed
  from their URI alone (``test://items/{id}`` -> a JSON document naming the id).
* ``uriTemplate`` + ``files`` (a glob relative to the entry; ``*``, ``?``, ``[...]``, ``**``): one
  resource template whose single variable is the matched file's path relative to the glob's fixed
  prefix (the directories before the first wildcard), plus one concrete resource per file matching
  at compile time (at most :data:`MAX_LISTED`), so ``resources/list`` shows them.

Template URIs are matched by :class:`~skillz_engine.runtimes.uri_template.UriTemplate` (one
variable; values are percent-decoded). Reading one resolves the file by the rules of
:mod:`skillz_engine.tree.paths`: no control character, no absolute path, no ``..``, no hidden
component, no symlink out of the entry, and the path must match the glob. Hidden files, ignored
names (editor files, ``__pycache__``, ``node_modules``) and the manifest are never served.

The file helpers here (MIME guessing, text-or-blob contents, digests, safe reads) are shared by
the prompt and skill runtimes.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillz_engine.runtimes.base import CompileProblem, Services
from skillz_engine.runtimes.uri_template import UriTemplate
from skillz_engine.tree import paths
from skillz_engine.tree.model import Compiled, EntrySpec, ResourceDef, ResourceTemplateDef
from skillz_engine.tree.paths import (
    ABSOLUTE,
    CONTROL,
    EMPTY,
    HIDDEN,
    LOOP,
    NOT_FILE,
    NOT_FOUND,
    PARENT,
    PathEscape,
)
from skillz_engine.tree.scan import ignored_name
from skillz_engine.tree.specs import ResourceSpec
from skillz_engine.tree.validate import entry_path

if TYPE_CHECKING:
    from skillz_engine.build.snapshot import Snapshot

MAX_READ = 32 << 20  # bytes a single read may return
HASH_LIMIT = 8 << 20  # files up to this size get a content digest; larger ones size+mtime
MAX_LISTED = 1000  # concrete resources listed per uriTemplate entry
MAX_COMPLETIONS = 100

# --------------------------------------------------------------------------- MIME and contents

_MIME = mimetypes.MimeTypes()  # the built-in table only: the same answer on every machine
# fmt: off
_OVERRIDES = {
    ".md": "text/markdown", ".markdown": "text/markdown", ".yaml": "application/yaml",
    ".yml": "application/yaml", ".toml": "application/toml", ".json": "application/json",
    ".jsonl": "application/jsonl", ".ts": "text/typescript", ".tsx": "text/typescript",
    ".j2": "text/plain", ".jinja": "text/plain", ".wav": "audio/wav", ".rs": "text/x-rust",
    ".go": "text/x-go", ".rb": "text/x-ruby", ".sql": "application/sql", ".ini": "text/plain",
    ".cfg": "text/plain", ".log": "text/plain", ".wat": "text/plain",
}
_TEXT_APPS = frozenset({
    "application/json", "application/jsonl", "application/xml", "application/yaml",
    "application/x-yaml", "application/toml", "application/javascript", "application/sql",
    "application/x-sh", "application/graphql", "application/x-ndjson",
})
# fmt: on


def guess_mime(name: str) -> str | None:
    """The MIME type of a file name, or ``None`` when unknown."""
    suffix = Path(name).suffix.lower()
    if suffix in _OVERRIDES:
        return _OVERRIDES[suffix]
    return _MIME.guess_type(Path(name).name)[0]


def is_text_mime(mime: str | None) -> bool:
    if not mime:
        return False
    base = mime.split(";")[0].strip().lower()
    return base.startswith("text/") or base in _TEXT_APPS or base.endswith(("+json", "+xml", "+yaml"))


def looks_like_text(data: bytes) -> bool:
    """UTF-8 without NUL bytes (the sniff used when the MIME type is unknown)."""
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def mime_for(name: str, declared: str | None, head: bytes) -> str:
    """``declared``, else the guess from ``name``, else ``text/plain`` or octet-stream by content."""
    if declared:
        return declared
    return guess_mime(name) or ("text/plain" if looks_like_text(head) else "application/octet-stream")


def contents(uri: str, data: bytes, mime: str | None) -> dict[str, Any]:
    """One MCP ``ResourceContents``: ``text`` when the type is text and decodes, else ``blob``."""
    if mime is None:
        mime = "text/plain" if looks_like_text(data) else "application/octet-stream"
    if is_text_mime(mime):
        try:
            return {"uri": uri, "mimeType": mime, "text": data.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"uri": uri, "mimeType": mime, "blob": base64.b64encode(data).decode("ascii")}


def file_digest(path: Path) -> tuple[str, int]:
    """``(digest, size)``: SHA-256 of the content, or size+mtime for files over :data:`HASH_LIMIT`."""
    st = path.stat()
    if st.st_size > HASH_LIMIT:
        return f"stat:{st.st_size}:{st.st_mtime_ns}", st.st_size
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest(), st.st_size


# --------------------------------------------------------------------------- safe reads

_REFUSED = {  # why tree.paths refuses a name, as a served path's refusal says it
    CONTROL: "path {rel!r} contains a control character",
    ABSOLUTE: "path {rel!r} must be relative to the entry, with '/' separators",
    PARENT: "path {rel!r} leaves the entry directory",
    HIDDEN: "path {rel!r} names a hidden or ignored file",
}


def check_relative(rel: str) -> None:
    """Refuse what can never name a served file of an entry: the rules of :mod:`~skillz_engine.tree.paths`
    and ``\\`` (``PermissionError``), a path that is not normalised (``KeyError``), and names the
    scanner ignores, such as editor files and ``node_modules`` (``PermissionError``)."""
    reason = ABSOLUTE if "\\" in rel else paths.check_relative(rel)
    if reason is not None and reason != EMPTY:
        raise PermissionError(_REFUSED[reason].format(rel=rel))
    parts = rel.split("/")
    if any(p in ("", ".") for p in parts):
        raise KeyError(f"path {rel!r} is not a normalised relative path")
    if any(ignored_name(p) for p in parts):
        raise PermissionError(_REFUSED[HIDDEN].format(rel=rel))


def resolve_inside(base: Path, rel: str) -> Path:
    """``base/rel`` resolved; it must be a file that stays inside ``base`` (symlinks included)."""
    check_relative(rel)
    try:
        return paths.safe_join(base, rel, kind="file")
    except PathEscape as exc:
        if exc.reason in (NOT_FOUND, NOT_FILE):
            raise KeyError(f"no file {rel!r}") from None
        if exc.reason == LOOP:
            raise PermissionError(f"path {rel!r} is a symlink loop") from None
        raise PermissionError(f"path {rel!r} resolves outside the entry (through a symlink)") from None


def read_inside(base: Path, rel: str, limit: int = MAX_READ) -> bytes:
    """The bytes of ``base/rel`` after :func:`resolve_inside`; at most ``limit`` bytes."""
    target = resolve_inside(base, rel)
    size = target.stat().st_size
    if size > limit:
        raise ValueError(f"file {rel!r} is {size} bytes; the read limit is {limit}")
    return target.read_bytes()


async def read_inside_async(base: Path, rel: str, limit: int = MAX_READ) -> bytes:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(read_inside, base, rel, limit)


# --------------------------------------------------------------------------- globs


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob over '/'-separated relative paths: ``*``, ``?``, ``[...]`` within a segment, ``**``."""
    out: list[str] = []
    parts = pattern.split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(r"(?:[^/]+/)*[^/]+" if last else r"(?:[^/]+/)*")
            continue
        j, seg = 0, ""
        while j < len(part):
            c = part[j]
            if c == "*":
                seg += "[^/]*"
            elif c == "?":
                seg += "[^/]"
            elif c == "[" and "]" in part[j + 2 :]:
                end = part.index("]", j + 2)
                body = part[j + 1 : end]
                neg = body.startswith("!")
                body = body[1:] if neg else body
                seg += "[" + ("^" if neg else "") + body.replace("\\", "\\\\").replace("/", "") + "]"
                j = end
            else:
                seg += re.escape(c)
            j += 1
        out.append(seg if last else seg + "/")
    return re.compile("".join(out))


def glob_prefix(pattern: str) -> str:
    """The directories of ``pattern`` before its first wildcard (``notes/**/*.md`` -> ``notes``)."""
    parts = pattern.split("/")
    fixed: list[str] = []
    for part in parts[:-1]:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    return "/".join(fixed)


def _matching(spec: EntrySpec, pattern: str, limit: int) -> list[str]:
    """Entry-relative paths of the files matching ``pattern`` that are served (sorted, at most
    ``limit``): inside the entry (:func:`~skillz_engine.tree.paths.safe_glob`), no ignored name
    on the way, not the manifest."""
    manifest = spec.manifest.resolve()
    want = limit
    while True:  # ignored files count against safe_glob's limit: ask for more until enough are kept
        try:
            found = paths.safe_glob(spec.dir, pattern, limit=want)
        except PathEscape:  # a hidden directory in the pattern: nothing under it is served
            return []
        rels = [(p.relative_to(spec.dir).as_posix(), p) for p in found]
        kept = [
            rel for rel, p in rels if not any(map(ignored_name, rel.split("/"))) and p.resolve() != manifest
        ]
        if len(kept) >= limit or len(found) < want:
            return kept[:limit]
        want *= 2


class ResourceRuntime:
    kind = "resource"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        r = spec.record_as(ResourceSpec)
        if r.uri_template is not None:
            return self._template(spec, r, r.uri_template)
        uri = str(r.uri)
        if r.text is not None:
            text = r.text
            mime = r.mime_type or "text/plain"
            raw = text.encode("utf-8")
            digest, size = hashlib.sha256(raw).hexdigest(), len(raw)

            async def read(snapshot: Snapshot) -> list[dict[str, Any]]:
                return [{"uri": uri, "mimeType": mime, "text": text}]

        else:
            target, diags = entry_path(spec, ("file",), str(r.file))
            if target is None:
                raise CompileProblem(diags)
            rel, base = Path(str(r.file)).as_posix(), spec.dir
            digest, size = file_digest(target)
            with open(target, "rb") as f:
                mime = mime_for(rel, r.mime_type, f.read(8192))

            async def read(snapshot: Snapshot) -> list[dict[str, Any]]:
                return [contents(uri, await read_inside_async(base, rel), mime)]

        resource = ResourceDef(
            uri,
            spec.name,
            read,
            title=r.title,
            description=spec.description or None,
            mime_type=mime,
            size=size,
            icons=r.icons or None,
            digest=digest,
            subscribe=r.subscribe,
        )
        return Compiled(spec, resources=(resource,))

    def _template(self, spec: EntrySpec, r: ResourceSpec, uri_template: str) -> Compiled:
        try:
            tpl = UriTemplate(uri_template)
        except ValueError as exc:
            hint = "Write one variable that receives the file path, e.g. `notes:///{+path}`."
            raise CompileProblem(
                [spec.diag(("uriTemplate",), "SKZ507", f"uriTemplate: {exc}", hint)]
            ) from None
        if r.text is not None:
            return self._text_template(spec, r, tpl, r.text)
        return self._files_template(spec, r, tpl, str(r.files))

    def _text_template(self, spec: EntrySpec, r: ResourceSpec, tpl: UriTemplate, source: str) -> Compiled:
        from skillz_engine.tree.templating import TemplateError, check_syntax, render

        err = check_syntax(source)
        if err is not None:
            message = f"template syntax error: {err[1]} (line {err[0]} of the text)"
            hint = f"Fix the Jinja2 syntax; the text may use `{{{{ {tpl.var} }}}}`."
            raise CompileProblem([spec.diag(("text",), "SKZ503", message, hint)])
        mime = r.mime_type or "text/plain"

        async def read(uri: str, variables: Mapping[str, str], snapshot: Snapshot) -> list[dict[str, Any]]:
            try:
                text = render(source, variables)
            except TemplateError as exc:
                raise ValueError(f"the text of {spec.name!r} cannot be rendered: {exc}") from None
            return [{"uri": uri, "mimeType": mime, "text": text}]

        template = ResourceTemplateDef(
            tpl.template,
            spec.name,
            tpl.match,
            read,
            title=r.title,
            description=spec.description or None,
            mime_type=mime,
            icons=r.icons or None,
        )
        return Compiled(spec, templates=(template,))

    def _files_template(self, spec: EntrySpec, r: ResourceSpec, tpl: UriTemplate, pattern: str) -> Compiled:
        _, diags = entry_path(spec, ("files",), pattern, must_exist=False)
        if diags:
            raise CompileProblem(diags)
        regex = glob_regex(pattern)
        prefix = glob_prefix(pattern)
        base = spec.dir
        declared = r.mime_type
        cut = len(prefix) + 1 if prefix else 0

        def rel_of(value: str) -> str:
            check_relative(value)
            rel = f"{prefix}/{value}" if prefix else value
            if not regex.fullmatch(rel):
                raise KeyError(f"{value!r} does not match the files glob {pattern!r} of {spec.name!r}")
            if rel == spec.manifest.relative_to(spec.dir).as_posix():
                raise PermissionError("the manifest is not served")
            return rel

        async def read(uri: str, variables: Mapping[str, str], snapshot: Snapshot) -> list[dict[str, Any]]:
            rel = rel_of(variables[tpl.var])
            raw = await read_inside_async(base, rel)
            return [contents(uri, raw, mime_for(rel, declared, raw[:8192]))]

        def complete(argument: str, prefix_: str, others: Mapping[str, Any]) -> Sequence[str]:
            if argument != tpl.var:
                return []
            low = prefix_.lower()
            values = (rel[cut:] for rel in _matching(spec, pattern, 10 * MAX_LISTED))
            return [v for v in values if v.lower().startswith(low)][:MAX_COMPLETIONS]

        resources = []
        for rel in _matching(spec, pattern, MAX_LISTED):
            value = rel[cut:]
            uri = tpl.expand(value)
            full = spec.dir / rel
            digest, size = file_digest(full)
            with open(full, "rb") as f:
                head = f.read(8192)
            mime = mime_for(rel, declared, head)

            async def read_one(
                snapshot: Snapshot, uri: str = uri, rel: str = rel, mime: str = mime
            ) -> list[dict[str, Any]]:
                return [contents(uri, await read_inside_async(base, rel), mime)]

            resources.append(
                ResourceDef(
                    uri,
                    f"{spec.name}/{value}",
                    read_one,
                    description=spec.description or None,
                    mime_type=mime,
                    size=size,
                    digest=digest,
                    subscribe=r.subscribe,
                )
            )
        template = ResourceTemplateDef(
            tpl.template,
            spec.name,
            tpl.match,
            read,
            complete=complete,
            title=r.title,
            description=spec.description or None,
            mime_type=declared,
            icons=r.icons or None,
        )
        return Compiled(spec, resources=tuple(resources), templates=(template,))
