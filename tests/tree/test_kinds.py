"""One home per kind: the registry in tree/kinds.py is the list every other place agrees with (the
schema union, the schema files, the records, the scaffold templates, the reference and the manual)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skillz_engine.cli.scaffold import TEMPLATES
from skillz_engine.tree import schemas
from skillz_engine.tree.kinds import KIND_NAMES, KINDS, TOOL_KINDS
from skillz_engine.tree.specs import Spec, ToolSpec

DOCS = Path(__file__).resolve().parents[2] / "docs"
NOT_KINDS = {"common", "config", "skill-md", "manifest", "legacy-skillz"}  # schemas of no kind


def test_the_schema_union_names_the_kinds() -> None:
    """The union schema's enum and branches, and the shared `kind` enum, are the registry's kinds."""
    union = schemas.load("manifest")
    assert union["properties"]["kind"]["enum"] == list(KIND_NAMES)
    assert [b["if"]["properties"]["kind"]["const"] for b in union["allOf"]] == list(KIND_NAMES)
    shared = schemas.load("common")["$defs"]["sharedKeys"]["properties"]["kind"]
    assert shared["enum"] == list(KIND_NAMES)


def test_one_schema_file_per_kind() -> None:
    """Every kind has its schema file, and every schema file but the shared ones is a kind's."""
    assert set(schemas.schema_names()) - NOT_KINDS == set(KIND_NAMES)
    assert {k.schema for k in KINDS.values()} == set(KIND_NAMES)


def test_one_record_per_kind() -> None:
    """Each kind reads its manifests into a record of its own; tool kinds share the tool keys."""
    records = [k.record for k in KINDS.values()]
    assert len(set(records)) == len(records)
    assert all(issubclass(r, Spec) for r in records)
    assert {k.name for k in KINDS.values() if issubclass(k.record, ToolSpec)} == TOOL_KINDS


def test_scaffold_covers_every_kind() -> None:
    """`skillz-engine new` has a template for each kind, and for nothing else."""
    assert set(TEMPLATES) == set(KIND_NAMES)


def test_reference_has_a_section_per_kind() -> None:
    """docs/reference.md (generated from the schemas) has one `## kind: X` section per kind."""
    text = (DOCS / "reference.md").read_text(encoding="utf-8")
    assert re.findall(r"^## kind: (\S+)$", text, re.M) == list(KIND_NAMES)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_manual_describes_each_kind_in_its_home(kind: str) -> None:
    """docs/manifests.md has a section on the kind and shows it in its home folder of the layout."""
    text = (DOCS / "manifests.md").read_text(encoding="utf-8")
    assert f"\n## kind: {kind}\n" in text
    home = KINDS[kind].home
    assert re.search(rf"^\s+{re.escape(home)}/<name>/\S*\s.*\b{re.escape(kind)}\b", text, re.M), home
