"""``skillz-engine serve``: one engine served over MCP, on stdio or HTTP.

parse (flags -> :class:`~skillz_engine.engine.EngineOptions`) -> build (open the engine: tree,
state directory, live registry, watcher) -> execute (serve it until the client or a signal ends it).
The audit policy follows the transport (see :mod:`skillz_engine.engine`): stdio serves without an
audit log it cannot write, HTTP refuses to start without its state directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from skillz_engine.cli.roots import existing_roots, state_dir_of
from skillz_engine.errors import ExitCode

if TYPE_CHECKING:
    from skillz_engine.engine import Engine, EngineOptions


def options(args: argparse.Namespace) -> EngineOptions:
    from skillz_engine.engine import EngineOptions

    return EngineOptions(
        watch=not args.no_watch,
        strict=args.strict,
        read_only=args.read_only,
        disclosure=args.disclosure,
        state_dir=state_dir_of(args.state_dir),
        audit="required" if args.transport == "http" else "optional",
        cache=True,
        server_lock=args.transport,
    )


def run(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.cli.report import text
    from skillz_engine.engine import TreeHasErrors

    roots = existing_roots(args.roots)
    try:
        anyio.run(serve, roots, args)
    except TreeHasErrors as exc:
        text(exc.diagnostics, sys.stderr, exc.entries)
        return ExitCode.MANIFEST_ERRORS
    return ExitCode.OK


async def serve(roots: list[Path], args: argparse.Namespace) -> None:
    from skillz_engine.engine import Engine

    async with Engine.open(roots, options(args)) as engine:
        if args.transport == "http":
            await _http(engine, args)
        else:
            from skillz_engine.mcp.stdio import serve_stdio

            await serve_stdio(engine)


async def _http(engine: Engine, args: argparse.Namespace) -> None:
    """The flags, else ``http`` of ``skillz.yaml``, else the defaults."""
    from skillz_engine.mcp.http import serve_http

    settings = engine.config.http
    port = args.port if args.port is not None else settings.port
    host = args.host or settings.host
    auth = not args.no_auth and settings.auth

    def announce(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    await serve_http(
        engine,
        host=host,
        port=port,
        auth=auth,
        allow_remote_without_auth=args.allow_remote_without_auth,
        show_token=args.show_token or sys.stderr.isatty(),
        announce=announce,
    )
