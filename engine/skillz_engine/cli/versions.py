"""``skillz-engine versions``: the history of the tree's entries from the command line.

::

    skillz-engine versions [ENTRY]                 every entry with history, or one entry's versions
    skillz-engine versions diff ENTRY [A [B]]      unified diff (default: the latest two versions)
    skillz-engine versions diff ENTRY@A ENTRY@B    the same, spelled as two versions
    skillz-engine versions rollback ENTRY [VERSION]

``ENTRY`` is an entry's name or its path (``tools/hello``); versions are numbers (``3``, ``0003``;
``-1`` the latest). Listing and diffing read the state directory only. A rollback opens the tree
as ``serve`` does and goes through the same writer as the ``version`` built-in (atomic, refused
and undone when it does not compile, recorded and attributed to ``versions rollback``); a server
running on the tree picks the change up through its watcher.
"""

from __future__ import annotations

import argparse
import json
import sys

from skillz_engine.cli.roots import existing_roots, state_dir_of
from skillz_engine.errors import ExitCode, RuntimeFailure, UsageError

USAGE = "versions [ENTRY] | versions diff ENTRY [A [B]] | versions rollback ENTRY [VERSION]"


def run(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.builtins.version import listing, resolve, rollback
    from skillz_engine.builtins.writers import writing_as
    from skillz_engine.engine import Engine, EngineOptions
    from skillz_engine.state.history import Author, History, HistoryError

    words: list[str] = list(args.words)
    action = words.pop(0) if words and words[0] in ("diff", "rollback", "list") else "list"
    if action != "list" and not words:
        raise UsageError(f"versions {action} needs an ENTRY ({USAGE})")
    if len(words) > (1 if action == "list" else 3 if action == "diff" else 2):
        raise UsageError(f"too many arguments ({USAGE})")
    roots = existing_roots(args.root)
    options = EngineOptions(state_dir=state_dir_of(args.state_dir), live=action == "rollback")

    async def go() -> int:
        async with Engine.open(roots, options) as engine:
            history = History(engine.state_dir)
            name = words[0].split("@", 1)[0] if words else None
            entry = resolve(engine, engine.snapshot, name) if name else None
            if action == "list":
                text, payload = listing(history, entry)
                out = json.dumps(payload, indent=2) if args.json else text
                sys.stdout.write(out.rstrip("\n") + "\n")
                return ExitCode.OK
            assert entry is not None
            if action == "diff":
                a, b = _diff_versions(words)
                sys.stdout.write(history.diff(entry, a, b))
                return ExitCode.OK
            # under the writers' lock, as every writer built-in: in a cluster (``cluster`` in
            # skillz.yaml) no replica writes while the rollback does
            async with engine.writing():
                with writing_as(Author("versions rollback", "cli")):
                    version = words[1] if len(words) > 1 else None
                    print(await rollback(engine, engine.snapshot, entry, version))
            return ExitCode.OK

    try:
        return int(anyio.run(go))
    except HistoryError as exc:
        raise UsageError(str(exc)) from None
    except RuntimeFailure as exc:  # a writer's refusal, the writers' lock busy, the cluster down
        print(f"skillz-engine: {exc}", file=sys.stderr)
        return ExitCode.MANIFEST_ERRORS


def _diff_versions(words: list[str]) -> tuple[str, str]:
    """(A, B) of ``diff ENTRY [A [B]]`` or ``diff ENTRY@A ENTRY@B``."""
    if len(words) == 2 and "@" in words[0] and "@" in words[1]:
        return words[0].split("@", 1)[1], words[1].split("@", 1)[1]
    if "@" in words[0]:
        raise UsageError("write diff ENTRY A B, or diff ENTRY@A ENTRY@B")
    rest = words[1:]
    return (rest[0] if rest else "-2"), (rest[1] if len(rest) > 1 else "-1")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``versions`` subcommand's flags (registered by :mod:`skillz_engine.cli.main`)."""
    p = sub.add_parser("versions", help="list, diff and roll back the versions writers recorded")
    p.add_argument("words", nargs="*", metavar="ARG", help=USAGE)
    p.add_argument("--root", action="append", metavar="ROOT", help="tree root (repeatable; default as serve)")
    p.add_argument("--state-dir", default=None, help="engine state (default: .skillz/ in the first root)")
    p.add_argument("--json", action="store_true", help="list as JSON")
    p.set_defaults(func=run)
