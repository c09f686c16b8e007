"""``skillz-engine serve``: one engine served over MCP, on stdio or HTTP.

parse (flags -> :class:`~skillz_engine.engine.EngineOptions`) -> build (open the engine: tree,
state directory, live registry, watcher) -> execute (serve it until the client or a signal ends it).
The audit policy follows the transport (see :mod:`skillz_engine.engine`): stdio serves without an
audit log it cannot write, HTTP refuses to start without its state directory.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from skillz_engine.cli.roots import existing_roots, state_dir_of
from skillz_engine.errors import ExitCode

if TYPE_CHECKING:
    from skillz_engine.cli.console import LogFormat, ServeConsole, Verbosity
    from skillz_engine.engine import Engine, EngineOptions


class JsonLogFormatter(logging.Formatter):
    """A log record as one JSON object per line (``--log-format json``), like the console's events."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": round(record.created, 3),
            "event": "log",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


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
        # one HTTP server per state directory (it owns server.json and the port); stdio servers are
        # one per client by design and share the tree, so they take no lock
        server_lock="http" if args.transport == "http" else None,
        redis=args.redis,
    )


def run(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.cli.report import text
    from skillz_engine.engine import TreeHasErrors

    roots = existing_roots(args.roots, say=lambda line: print(line, file=sys.stderr, flush=True))
    try:
        anyio.run(serve, roots, args)
    except TreeHasErrors as exc:
        text(exc.diagnostics, sys.stderr, exc.entries)
        return ExitCode.MANIFEST_ERRORS
    return ExitCode.OK


def console_of(args: argparse.Namespace) -> ServeConsole:
    """``-q``/``-v``/``--log-format``: what the terminal is told while the server runs; the engine's
    own log records (reload failures, warnings) go the same way, at the same verbosity."""
    from skillz_engine.cli.console import ServeConsole

    verbosity: Verbosity = "quiet" if args.quiet else "verbose" if args.verbose else "normal"
    fmt: LogFormat = args.log_format
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname).1s %(name)s: %(message)s"))
    package = logging.getLogger("skillz_engine")
    package.addHandler(handler)
    package.setLevel(logging.DEBUG if verbosity == "verbose" else logging.WARNING)
    return ServeConsole(sys.stderr, verbosity, fmt)


async def serve(roots: list[Path], args: argparse.Namespace) -> None:
    from skillz_engine.engine import Engine

    console = console_of(args)
    async with Engine.open(roots, options(args)) as engine:
        detach = console.attach(engine)
        where = "over HTTP" if args.transport == "http" else "over stdio"
        console.started(engine.snapshot, f"from {', '.join(str(r) for r in roots)} {where}")
        try:
            if args.transport == "http":
                await _http(engine, args)
            else:
                from skillz_engine.mcp.stdio import serve_stdio

                await serve_stdio(engine)
        finally:
            detach()


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
        show_login=sys.stderr.isatty(),
    )
