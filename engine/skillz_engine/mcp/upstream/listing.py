"""What one upstream MCP server offers, as the MCP JSON it listed, and its copy on disk.

The listing is kept as plain camelCase dicts exactly as the upstream sent them, so whatever the
upstream declares (``inputSchema``, ``outputSchema``, ``annotations``, ``icons``, ``_meta``) reaches
the engine's clients untouched. The copy in the state directory is what a lazy upstream serves
before it has started: starting the server costs no upstream process.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSONDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Listing:
    tools: tuple[JSONDict, ...] = ()
    prompts: tuple[JSONDict, ...] = ()
    resources: tuple[JSONDict, ...] = ()
    templates: tuple[JSONDict, ...] = ()

    def to_json(self) -> JSONDict:
        return {
            "tools": list(self.tools),
            "prompts": list(self.prompts),
            "resources": list(self.resources),
            "resourceTemplates": list(self.templates),
        }

    @staticmethod
    def from_json(data: Any) -> Listing:
        def items(key: str) -> tuple[JSONDict, ...]:
            raw = data.get(key) if isinstance(data, dict) else None
            return tuple(x for x in raw if isinstance(x, dict)) if isinstance(raw, list) else ()

        return Listing(items("tools"), items("prompts"), items("resources"), items("resourceTemplates"))


def cache_path(state_dir: Path, key: str, name: str) -> Path:
    """Where the last good listing of the entry at ``key`` is kept (one file per entry directory)."""
    digest = hashlib.blake2b(key.encode(), digest_size=6).hexdigest()
    return state_dir / "mcp-servers" / f"{name}-{digest}.json"


def load(path: Path) -> Listing | None:
    """The listing kept at ``path``; ``None`` when there is none or it cannot be read."""
    try:
        return Listing.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def save(path: Path, listing: Listing) -> None:
    """Keep ``listing`` at ``path`` (atomically; a state directory that cannot be written is not
    worth failing a served upstream over: the next start lists it again)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(listing.to_json(), sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
