"""Prompt entries: ``template`` (a Jinja2 file of the entry) or ``messages`` -> one MCP prompt.

Arguments: a required argument that is missing (absent or null) makes rendering raise
``ValueError`` naming every missing one (the server answers invalid params). An optional argument
that is absent is *undefined* in the templates, leniently: it renders as nothing, is false in
``{% if %}``, and ``{{ lang | default("python") }}`` works. Any other undefined name is an error.

Role markers: a ``template`` renders into one user message, unless it holds marker lines::

    --- user ---
    --- assistant ---

(alone on their line; spaces around the words allowed). Each marker starts a new message with
that role; text before the first marker is a user message. Each section is its own template, so
a ``{% block %}`` or ``{% set %}`` does not span markers, and an argument value can never inject a
role change. Sections that render blank are dropped; surrounding blank lines are trimmed.

``messages`` content: a string (or ``{type: text, text}``) is a template over the arguments;
``image`` / ``audio`` with ``file`` are read and base64-encoded at render time (``mimeType``
guessed from the extension unless given); ``resource`` with ``uri`` embeds a resource of the
served snapshot (a fixed resource or a template match; the URI itself may use ``{{ arg }}``);
``resource`` with ``uri`` and ``text`` embeds that text under that URI as is (both templates,
``mimeType`` default ``text/plain``), for content that is not a resource of the tree;
``resource`` with ``file`` embeds a file of the entry as ``prompt://<name>/<file>``, as text or
base64 blob by MIME type.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import ChainableUndefined

from skillz_engine.build.contract import CallContext
from skillz_engine.runtimes.base import CompileProblem, Services
from skillz_engine.runtimes.resource import (
    MAX_COMPLETIONS,
    contents,
    guess_mime,
    read_inside_async,
)
from skillz_engine.tree.diagnostics import Diagnostic, Severity, display_path
from skillz_engine.tree.model import Args, Compiled, EntrySpec, PromptArgument, PromptDef
from skillz_engine.tree.parse import JsonPath
from skillz_engine.tree.specs import PromptSpec
from skillz_engine.tree.templating import check_syntax, render
from skillz_engine.tree.validate import entry_path

if TYPE_CHECKING:
    from skillz_engine.build.snapshot import Snapshot

MAX_TEMPLATE_BYTES = 1 << 20
_MARKER = re.compile(r"^[ \t]*---[ \t]*(user|assistant)[ \t]*---[ \t]*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Part:
    """One message to produce: ``kind`` is text, image, audio, uri, inline or file."""

    role: str
    kind: str
    source: str  # a template (text, uri, inline) or an entry-relative path (image, audio, file)
    mime: str | None = None
    text: str | None = None  # inline: the resource's text (a template)


def split_roles(source: str) -> list[tuple[str, str, int]]:
    """``(role, section source, first line of the section)`` for a template with role markers."""
    sections: list[tuple[str, str, int]] = []
    role, start, buf, marked = "user", 1, [], False
    for i, line in enumerate(source.splitlines(keepends=True), 1):
        m = _MARKER.match(line.rstrip("\r\n"))
        if m is None:
            buf.append(line)
            continue
        sections.append((role, "".join(buf), start))
        role, start, buf, marked = m.group(1).lower(), i + 1, [], True
    sections.append((role, "".join(buf), start))
    if marked:
        sections = [s for s in sections if s[1].strip()]
    return sections


def _arguments(spec: EntrySpec, diags: list[Diagnostic]) -> tuple[PromptArgument, ...]:
    out: list[PromptArgument] = []
    seen: set[str] = set()
    for i, a in enumerate(spec.record_as(PromptSpec).arguments):
        name = a.name
        if name in seen:
            diags.append(
                spec.diag(
                    ("arguments", i, "name"),
                    "SKZ207",
                    f"argument {name!r} is declared twice",
                    "Remove or rename one of them.",
                )
            )
            continue
        seen.add(name)
        out.append(PromptArgument(name, a.description, a.required, tuple(str(v) for v in a.values)))
    return tuple(out)


def _template_parts(spec: EntrySpec, rel: str, diags: list[Diagnostic]) -> list[_Part]:
    target, pdiags = entry_path(spec, ("template",), rel)
    if target is None:
        diags.extend(pdiags)
        return []
    display = display_path(target)

    def problem(line: int, code: str, message: str, hint: str) -> None:
        diags.append(Diagnostic(display, line, 1, code, Severity.ERROR, message, "$", hint))

    size = target.stat().st_size
    if size > MAX_TEMPLATE_BYTES:
        problem(
            1,
            "SKZ003",
            f"template is {size} bytes; the limit is {MAX_TEMPLATE_BYTES} (1 MiB)",
            "Keep prompt templates small; embed large files as resources instead.",
        )
        return []
    try:
        source = target.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        problem(1, "SKZ004", "template is not valid UTF-8", "Save the template as UTF-8.")
        return []
    parts: list[_Part] = []
    for role, section, first in split_roles(source):
        err = check_syntax(section)
        if err is not None:
            problem(
                first + err[0] - 1,
                "SKZ503",
                f"template syntax error: {err[1]}",
                "Fix the Jinja2 syntax on this line (role markers split the template into "
                "separate templates: a block must not span them).",
            )
        parts.append(_Part(role, "text", section))
    return parts


def _message_parts(spec: EntrySpec, diags: list[Diagnostic]) -> list[_Part]:
    parts: list[_Part] = []

    def checked(path: JsonPath, source: str) -> str:
        err = check_syntax(source)
        if err is not None:
            diags.append(
                spec.diag(
                    path,
                    "SKZ503",
                    f"template syntax error: {err[1]} (line {err[0]} of the template)",
                    "Fix the Jinja2 syntax of this value.",
                )
            )
        return source

    def template(path: JsonPath, role: str, kind: str, source: str) -> None:
        parts.append(_Part(role, kind, checked(path, source)))

    for i, msg in enumerate(spec.record_as(PromptSpec).messages):
        role, content = msg.role, msg.content
        path: JsonPath = ("messages", i, "content")
        if isinstance(content, str):
            template(path, role, "text", content)
            continue
        ctype = content["type"]
        if ctype == "text":
            template((*path, "text"), role, "text", str(content["text"]))
        elif ctype == "resource" and "uri" in content and "text" in content:
            uri = checked((*path, "uri"), str(content["uri"]))
            text = checked((*path, "text"), str(content["text"]))
            parts.append(_Part(role, "inline", uri, content.get("mimeType"), text))
        elif ctype == "resource" and "uri" in content:
            template((*path, "uri"), role, "uri", str(content["uri"]))
        else:
            rel = str(content["file"])
            target, pdiags = entry_path(spec, (*path, "file"), rel)
            diags.extend(pdiags)
            if target is not None:
                kind = "file" if ctype == "resource" else str(ctype)
                parts.append(_Part(role, kind, Path(rel).as_posix(), content.get("mimeType")))
    return parts


async def read_uri(snapshot: Snapshot, uri: str) -> list[dict[str, Any]]:
    """The contents of ``uri`` in ``snapshot``: a fixed resource or a template match."""
    res = snapshot.resources.get(uri)
    if res is not None:
        return await res.read(snapshot)
    found = snapshot.find_template(uri)
    if found is None:
        raise KeyError(f"resource {uri!r} not found")
    tmpl, variables = found
    return await tmpl.read(uri, variables, snapshot)


class PromptRuntime:
    kind = "prompt"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        diags: list[Diagnostic] = []
        r = spec.record_as(PromptSpec)
        arguments = _arguments(spec, diags)
        if r.script is not None:  # a prompt that can ask (prompt_script.py)
            if diags:
                raise CompileProblem(diags)
            from skillz_engine.runtimes.prompt_script import script_prompt

            asking = script_prompt(spec, r.script, arguments, services, title=r.title, icons=r.icons or None)
            return Compiled(spec, prompts=(asking,))
        parts = (
            _template_parts(spec, r.template, diags)
            if r.template is not None
            else _message_parts(spec, diags)
        )
        if diags:
            raise CompileProblem(diags)
        name, base = spec.name, spec.dir

        def variables(args: Args) -> dict[str, Any]:
            missing = [a.name for a in arguments if a.required and args.get(a.name) is None]
            if missing:
                raise ValueError(
                    f"prompt {name!r}: missing required argument{'s' if len(missing) > 1 else ''}: "
                    + ", ".join(missing)
                )
            out: dict[str, Any] = {a.name: ChainableUndefined(name=a.name) for a in arguments}
            out.update({str(k): v for k, v in args.items() if v is not None})
            return out

        async def part_messages(
            part: _Part, env: Mapping[str, Any], ctx: CallContext | None
        ) -> list[dict[str, Any]]:
            if part.kind == "text":
                text = render(part.source, env).strip("\r\n").rstrip()
                return [{"role": part.role, "content": {"type": "text", "text": text}}] if text else []
            if part.kind == "inline":
                resource = {
                    "uri": render(part.source, env).strip(),
                    "mimeType": part.mime or "text/plain",
                    "text": render(part.text or "", env),
                }
                return [{"role": part.role, "content": {"type": "resource", "resource": resource}}]
            if part.kind == "uri":
                templated = "{{" in part.source or "{%" in part.source
                uri = render(part.source, env).strip() if templated else part.source
                if ctx is None:
                    raise RuntimeError(
                        f"prompt {name!r} embeds {uri!r}; rendering it needs the served snapshot"
                    )
                return [
                    {"role": part.role, "content": {"type": "resource", "resource": c}}
                    for c in await read_uri(ctx.snapshot, uri)
                ]
            raw = await read_inside_async(base, part.source)
            mime = part.mime or guess_mime(part.source)
            if part.kind == "file":
                res = contents(f"prompt://{name}/{quote(part.source)}", raw, mime)
                return [{"role": part.role, "content": {"type": "resource", "resource": res}}]
            data = base64.b64encode(raw).decode("ascii")
            block = {"type": part.kind, "data": data, "mimeType": mime or "application/octet-stream"}
            return [{"role": part.role, "content": block}]

        async def render_prompt(args: Args, ctx: CallContext | None) -> list[dict[str, Any]]:
            env = variables(args or {})
            messages: list[dict[str, Any]] = []
            for part in parts:
                messages.extend(await part_messages(part, env, ctx))
            return messages or [{"role": "user", "content": {"type": "text", "text": ""}}]

        def complete(argument: str, prefix: str, others: Mapping[str, Any]) -> Sequence[str]:
            low = prefix.lower()
            for a in arguments:
                if a.name == argument:
                    return [v for v in a.values if v.lower().startswith(low)][:MAX_COMPLETIONS]
            return []

        prompt = PromptDef(
            name,
            spec.description,
            arguments,
            render_prompt,
            complete,
            title=r.title,
            icons=r.icons or None,
        )
        return Compiled(spec, prompts=(prompt,))
