"""The ``skillz-engine`` command line: argparse in, exit codes out.

0 ok · 1 manifest errors (or a tool call that returned isError) · 2 usage · 3 internal · 130 interrupted
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skillz_engine import __version__
from skillz_engine.errors import ExitCode, UsageError


def default_root() -> Path:
    home = os.environ.get("SKILLZ_HOME")
    return Path(home).expanduser() if home else Path.home() / ".skillz"


def _roots(values: Sequence[str] | None) -> list[Path]:
    return [Path(v).expanduser() for v in values] if values else [default_root()]


# --------------------------------------------------------------------------- validate


def _tree_root(entry: Path) -> Path:
    """The root a single entry belongs to, so references to its siblings resolve.

    The nearest ancestor holding ``skillz.yaml``; else the current directory when the entry is
    inside it (pre-commit runs at the repository's top); else the entry's parent.
    """
    from skillz_engine.tree.config import CONFIG_NAMES

    for d in entry.parents:
        if any((d / n).is_file() for n in CONFIG_NAMES):
            return d
    cwd = Path.cwd().resolve()
    if cwd in entry.parents:
        return cwd
    return entry.parent


def _validate_targets(paths: Sequence[str]) -> tuple[list[Path], set[Path] | None]:
    """Directories are roots; files name entries (pre-commit passes files)."""
    roots: list[Path] = []
    only: set[Path] = set()
    from skillz_engine.tree.config import CONFIG_NAMES
    from skillz_engine.tree.parse import MANIFEST_NAMES, SKILL_FILE

    for raw in paths or ["."]:
        p = Path(raw).expanduser()
        if p.is_dir():
            roots.append(p)
        elif p.is_file():
            if p.name in CONFIG_NAMES:
                roots.append(p.parent)
                continue
            if p.name not in (*MANIFEST_NAMES, SKILL_FILE):
                raise UsageError(f"{raw}: not a manifest, SKILL.md or directory")
            entry = p.parent.resolve()
            only.add(entry)
            roots.append(_tree_root(entry))
        else:
            raise UsageError(f"{raw}: no such file or directory")
    unique: list[Path] = []
    for r in roots:
        if r.resolve() not in [u.resolve() for u in unique]:
            unique.append(r)
    files_only = bool(only) and all(Path(x).is_file() for x in paths or ["."])
    return unique, (only if files_only else None)


def _open_tree(roots: Sequence[Path], **options: Any) -> Any:
    """A tree as every command opens it: with the built-ins and the git sources."""
    from skillz_engine.build.compile import Tree
    from skillz_engine.builtins import catalog
    from skillz_engine.state.sources import GitSources

    return Tree(roots, builtins=catalog(), sources=GitSources(), **options)


def cmd_validate(args: argparse.Namespace) -> int:
    from skillz_engine.cli.report import REPORTERS
    from skillz_engine.tree.diagnostics import display_path

    roots, only = _validate_targets(args.paths)
    tree = _open_tree(roots, lenient=False)
    tree.full_scan()
    snap = tree.snapshot()
    diags = list(snap.diagnostics)
    entries = len(tree.results)
    if only is not None:
        prefixes = [display_path(e) for e in only]
        diags = [d for d in diags if any(d.path == p or d.path.startswith(p + "/") for p in prefixes)]
        entries = len(only)
    if args.strict:
        diags = [d.as_error() for d in diags]
    REPORTERS[args.format](diags, sys.stdout, entries)
    return ExitCode.MANIFEST_ERRORS if any(d.is_error for d in diags) else ExitCode.OK


# --------------------------------------------------------------------------- serve


def _tree_for_serve(args: argparse.Namespace) -> Any:
    roots = _roots(args.roots)
    for r in roots:
        if not r.is_dir():
            if r == default_root() and not args.roots:
                r.mkdir(parents=True, exist_ok=True)
            else:
                raise UsageError(f"{r}: not a directory")
    overrides: dict[str, Any] = {}
    if args.disclosure:
        overrides["disclosure"] = args.disclosure
    if args.read_only:
        overrides["readOnly"] = True
    state = Path(args.state_dir).expanduser().resolve() if args.state_dir else None
    return _open_tree(roots, lenient=True, state_dir=state, config_overrides=overrides, cache=True)


def cmd_serve(args: argparse.Namespace) -> int:
    import anyio

    tree = _tree_for_serve(args)
    if args.strict:
        tree.full_scan()
        snap = tree.snapshot()
        if snap.errors:
            from skillz_engine.cli.report import text

            text(snap.errors, sys.stderr, len(tree.results))
            return ExitCode.MANIFEST_ERRORS
    if args.transport == "http":
        from skillz_engine.mcp.http import serve_http

        port = args.port if args.port is not None else int(tree.config.get("http", "port", default=8765))
        host = args.host or str(tree.config.get("http", "host", default="127.0.0.1"))
        auth = not args.no_auth and bool(tree.config.get("http", "auth", default=True))

        def announce(message: str) -> None:
            print(message, file=sys.stderr, flush=True)

        anyio.run(
            lambda: serve_http(
                tree, host=host, port=port, auth=auth, watch=not args.no_watch, announce=announce
            )
        )
    else:
        from skillz_engine.mcp.server import serve_stdio

        anyio.run(lambda: serve_stdio(tree, watch=not args.no_watch))
    return ExitCode.OK


# --------------------------------------------------------------------------- build


def cmd_build(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.cli.build import EntryBuild, build_tree
    from skillz_engine.cli.report import text

    tree = _tree_for_serve(args)
    tty = sys.stderr.isatty()

    def on_progress(name: str, message: str) -> None:
        if tty:
            print(f"  {name}: {message}", file=sys.stderr, flush=True)

    def on_entry(entry: EntryBuild) -> None:
        print(entry.line(), file=sys.stderr, flush=True)

    report = anyio.run(
        lambda: build_tree(
            tree, only=args.only or (), force=args.force, on_entry=on_entry, on_progress=on_progress
        )
    )
    failed = sum(1 for e in report.entries if e.failed)
    n = len(report.entries)
    print(f"built {n} {'entry' if n == 1 else 'entries'}, {failed} failed", file=sys.stderr, flush=True)
    if report.diagnostics:
        text(report.diagnostics, sys.stdout, len(tree.results))
    return ExitCode.MANIFEST_ERRORS if report.failed else ExitCode.OK


# --------------------------------------------------------------------------- list / call


def _snapshot(roots: Sequence[str] | None) -> Any:
    tree = _open_tree(_roots(roots), lenient=True)
    tree.full_scan()
    return tree.snapshot()


def cmd_list(args: argparse.Namespace) -> int:
    snap = _snapshot(args.roots)
    tools = [
        {**t.definition(), "kind": t.kind, **({"skill": t.owner} if t.owner else {})}
        for t in snap.tools.values()
    ]
    prompts = [
        {"name": p.name, "description": p.description, "arguments": [a.name for a in p.arguments]}
        for p in snap.prompts.values()
    ]
    resources = [{"uri": r.uri, "name": r.name, "mimeType": r.mime_type} for r in snap.resources.values()]
    templates = [{"uriTemplate": t.uri_template, "name": t.name} for t in snap.templates]
    if args.json:
        json.dump(
            {
                "tools": tools,
                "prompts": prompts,
                "resources": resources,
                "resourceTemplates": templates,
                "errors": len(snap.errors),
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return ExitCode.OK
    out = sys.stdout
    width = max([len(t["name"]) for t in tools] + [4])
    out.write(f"tools ({len(tools)}):\n")
    for t in tools:
        desc = " ".join(str(t.get("description", "")).split())
        out.write(f"  {t['name']:<{width}}  {t['kind']:<8} {desc[:90]}\n")
    if prompts:
        out.write(f"prompts ({len(prompts)}):\n")
        for p in prompts:
            out.write(f"  {p['name']:<{width}}  {' '.join(str(p['description']).split())[:90]}\n")
    if resources or templates:
        out.write(f"resources ({len(resources)} + {len(templates)} templates):\n")
        for r in resources:
            out.write(f"  {r['uri']}\n")
        for t in templates:
            out.write(f"  {t['uriTemplate']}\n")
    if snap.diagnostics:
        out.write(
            f"{len(snap.errors)} errors, {len(snap.diagnostics) - len(snap.errors)} warnings: "
            "run `skillz-engine validate` for details\n"
        )
    return ExitCode.OK


def _read_args(raw: str | None) -> Any:
    if raw is None:
        return {}
    if raw == "-":
        raw = sys.stdin.read()
    elif raw.startswith("@"):
        raw = Path(raw[1:]).read_text(encoding="utf-8")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--args is not valid JSON: {exc}") from exc


def cmd_call(args: argparse.Namespace) -> int:
    import anyio

    from skillz_engine.live.reload import Reloader
    from skillz_engine.runtimes.base import LocalCallContext, run_tool

    arguments = _read_args(args.args)
    reloader = Reloader(_open_tree(_roots(args.roots), lenient=True))
    sink: list[tuple[str, Any]] = []

    async def go() -> Any:
        live = await reloader.start()
        try:
            snap = live.current
            tool = snap.tools.get(args.tool)
            if tool is None:
                sugg = snap.suggest(args.tool)
                raise UsageError(
                    f"unknown tool {args.tool!r}" + (f"; did you mean {', '.join(sugg)}?" if sugg else "")
                )
            ctx = LocalCallContext(snap, args.tool, sink=sink, engine=reloader)
            return await run_tool(tool, arguments, ctx)
        finally:
            with anyio.CancelScope(shield=True):
                await live.close()

    result = anyio.run(go)
    for kind, payload in sink:
        print(f"[{kind}] {json.dumps(payload, ensure_ascii=False)}", file=sys.stderr)
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for block in result.content:
            if block.get("type") == "text":
                sys.stdout.write(str(block.get("text", "")).rstrip("\n") + "\n")
            else:
                sys.stdout.write(json.dumps(dict(block), ensure_ascii=False)[:500] + "\n")
    return ExitCode.MANIFEST_ERRORS if result.is_error else ExitCode.OK


# --------------------------------------------------------------------------- new / schema


def cmd_new(args: argparse.Namespace) -> int:
    from skillz_engine.cli.scaffold import scaffold

    root = Path(args.root).expanduser() if args.root else default_root()
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
    return ExitCode.OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from skillz_engine.cli import doctor

    report = doctor.probe()
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(doctor.render_text(report))
    return ExitCode.OK


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from skillz_engine.tree.kinds import KIND_NAMES

    p = argparse.ArgumentParser(
        prog="skillz-engine",
        description="Compile a tree of manifests into a live MCP server.",
    )
    p.add_argument("--version", action="version", version=f"skillz-engine {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="serve a tree over MCP (stdio or HTTP)")
    s.add_argument("roots", nargs="*", metavar="ROOT", help="tree roots (default: $SKILLZ_HOME or ~/.skillz)")
    s.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    s.add_argument("--host", default=None, help="HTTP bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="HTTP port (default 8765; 0 picks a free one)")
    s.add_argument("--no-auth", action="store_true", help="HTTP without the bearer token")
    s.add_argument("--no-watch", action="store_true", help="do not reload when files change")
    s.add_argument("--strict", action="store_true", help="refuse to start when the tree has errors")
    s.add_argument("--read-only", action="store_true", help="turn off every built-in that writes")
    s.add_argument("--disclosure", choices=("all", "skills", "search"), default=None)
    s.add_argument("--state-dir", default=None, help="engine state (default: .skillz/ in the first root)")
    s.set_defaults(func=cmd_serve)

    b = sub.add_parser("build", help="install tool dependencies and build wasm modules ahead of time")
    b.add_argument("roots", nargs="*", metavar="ROOT", help="tree roots (default: $SKILLZ_HOME or ~/.skillz)")
    b.add_argument("--only", action="append", metavar="NAME", help="build only this entry (repeatable)")
    b.add_argument("--force", action="store_true", help="rebuild what is already built")
    b.add_argument("--state-dir", default=None, help="engine state (default: .skillz/ in the first root)")
    b.set_defaults(func=cmd_build, disclosure=None, read_only=False)

    v = sub.add_parser("validate", help="check manifests; file:line:col diagnostics")
    v.add_argument(
        "paths", nargs="*", metavar="PATH", help="roots, entry manifests or SKILL.md files (default .)"
    )
    v.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text")
    v.add_argument("--strict", action="store_true", help="warnings fail too")
    v.set_defaults(func=cmd_validate)

    ls = sub.add_parser("list", help="what the server would expose")
    ls.add_argument("roots", nargs="*", metavar="ROOT")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    c = sub.add_parser("call", help="run one tool as the server would, no client needed")
    c.add_argument("tool", metavar="TOOL")
    c.add_argument("roots", nargs="*", metavar="ROOT")
    c.add_argument("--args", default=None, help="arguments as JSON, @file.json, or - for stdin")
    c.add_argument("--json", action="store_true", help="print the whole MCP result as JSON")
    c.set_defaults(func=cmd_call)

    n = sub.add_parser("new", help="scaffold a valid entry")
    n.add_argument("kind", choices=KIND_NAMES, metavar="KIND", help=", ".join(KIND_NAMES))
    n.add_argument("name", metavar="NAME")
    n.add_argument("--interpreter", default=None, help="script: python, node, bash, ruby")
    n.add_argument("--root", default=None, help="tree to write into (default: $SKILLZ_HOME or ~/.skillz)")
    n.set_defaults(func=cmd_new)

    sc = sub.add_parser("schema", help="print a JSON Schema")
    sc.add_argument("kind", nargs="?", metavar="KIND")
    sc.set_defaults(func=cmd_schema)

    d = sub.add_parser(
        "doctor", help="which runtimes this machine has: interpreters, sandboxes, docker, wasm"
    )
    d.add_argument("--json", action="store_true", help="the report as JSON")
    d.set_defaults(func=cmd_doctor)

    m = sub.add_parser("migrate", help="rewrite a Rust Skillz tools directory into this format")
    m.add_argument("dir", metavar="DIR")
    m.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    m.set_defaults(func=cmd_migrate)
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
