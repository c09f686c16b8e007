"""``skillz-engine import URL [ROOT ...] [--rev R] [--path P]``: the ``import_tool`` built-in
from the command line.

parse (the URL and the pin) -> build (a live engine over the roots, no watcher) -> execute
(:func:`~skillz_engine.builtins.imports.import_entries`: fetch, check, write, compile). A refused
import prints why on stderr and exits 1, with nothing written.
"""

from __future__ import annotations

import argparse
import sys

from skillz_engine.builtins.imports import Imported
from skillz_engine.cli.roots import existing_roots, state_dir_of
from skillz_engine.errors import ExitCode


def run(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.builtins.imports import import_entries
    from skillz_engine.builtins.writers import WriterError
    from skillz_engine.engine import Engine, EngineOptions

    options = EngineOptions(state_dir=state_dir_of(args.state_dir))

    async def go() -> Imported:
        async with Engine.open(existing_roots(args.roots), options) as engine:
            return await import_entries(engine, engine.snapshot, args.url, rev=args.rev, path=args.path,
                                        update=args.update, name=args.name)  # fmt: skip

    try:
        done = anyio.run(go)
    except WriterError as exc:
        print(f"skillz-engine: import refused: {exc}", file=sys.stderr)
        return ExitCode.MANIFEST_ERRORS
    for name, path in done.entries.items():
        verb = "updated" if name in done.replaced else "imported"
        print(f"{verb} {name} -> {path}")
    print(f"from {done.url} at commit {done.commit}" + ("" if done.rev else " (no --rev: pin it next time)"))
    return ExitCode.OK
