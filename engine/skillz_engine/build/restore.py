"""An entry restored from the spec cache, built no further than serving it needs.

A restart of a large tree must cost about what a bare server costs, so an unchanged entry is not
parsed, validated or even decoded in full (:mod:`~skillz_engine.build.cache` says when an entry is
unchanged). What is restored, and what waits:

* the tool a lazy kind serves comes back as its listed definition and digest
  (:func:`restore_tool`): the listing needs nothing else, and the runtime compiles on the first
  call;
* the manifest's data of a lazy kind stays one JSON string (:class:`LazyData`) until a runtime or a
  built-in reads it; ``enabled`` and the references, read for every entry of every snapshot, are
  kept beside it so that reading them decodes nothing;
* positions are not kept at all (:class:`ReparsePositions`): the manifest is read again only when a
  diagnostic needs a line, which is rare for an entry that validated clean last time;
* paths come from the scan's :class:`~skillz_engine.tree.scan.Found`, not from the cache file, so
  no path object is parsed twice and a moved root is served from where it is now.

The JSON shapes written by :func:`spec_json` and :func:`tool_json` are read back by the functions
below them; :data:`~skillz_engine.build.cache.FORMAT` changes whenever they do.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from skillz_engine.tree.kinds import KINDS, Ref
from skillz_engine.tree.model import EntrySpec, ToolDef, ToolInvoker
from skillz_engine.tree.parse import JsonPath, Positions, parse_file
from skillz_engine.tree.scan import Found

LAZY_KINDS = frozenset(k.name for k in KINDS.values() if k.lazy)


class LazyData(Mapping[str, Any]):
    """A manifest's validated data, decoded from its JSON text on first use. ``get("enabled")``,
    which every spec reads when it is made, answers from the kept value without decoding."""

    __slots__ = ("_enabled", "_real", "raw")

    def __init__(self, raw: str, enabled: list[Any]) -> None:
        self.raw = raw
        self._enabled = enabled  # [value] when the manifest has `enabled`, [] when it has none
        self._real: dict[str, Any] | None = None

    @property
    def enabled(self) -> list[Any]:
        """``[value]`` of the manifest's ``enabled``, ``[]`` when it has none (nothing decoded)."""
        return self._enabled

    def _get(self) -> dict[str, Any]:
        real = self._real
        if real is None:
            real = self._real = json.loads(self.raw)
        return real

    def get(self, key: str, default: Any = None) -> Any:
        if key == "enabled" and self._real is None:
            return self._enabled[0] if self._enabled else default
        return self._get().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


class ReparsePositions(Positions):
    """The positions of a manifest read again on first use: the file is unchanged since it was
    validated (its fingerprint matched), so parsing it again gives the positions it had."""

    __slots__ = ("_path", "_real")
    _path: Path
    _real: Positions | None

    def __init__(self, path: Path) -> None:
        super().__init__()
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_real", None)

    def _get(self) -> Positions:
        real = self._real
        if real is None:
            try:
                real = parse_file(self._path).positions
            except Exception:  # unreadable now: the diagnostic points at the file's first line
                real = Positions()
            object.__setattr__(self, "_real", real)
        return real

    def value(self, path: JsonPath) -> tuple[int, int]:
        return self._get().value(path)

    def key(self, path: JsonPath) -> tuple[int, int]:
        return self._get().key(path)


def _plain(v: Any) -> Any:
    """``v`` as plain JSON values (a mapping proxy or a tuple would not survive the encoder)."""
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _json_text(data: Mapping[str, Any]) -> str:
    if isinstance(data, LazyData):
        return data.raw
    return json.dumps(_plain(data), separators=(",", ":"), default=str)


def _enabled(data: Mapping[str, Any]) -> list[Any]:
    if isinstance(data, LazyData):
        return data.enabled
    return [data["enabled"]] if "enabled" in data else []


