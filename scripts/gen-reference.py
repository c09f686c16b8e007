#!/usr/bin/env python3
"""Write docs/reference.md, the manifest key reference, from schemas/*.schema.json.

    python3 scripts/gen-reference.py           # rewrite docs/reference.md
    python3 scripts/gen-reference.py --check   # exit 1 if docs/reference.md is out of date

The schemas are the source of truth: every key's description in the reference is the
``description`` in its schema. Nested objects are listed as ``parent.child`` and arrays of objects
as ``parent[].child``. Standard library only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
OUTPUT = REPO / "docs" / "reference.md"

# what each kind's manifest is; the kinds and their order come from the union schema
# (schemas/manifest.schema.json), so a kind added there and not here stops the script
KIND_FILES = {
    "script": "`manifest.yaml` of a script tool",
    "command": "`manifest.yaml` of a command tool",
    "wasm": "`manifest.yaml` of a WebAssembly tool",
    "pipeline": "`manifest.yaml` of a pipeline tool",
    "prompt": "`manifest.yaml` of a prompt",
    "resource": "`manifest.yaml` of a resource or resource template",
    "skill": "the optional `manifest.yaml` beside a `SKILL.md`",
    "bundle": "`manifest.yaml` of a bundle",
    "service": "`manifest.yaml` of a Docker service",
    "mcp-server": "`manifest.yaml` of an imported MCP server",
}
CONFIG = ("config", "skillz.yaml (tree configuration)", "`skillz.yaml` at the top of the first root")
SKILL_MD = ("skill-md", "SKILL.md front matter", "the YAML front matter of a skill's `SKILL.md`")
LEGACY = ("legacy-skillz", "Rust Skillz manifest.json (read with warnings)", "a Rust Skillz `manifest.json`")


def sections(schemas: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(schema name, heading, file it describes), in the order of the reference: the config, each
    kind of the union schema (the SKILL.md front matter just before `kind: skill`), the legacy format."""
    kinds = schemas["manifest.schema.json"]["properties"]["kind"]["enum"]
    missing = [k for k in kinds if k not in KIND_FILES]
    if missing or len(kinds) != len(KIND_FILES):
        raise SystemExit(f"KIND_FILES does not match the kinds of manifest.schema.json: {kinds}")
    out = [CONFIG]
    for kind in kinds:
        if kind == "skill":
            out.append(SKILL_MD)
        out.append((kind, f"kind: {kind}", KIND_FILES[kind]))
    return [*out, LEGACY]


# friendly names for shared definitions of common.schema.json
NAMED_DEFS = {
    "duration": "duration",
    "size": "size",
    "relativePath": "relative path",
    "absolutePath": "absolute path",
    "entryName": "entry name",
    "skillName": "skill name",
    "tags": "list of strings",
    "icons": "list of icons",
    "icon": "icon",
    "env": "map of strings",
    "secrets": "list of `SKILLZ_*` names",
    "jsonSchemaObject": "JSON Schema",
    "sandboxMode": "string",
    "sandbox": "string or object",
}
MAX_DEPTH = 3


def load_schemas() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMAS.glob("*.schema.json"))}


