#!/usr/bin/env python3
"""Print one version's section of a Keep a Changelog file, or the next version it calls for.

    python3 release_notes.py CHANGELOG.md 1.4.0      # the body of "## [1.4.0] - ..."
    python3 release_notes.py CHANGELOG.md Unreleased # what is pending
    python3 release_notes.py CHANGELOG.md --next     # e.g. "1.5.0 (minor: Added)"

Exit status: 0 found, 1 version not found or nothing unreleased, 2 usage error.
Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?P<rest>.*)$")
SECTION = re.compile(r"^### (?P<name>\w+)")
SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def sections(text: str) -> dict[str, list[str]]:
    """Version (as written between the brackets) -> the lines of its body."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        m = HEADING.match(line)
        if m:
            current = out.setdefault(m["version"].strip(), [])
            continue
        if line.startswith("## ") or re.match(r"^\[[^\]]+\]:\s", line):
            current = None  # another level-2 heading, or the link references at the bottom
            continue
        if current is not None:
            current.append(line)
    return out


def body(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def has_entries(lines: list[str]) -> bool:
    return any(line.lstrip().startswith(("-", "*")) for line in lines)


def next_version(found: dict[str, list[str]]) -> str | None:
    pending = found.get("Unreleased", [])
    if not has_entries(pending):
        return None
    kinds = {m["name"] for m in (SECTION.match(line) for line in pending) if m}
    breaking = "Removed" in kinds or any("BREAKING" in line for line in pending)
    released = [v for v in found if SEMVER.match(v)]
    major, minor, patch = (int(x) for x in SEMVER.match(released[0]).groups()) if released else (0, 0, 0)
    if breaking and major > 0:
        return f"{major + 1}.0.0 (major: {'Removed' if 'Removed' in kinds else 'breaking change'})"
    if breaking or kinds & {"Added", "Deprecated"}:
        reason = (
            "breaking change while 0.x" if breaking else ", ".join(sorted(kinds & {"Added", "Deprecated"}))
        )
        return f"{major}.{minor + 1}.0 (minor: {reason})"
    return f"{major}.{minor}.{patch + 1} (patch: {', '.join(sorted(kinds)) or 'fixes'})"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, wanted = Path(argv[1]), argv[2]
    try:
        found = sections(path.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"release_notes: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    if wanted == "--next":
        version = next_version(found)
        if version is None:
            print("release_notes: nothing under [Unreleased]", file=sys.stderr)
            return 1
        print(version)
        return 0
    key = wanted.removeprefix("v") if wanted not in found else wanted
    if key not in found:
        known = ", ".join(found) or "none"
        print(f"release_notes: no section [{wanted}] in {path} (found: {known})", file=sys.stderr)
        return 1
    print(body(found[key]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
