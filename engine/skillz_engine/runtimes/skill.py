"""Skill entries (an Agent Skills ``SKILL.md``): one prompt plus the skill's files as resources.

A skill ``<name>`` becomes:

* a prompt ``<name>`` (description from the front matter) whose one user message is the SKILL.md
  body under a short header naming the skill and listing its files as ``skill://`` URIs;
* resources in the SEP-2640 shape: ``skill://<name>/SKILL.md`` (``text/markdown``, the whole file)
  and ``skill://<name>/<relative path>`` for every other file of the skill directory, recursively,
  each with a guessed MIME type, text or base64 blob, its size, and its SHA-256 as ``digest`` and
  as the ``sha256:<hex>`` suffix of its description;
* ``skill://<name>/_manifest`` (JSON): ``name``, ``description``, ``uri``, ``frontmatter``,
  ``files`` (``uri``, ``path``, ``sha256``, ``size``, ``mimeType``) and ``skipped``.

Files are enumerated, never taken from a request. Skipped: dot-files and ignored names
(``__pycache__``, ``node_modules``, editor files), the ``manifest.yaml`` beside SKILL.md (engine
extras, not skill content), directories that hold a manifest or SKILL.md (nested entries: the
skill's own tools, served by their own runtime), symlinked directories, symlinks that lead out of
the skill, files over :data:`MAX_FILE_BYTES`, and files past :data:`MAX_FILES`. Skipped files are
listed in the ``_manifest`` with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from skillz_engine.build.contract import CallContext
from skillz_engine.runtimes.base import CompileProblem, Services
from skillz_engine.runtimes.resource import check_relative, contents, mime_for, read_inside_async
from skillz_engine.tree.diagnostics import Diagnostic, Severity, display_path
from skillz_engine.tree.kinds import from_document
from skillz_engine.tree.model import Compiled, EntrySpec, PromptDef, ResourceDef, ToolDef, ToolResult
from skillz_engine.tree.parse import MANIFEST_NAMES, SKILL_FILE, parse_skill_md
from skillz_engine.tree.paths import PathEscape, safe_join
from skillz_engine.tree.scan import ignored_name
from skillz_engine.tree.specs import SkillSpec

if TYPE_CHECKING:
    from skillz_engine.build.snapshot import Snapshot
    from skillz_engine.tree.model import Args

MAX_FILE_BYTES = 5 << 20  # 5 MiB
MAX_FILES = 1000
MANIFEST = "_manifest"
HEADER_FILES = 50  # files named in the prompt's header; the rest are in the _manifest
META_PREFIX = "io.modelcontextprotocol.skills/"  # `_meta` keys of skill resources


@dataclass(frozen=True, slots=True)
class SkillFile:
    rel: str  # '/'-separated, relative to the skill directory
    uri: str
    size: int
    sha256: str
    mime: str

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "path": self.rel,
            "sha256": self.sha256,
            "size": self.size,
            "mimeType": self.mime,
        }


def skill_uri(name: str, rel: str) -> str:
    return f"skill://{name}/{quote(rel, safe='/')}"


def _candidates(root: Path) -> Iterator[Path]:
    """Every file of the skill that could be served, in a stable order (see the module docstring)."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        keep = []
        for n in sorted(dirnames):
            sub = d / n
            if ignored_name(n) or sub.is_symlink():
                continue
            if any((sub / m).is_file() for m in (*MANIFEST_NAMES, SKILL_FILE)):
                continue  # a nested entry: its own runtime serves it
            keep.append(n)
        dirnames[:] = keep
        for n in sorted(filenames):
            if ignored_name(n) or (d == root and n in MANIFEST_NAMES):
                continue
            yield d / n


def skill_files(name: str, root: Path) -> tuple[list[SkillFile], list[dict[str, Any]]]:
    """The files a skill serves and the ones it skips (``path``, ``reason``, maybe ``size``)."""
    files: list[SkillFile] = []
    skipped: list[dict[str, Any]] = []
    for path in _candidates(root):
        rel = path.relative_to(root).as_posix()
        try:
            check_relative(rel)
        except (PermissionError, KeyError):
            skipped.append({"path": rel, "reason": "name cannot be served"})
            continue
        if rel == MANIFEST:
            skipped.append({"path": rel, "reason": f"{MANIFEST!r} is reserved for the skill's manifest"})
            continue
        try:
            real = safe_join(root, rel, kind="file")
        except PathEscape:
            skipped.append({"path": rel, "reason": "symlink that leads outside the skill"})
            continue
        try:
            size = real.stat().st_size
            if size > MAX_FILE_BYTES:
                skipped.append({"path": rel, "size": size, "reason": "larger than 5 MiB"})
                continue
            if len(files) >= MAX_FILES:
                skipped.append({"path": rel, "size": size, "reason": f"more than {MAX_FILES} files"})
                continue
            data = real.read_bytes()
        except OSError as exc:
            skipped.append({"path": rel, "reason": f"cannot be read: {exc.strerror or exc}"})
            continue
        mime = "text/markdown" if rel == SKILL_FILE else mime_for(rel, None, data[:8192])
        files.append(SkillFile(rel, skill_uri(name, rel), len(data), hashlib.sha256(data).hexdigest(), mime))
    return files, skipped


def _header(name: str, description: str, files: list[SkillFile]) -> str:
    lines = [f"# Skill: {name}", ""]
    if description:
        lines += [description.strip(), ""]
    lines.append(
        f"Files of this skill (MCP resources; paths in the instructions are relative to skill://{name}/):"
    )
    lines += [f"- {f.uri}" for f in files[:HEADER_FILES]]
    if len(files) > HEADER_FILES:
        lines.append(f"- ... {len(files) - HEADER_FILES} more: see skill://{name}/{MANIFEST}")
    return "\n".join([*lines, "", "---", "", ""])


