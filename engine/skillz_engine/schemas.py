"""The bundled JSON Schemas: found, loaded once, compiled once per kind, resolved offline."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

ID_BASE = "https://skillz-engine.dev/schemas/"


@functools.cache
def schema_dir() -> Path:
    """``skillz_engine/schemas`` inside a wheel, else the repository's ``schemas/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas", here.parent.parent / "schemas"):
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
def _registry() -> Any:
    from referencing import Registry, Resource

    resources = []
    for name in schema_names():
        schema = load(name)
        resources.append((schema.get("$id", ID_BASE + f"{name}.schema.json"), Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@functools.cache
def validator(name: str) -> Validator:
    """A compiled Draft 2020-12 validator for schema ``name`` with every ``$ref`` resolvable offline."""
    from jsonschema import Draft202012Validator

    cls: Any = Draft202012Validator
    v: Validator = cls(load(name), registry=_registry())
    return v
