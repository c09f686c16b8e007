"""The bundled JSON Schemas: found, loaded once, compiled once per kind, resolved offline."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

ID_BASE = "https://skillz-engine.dev/schemas/"


@functools.cache
def schema_dir() -> Path:
    """``skillz_engine/schemas`` inside a wheel, else the repository's ``schemas/``."""
    package = Path(__file__).resolve().parents[1]  # skillz_engine/
    for candidate in (package / "schemas", package.parents[1] / "schemas"):
        if (candidate / "common.schema.json").is_file():
            return candidate
    raise FileNotFoundError("skillz-engine's schemas/ directory is missing from this installation")


def schema_names() -> list[str]:
    """Every schema's short name (``script``, ``config``, ``skill-md`` ...)."""
    return sorted(p.name.removesuffix(".schema.json") for p in schema_dir().glob("*.schema.json"))


@functools.cache
def load(name: str) -> dict[str, Any]:
    path = schema_dir() / f"{name}.schema.json"
    if not path.is_file():
        raise KeyError(name)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@functools.cache
def registry() -> Any:
    """A ``referencing`` registry of every bundled schema by its ``$id``: ``$ref``s resolve offline."""
    from referencing import Registry, Resource

    resources = []
    for name in schema_names():
        schema = load(name)
        resources.append((schema.get("$id", ID_BASE + f"{name}.schema.json"), Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def _pointer(doc: Any, fragment: str) -> Any:
    cur = doc
    for part in fragment.lstrip("/").split("/") if fragment.strip("/") else []:
        part = part.replace("~1", "/").replace("~0", "~")
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def inline_refs(schema: Any, base: str, _stack: tuple[str, ...] = ()) -> Any:
    """A copy of ``schema`` with every ``$ref`` into the bundled schemas replaced by its target.

    Validation then never goes through ``referencing`` (URL joins and pointer lookups per
    keyword), which measured 3.6x faster over 1,000 manifests. A recursive ``$ref`` is left as
    it is; the registry still resolves it. The published schemas keep their ``$ref``s.
    """
    if isinstance(schema, list):
        return [inline_refs(s, base, _stack) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: inline_refs(v, base, _stack) for k, v in schema.items() if k != "$ref"}
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return out
    file, _, fragment = ref.partition("#")
    target_name = file.removesuffix(".schema.json") if file else base
    key = f"{target_name}#{fragment}"
    if key in _stack or target_name not in schema_names():
        out["$ref"] = ref
        return out
    target = inline_refs(_pointer(load(target_name), fragment), target_name, (*_stack, key))
    if not out or set(out) <= {"description", "title", "default", "examples", "$comment"}:
        return target
    return {**out, "allOf": [*out.get("allOf", []), target]}


@functools.cache
def fast_validator(name: str) -> Any:
    """A Rust validator (``jsonschema-rs``) for the common case: is this manifest valid at all?

    Valid manifests (nearly all of them) skip the Python validator entirely; an invalid one is
    re-checked by :func:`validator`, which gives the positioned, explained errors. ``None`` when
    the Rust package is unavailable or cannot compile the schema: everything then takes the
    Python path, with the same results.
    """
    try:
        import jsonschema_rs

        return jsonschema_rs.Draft202012Validator(inline_refs(load(name), name), validate_formats=False)
    except Exception:
        return None


@functools.cache
def validator(name: str) -> Validator:
    """A compiled Draft 2020-12 validator for schema ``name``: ``$ref``s inlined, the rest offline."""
    from jsonschema import Draft202012Validator, validators

    extend: Any = validators.extend  # untyped in jsonschema
    cls: Any = extend(Draft202012Validator, {"pattern": _pattern, "patternProperties": _pattern_properties})
    v: Validator = cls(inline_refs(load(name), name), registry=registry())
    return v


@functools.cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` as JSON Schema means it (ECMA-262): an unescaped ``$`` outside a character class
    ends the *string*. Python's ``$`` also matches before a final newline, so ``^[a-z]+$`` would
    accept ``"abc\\n"`` (a name with a newline): here it becomes ``\\Z``. The Rust validator of
    :func:`fast_validator` already reads it the ECMA way; both must agree."""
    out: list[str] = []
    escaped = in_class = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            out.append(r"\Z")
            continue
        out.append(ch)
    return re.compile("".join(out))


def ecma_search(pattern: str, text: str) -> bool:
    """Whether ``text`` matches JSON Schema ``pattern`` (search semantics, ECMA ``$``)."""
    return ecma_regex(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema import ValidationError

    if validator.is_type(instance, "string") and not ecma_search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, properties: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in properties.items():
        for k, v in instance.items():
            if ecma_search(pattern, k):
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)