def frontmatter(spec: EntrySpec) -> dict[str, Any]:
    """The SKILL.md front matter as JSON (what SEP-2640's ``frontmatter`` carries)."""
    data = parse_skill_md(spec.manifest, spec.display).data
    fm = data if isinstance(data, dict) else {}
    loaded: dict[str, Any] = json.loads(json.dumps(fm, default=str))  # YAML dates and such -> JSON
    return loaded


class SkillRuntime:
    kind = "skill"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        name, base, description = spec.name, spec.dir, spec.description
        files, skipped = skill_files(name, base)
        if not any(f.rel == SKILL_FILE for f in files):
            warnings = [
                Diagnostic(
                    display_path(base / str(s["path"])),
                    0,
                    0,
                    "SKZ506",
                    Severity.WARNING,
                    f"skill file not served: {s['reason']}",
                )
                for s in skipped
                if "size" in s
            ]
            raise CompileProblem(
                [
                    Diagnostic(
                        spec.display,
                        1,
                        1,
                        "SKZ005",
                        Severity.ERROR,
                        "SKILL.md could not be read while compiling the skill",
                        hint="Check the file's permissions and size.",
                    ),
                    *warnings,
                ]
            )
        text = _header(name, description, files) + (spec.body or "").strip("\n") + "\n"

        async def render(args: Args, ctx: CallContext | None) -> list[dict[str, Any]]:
            return [{"role": "user", "content": {"type": "text", "text": text}}]

        record = spec.record_as(SkillSpec)
        prompt = PromptDef(name, description, (), render, title=record.title, icons=record.icons or None)
        as_tool = record.tool if record.tool is not None else services.config.skills.as_tools
        tools = (_skill_tool(spec, text),) if as_tool else ()
        front = frontmatter(spec)
        resources = [self._file(name, base, f, description, front) for f in files]
        manifest = json.dumps(
            {
                "name": name,
                "description": description,
                "uri": skill_uri(name, SKILL_FILE),
                "frontmatter": front,
                "files": [f.to_json() for f in files],
                "skipped": skipped,
            },
            indent=2,
            ensure_ascii=False,
        )
        raw = manifest.encode("utf-8")
        manifest_uri = f"skill://{name}/{MANIFEST}"

        async def read_manifest(snapshot: Snapshot) -> list[dict[str, Any]]:
            return [{"uri": manifest_uri, "mimeType": "application/json", "text": manifest}]

        resources.append(
            ResourceDef(
                manifest_uri,
                f"{name}/{MANIFEST}",
                read_manifest,
                title=f"{name} skill manifest",
                description=f"The {name} skill's front matter and files with their SHA-256 digests.",
                mime_type="application/json",
                size=len(raw),
                digest=hashlib.sha256(raw).hexdigest(),
            )
        )
        return Compiled(spec, tools=tools, prompts=(prompt,), resources=tuple(resources))

    @staticmethod
    def _file(
        name: str, base: Path, f: SkillFile, description: str, frontmatter: dict[str, Any]
    ) -> ResourceDef:
        async def read(snapshot: Snapshot) -> list[dict[str, Any]]:
            return [contents(f.uri, await read_inside_async(base, f.rel, MAX_FILE_BYTES), f.mime)]

        meta: dict[str, Any] = {f"{META_PREFIX}sha256": f.sha256}
        if f.rel == SKILL_FILE:
            # SEP-2640: SKILL.md is named after the skill and described by its front matter
            extra = {k: v for k, v in frontmatter.items() if k not in ("name", "description")}
            if extra:
                meta[f"{META_PREFIX}frontmatter"] = extra
            return ResourceDef(
                f.uri,
                name,
                read,
                title=f"{name} skill",
                description=description,
                mime_type=f.mime,
                size=f.size,
                digest=f.sha256,
                meta=meta,
            )
        return ResourceDef(
            f.uri,
            f"{name}/{f.rel}",
            read,
            description=f"File {f.rel} of the {name} skill. sha256:{f.sha256}",
            mime_type=f.mime,
            size=f.size,
            digest=f.sha256,
            meta=meta,
        )


TASK_SCHEMA = {
    "type": "object",
    "properties": {
        "task": {"type": "string", "description": "What you want to do with the skill (optional)."}
    },
}


def _skill_tool(spec: EntrySpec, text: str) -> ToolDef:
    """The skill as a tool (``tool: true`` or ``skills.asTools``), for clients that only call
    tools: it returns the instructions and activates the skill for the calling client."""
    name, record = spec.name, spec.record_as(SkillSpec)
    # manifest.yaml's own description describes the tool; SKILL.md's (which wins in the record)
    # describes the skill
    description = from_document("skill", spec.extras).description or (
        f"Load the {name} skill (instructions, files and tools). {spec.description}"
    )

    async def invoke(args: Args, ctx: CallContext) -> ToolResult:
        task = str(args.get("task") or "").strip()
        if ctx.activations is not None:
            await ctx.activations.activate(name, ctx.snapshot)
        return ToolResult.text((f"Task: {task}\n\n" if task else "") + text)

    return ToolDef(
        name=name,
        description=description,
        input_schema=TASK_SCHEMA,
        invoke=invoke,
        title=record.title,
        annotations={"readOnlyHint": True, "openWorldHint": False},
        icons=record.icons or None,
        tags=("skill", *record.tags),
    )
