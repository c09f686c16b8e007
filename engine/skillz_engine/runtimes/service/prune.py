"""Orphans: what the engine made in Docker for a tree that the tree no longer defines.

A container is an orphan when its entry is gone or its digest is no longer the entry's (a version
replaced while no engine ran, or one an engine killed mid-swap left behind), or when it is not
running. A network is an orphan when its entry is gone; so is a named volume, but volumes hold
data, so they are removed only when asked (``volumes=True``, ``prune --volumes``), as Docker's own
``prune`` does. Images the engine built for versions no longer defined go
too. Everything is found by the tree's label, so nothing of anyone else is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skillz_engine.runtimes.service.client import DIGEST, ENTRY, TREE, ServiceFailure, client, unreachable
from skillz_engine.runtimes.service.plan import tree_id


def orphans(state_dir: Path, current: Mapping[str, str], *, volumes: bool = False) -> list[tuple[str, Any]]:
    """``(what, object)`` pairs of the tree's orphans; ``current`` maps each service entry the
    tree defines to its digest. Raises ServiceFailure when the daemon does not answer."""
    label = f"{TREE}={tree_id(state_dir)}"
    try:
        c = client()
        found: list[tuple[str, Any]] = []
        for ct in c.containers.list(all=True, filters={"label": label}):
            entry, digest = ct.labels.get(ENTRY), ct.labels.get(DIGEST)
            if current.get(entry or "") != digest or ct.status != "running":
                found.append(("container", ct))
        for volume in c.volumes.list(filters={"label": label}) if volumes else ():
            if (volume.attrs.get("Labels") or {}).get(ENTRY) not in current:
                found.append(("volume", volume))
        for network in c.networks.list(filters={"label": label}):
            if (network.attrs.get("Labels") or {}).get(ENTRY) not in current:
                found.append(("network", network))
        for image in c.images.list(filters={"label": label}):
            labels = image.labels or {}
            if current.get(labels.get(ENTRY, "")) != labels.get(DIGEST):
                found.append(("image", image))
        return found
    except ServiceFailure:
        raise
    except Exception as exc:
        raise unreachable(exc) from exc


def describe(what: str, obj: Any) -> str:
    if what == "container":
        return f"container {obj.name} ({obj.labels.get(ENTRY)}, {obj.status})"
    if what == "image":
        return f"image {', '.join(obj.tags) or obj.short_id}"
    return f"{what} {obj.name}"


def prune(
    state_dir: Path, current: Mapping[str, str], *, volumes: bool = False, dry_run: bool = False
) -> list[str]:
    """Remove the tree's orphans (containers first, then what they used); one line per removal."""
    done = []
    for what, obj in orphans(state_dir, current, volumes=volumes):
        done.append(describe(what, obj))
        if dry_run:
            continue
        try:
            if what == "container" or what == "volume":
                obj.remove(force=True)
            elif what == "network":
                obj.remove()
            else:
                client().images.remove(obj.id, force=True)
        except Exception as exc:
            raise ServiceFailure(f"cannot remove {done[-1]}: {exc}") from exc
    return done


def current_digests(handles: Mapping[str, Any]) -> dict[str, str]:
    """Each served service entry's digest, from the snapshot's handles."""
    return {name: h.plan.digest for name, h in handles.items()}
