"""Roots are ordered as given: when two roots hold an entry of the same name, the root given first
wins (the other gets SKZ207), whatever the roots' paths are called."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.live.disclosure import graph_of
from tests.conftest import open_tree

SKILL = "---\nname: same\ndescription: the skill from {root}\n---\nBody from {root}.\n"
PROMPT = "kind: prompt\ndescription: prompt from {root}\nmessages:\n  - role: user\n    content: hi\n"
BUNDLE = "kind: bundle\ndescription: bundle from {root}\nskills: [same]\n"


def _root(base: Path, name: str) -> Path:
    root = base / name
    for rel, text in (("skills/same/SKILL.md", SKILL), ("prompts/greet/manifest.yaml", PROMPT)):
        (root / rel).parent.mkdir(parents=True)
        (root / rel).write_text(text.format(root=name))
    (root / "bundles/b").mkdir(parents=True)
    (root / "bundles/b/manifest.yaml").write_text(BUNDLE.format(root=name))
    return root


@pytest.mark.parametrize("order", [("zz-first", "aa-second"), ("aa-second", "zz-first")])
def test_the_root_given_first_wins(tmp_path: Path, order: tuple[str, str]) -> None:
    roots = [_root(tmp_path, name) for name in order]
    tree = open_tree(roots)
    tree.full_scan()
    snap = tree.snapshot()
    winner, loser = order
    assert snap.prompts["greet"].description == f"prompt from {winner}"
    graph = graph_of(snap)
    assert graph.skills["same"].dir.parent.parent.name == winner
    assert graph.bundles["b"].dir.parent.parent.name == winner
    dups = [d for d in snap.diagnostics if d.code == "SKZ207"]
    assert dups and all(f"/{loser}/" in f"/{d.path}" for d in dups), [(d.path, d.message) for d in dups]
    assert tree.sorted_keys()[0].split("/")[-3] == winner
