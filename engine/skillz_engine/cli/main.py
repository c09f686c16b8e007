"""The ``skillz-engine`` command line: argparse in, exit codes out, and the one crash boundary.

Commands live in modules of their own (serve, build, validate, listing, call), each parse ->
build -> execute; this module only declares the flags and turns every outcome into an exit code:

0 ok · 1 manifest errors (or a tool call that returned isError) · 2 usage · 3 internal · 130 interrupted
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from skillz_engine import __version__
from skillz_engine.errors import ExitCode, UsageError

# --------------------------------------------------------------------------- commands
# Each command of more than a few lines is a module of its own, imported when it runs (``--help``
# and ``validate`` in a pre-commit hook stay fast).


def cmd_serve(args: argparse.Namespace) -> int:
    from skillz_engine.cli import serve
    from skillz_engine.cli.telemetry import configure_from_env

    configure_from_env()  # OTEL_* asks for traces
    return serve.run(args)


def cmd_build(args: argparse.Namespace) -> int:
    from skillz_engine.cli import build

    return build.run(args)


def cmd_validate(args: argparse.Namespace) -> int:
    from skillz_engine.cli import validate

    return validate.run(args)


def cmd_list(args: argparse.Namespace) -> int:
    from skillz_engine.cli import listing

    return listing.run(args)


def cmd_call(args: argparse.Namespace) -> int:
    from skillz_engine.cli import call
    from skillz_engine.cli.telemetry import configure_from_env

    configure_from_env()  # OTEL_* asks for traces
    return call.run(args)


def cmd_import(args: argparse.Namespace) -> int:
    from skillz_engine.cli import importing

    return importing.run(args)


# --------------------------------------------------------------------------- new / schema


def cmd_new(args: argparse.Namespace) -> int:
    from skillz_engine.cli.roots import default_root
    from skillz_engine.cli.scaffold import scaffold

    root = Path(args.root).expanduser() if args.root else default_root()
    if args.single_file:
        from skillz_engine.cli.scaffold_file import scaffold_file

        if args.kind != "script":
            raise UsageError(f"--single-file makes a script tool, not a {args.kind}")
        print(scaffold_file(args.name, root, interpreter=args.interpreter))
        return ExitCode.OK
    created = scaffold(args.kind, args.name, root, interpreter=args.interpreter)
    for p in created:
        print(p)
    return ExitCode.OK


def cmd_schema(args: argparse.Namespace) -> int:
    from skillz_engine.tree import schemas
    from skillz_engine.tree.validate import did_you_mean

    name = args.kind or "manifest"
    if name not in schemas.schema_names():
        hint = did_you_mean(name, schemas.schema_names())
        raise UsageError(
            f"no schema {name!r}; choose from {', '.join(schemas.schema_names())}"
            + (f" ({hint})" if hint else "")
        )
    json.dump(schemas.load(name), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return ExitCode.OK


def cmd_migrate(args: argparse.Namespace) -> int:
    from skillz_engine.tree.compat import migrate_tree

    root = Path(args.dir).expanduser()
    if not root.is_dir():
        raise UsageError(f"{args.dir}: not a directory")
    changes = migrate_tree(root, dry_run=args.dry_run)
    for line in changes:
        print(("would migrate " if args.dry_run else "migrated ") + line)
    if not changes:
        print("nothing to migrate: no Rust Skillz manifests found")
    _migrate_memory(root, dry_run=args.dry_run)
    return ExitCode.OK


def _migrate_memory(root: Path, *, dry_run: bool) -> None:
    """Import a Rust Skillz ``.memory.db`` of ``root`` into the tree's memory store."""
    import sqlite3

    from skillz_engine.build.settings import read_config, state_dir_for
    from skillz_engine.state.memories import memory_for
    from skillz_engine.state.memory import SqliteMemory
    from skillz_engine.state.skillzmemory import SKILLZ_MEMORY_FILE, import_skillz_memory

    db = root / SKILLZ_MEMORY_FILE
    if not db.is_file():
        return
    config, _ = read_config([root], {})
    store = memory_for(config, state_dir_for(config, [root]))
    if not isinstance(store, SqliteMemory):
        raise UsageError(f"{db}: memory can only be imported into the sqlite backend")
    try:
        done = import_skillz_memory(db, store, dry_run=dry_run)
    except sqlite3.Error as exc:
        raise UsageError(f"{db}: not a Skillz memory database ({exc})") from exc
    verb = "would import" if dry_run else "imported"
    print(
        f"{verb} {done.added} memory keys from {db} into {store.path} ({done.skipped} skipped: expired, "
        "not JSON, or already there)"
    )


