"""What a script is told about its call: the ``context`` of the execute request, and the roots.

Roots come from the client when it offers them without a round trip (a 2025-11-25 connection),
else from configuration: ``SKILLZ_ROOTS`` (colon-separated, as in Skillz) when set, else the
tree's roots. See ``docs/script-protocol.md`` for the keys of the context.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import anyio

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.process import Command

__all__ = ["ROOTS_TIMEOUT", "capabilities", "configured_roots", "execution_context", "tools_dir"]

ROOTS_TIMEOUT = 5.0  # seconds the client may take to list its roots for the context


def configured_roots(ctx: CallContext) -> list[str]:
    """The roots a script sees when the client offers none: ``SKILLZ_ROOTS`` or the tree's roots."""
    env = os.environ.get("SKILLZ_ROOTS", "")
    if env.strip():
        return [r for r in env.split(":") if r]
    return [str(r) for r in ctx.snapshot.roots]


def _root_path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


async def _client_roots(ctx: CallContext) -> list[str] | None:
    """The client's roots for the context, when it offers them without a round trip."""
    if "roots" not in ctx.client_capabilities or ctx.questions_cost_round_trip:
        return None
    try:
        with anyio.fail_after(ROOTS_TIMEOUT):
            roots = await ctx.list_roots()
    except (RuntimeFailure, TimeoutError):
        return None
    return [_root_path(str(r["uri"])) for r in roots if isinstance(r.get("uri"), str)]


def tools_dir(roots: tuple[Path, ...]) -> str:
    """Skillz's ``tools_dir``: ``$TOOLS_DIR`` when set (as Skillz has it), else where the writers
    put tools, the ``tools/`` directory of the first root."""
    env = os.environ.get("TOOLS_DIR", "").strip()
    if env:
        return str(Path(env).expanduser())
    return str(roots[0] / "tools") if roots else ""


def capabilities(ctx: CallContext) -> dict[str, bool]:
    """What a script can ask of this call (``context.capabilities``)."""
    client = ctx.client_capabilities
    return {
        "memory": True,
        "resources": True,
        "tools": True,
        "sampling": "sampling" in client,
        "elicitation": "elicitation" in client,
        "roots": "roots" in client,
    }


async def execution_context(cmd: Command, ctx: CallContext) -> dict[str, Any]:
    """The ``context`` of the execute request: what the script may know about its call."""
    meta: dict[str, Any] = {}
    if ctx.progress_token is not None:
        meta["progressToken"] = ctx.progress_token
    roots = await _client_roots(ctx)
    tree = ctx.snapshot.roots
    return {
        "roots": roots if roots is not None else configured_roots(ctx),
        "tool_name": ctx.tool_name,
        "tools_dir": tools_dir(tree),
        "working_directory": str(cmd.cwd),
        # Skillz scripts read their secrets here; the process has them in its environment anyway
        "environment": dict(cmd.env),
        "secrets": list(cmd.secrets),
        "capabilities": capabilities(ctx),
        "_meta": meta,
    }
