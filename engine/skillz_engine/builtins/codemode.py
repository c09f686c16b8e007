"""``execute_code``: code mode. The client sends Python that calls the session's tools as functions.

A model composing five tools otherwise makes five round trips and reads every intermediate result;
in code mode it sends one program and reads only what the program prints and leaves in ``result``
(the idea of FastMCP's CodeMode and Docker's code-mode tool). The program runs exactly as a
``kind: script`` entry would: :mod:`.codemode_runner` is copied into ``<state>/codemode/`` and run
there with the script runtime's command line (the sandbox and ``limits`` of ``skillz.yaml``, the
clean environment) and its ``protocol: jsonrpc`` session. So every ``tools.<name>(...)`` is the
script protocol's nested ``tools/call``: answered from the same snapshot, audited, depth-limited,
and killed with the process when the client cancels or the timeout strikes.

The result's ``structuredContent`` is ``{stdout, result, calls}`` (``calls``: each nested call's
tool, arguments and whether it failed, recorded by the engine, not by the program), plus ``error``
(the traceback of the client's code) when it failed to compile, raised, or timed out; then the
result is ``isError``.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

from skillz_engine.build.contract import CallContext
from skillz_engine.live.disclosure import active_skills, visible_tools
from skillz_engine.tree.model import Args, ToolDef, ToolResult

__all__ = ["EXECUTE_CODE", "identifiers", "session_tools"]

NAME = "execute_code"
RESERVED = frozenset({"call", "ToolError", "NAMES"})  # what the tools module holds besides the tools
_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]")


def identifiers(names: Iterable[str]) -> dict[str, str]:
    """Python identifier -> tool name, predictably: every character that cannot be in an
    identifier becomes ``_``, a leading digit gets a ``_`` before it, a keyword or a name of the
    module's own (``call``, ``ToolError``, ``NAMES``) a ``_`` after it; when two names still meet,
    the later one (in sorted order) gets ``_2``, ``_3``, ..."""
    out: dict[str, str] = {}
    for name in sorted(set(names)):
        ident = _NOT_IDENT.sub("_", name)
        if not ident or ident[0].isdigit():
            ident = "_" + ident
        if keyword.iskeyword(ident) or ident in RESERVED or ident.startswith("__"):
            ident += "_"
        base, n = ident, 2
        while ident in out:
            ident, n = f"{base}_{n}", n + 1
        out[ident] = name
    return out


def session_tools(ctx: CallContext) -> list[str]:
    """The tools the calling session can see: in ``skills`` disclosure those of its active skills
    (and every tool no skill owns), else every tool (``search`` mode reaches them through
    ``call_tool`` too); never ``execute_code`` itself."""
    snap = ctx.snapshot
    if snap.config.disclosure == "skills":
        explicit = ctx.activations.explicit if ctx.activations is not None else ()
        tools: Iterable[ToolDef] = visible_tools(snap, active_skills(snap, explicit))
    else:
        tools = snap.tools.values()
    return [t.name for t in tools if t.name != NAME]


async def execute_code(args: Args, ctx: CallContext) -> ToolResult:
    code = args.get("code")
    if not isinstance(code, str) or not code.strip():
        return ToolResult.error("execute_code needs `code`: Python source (see the tool's description)")
    from skillz_engine.builtins.codemode_session import run_code  # the process machinery, on first use

    return await run_code(code, identifiers(session_tools(ctx)), ctx)


EXECUTE_CODE = ToolDef(
    name=NAME,
    title="Execute code",
    description=(
        "Run Python that calls this server's tools as functions, in one round trip: "
        "`tools.<tool_name>(arg=value)` returns the tool's value (its structured content, else its "
        "text parsed as JSON, else its text) and raises tools.ToolError when it fails; "
        "`tools.call('any-name', {...})` calls a tool by its exact name (characters that cannot be in "
        "a Python name become `_`, see tools.NAMES). Leave the answer in a variable named `result` "
        "and/or print() it: you get back stdout, result and the list of calls made. Runs sandboxed "
        "with the server's limits; only what you print or return is sent back."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "Python 3 source; `tools` is already imported."},
        },
        "required": ["code"],
        "additionalProperties": False,
    },
    invoke=execute_code,
    annotations={
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": False,
        "openWorldHint": True,
    },
    digest="builtin:execute_code:1",
)
