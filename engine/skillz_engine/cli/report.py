"""Diagnostic reporters, chosen by name: ``text``, ``json``, ``github``, ``sarif``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import TextIO

from skillz_engine.tree.diagnostics import Diagnostic

Reporter = Callable[[Sequence[Diagnostic], TextIO, int], None]


def _summary(diags: Sequence[Diagnostic], entries: int) -> str:
    errors = sum(1 for d in diags if d.is_error)
    warnings = len(diags) - errors
    return (
        f"{entries} {'entry' if entries == 1 else 'entries'} checked: "
        f"{errors} {'error' if errors == 1 else 'errors'}, "
        f"{warnings} {'warning' if warnings == 1 else 'warnings'}"
    )


def text(diags: Sequence[Diagnostic], out: TextIO, entries: int) -> None:
    lines(diags, out)
    out.write(_summary(diags, entries) + "\n")


def lines(diags: Sequence[Diagnostic], out: TextIO) -> None:
    """Each diagnostic as ``path:line:col: error CODE message`` (coloured on a terminal) and its hint."""
    color = out.isatty() and "NO_COLOR" not in os.environ
    for d in diags:
        line = d.format()
        if color:
            sev = "\x1b[31merror\x1b[0m" if d.is_error else "\x1b[33mwarning\x1b[0m"
            line = line.replace(f" {d.severity.value} ", f" {sev} ", 1)
        out.write(line + "\n")
        if d.hint:
            out.write(f"    hint: {d.hint}\n")


def as_json(diags: Sequence[Diagnostic], out: TextIO, entries: int) -> None:
    errors = sum(1 for d in diags if d.is_error)
    json.dump(
        {
            "entries": entries,
            "errors": errors,
            "warnings": len(diags) - errors,
            "diagnostics": [d.to_json() for d in diags],
        },
        out,
        indent=2,
    )
    out.write("\n")


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        s = s.replace(":", "%3A").replace(",", "%2C")
    return s


def github(diags: Sequence[Diagnostic], out: TextIO, entries: int) -> None:
    """GitHub Actions workflow commands: annotations on the PR's files."""
    for d in diags:
        level = "error" if d.is_error else "warning"
        msg = d.message + (f"\n{d.hint}" if d.hint else "")
        out.write(
            f"::{level} file={_gh_escape(d.path, True)},line={max(d.line, 1)},col={max(d.col, 1)},"
            f"title={_gh_escape(d.code, True)}::{_gh_escape(msg)}\n"
        )
    out.write(_summary(diags, entries) + "\n")


def sarif(diags: Sequence[Diagnostic], out: TextIO, entries: int) -> None:
    """SARIF 2.1.0 for code-scanning uploads."""
    from skillz_engine import __version__

    rules: dict[str, dict[str, object]] = {}
    results = []
    for d in diags:
        rules.setdefault(
            d.code,
            {
                "id": d.code,
                "shortDescription": {"text": d.code},
                "helpUri": "https://skillz-engine.dev/docs/diagnostics#" + d.code.lower(),
            },
        )
        results.append(
            {
                "ruleId": d.code,
                "level": "error" if d.is_error else "warning",
                "message": {"text": d.message + (f" Hint: {d.hint}" if d.hint else "")},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": d.path},
                            "region": {"startLine": max(d.line, 1), "startColumn": max(d.col, 1)},
                        }
                    }
                ],
                "properties": {"jsonPath": d.json_path},
            }
        )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "skillz-engine",
                        "version": __version__,
                        "informationUri": "https://skillz-engine.dev",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
    json.dump(doc, out, indent=2)
    out.write("\n")


REPORTERS: dict[str, Reporter] = {"text": text, "json": as_json, "github": github, "sarif": sarif}
