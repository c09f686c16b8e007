"""Prompts that can ask: a prompt entry with ``script:`` is answered by a script.

Why a script and not a template: a template can only reshape its arguments, while a prompt such as
"review this change" may need to ask the user which part to focus on, or ask the client's model
to summarise first. The script runs exactly like a ``kind: script`` tool (the jsonrpc script
protocol of ``docs/script-protocol.md``, the same clean environment, sandbox and limits), so it
can elicit, sample and list roots, on 2025-11-25 as server requests and on 2026-07-28 as
input-required rounds of ``prompts/get`` (the server parks the run, as for a tool).

The script gets the prompt's arguments as its ``arguments`` and answers with the messages: a
``messages`` list (MCP ``PromptMessage`` objects), an object ``{"messages": [...]}``, or text,
which becomes one user message. An error answer, or anything else, fails the ``prompts/get``
(:class:`~skillz_engine.errors.RuntimeFailure`: an internal error, not the caller's).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.runtimes.base import CompileProblem, Services
from skillz_engine.runtimes.script.runtime import script_invoker
from skillz_engine.tree.model import Args, EntrySpec, PromptArgument, PromptDef, ToolResult
from skillz_engine.tree.validate import entry_path


def script_prompt(
    spec: EntrySpec, script: str, arguments: tuple[PromptArgument, ...], services: Services, **extra: Any
) -> PromptDef:
    """The prompt of ``spec`` rendered by ``script`` (entry-relative); compile problems of the
    script (a missing file, no interpreter) are raised as the script tool's would be."""
    _, diags = entry_path(spec, ("script",), script)  # reported at the prompt's own `script` key
    if diags:
        raise CompileProblem(diags)
    data = {"description": spec.description, "entry": script}
    as_script = dataclasses.replace(spec, kind="script", data=data)
    invoke = script_invoker(as_script, services)

    async def render(args: Args, ctx: CallContext | None) -> list[dict[str, Any]]:
        missing = [a.name for a in arguments if a.required and args.get(a.name) is None]
        if missing:
            raise ValueError(f"prompt {spec.name!r}: missing required argument(s): {', '.join(missing)}")
        if ctx is None:
            raise RuntimeFailure(f"prompt {spec.name!r} runs a script, which needs a request")
        return messages_of(spec.name, await invoke(dict(args), ctx))

    return PromptDef(spec.name, spec.description, arguments, render, asks=True, **extra)


def messages_of(name: str, result: ToolResult) -> list[dict[str, Any]]:
    """The prompt messages a script answered with (see the module docstring)."""
    text = result.text_content()
    if result.is_error:
        raise RuntimeFailure(f"prompt {name!r}: its script failed: {text}")
    value: Any = result.structured
    if value is None:
        try:
            value = json.loads(text)
        except ValueError:
            value = text
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, str):
        return [{"role": "user", "content": {"type": "text", "text": value}}]
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m and "content" in m for m in value):
        return value
    raise RuntimeFailure(f"prompt {name!r}: its script answered neither messages nor text: {text[:200]}")