def spec_json(s: EntrySpec) -> dict[str, Any]:
    """What the cache keeps of a validated spec (paths and positions are found again)."""
    lazy = s.kind in LAZY_KINDS
    return {
        "kind": s.kind,
        "name": s.name,
        "manifest": s.manifest.as_posix(),
        "display": s.display,
        "data": _json_text(s.data) if lazy else s.data,
        "enabled": _enabled(s.data),
        "refs": [[list(r.path), r.what, r.name] for r in s.refs],
        "legacy": s.legacy,
        "body": s.body,
        "extras": s.extras,
    }


def _manifest(found: Found, raw: str) -> Path:
    for p in (found.manifest, found.skill_md):
        if p is not None and p.as_posix() == raw:
            return p
    return Path(raw)


def _str(v: Any) -> str:
    return sys.intern(v) if isinstance(v, str) else v


def restore_spec(found: Found, v: Mapping[str, Any], fingerprint: str) -> EntrySpec:
    """The spec of ``found`` from what :func:`spec_json` wrote, at the paths the scan found."""
    manifest = _manifest(found, v["manifest"])
    lazy = isinstance(v["data"], str)
    spec = EntrySpec(
        kind=_str(v["kind"]),
        name=v["name"],
        root=found.root,
        dir=found.dir,
        manifest=manifest,
        display=v["display"],
        data=LazyData(v["data"], v["enabled"]) if lazy else v["data"],
        positions=ReparsePositions(manifest),
        fingerprint=fingerprint,
        owner=found.owner,
        legacy=v["legacy"],
        body=v["body"],
        extras=v["extras"],
    )
    return spec.with_refs(tuple(Ref(tuple(p), _str(w), n) for p, w, n in v["refs"]))


def tool_json(t: ToolDef) -> dict[str, Any]:
    """What the cache keeps of a lazy kind's tool: its listed fields and digest."""
    return {
        "name": t.name,
        "description": t.description,
        "inputSchema": _plain(t.input_schema),
        "title": t.title,
        "outputSchema": _plain(t.output_schema),
        "annotations": _plain(t.annotations),
        "icons": _plain(t.icons),
        "tags": list(t.tags),
        "task": t.task,
        "meta": _plain(t.meta),
        "digest": t.digest,
    }


_SCALARS = (str, int, float, bool, type(None))


def _shared(d: Any, seen: dict[tuple[Any, ...], Any]) -> Any:
    """``d`` itself, or an equal object seen before when ``d`` is a flat object of scalars."""
    if not isinstance(d, dict) or not all(isinstance(x, _SCALARS) for x in d.values()):
        return d
    return seen.setdefault(tuple(d.items()), d)


def share_tool_json(v: dict[str, Any], seen: dict[tuple[Any, ...], Any]) -> None:
    """Make the small objects many tools repeat one object, in place, as the cache is read: the
    annotations, and each property of the input schema written alike (a ``limit``, a ``label``).
    Nothing mutates a served schema, so sharing is safe; ``seen`` lives for one read of the cache."""
    v["annotations"] = _shared(v.get("annotations"), seen)
    schema = v.get("inputSchema")
    props = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(props, dict):
        for name, sub in props.items():
            props[name] = _shared(sub, seen)


def restore_tool(v: Mapping[str, Any], spec: EntrySpec, invoke: ToolInvoker) -> ToolDef:
    """The tool :func:`tool_json` wrote, served by ``invoke`` (which compiles on first use)."""
    return ToolDef(
        name=v["name"],
        description=v["description"],
        input_schema=v["inputSchema"],
        invoke=invoke,
        title=v["title"],
        output_schema=v["outputSchema"],
        annotations=v["annotations"],
        icons=v["icons"],
        tags=tuple(_str(t) for t in v["tags"]),
        kind=spec.kind,
        entry=spec.key,
        owner=spec.owner,
        digest=v["digest"],
        meta=v["meta"],
        task=v["task"],
    )
