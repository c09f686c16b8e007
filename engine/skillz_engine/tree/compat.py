"""The Rust Skillz on-disk format (``manifest.json`` with ``tool_type``), read and translated.

Each translated key yields a warning naming its modern equivalent (SKZ401), so ``validate --strict``
flags old manifests and ``skillz-engine migrate`` can rewrite them.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from skillz_engine.tree.conditions import condition_expression
from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.kinds import LEGACY_TOOL_TYPES
from skillz_engine.tree.parse import Document

_EXT = {
    "python": "py",
    "python3": "py",
    "node": "js",
    "nodejs": "js",
    "ruby": "rb",
    "bash": "sh",
    "sh": "sh",
    "perl": "pl",
    "php": "php",
}


def _schema(value: Any) -> dict[str, Any]:
    """Skillz writes ``{"type": ""}`` when no schema was given."""
    if not isinstance(value, dict) or value.get("type") in ("", None):
        rest = dict(value) if isinstance(value, dict) else {}
        rest["type"] = "object"
        return rest
    return dict(value)


def translate(doc: Document, dir_name: str) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Translate a Rust Skillz manifest into the modern keys, with one warning per old key."""
    old: dict[str, Any] = dict(doc.data)
    diags: list[Diagnostic] = []
    tool_type = old.get("tool_type", "wasm")
    kind = LEGACY_TOOL_TYPES.get(str(tool_type), str(tool_type))
    anchor = ("tool_type",) if "tool_type" in old else ()
    diags.append(
        doc.diag(
            anchor,
            "SKZ401",
            f"Rust Skillz manifest format (tool_type: {tool_type}); read as `kind: {kind}`",
            hint="Run `skillz-engine migrate DIR` to rewrite it as manifest.yaml with modern keys.",
            severity=Severity.WARNING,
        )
    )
    new: dict[str, Any] = {"kind": kind}
    for key in ("name", "description", "version", "tags", "annotations"):
        if key in old:
            new[key] = old[key]
    if old.get("disabled"):
        new["enabled"] = False
    if kind in ("script", "wasm", "pipeline"):
        new["inputSchema"] = _schema(old.get("input_schema"))
        if old.get("output_schema"):
            new["outputSchema"] = _schema(old.get("output_schema"))
    if old.get("requires_services"):
        new["requires"] = {"services": list(old["requires_services"])}
    interp = old.get("interpreter")
    if kind == "script":
        if interp:
            new["interpreter"] = interp
        ext = _EXT.get(str(interp), "script") if interp else "script"
        new["entry"] = old.get("entry_file") or f"{dir_name}.{ext}"
        deps = old.get("dependencies") or []
        if deps:
            manager = "npm" if str(interp) in ("node", "nodejs") else "pip"
            new["dependencies"] = {manager: list(deps)}
    elif kind == "wasm":
        new["module"] = f"{old.get('name') or dir_name}.wasm"
    elif kind == "pipeline":
        steps = []
        for i, step in enumerate(old.get("pipeline_steps") or []):
            if not isinstance(step, dict):
                continue
            s: dict[str, Any] = {"id": str(step.get("name") or f"step{i + 1}"), "tool": step.get("tool")}
            if "args" in step:
                s["args"] = step["args"]
            if step.get("continue_on_error"):
                s["onError"] = "continue"
            if step.get("condition"):
                s["when"] = condition_expression(str(step["condition"]))
            steps.append(s)
        new["steps"] = steps
    elif kind == "mcp-server":
        server = old.get("mcp_server") or {}
        if isinstance(server, dict):
            for key in ("command", "args", "env"):
                if key in server:
                    new[key] = server[key]
    return new, diags


# --------------------------------------------------------------------------- migrate


def _dump_yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _keeping_env(data: dict[str, Any], tool_dir: Path) -> str:
    """The migrated manifest's text. A tool whose dependencies Rust Skillz installed into its
    ``env/`` keeps using that environment: ``dependencies`` would make the engine install its own,
    so they are written as a comment instead (the engine uses ``env/`` when none are declared)."""
    deps = data.get("dependencies")
    if not deps or not (tool_dir / "env").is_dir():
        return _dump_yaml(data)
    kept = {k: v for k, v in data.items() if k != "dependencies"}
    return (
        "# Rust Skillz installed these dependencies into env/, which this tool keeps using:\n"
        f"#   dependencies: {json.dumps(deps)}\n"
        "# To let skillz-engine manage them instead, make that line a key and delete env/.\n"
        + _dump_yaml(kept)
    )


def migrate_tree(root: Path, *, dry_run: bool = False) -> list[str]:
    """Rewrite every Rust Skillz manifest under ``root`` as ``manifest.yaml`` (modern keys).

    The old ``manifest.json`` is kept as ``manifest.json.bak``; ``services/<name>.json`` becomes
    ``services/<name>/manifest.yaml``. Returns one line per change.
    """
    from skillz_engine.tree.parse import parse_file

    done: list[str] = []
    for manifest in sorted(root.rglob("manifest.json")):
        if any(part.startswith(".") for part in manifest.relative_to(root).parts):
            continue
        doc = parse_file(manifest)
        if not is_legacy_data(doc.data):
            continue
        data, _ = translate(doc, manifest.parent.name)
        target = manifest.parent / "manifest.yaml"
        done.append(f"{manifest} -> {target}")
        if not dry_run:
            _atomic_write(target, _keeping_env(data, manifest.parent))
            os.replace(manifest, manifest.with_name("manifest.json.bak"))
    services = root / "services"
    for svc in sorted(services.glob("*.json")) if services.is_dir() else []:
        doc = parse_file(svc)
        if not isinstance(doc.data, dict):
            continue
        new = service_manifest(doc.data)
        target = services / svc.stem / "manifest.yaml"
        done.append(f"{svc} -> {target}")
        if not dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(target, _dump_yaml(new))
            os.replace(svc, svc.with_suffix(".json.bak"))
    return done


def service_manifest(old: dict[str, Any]) -> dict[str, Any]:
    """A Skillz ``services/<name>.json`` as a modern service manifest, every field kept: ``name``
    only when it is the file's (the directory's) name, ``healthcheck.cmd`` as ``test``, and any
    other key (``network`` included) as it is, so ``validate`` names what has no modern meaning."""
    new: dict[str, Any] = {"kind": "service"}
    for key, value in old.items():
        if key == "healthcheck" and isinstance(value, dict):
            hc = dict(value)
            if "cmd" in hc:
                hc["test"] = hc.pop("cmd")
            new["healthcheck"] = hc
        elif key == "kind":
            continue
        else:
            new[key] = value
    return new


def translate_service(doc: Document) -> tuple[dict[str, Any], list[Diagnostic]]:
    """A Rust Skillz ``services/<name>.json`` read as ``kind: service``, with a warning naming
    the modern layout (``migrate`` writes it)."""
    data = doc.data if isinstance(doc.data, dict) else {}
    warning = doc.diag(
        (),
        "SKZ401",
        "Rust Skillz service definition (services/<name>.json); read as `kind: service`",
        hint="Run `skillz-engine migrate DIR` to rewrite it as services/<name>/manifest.yaml.",
        severity=Severity.WARNING,
    )
    return service_manifest(data), [warning]


def is_legacy_data(data: Any) -> bool:
    from skillz_engine.tree.validate import is_legacy

    return is_legacy(data)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
