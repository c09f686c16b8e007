"""Bounded manifest data: turning composed YAML (and JSON text) into data costs at most a fixed,
small amount of time and memory, whatever the text.

A manifest is at most 1 MiB of text, but YAML aliases and merge keys let a few hundred bytes stand
for billions of values ("billion laughs"), and nesting lets a short file be deeper than Python's
stack. So the conversion counts what it expands, not what was written:

- at most :data:`MAX_NODES` values after expanding aliases and merges (a real manifest has a few
  hundred), so memory stays in the tens of MiB;
- at most :data:`MAX_DEPTH` levels of nesting (a JSON Schema inside a manifest needs a dozen);
- merge keys (``<<``) are resolved here, keeping one value per key, so merging a merged mapping
  never multiplies it;
- a mapping key must be a scalar (a key built from an alias could be the whole bomb).

Crossing a bound raises :class:`ManifestTooComplex` with the position of the value that crossed
it; :mod:`~skillz_engine.tree.parse` turns that into an SKZ009 diagnostic.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from skillz_engine.errors import EngineError
from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.positions import JsonPath, Pos, format_json_path

__all__ = ["MAX_DEPTH", "MAX_NODES", "Builder", "ManifestTooComplex", "json_too_deep"]

MAX_NODES = 50_000
MAX_DEPTH = 64


class ManifestTooComplex(EngineError):
    """The manifest's data would cross a bound of this module (at ``pos``, 1-based)."""

    def __init__(self, message: str, pos: Pos, hint: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.hint = hint


_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_DEEP_HINT = "Flatten the structure; a manifest needs only a few levels of nesting."


def _pos(node: yaml.Node) -> Pos:
    return node.start_mark.line + 1, node.start_mark.column + 1


class Builder:
    """Turn a composed YAML node tree into Python data, recording positions and duplicate keys,
    within :data:`MAX_NODES` and :data:`MAX_DEPTH`."""

    def __init__(self, loader: yaml.SafeLoader, display: str) -> None:
        self.loader = loader
        self.display = display
        self.values: dict[JsonPath, Pos] = {}
        self.keys: dict[JsonPath, Pos] = {}
        self.diagnostics: list[Diagnostic] = []
        self.nodes = 0
        self._merged: dict[int, list[tuple[yaml.Node, yaml.Node]]] = {}

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ManifestTooComplex(
                f"manifest expands to more than {MAX_NODES:,} values (aliases and merges counted)",
                _pos(node),
                "Aliases that repeat other aliases multiply; write the values out or simplify.",
            )
        if len(path) > MAX_DEPTH:
            raise ManifestTooComplex(
                f"manifest is nested more than {MAX_DEPTH} levels deep", _pos(node), _DEEP_HINT
            )
        self.values[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in self._pairs(node, len(path)):
            key = self._key(key_node)
            kpath = (*path, key)
            kpos = _pos(key_node)
            if key in out:
                first = self.keys.get(kpath, kpos)
                self.diagnostics.append(
                    Diagnostic(
                        self.display,
                        kpos[0],
                        kpos[1],
                        "SKZ006",
                        Severity.ERROR,
                        f"duplicate key {key!r} (first defined at line {first[0]})",
                        format_json_path(kpath),
                        "Remove one of the two; YAML keeps only the last.",
                    )
                )
            self.keys[kpath] = kpos
            out[key] = self.build(value_node, kpath)
        return out

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise ManifestTooComplex(
                "a mapping key must be a plain value, not a list or a mapping",
                _pos(node),
                "Keys are names; quote the key if it holds special characters.",
            )
        if node.tag == _STR:
            return str(node.value)
        key = self.loader.construct_object(node, deep=True)
        # `on:`, `1:`: keep the key as written (JSON keys are text)
        return key if isinstance(key, str) else str(node.value)

    def _pairs(self, node: yaml.MappingNode, depth: int) -> list[tuple[yaml.Node, yaml.Node]]:
        """The mapping's pairs with merge keys resolved: merged pairs first (earlier merges win),
        then the mapping's own, each merged key once. Memoised per node, so a mapping merged many
        times is resolved once."""
        if not any(k.tag == _MERGE for k, _ in node.value):
            return list(node.value)
        cached = self._merged.get(id(node))
        if cached is not None:
            return cached
        if depth > MAX_DEPTH:
            raise ManifestTooComplex(
                f"merge keys nest more than {MAX_DEPTH} levels deep", _pos(node), _DEEP_HINT
            )
        own = [(k, v) for k, v in node.value if k.tag != _MERGE]
        seen = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for k, v in node.value:
            if k.tag != _MERGE:
                continue
            sources = v.value if isinstance(v, yaml.SequenceNode) else [v]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    raise ManifestTooComplex(
                        "a merge key (<<) must name a mapping or a list of mappings",
                        _pos(src),
                        "Merge only anchored mappings: `<<: *defaults`.",
                    )
                for sk, sv in self._pairs(src, depth + 1):
                    name = sk.value if isinstance(sk, yaml.ScalarNode) else id(sk)
                    if name not in seen:
                        seen.add(name)
                        merged.append((sk, sv))
        pairs = merged + own
        self._merged[id(node)] = pairs
        return pairs

    def _scalar(self, node: yaml.Node) -> Any:
        tag, text = node.tag, node.value
        # fast paths for the scalars manifests are made of; anything unusual goes to PyYAML
        if tag == _STR:
            return text
        if tag == _INT and _PLAIN_INT.match(text):
            return int(text)
        if tag == _NULL:
            return None
        if tag == _BOOL and text.lower() in _BOOLS:
            return _BOOLS[text.lower()]
        value = self.loader.construct_object(node, deep=True)
        # dates and timestamps are not JSON: keep what the author wrote
        if not isinstance(value, str | int | float | bool | type(None)):
            value = node.value
        return value


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def json_too_deep(text: str) -> ManifestTooComplex | None:
    """The error for JSON text nested deeper than :data:`MAX_DEPTH`, at the bracket that crosses
    it, found before :func:`json.loads` would recurse (or hit the interpreter's stack)."""
    depth = 0
    for m in _JSON_TOKENS.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:  # as in YAML, no value deeper than MAX_DEPTH keys or indexes
                line = text.count("\n", 0, m.start()) + 1
                col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
                return ManifestTooComplex(
                    f"manifest is nested more than {MAX_DEPTH} levels deep", (line, col), _DEEP_HINT
                )
        elif ch in "]}":
            depth -= 1
    return None
