"""``services``: Skillz's service actions over the tree's ``kind: service`` entries.

``define`` writes ``services/<name>/manifest.yaml`` through the writers (atomic, backed up, served
before the call returns; a definition that does not validate is refused with its diagnostics);
``list``, ``status``, ``logs`` read; ``start`` and ``stop`` run or stop the container of the version
the snapshot serves; ``remove`` stops it and moves the entry out of the tree (into the state
directory's ``versions/``, where writers keep what they replace); ``prune`` removes what the tree
no longer defines. Under ``--read-only`` the actions that change the tree or delete anything
(``define``, ``remove``, ``prune``) are refused. Docker failures are ``isError`` results saying why.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

import anyio.to_thread

from skillz_engine.build.contract import CallContext, EngineHandle
from skillz_engine.builtins.writers import WriterError, check_name, existing_entry, serve_written, write_entry
from skillz_engine.runtimes.service.client import ServiceFailure
from skillz_engine.runtimes.service.handle import ServiceHandle
from skillz_engine.runtimes.service.prune import current_digests, prune
from skillz_engine.runtimes.service.requires import handles
from skillz_engine.tree.model import Args, ToolDef, ToolResult

ACTIONS = ("define", "list", "start", "stop", "status", "logs", "remove", "prune")
WRITES = frozenset({"define", "remove", "prune"})
# the keys `define` copies into the manifest (the service schema checks them when it is served)
SERVICE_KEYS = (
    "description",
    "image",
    "build",
    "command",
    "ports",
    "env",
    "secrets",
    "volumes",
    "healthcheck",
    "autostart",
    "keepRunning",
    "resources",
    "capAdd",
    "readOnly",
    "network",
)


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _handle(ctx: CallContext, name: Any) -> ServiceHandle:
    if not isinstance(name, str) or not name:
        raise WriterError("this action needs the service's `name`")
    served = handles(ctx.snapshot)
    handle = served.get(name)
    if handle is None:
        known = ", ".join(sorted(served)) or "none"
        raise WriterError(f"no service {name!r} is served (services: {known})")
    return handle


def _engine(ctx: CallContext) -> EngineHandle:
    if ctx.engine is None:
        raise WriterError("no running engine to write into")
    return ctx.engine


async def _define(args: Args, ctx: CallContext) -> dict[str, Any]:
    engine = _engine(ctx)
    name = check_name(args.get("name"))
    data: dict[str, Any] = {"kind": "service", **{k: args[k] for k in SERVICE_KEYS if k in args}}
    if "image" not in data and "build" not in data:
        raise WriterError("define needs `image` (or `build`, a Dockerfile directory inside the entry)")
    existing = existing_entry(ctx.snapshot, name)
    written = write_entry(engine, name, {"manifest.yaml": _yaml(data)}, kind="service",
                          overwrite=bool(args.get("overwrite")), existing=existing)  # fmt: skip
    await serve_written(engine, written, name)
    return {"defined": name, "path": str(written.path / "manifest.yaml"), "replaced": written.replaced}


async def _remove(args: Args, ctx: CallContext) -> dict[str, Any]:
    engine = _engine(ctx)
    handle = _handle(ctx, args.get("name"))
    name = handle.plan.name
    stopped = await anyio.to_thread.run_sync(handle.stop)
    spec = next(s for s in ctx.snapshot.specs.values() if s.kind == "service" and s.name == name)
    entry = spec.dir if spec.dir.is_dir() else spec.manifest  # a Skillz services/<name>.json: the file
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000_000:09d}"
    kept = engine.state_dir / "versions" / name / stamp
    kept.parent.mkdir(parents=True, exist_ok=True)
    if entry.is_dir():
        shutil.move(entry, kept)
    else:
        kept.mkdir()
        shutil.move(entry, kept / entry.name)
    await engine.reload([entry])
    return {"removed": name, "containerRemoved": stopped, "keptAt": str(kept)}


async def _act(action: Any, args: Args, ctx: CallContext) -> Any:
    snap = ctx.snapshot
    if action == "define":
        return await _define(args, ctx)
    if action == "remove":
        return await _remove(args, ctx)
    if action == "list":
        rows = [{"name": n, "image": h.plan.image, "description": _description(ctx, n),
                 "autostart": h.plan.autostart} for n, h in sorted(handles(snap).items())]  # fmt: skip
        return {"services": rows}
    if action == "status":
        chosen = [_handle(ctx, args["name"])] if args.get("name") else list(handles(snap).values())
        return {"services": [await anyio.to_thread.run_sync(h.status) for h in chosen]}
    if action == "start":
        handle = _handle(ctx, args.get("name"))
        endpoint = await anyio.to_thread.run_sync(handle.ensure)
        ports = {str(c): h for c, h in endpoint.ports}
        return {"name": handle.plan.name, "state": "running", "health": "healthy", "host": endpoint.host,
                "ports": ports, "env": endpoint.env(handle.plan.name)}  # fmt: skip
    if action == "stop":
        handle = _handle(ctx, args.get("name"))
        return {"name": handle.plan.name, "stopped": await anyio.to_thread.run_sync(handle.stop)}
    if action == "logs":
        handle = _handle(ctx, args.get("name"))
        tail = args.get("tail", 100)
        return {"name": handle.plan.name, "logs": await anyio.to_thread.run_sync(handle.logs, int(tail))}
    if action == "prune":
        state = _engine(ctx).state_dir
        current = current_digests(handles(snap))
        volumes = bool(args.get("pruneVolumes"))
        return {"removed": await anyio.to_thread.run_sync(lambda: prune(state, current, volumes=volumes))}
    raise WriterError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")


def _description(ctx: CallContext, name: str) -> str:
    for spec in ctx.snapshot.specs.values():
        if spec.kind == "service" and spec.name == name:
            return spec.description
    return ""


async def services(args: Args, ctx: CallContext) -> ToolResult:
    action = args.get("action")
    if action in WRITES and ctx.snapshot.config.read_only:
        return ToolResult.error(f"services: {action} is off: the server is read-only (--read-only)")
    try:
        out = await _act(action, args, ctx)
    except (WriterError, ServiceFailure) as exc:
        return ToolResult.error(f"services {action}: {exc}")
    return ToolResult.text(json.dumps(out, ensure_ascii=False, indent=1), structured=out)


SERVICES = ToolDef(
    name="services",
    title="Docker services",
    description=(
        "Docker services (kind: service) that tools depend on through `requires.services`. Actions: "
        "define (name, image or build, command, ports, env, volumes, healthcheck, autostart, keepRunning, "
        "resources, ...: writes services/<name>/manifest.yaml), list, start (name: runs it and waits until "
        "healthy), stop (name), status (running, ports, health; one or all), logs (name, tail), remove "
        "(name: stops it and removes the entry), prune (containers of versions the tree no longer defines)."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": list(ACTIONS)},
            "name": {"type": "string", "description": "The service (every action but list and prune)."},
            "image": {"type": "string", "description": "define: the image to run."},
            "build": {"type": "string", "description": "define: a Dockerfile directory inside the entry."},
            "command": {"description": "define: the command (a string or an argv list)."},
            "ports": {"type": "array", "items": {"type": "string"}, "description": 'define: e.g. ["6379"].'},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
            "volumes": {"type": "array", "items": {"type": "string"}, "description": "define: name:/path."},
            "healthcheck": {"type": "object", "description": "define: {test, interval, timeout, retries}."},
            "overwrite": {"type": "boolean", "description": "define: replace an existing service."},
            "tail": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "logs: lines (100)."},
            "pruneVolumes": {
                "type": "boolean",
                "description": "prune: also named volumes of deleted services.",
            },
        },
        "required": ["action"],
    },
    invoke=services,
    annotations={
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": False,
        "openWorldHint": True,
    },
)
