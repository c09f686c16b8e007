"""The Skills extension (SEP-2640, ``io.modelcontextprotocol/skills``): ``skills/list``,
``skills/get`` and ``resources/directory/read`` over the ``skill://`` resources a snapshot serves.

Why a module of its own: the skill runtime (:mod:`skillz_engine.runtimes.skill`) already serves
every file of a skill as a resource with its size and SHA-256; the extension only indexes those
resources per skill, so an entry's manifest is made of the very ``ResourceDef`` objects
``resources/read`` answers from and the digests cannot drift from what a client reads. The index
is computed once per snapshot (:meth:`Snapshot.derived`), so it changes with the tree like every
other listing and costs nothing between reloads.

* ``skills/list`` pages the skills (:data:`PAGE` per page, an opaque ``nextCursor``); an entry is
  ``{uri, frontmatter, resources: [{uri, digest: "sha256:<hex>", size}]}``, SKILL.md included,
  never split across pages. On 2026-07-28 the result carries ``ttlMs: 0`` and ``cacheScope``
  (the list changes whenever the tree does, so clients must not cache it).
* ``skills/get`` answers one entry by its SKILL.md URI: every skill the server serves, listed or
  not; anything else is ``-32602``.
* ``resources/directory/read`` (declared as ``directoryRead: true``) lists the direct children of a
  skill directory: files as their ``resources/list`` objects, subdirectories as
  ``inode/directory`` resources; a URI that is not a served directory is ``-32602``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mcp.types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.live.registry import LiveRegistry
from skillz_engine.runtimes.skill import MANIFEST, frontmatter, skill_uri
from skillz_engine.tree.model import ResourceDef
from skillz_engine.tree.parse import SKILL_FILE

EXTENSION = "io.modelcontextprotocol/skills"
SETTINGS: dict[str, Any] = {"directoryRead": True}  # the extension's capability object
DIRECTORY_MIME = "inode/directory"
PAGE = 50  # skills per skills/list page, children per directory page

Ctx = ServerRequestContext[Any, Any]


class UriParams(types.RequestParams):
    """``skills/get`` and ``resources/directory/read`` params: a URI (and a cursor for the latter)."""

    uri: str
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class SkillEntry:
    uri: str  # the SKILL.md resource
    base: str  # skill://<name> (the skill's directory)
    frontmatter: dict[str, Any]
    files: tuple[ResourceDef, ...]  # SKILL.md first, then the other files in tree order

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "frontmatter": self.frontmatter,
            "resources": [{"uri": f.uri, "digest": f"sha256:{f.digest}", "size": f.size} for f in self.files],
        }


@dataclass(frozen=True, slots=True)
class SkillIndex:
    """Every skill of one snapshot, by SKILL.md URI, and every directory under them."""

    skills: dict[str, SkillEntry]
    directories: dict[str, list[dict[str, Any]]]  # directory URI -> its direct children


def skill_index(snap: Snapshot) -> SkillIndex:
    return snap.derived("mcp.skills-index", lambda: _index(snap))


def _index(snap: Snapshot) -> SkillIndex:
    skills: dict[str, SkillEntry] = {}
    directories: dict[str, list[dict[str, Any]]] = {}
    for spec in snap.skills():
        compiled = snap.entries.get(spec.key)
        if compiled is None:
            continue
        uri = skill_uri(spec.name, SKILL_FILE)
        base = uri[: -len(SKILL_FILE) - 1]
        files = [
            r
            for r in compiled.resources
            if r.uri.startswith(base + "/")
            and r.uri != f"{base}/{MANIFEST}"
            and snap.resources.get(r.uri) is r
        ]
        files.sort(key=lambda r: r.uri != uri)
        if not files or files[0].uri != uri:
            continue  # SKILL.md is not served (the entry failed): no skill to describe
        skills[uri] = SkillEntry(uri, base, frontmatter(spec), tuple(files))
        _add_directories(directories, base, files)
    return SkillIndex(skills, directories)


def _add_directories(
    directories: dict[str, list[dict[str, Any]]], base: str, files: list[ResourceDef]
) -> None:
    """Fill ``directories`` with the children of ``base`` and of every directory below it."""
    seen: set[str] = set()
    directories.setdefault(base, [])
    for f in files:
        parts = f.uri[len(base) + 1 :].split("/")
        parent = base
        for part in parts[:-1]:
            child = f"{parent}/{part}"
            if child not in seen:
                seen.add(child)
                directories.setdefault(parent, []).append(
                    {"uri": child, "name": part, "mimeType": DIRECTORY_MIME}
                )
                directories.setdefault(child, [])
            parent = child
        directories.setdefault(parent, []).append(f.definition())


def _page(items: list[Any], cursor: str | None) -> tuple[list[Any], str | None]:
    """One page of ``items`` from ``cursor`` (an offset the server gave out), and the next cursor."""
    try:
        start = int(cursor) if cursor else 0
    except ValueError:
        raise MCPError(code=types.INVALID_PARAMS, message=f"invalid cursor {cursor!r}") from None
    if start < 0 or start > len(items):
        raise MCPError(code=types.INVALID_PARAMS, message=f"invalid cursor {cursor!r}")
    end = start + PAGE
    return items[start:end], (str(end) if end < len(items) else None)


def _cacheable(ctx: Ctx, result: dict[str, Any]) -> dict[str, Any]:
    """2026-07-28 results carry SEP-2549 cache attributes; the tree may change any moment."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return {**result, "ttlMs": 0, "cacheScope": "private"}
    return result


