"""``skillz-engine prune [ROOT ...]``: remove what the engine made in Docker that the tree no
longer defines (old versions and deleted services; with ``--volumes`` their named volumes too).

parse (roots, flags) -> build (an engine that compiles once, nothing started) -> execute
(:func:`skillz_engine.runtimes.service.prune.prune` against the served service digests).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from skillz_engine.cli.roots import roots_of, state_dir_of
from skillz_engine.errors import ExitCode


def run(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.engine import Engine, EngineOptions
    from skillz_engine.runtimes.service.client import ServiceFailure
    from skillz_engine.runtimes.service.prune import current_digests, prune
    from skillz_engine.runtimes.service.requires import handles

    async def look() -> tuple[Path, dict[str, str]]:
        options = EngineOptions(live=False, state_dir=state_dir_of(args.state_dir))
        async with Engine.open(roots_of(args.roots), options) as engine:
            return engine.state_dir, current_digests(handles(engine.snapshot))

    state_dir, current = anyio.run(look)
    try:
        done = prune(state_dir, current, volumes=args.volumes, dry_run=args.dry_run)
    except ServiceFailure as exc:
        print(f"skillz-engine prune: {exc}", file=sys.stderr)
        return ExitCode.INTERNAL
    for line in done:
        print(("would remove " if args.dry_run else "removed ") + line)
    if not done:
        print("nothing to prune")
    return ExitCode.OK
