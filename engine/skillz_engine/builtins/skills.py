"""``activate_skill``, ``deactivate_skill`` and ``suggest_skill``: skills per client.

Activation changes what *the calling client* sees (``CallContext.activations``); in ``skills``
disclosure mode the client's tool list gains (or loses) the skill's own tools and that client,
only, is told ``notifications/tools/list_changed``. Rules (see :mod:`skillz_engine.live.disclosure`):

* ``activate_skill("pdf")`` activates a skill and, transitively, the skills it names in
  ``dependsOn``; ``activate_skill("@office")`` activates every skill of a bundle (``@`` optional
  when no skill has that name).
* ``deactivate_skill`` undoes what the client activated: a skill that stays needed (an active
  bundle lists it, an active skill depends on it, it is ``activation: always``) stays active and
  the answer says why. Nothing is ever half-deactivated.
* Either answer carries the newly active skills' instructions and the definitions of the tools
  they bring, so a client that cannot refresh its list can still use them through ``call_tool``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.builtins.search import Bm25, query_terms, tokens
from skillz_engine.errors import RuntimeFailure
from skillz_engine.live.disclosure import (
    SkillGraph,
    active_skills,
    bundle_skills,
    expand,
    graph_of,
    tools_differ,
    why_active,
)
from skillz_engine.tree.model import Args, EntrySpec, ToolDef, ToolResult

NO_SESSION = (
    "This connection keeps no per-client state (a 2026-07-28 request over HTTP carries no session; "
    "a call without a server has no client), "
    "so your tool list does not change; the skill's tools are listed below: run them with call_tool "
    "(or tools/call by name)."
)
MAX_SUGGESTIONS = 10
SUGGEST_BODY_CHARS = 2000  # of each skill's body used by the local ranking


def _json_result(text: str, payload: Mapping[str, Any], *, is_error: bool = False) -> ToolResult:
    return ToolResult(
        ({"type": "text", "text": text},),
        dict(payload),
        is_error,
    )


def _resolve(graph: SkillGraph, raw: str) -> tuple[str | None, str]:
    """``(reference, error)``: a skill name or ``@bundle``, or why ``raw`` names neither."""
    from skillz_engine.tree.validate import did_you_mean

    name = raw.strip()
    if name.startswith("@"):
        if name[1:] in graph.bundles:
            return name, ""
        hint = did_you_mean(name[1:], graph.bundles)
        return None, f"no bundle named {name!r}." + (f" {hint}" if hint else "")
    if name in graph.skills:
        return name, ""
    if name in graph.bundles:
        return "@" + name, ""
    hint = did_you_mean(name, [*graph.skills, *(f"@{b}" for b in graph.bundles)])
    known = ", ".join(sorted(graph.skills)[:20]) or "(none)"
    return None, f"no skill or bundle named {name!r}." + (f" {hint}" if hint else f" Skills: {known}.")


def _tool_json(t: ToolDef) -> dict[str, Any]:
    out: dict[str, Any] = {"name": t.name, "description": t.description, "inputSchema": dict(t.input_schema)}
    if t.title:
        out["title"] = t.title
    return out


async def _instructions(snap: Snapshot, spec: EntrySpec) -> str:
    prompt = snap.prompts.get(spec.name)
    if prompt is not None and prompt.entry == spec.key:
        messages = await prompt.render({}, None)
        return "\n\n".join(str(m.get("content", {}).get("text", "")) for m in messages)
    return spec.body or ""


async def _changed(ctx: CallContext, snap: Snapshot, before: frozenset[str], after: frozenset[str]) -> bool:
    """Tell the client its list changed when its visible tools did (skills mode only)."""
    if ctx.activations is None or not tools_differ(snap, before, after):
        return False
    try:
        await ctx.activations.tools_changed()
    except Exception:  # a closed connection: the answer still says what changed
        return False
    return True


async def activate(ctx: CallContext, raw: str) -> ToolResult:
    """Activate ``raw`` (a skill or ``@bundle``) for the calling client."""
    snap = ctx.snapshot
    graph = graph_of(snap)
    ref, error = _resolve(graph, raw)
    if ref is None:
        return ToolResult.error(error)
    act = ctx.activations
    explicit = act.explicit if act is not None else ()
    before = active_skills(snap, explicit)
    if act is not None:
        act.add(ref)
        after = active_skills(snap, act.explicit)
    else:
        after = active_skills(snap, (*explicit, ref))
    named = [
        n for n in (bundle_skills(graph, ref[1:]) if ref.startswith("@") else [ref]) if n in graph.skills
    ]
    # the named skills first, then what they depend on
    brought = [*named, *sorted(expand(graph, [ref]) - set(named))]
    new = [n for n in brought if n not in before]
    notified = await _changed(ctx, snap, before, after)
    tools = [snap.tools[t] for n in brought for t in graph.tools_of.get(n, ()) if t in snap.tools]
    payload: dict[str, Any] = {
        "activated": ref,
        "skills": brought,
        "newlyActive": new,
        "dependencies": brought[len(named) :],
        "active": sorted(after),
        "tools": [_tool_json(t) for t in tools],
        "listChanged": notified,
        "disclosure": snap.config.disclosure,
    }
    lines = [
        f"Activated {ref}: "
        + (", ".join(brought) if brought else "(no skills)")
        + (f" (newly active: {', '.join(new)})" if new else " (all were already active)")
        + "."
    ]
    if tools:
        lines.append("Tools now available: " + ", ".join(t.name for t in tools) + ".")
    if act is None:
        payload["note"] = NO_SESSION
        lines.append(NO_SESSION)
    for n in brought:
        spec = graph.skills.get(n)
        if spec is not None:
            lines += ["", await _instructions(snap, spec)]
    return _json_result("\n".join(lines).rstrip() + "\n", payload)


async def _activate_skill(args: Args, ctx: CallContext) -> ToolResult:
    return await activate(ctx, str(args.get("name") or args.get("skill") or ""))


async def _deactivate_skill(args: Args, ctx: CallContext) -> ToolResult:
    snap = ctx.snapshot
    graph = graph_of(snap)
    ref, error = _resolve(graph, str(args.get("name") or args.get("skill") or ""))
    if ref is None:
        return ToolResult.error(error)
    act = ctx.activations
    if act is None:
        return _json_result(
            "This connection keeps no per-client state, so nothing was activated for it; "
            "nothing to deactivate.\n",
            {"deactivated": None, "active": sorted(active_skills(snap)), "note": NO_SESSION},
        )
    before = active_skills(snap, act.explicit)
    removed = act.remove(ref)
    after = active_skills(snap, act.explicit)
    notified = await _changed(ctx, snap, before, after)
    gone = sorted(before - after)
    targets = bundle_skills(graph, ref[1:]) if ref.startswith("@") else [ref]
    kept = {n: why_active(graph, n, act.explicit) for n in targets if n in after}
    payload = {
        "deactivated": ref if removed else None,
        "inactiveNow": gone,
        "stillActive": kept,
        "active": sorted(after),
        "listChanged": notified,
    }
    if not removed and not kept:
        text = f"{ref} was not active for this client; nothing changed."
    else:
        text = f"Deactivated {ref}." if removed else f"{ref} was not activated by name."
        if gone:
            text += f" No longer active: {', '.join(gone)}."
        for n, why in kept.items():
            text += f" {n} stays active: {'; '.join(why)}."
    return _json_result(text + "\n", payload)


# --------------------------------------------------------------------------- suggest_skill


def rank_skills(snap: Snapshot, context: str, limit: int) -> list[dict[str, Any]]:
    """Skills ranked locally (BM25 over name, description and the start of the body), with the
    matching words as the reason."""
    graph = graph_of(snap)
    specs = list(graph.skills.values())
    index = Bm25([_skill_doc(s) for s in specs])
    out = []
    terms = query_terms(context)
    for i, score in index.top(terms, limit):
        spec = specs[i]
        matched = sorted(set(terms) & set(index.docs[i]))
        out.append(
            {
                "name": spec.name,
                "reason": "matches " + ", ".join(repr(w) for w in matched[:8]) + " in the skill's "
                "name, description or instructions",
                "score": round(score, 4),
                "description": spec.description,
            }
        )
    return out


def _skill_doc(spec: EntrySpec) -> dict[str, int]:
    doc: dict[str, int] = {}
    for tok in tokens(spec.name):
        doc[tok] = doc.get(tok, 0) + 3
    for tok in tokens(spec.description):
        doc[tok] = doc.get(tok, 0) + 2
    for tok in tokens((spec.body or "")[:SUGGEST_BODY_CHARS]):
        doc[tok] = doc.get(tok, 0) + 1
    return doc


def _sampling_request(snap: Snapshot, context: str, limit: int) -> dict[str, Any]:
    listing = "\n".join(
        f"- {s.name}: {' '.join(s.description.split())[:300]}" for s in graph_of(snap).skills.values()
    )
    prompt = (
        "Pick the skills that would help with the task below. Answer with JSON only: a list of at most "
        f'{limit} objects {{"name": <skill name>, "reason": <one sentence>}}, best first; an empty list '
        f"if none fits.\n\nTask:\n{context}\n\nSkills:\n{listing}\n"
    )
    return {
        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
        "maxTokens": 800,
        "systemPrompt": "You choose Agent Skills for a task. Reply with a JSON list and nothing else.",
        "includeContext": "none",
        "temperature": 0,
    }


def _parse_choices(text: str, known: Mapping[str, EntrySpec], limit: int) -> list[dict[str, Any]]:
    match = re.search(r"\[.*\]", text, re.S)
    if match is None:
        raise ValueError("the answer holds no JSON list")
    data = json.loads(match.group(0))
    out: list[dict[str, Any]] = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping):
            continue
        name = str(item.get("name", "")).strip().lstrip("@")
        if name in known and all(o["name"] != name for o in out):
            reason = str(item.get("reason") or "chosen by the client's model")
            out.append({"name": name, "reason": reason, "description": known[name].description})
    return out[:limit]


async def _suggest_skill(args: Args, ctx: CallContext) -> ToolResult:
    snap = ctx.snapshot
    context = str(args.get("context") or args.get("task") or "").strip()
    if not context:
        return ToolResult.error(
            "suggest_skill needs `context`: what you are about to do, in a sentence or two"
        )
    limit = max(1, min(MAX_SUGGESTIONS, int(args.get("limit") or 3)))
    graph = graph_of(snap)
    active = active_skills(snap, ctx.activations.explicit if ctx.activations is not None else ())
    method, note = "local", None
    suggestions: list[dict[str, Any]] = []
    if not graph.skills:
        return _json_result("This server has no skills.\n", {"method": method, "suggestions": []})
    if "sampling" in ctx.client_capabilities:
        try:
            answer = await ctx.sample(_sampling_request(snap, context, limit))
            content = answer.get("content")
            blocks = content if isinstance(content, list) else [content]
            text = "\n".join(str(b.get("text", "")) for b in blocks if isinstance(b, Mapping))
            suggestions = _parse_choices(text, graph.skills, limit)
            method = "sampling"
        except (RuntimeFailure, ValueError) as exc:
            note = f"asking the client's model failed ({exc}); ranked locally instead"
    else:
        note = "the client does not offer sampling; ranked locally"
    if method == "local":
        suggestions = rank_skills(snap, context, limit)
    for s in suggestions:
        s["active"] = s["name"] in active
    payload: dict[str, Any] = {"method": method, "suggestions": suggestions}
    if note:
        payload["note"] = note
    if suggestions:
        text = "\n".join(f"- {s['name']}: {s['reason']}" for s in suggestions)
        text = f"Suggested skills ({method}):\n{text}\nActivate one with activate_skill(name).\n"
    else:
        text = f"No skill fits ({method}). Skills: {', '.join(sorted(graph.skills))}.\n"
    return _json_result(text, payload)


_NAME = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "A skill name, or @bundle for a bundle of skills."}
    },
    "required": ["name"],
}

SKILL_TOOLS: tuple[ToolDef, ...] = (
    ToolDef(
        name="activate_skill",
        title="Activate a skill",
        description=(
            "Load a skill (or @bundle of skills) for this conversation: returns its instructions and "
            "adds the tools it owns (and those of the skills it depends on) to your tool list."
        ),
        input_schema=_NAME,
        invoke=_activate_skill,
        annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True},
        digest="builtin:activate_skill:1",
    ),
    ToolDef(
        name="deactivate_skill",
        title="Deactivate a skill",
        description=(
            "Unload a skill (or @bundle) activated earlier: its tools leave your tool list unless "
            "another active skill or bundle still needs them."
        ),
        input_schema=_NAME,
        invoke=_deactivate_skill,
        annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True},
        digest="builtin:deactivate_skill:1",
    ),
    ToolDef(
        name="suggest_skill",
        title="Suggest skills",
        description=(
            "Which skills fit a task? Describe what you are about to do; returns skills with the reason "
            "each fits (asks your model when the client supports sampling, else ranks locally)."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "context": {"type": "string", "description": "The task, in a sentence or two."},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_SUGGESTIONS, "default": 3},
            },
            "required": ["context"],
        },
        invoke=_suggest_skill,
        annotations={"readOnlyHint": True, "openWorldHint": True},
        digest="builtin:suggest_skill:1",
    ),
)