class SkillsHandlers:
    """The extension's request handlers over one live registry."""

    def __init__(self, live: LiveRegistry) -> None:
        self.live = live

    async def list_skills(self, ctx: Ctx, params: types.PaginatedRequestParams) -> dict[str, Any]:
        with self.live.reading() as snap:
            entries = list(skill_index(snap).skills.values())
        page, next_cursor = _page(entries, params.cursor)
        result: dict[str, Any] = {"skills": [e.to_json() for e in page]}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return _cacheable(ctx, result)

    async def get_skill(self, ctx: Ctx, params: UriParams) -> dict[str, Any]:
        with self.live.reading() as snap:
            entry = skill_index(snap).skills.get(params.uri)
        if entry is None:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"no skill is served at {params.uri!r}; skills/list shows the skills",
                data={"uri": params.uri},
            )
        return _cacheable(ctx, {"skill": entry.to_json()})

    async def read_directory(self, ctx: Ctx, params: UriParams) -> dict[str, Any]:
        uri = params.uri.rstrip("/")
        with self.live.reading() as snap:
            children = skill_index(snap).directories.get(uri)
        if children is None:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"{params.uri!r} is not a directory this server serves",
                data={"uri": params.uri},
            )
        page, next_cursor = _page(children, params.cursor)
        result: dict[str, Any] = {"resources": page}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return result


async def _advertise_in_handshake(ctx: Ctx, call_next: Any) -> Any:
    """2025-11-25 clients (MCP Inspector among them) look for the extension in the ``initialize``
    capabilities; the SDK's handshake serializer drops ``extensions``, so they are put back."""
    result = await call_next(ctx)
    if ctx.method == "initialize" and isinstance(result, dict):
        caps = result.get("capabilities")
        if isinstance(caps, dict) and "extensions" not in caps:
            caps["extensions"] = {EXTENSION: dict(SETTINGS)}
    return result


def install(server: Server[Any], live: LiveRegistry) -> None:
    """Declare the extension on ``server`` (an SDK ``Server``) and register its three methods."""
    h = SkillsHandlers(live)
    server.extensions[EXTENSION] = dict(SETTINGS)
    server.middleware.append(_advertise_in_handshake)
    server.add_request_handler("skills/list", types.PaginatedRequestParams, h.list_skills)
    server.add_request_handler("skills/get", UriParams, h.get_skill)
    server.add_request_handler("resources/directory/read", UriParams, h.read_directory)
