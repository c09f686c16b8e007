"""The activation rules on a compiled snapshot: transitive dependsOn, nested and cyclic bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.live.disclosure import active_skills, bundle_skills, graph_of, visible_tools, why_active
from tests.mcp_helpers import write


def skill(root: Path, name: str, extras: str = "", tool: bool = True) -> None:
    write(
        root / "skills" / name / "SKILL.md",
        f"---\nname: {name}\ndescription: The {name} skill.\n---\nBody.\n",
    )
    if extras:
        write(root / "skills" / name / "manifest.yaml", f"kind: skill\n{extras}")
    if tool:
        write(
            root / "skills" / name / "tools" / f"{name}-tool" / "manifest.yaml",
            f"kind: command\ndescription: Tool of {name}.\nargv: [echo]\n",
        )


def test_dependency_chains_cycles_and_visibility(tmp_path: Path) -> None:
    skill(tmp_path, "a", "dependsOn: [b]\n")
    skill(tmp_path, "b", "dependsOn: [c]\n")
    skill(tmp_path, "c", "dependsOn: [a]\n")  # a dependency cycle is harmless: each skill once
    skill(tmp_path, "d")
    skill(tmp_path, "e", "activation: always\n")
    write(tmp_path / "bundles" / "one" / "manifest.yaml", "kind: bundle\nskills: [d, '@two']\n")
    write(tmp_path / "bundles" / "two" / "manifest.yaml", "kind: bundle\nskills: [a, '@one']\n")
    write(tmp_path / "skillz.yaml", "disclosure: skills\n")
    tree = Tree([tmp_path], lenient=True)
    tree.full_scan()
    snap = tree.snapshot()
    assert [d.code for d in snap.errors] == ["SKZ305"]  # the bundle cycle, reported
    graph = graph_of(snap)
    assert sorted(bundle_skills(graph, "one")) == ["a", "d"]
    assert active_skills(snap) == {"e"}
    assert active_skills(snap, ("a",)) == {"a", "b", "c", "e"}
    assert active_skills(snap, ("@one",)) == {"a", "b", "c", "d", "e"}
    assert why_active(graph, "c", ("a",)) == ["active skill 'a' depends on it"]
    names = {t.name for t in visible_tools(snap, active_skills(snap, ("a",)))}
    assert {"a-tool", "b-tool", "c-tool", "e-tool"} <= names and "d-tool" not in names
    assert active_skills(snap, ("a",)) is active_skills(snap, ("a",))  # memoised


@pytest.mark.anyio
async def test_activating_tells_the_client_only_when_its_tools_change(tmp_path: Path) -> None:
    """`Activations.activate` (what a skill-as-a-tool calls): notified once, in skills mode, and
    only when the skill brings tools the client did not see."""
    from skillz_engine.live.sessions import Activations

    skill(tmp_path, "a")
    skill(tmp_path, "bare", tool=False)
    write(tmp_path / "skillz.yaml", "disclosure: skills\n")
    tree = Tree([tmp_path])
    tree.full_scan()
    snap = tree.snapshot()
    told: list[str] = []

    async def notify() -> None:
        told.append("tools")

    act = Activations("k", notify)
    assert await act.activate("a", snap) is True and told == ["tools"]
    assert await act.activate("a", snap) is False and told == ["tools"]  # already active
    assert await act.activate("bare", snap) is False and told == ["tools"]  # brings no tool
    assert act.explicit == ("a", "bare")
    write(tmp_path / "skillz.yaml", "disclosure: all\n")
    every = Tree([tmp_path])
    every.full_scan()
    fresh = Activations("j", notify)
    assert await fresh.activate("a", every.snapshot()) is False and told == ["tools"]  # all tools listed