class Resolver:
    def __init__(self, schemas: dict[str, dict[str, Any]]) -> None:
        self.schemas = schemas

    def resolve(self, node: dict[str, Any], file: str) -> tuple[dict[str, Any], str, str | None]:
        """Follow ``$ref`` chains: (target schema, file it lives in, name of the last $defs entry)."""
        name = None
        seen = 0
        while "$ref" in node and seen < 20:
            ref = node["$ref"]
            target_file, _, pointer = ref.partition("#")
            file = target_file or file
            target: Any = self.schemas[file]
            parts = [p for p in pointer.split("/") if p]
            for part in parts:
                target = target[part.replace("~1", "/").replace("~0", "~")]
            if len(parts) == 2 and parts[0] == "$defs":
                name = parts[1]
            node = target
            seen += 1
        return node, file, name

    def type_of(self, node: dict[str, Any], file: str) -> str:
        target, file, name = self.resolve(node, file)
        if name in NAMED_DEFS:
            return NAMED_DEFS[name]
        if "const" in target:
            return f"`{json.dumps(target['const'])}`"
        if "enum" in target:
            return "one of " + ", ".join(f"`{v}`" for v in target["enum"])
        for key in ("anyOf", "oneOf"):
            if key in target and "type" not in target:
                kinds = [self.type_of(alt, file) for alt in target[key]]
                return " or ".join(dict.fromkeys(kinds))
        kind = target.get("type")
        if isinstance(kind, list):
            return " or ".join(str(k) for k in kind)
        if kind == "array":
            items = target.get("items")
            if isinstance(items, dict) and items:
                inner = self.type_of(items, file)
                return f"list of {inner}" if not inner.startswith("list") else f"list of ({inner})"
            return "list"
        if kind == "object" and "additionalProperties" in target and "properties" not in target:
            extra = target["additionalProperties"]
            if isinstance(extra, dict) and extra.get("type") == "string":
                return "map of strings"
            return "map"
        if kind:
            return str(kind)
        return "any"

    def expandable(self, node: dict[str, Any], file: str) -> tuple[dict[str, Any], str, str] | None:
        """(object schema with properties, its file, suffix for child keys) or None."""
        target, file, _ = self.resolve(node, file)
        if isinstance(target.get("properties"), dict):
            return target, file, "."
        if target.get("type") == "array" and isinstance(target.get("items"), dict):
            items, ifile, _ = self.resolve(target["items"], file)
            if isinstance(items.get("properties"), dict):
                return items, ifile, "[]."
        for key in ("anyOf", "oneOf"):
            # expand an alternative only when it is the one object form (a string-or-object key);
            # several object forms are left to the key's own description
            found = [f for f in (self.expandable(alt, file) for alt in target.get(key, [])) if f]
            if len(found) == 1:
                return found[0]
        return None


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def describe(node: dict[str, Any], resolved: dict[str, Any]) -> str:
    text = node.get("description") or resolved.get("description") or ""
    default = node.get("default", resolved.get("default"))
    if default is not None and "default" not in text.lower():
        text = f"{text} Default: `{json.dumps(default)}`.".strip()
    return text


def rows(
    resolver: Resolver, schema: dict[str, Any], file: str, prefix: str = "", depth: int = 0
) -> list[tuple[str, str, bool, str]]:
    out: list[tuple[str, str, bool, str]] = []
    required = set(schema.get("required", []))
    for key, node in (schema.get("properties") or {}).items():
        resolved, _, _ = resolver.resolve(node, file)
        out.append((prefix + key, resolver.type_of(node, file), key in required, describe(node, resolved)))
        if depth + 1 < MAX_DEPTH and key != "$schema":
            nested = resolver.expandable(node, file)
            if nested is not None:
                child, cfile, sep = nested
                out.extend(rows(resolver, child, cfile, f"{prefix}{key}{sep}", depth + 1))
    return out


def render() -> str:
    schemas = load_schemas()
    resolver = Resolver(schemas)
    lines = [
        "# Manifest reference",
        "",
        "<!-- Generated by scripts/gen-reference.py from schemas/*.schema.json; do not edit by hand. -->",
        "",
        "Every key of every manifest kind, with the description from its JSON Schema. Nested keys are",
        "written `parent.child`; keys of the objects in a list are written `parent[].child`. Print a",
        "schema with `skillz-engine schema KIND`; point your editor at it for completion and hover help,",
        "e.g. with a first line",
        "`# yaml-language-server: $schema=https://skillz-engine.dev/schemas/script.schema.json`.",
        "",
        "Value types: a *duration* is a number of seconds or a string with a unit (`500ms`, `30s`, `2m`,",
        "`1h`); a *size* is a number of bytes or a string with a unit (`64KiB`, `256MiB`); a *relative",
        "path* names a file inside the entry's directory (no `..`, not absolute).",
        "",
        "Contents:",
        "",
    ]
    for _, heading, _ in sections(schemas):
        anchor = heading.lower()
        anchor = "".join(c for c in anchor if c.isalnum() or c in " -").replace(" ", "-")
        lines.append(f"- [{heading}](#{anchor})")
    for name, heading, what in sections(schemas):
        file = f"{name}.schema.json"
        schema = schemas[file]
        required = ", ".join(f"`{k}`" for k in schema.get("required", [])) or "none"
        lines += [
            "",
            f"## {heading}",
            "",
            f"{cell(schema.get('description', ''))}",
            "",
            f"Describes {what}. Schema: `schemas/{file}` (`{schema.get('$id', '')}`).",
            f"Required keys: {required}.",
            "",
            "| key | type | required | description |",
            "|---|---|---|---|",
        ]
        for key, kind, req, text in rows(resolver, schema, file):
            lines.append(f"| `{key}` | {cell(kind)} | {'yes' if req else ''} | {cell(text)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[1:] == ["--check"]:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{OUTPUT.relative_to(REPO)} is out of date: run python3 scripts/gen-reference.py",
                file=sys.stderr,
            )
            return 1
        return 0
    if argv[1:]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
