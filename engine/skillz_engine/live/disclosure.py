"""Progressive disclosure: which tools a client sees, given the skills it activated.

* ``all``: every tool.
* ``skills``: built-ins, tools that belong to no skill, and the tools of every *active* skill. A
  skill is active for a client when it is ``activation: always``, when the client activated it
  (``activate_skill``), when a bundle the client activated lists it (``@bundle`` references are
  followed, cycles are cut), or when an active skill names it in ``dependsOn`` (transitively).
* ``search``: only the built-ins; ``search_tools`` and ``call_tool`` reach the rest.

Every tool stays callable by name in every mode (``tools/call``, ``call_tool``): disclosure
decides what is *listed*, so a client with a stale list never loses a tool.

The skill graph of a snapshot and each (snapshot, activations) answer are computed once and
kept with the snapshot (:meth:`Snapshot.derived`), so a per-client ``tools/list`` costs a
dictionary lookup after the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.tree.model import EntrySpec, ToolDef
from skillz_engine.tree.specs import BundleSpec, SkillSpec


@dataclass(frozen=True, slots=True)
class SkillGraph:
    """The skills and bundles of one snapshot, by name."""

    skills: Mapping[str, EntrySpec]
    bundles: Mapping[str, EntrySpec]
    always: frozenset[str]
    tools_of: Mapping[str, tuple[str, ...]]  # skill -> the tools it owns (served ones)
    builtins: tuple[ToolDef, ...]


def graph_of(snapshot: Snapshot) -> SkillGraph:
    """The skills and bundles of ``snapshot`` (computed once per snapshot)."""
    return snapshot.derived((__name__, "graph"), lambda: _graph(snapshot))


def _graph(snapshot: Snapshot) -> SkillGraph:
    skills: dict[str, EntrySpec] = {}
    bundles: dict[str, EntrySpec] = {}
    for key, spec in snapshot.specs.items():
        if not spec.enabled or key not in snapshot.entries:
            continue
        if spec.kind == "skill":
            skills.setdefault(spec.name, spec)
        elif spec.kind == "bundle":
            bundles.setdefault(spec.name, spec)
    tools_of: dict[str, list[str]] = {}
    builtins: list[ToolDef] = []
    for t in snapshot.tools.values():
        if t.entry is None:
            builtins.append(t)
        elif t.owner is not None:
            tools_of.setdefault(t.owner, []).append(t.name)
    always = frozenset(n for n, s in skills.items() if s.record_as(SkillSpec).activation == "always")
    return SkillGraph(
        MappingProxyType(skills),
        MappingProxyType(bundles),
        always,
        MappingProxyType({k: tuple(v) for k, v in tools_of.items()}),
        tuple(builtins),
    )


def bundle_skills(graph: SkillGraph, bundle: str) -> list[str]:
    """The skills a bundle stands for, ``@references`` followed (each bundle once: cycles stop)."""
    out: list[str] = []
    seen: set[str] = set()
    stack = [bundle]
    while stack:
        b = stack.pop()
        if b in seen or b not in graph.bundles:
            continue
        seen.add(b)
        refs = [r for r in graph.bundles[b].record_as(BundleSpec).skills if isinstance(r, str)]
        for ref in reversed(refs):
            if ref.startswith("@"):
                stack.append(ref[1:])
            elif ref not in out:
                out.append(ref)
    return out


def expand(graph: SkillGraph, refs: Iterable[str]) -> frozenset[str]:
    """Skill names (and ``@bundles``) -> every skill they activate, ``dependsOn`` followed."""
    todo: list[str] = []
    for ref in refs:
        todo.extend(bundle_skills(graph, ref[1:]) if ref.startswith("@") else [ref])
    active: set[str] = set()
    while todo:
        name = todo.pop()
        spec = graph.skills.get(name)
        if name in active or spec is None:
            continue
        active.add(name)
        todo.extend(d for d in spec.record_as(SkillSpec).depends_on if isinstance(d, str))
    return frozenset(active)


def active_skills(snapshot: Snapshot, explicit: tuple[str, ...] = ()) -> frozenset[str]:
    """The skills active for a client that activated ``explicit`` (memoised per snapshot)."""

    def make() -> frozenset[str]:
        graph = graph_of(snapshot)
        return expand(graph, (*sorted(graph.always), *explicit))

    return snapshot.derived((__name__, "active", explicit), make)


def why_active(graph: SkillGraph, skill: str, explicit: tuple[str, ...]) -> list[str]:
    """What keeps ``skill`` active besides an explicit activation of its own (for messages)."""
    reasons: list[str] = []
    if skill in graph.always:
        reasons.append("it is `activation: always`")
    for ref in explicit:
        if ref == skill:
            continue
        if ref.startswith("@") and skill in bundle_skills(graph, ref[1:]):
            reasons.append(f"bundle {ref} is active")
        elif not ref.startswith("@") and skill in expand(graph, [ref]):
            reasons.append(f"active skill {ref!r} depends on it")
    for name in sorted(graph.always):
        if name != skill and skill in expand(graph, [name]):
            reasons.append(f"always-active skill {name!r} depends on it")
    return reasons


def visible_tools(snapshot: Snapshot, active: frozenset[str] | None = None) -> tuple[ToolDef, ...]:
    """The tools ``tools/list`` shows in the snapshot's disclosure mode.

    ``active`` is the client's active skills (``skills`` mode); ``None`` means the client has no
    per-client state, and only ``activation: always`` skills count as active.
    """
    mode = snapshot.config.disclosure
    if active is None:
        active = active_skills(snapshot)
    shown = active if mode == "skills" else frozenset()

    def make() -> tuple[ToolDef, ...]:
        if mode == "search":
            return graph_of(snapshot).builtins
        if mode == "skills":
            return tuple(t for t in snapshot.tools.values() if t.owner is None or t.owner in shown)
        return tuple(snapshot.tools.values())

    return snapshot.derived((__name__, "visible", mode, shown), make)


def tools_differ(snapshot: Snapshot, before: frozenset[str], after: frozenset[str]) -> bool:
    """Whether a client whose active skills went from ``before`` to ``after`` now sees other tools
    (only ``skills`` mode lists tools by active skill)."""
    if snapshot.config.disclosure != "skills":
        return False
    return visible_tools(snapshot, before) != visible_tools(snapshot, after)