def cmd_doctor(args: argparse.Namespace) -> int:
    from skillz_engine.cli import doctor

    report = doctor.probe()
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(doctor.render_text(report))
    return ExitCode.OK


def cmd_prune(args: argparse.Namespace) -> int:
    from skillz_engine.cli import prune

    return prune.run(args)


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from skillz_engine.cli.report import REPORTERS
    from skillz_engine.tree.config import DEFAULT_PORT, DISCLOSURE_MODES
    from skillz_engine.tree.kinds import KIND_NAMES

    p = argparse.ArgumentParser(
        prog="skillz-engine",
        description="Compile a tree of manifests into a live MCP server.",
    )
    p.add_argument("--version", action="version", version=f"skillz-engine {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="serve a tree over MCP (stdio or HTTP)")
    s.add_argument("roots", nargs="*", metavar="ROOT", help="tree roots (default: $SKILLZ_HOME or ~/.skillz)")
    s.add_argument(
        "--transport", choices=("stdio", "http"), default="stdio", help="stdio (default) or Streamable HTTP"
    )
    s.add_argument("--host", default=None, help="HTTP bind address (default 127.0.0.1)")
    s.add_argument(
        "--port", type=int, default=None, help=f"HTTP port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    s.add_argument("--no-auth", action="store_true", help="HTTP without the bearer token")
    s.add_argument("--no-watch", action="store_true", help="do not reload when files change")
    s.add_argument("--strict", action="store_true", help="refuse to start when the tree has errors")
    s.add_argument("--read-only", action="store_true", help="turn off every built-in that writes")
    s.add_argument(
        "--disclosure",
        choices=DISCLOSURE_MODES,
        default=None,
        help="what tools/list shows: all, skills (a skill's tools once active), search (built-ins)",
    )
    s.add_argument("--state-dir", default=None, help="engine state (default: .skillz/ in the first root)")
    s.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="run as one replica of a cluster sharing state through this Redis (cluster.redis)",
    )
    s.add_argument("-q", "--quiet", action="store_true", help="print only problems and failed calls")
    s.add_argument("-v", "--verbose", action="store_true", help="print every call and the engine's debug log")
    s.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="stderr lines as text or one JSON object each",
    )
    s.add_argument(
        "--allow-remote-without-auth",
        action="store_true",
        help="HTTP: permit --no-auth on a non-loopback bind (refused otherwise)",
    )
    s.add_argument(
        "--show-token",
        action="store_true",
        help="HTTP: print the bearer token at start even when stderr is not a terminal",
    )
    s.set_defaults(func=cmd_serve)

    b = sub.add_parser("build", help="install tool dependencies and build wasm modules ahead of time")
    b.add_argument("roots", nargs="*", metavar="ROOT", help="tree roots (default: $SKILLZ_HOME or ~/.skillz)")
    b.add_argument("--only", action="append", metavar="NAME", help="build only this entry (repeatable)")
    b.add_argument("--force", action="store_true", help="rebuild what is already built")
    b.add_argument("--state-dir", default=None, help="engine state (default: .skillz/ in the first root)")
    b.set_defaults(func=cmd_build)

    v = sub.add_parser("validate", help="check manifests; file:line:col diagnostics")
    v.add_argument(
        "paths", nargs="*", metavar="PATH", help="roots, entry manifests or SKILL.md files (default .)"
    )
    v.add_argument("--format", choices=tuple(REPORTERS), default="text", help="how diagnostics are printed")
    v.add_argument("--strict", action="store_true", help="warnings fail too")
    v.set_defaults(func=cmd_validate)

    ls = sub.add_parser("list", help="what the server would expose")
    ls.add_argument(
        "roots", nargs="*", metavar="ROOT", help="tree roots (default: $SKILLZ_HOME or ~/.skillz)"
    )
    ls.add_argument("--json", action="store_true", help="the listing as JSON")
    ls.set_defaults(func=cmd_list)

    c = sub.add_parser("call", help="run one tool as the server would, no client needed")
    c.add_argument("tool", metavar="TOOL", help="the tool's MCP name (built-ins too)")
    c.add_argument("roots", nargs="*", metavar="ROOT", help="tree roots (default: $SKILLZ_HOME or ~/.skillz)")
    c.add_argument("--args", default=None, help="arguments as JSON, @file.json, or - for stdin")
    c.add_argument("--json", action="store_true", help="print the whole MCP result as JSON")
    c.set_defaults(func=cmd_call)

    n = sub.add_parser("new", help="scaffold a valid entry")
    n.add_argument("kind", choices=KIND_NAMES, metavar="KIND", help=", ".join(KIND_NAMES))
    n.add_argument("name", metavar="NAME", help="the entry's directory name (lower case, digits, - and _)")
    n.add_argument("--interpreter", default=None, help="script: python, node, bash, ruby")
    n.add_argument("--root", default=None, help="tree to write into (default: $SKILLZ_HOME or ~/.skillz)")
    n.add_argument(
        "--single-file",
        action="store_true",
        help="script: one file tools/NAME.py with a `# /// skillz` block",
    )
    n.set_defaults(func=cmd_new)

    sc = sub.add_parser("schema", help="print a JSON Schema")
    sc.add_argument("kind", nargs="?", metavar="KIND", help="one kind's schema (default: the union of all)")
    sc.set_defaults(func=cmd_schema)

    d = sub.add_parser(
        "doctor", help="which runtimes this machine has: interpreters, sandboxes, docker, wasm"
    )
    d.add_argument("--json", action="store_true", help="the report as JSON")
    d.set_defaults(func=cmd_doctor)

    m = sub.add_parser("migrate", help="rewrite a Rust Skillz tools directory into this format")
    m.add_argument("dir", metavar="DIR", help="the Skillz tools directory, rewritten in place")
    m.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    m.set_defaults(func=cmd_migrate)

    pr = sub.add_parser("prune", help="remove Docker containers of services the tree no longer defines")
    pr.add_argument(
        "roots", nargs="*", metavar="ROOT", help="tree roots (default: $SKILLZ_HOME or ~/.skillz)"
    )
    pr.add_argument(
        "--state-dir", default=None, help="the state directory (default: .skillz/ in the first root)"
    )
    pr.add_argument(
        "--volumes", action="store_true", help="also remove the named volumes of deleted services"
    )
    pr.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    pr.set_defaults(func=cmd_prune)

    from skillz_engine.cli import versions

    versions.add_parser(sub)

    im = sub.add_parser("import", help="copy tool directories from a git repository or gist, pinned")
    im.add_argument("url", metavar="URL", help="https:// or file:// clone URL, or a GitHub gist URL")
    im.add_argument(
        "roots", nargs="*", metavar="ROOT", help="tree roots (default: $SKILLZ_HOME or ~/.skillz)"
    )
    im.add_argument("--rev", default=None, help="commit SHA or tag to pin (a branch works but moves)")
    im.add_argument(
        "--path", default=None, help="entry directory, or directory of entries, in the repository"
    )
    im.add_argument("--name", default=None, help="the entry's name in the tree (a single entry)")
    im.add_argument("--update", action="store_true", help="re-fetch; replace an earlier import of this URL")
    im.add_argument("--state-dir", default=None, help="engine state (default: .skillz/ in the first root)")
    im.set_defaults(func=cmd_import)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help is 0, bad usage 2
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"skillz-engine: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:
        import traceback

        print(f"skillz-engine: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("SKILLZ_DEBUG"):
            traceback.print_exc()
        else:
            print("(set SKILLZ_DEBUG=1 for the traceback; please report this)", file=sys.stderr)
        return ExitCode.INTERNAL


def validate_main(argv: Sequence[str] | None = None) -> int:
    """``skillz-validate``: the pre-commit hook, same as ``skillz-engine validate``."""
    return main(["validate", *(sys.argv[1:] if argv is None else argv)])
