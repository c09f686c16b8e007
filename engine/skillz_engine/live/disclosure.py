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
memoised, so a per-client ``tools/list`` costs a dictionary lookup after the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.tree.model import EntrySpec, ToolDef


@dataclass(frozen=True, slots=True)
class SkillGraph:
    """The skills and bundles of one snapshot, by name."""

    skills: Mapping[str, EntrySpec]
    bundles: Mapping[str, EntrySpec]
    always: frozenset[str]
    tools_of: Mapping[str, tuple[str, ...]]  # skill -> the tools it owns (served ones)
    builtins: tuple[ToolDef, ...]


_GRAPHS: dict[int, tuple[Snapshot, SkillGraph]] = {}
_ACTIVE: dict[tuple[int, tuple[str, ...]], tuple[Snapshot, frozenset[str]]] = {}
_VISIBLE: dict[tuple[int, str, frozenset[str]], tuple[Snapshot, tuple[ToolDef, ...]]] = {}
MEMO_SIZE = 256


def graph_of(snapshot: Snapshot) -> SkillGraph:
    hit = _GRAPHS.get(id(snapshot))
    if hit is not None and hit[0] is snapshot:
        return hit[1]
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
    always = frozenset(n for n, s in skills.items() if s.data.get("activation") == "always")
    graph = SkillGraph(
        MappingProxyType(skills),
        MappingProxyType(bundles),
        always,
        MappingProxyType({k: tuple(v) for k, v in tools_of.items()}),
        tuple(builtins),
    )
    if len(_GRAPHS) > 8:
        _GRAPHS.clear()
    _GRAPHS[id(snapshot)] = (snapshot, graph)
    return graph


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
        refs = [r for r in graph.bundles[b].data.get("skills") or () if isinstance(r, str)]
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
        todo.extend(d for d in spec.data.get("dependsOn") or () if isinstance(d, str))
    return frozenset(active)


def active_skills(snapshot: Snapshot, explicit: tuple[str, ...] = ()) -> frozenset[str]:
    """The skills active for a client that activated ``explicit`` (memoised per snapshot)."""
    key = (id(snapshot), explicit)
    hit = _ACTIVE.get(key)
    if hit is not None and hit[0] is snapshot:
        return hit[1]
    graph = graph_of(snapshot)
    value = expand(graph, (*sorted(graph.always), *explicit))
    if len(_ACTIVE) > MEMO_SIZE:
        _ACTIVE.clear()
    _ACTIVE[key] = (snapshot, value)
    return value


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
    key = (id(snapshot), mode, active if mode == "skills" else frozenset())
    hit = _VISIBLE.get(key)
    if hit is not None and hit[0] is snapshot:
        return hit[1]
    if mode == "search":
        value = graph_of(snapshot).builtins
    elif mode == "skills":
        value = tuple(t for t in snapshot.tools.values() if t.owner is None or t.owner in active)
    else:
        value = tuple(snapshot.tools.values())
    if len(_VISIBLE) > MEMO_SIZE:
        _VISIBLE.clear()
    _VISIBLE[key] = (snapshot, value)
    return value
