#!/usr/bin/env python3
"""commit-lint: check a commit message; a skillz-engine tool and a git commit-msg hook.

As a tool (no command-line arguments) it speaks the jsonrpc script protocol: one response line
per request line, until stdin closes. As a hook (`.git/hooks/commit-msg`, git passes the
message file) it prints the problems and exits 1 when there are errors.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

DEFAULT_TYPES = ("build", "chore", "ci", "docs", "feat", "fix", "perf", "refactor", "revert", "style", "test")
CONVENTIONAL = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()]*)\))?(?P<bang>!)?: (?P<desc>.*)$")
LOOKS_CONVENTIONAL = re.compile(r"^[A-Za-z]+(\([^()]*\))?!?:")
FOOTER = re.compile(r"^(?P<token>BREAKING[ -]CHANGE|[A-Za-z][A-Za-z-]*)(?::\s| #)(?P<value>.*)$", re.I)
SCISSORS = "# ------------------------ >8 ------------------------"
# Subjects should be imperative ("Add", "Fix"); these are the usual slips, by imperative form.
SLIPS = {
    "add": ("added", "adds", "adding"),
    "fix": ("fixed", "fixes", "fixing"),
    "update": ("updated", "updates", "updating"),
    "remove": ("removed", "removes", "removing"),
    "change": ("changed", "changes", "changing"),
    "implement": ("implemented", "implements", "implementing"),
    "improve": ("improved", "improves", "improving"),
    "refactor": ("refactored", "refactors", "refactoring"),
    "rename": ("renamed", "renames", "renaming"),
    "move": ("moved", "moves", "moving"),
    "delete": ("deleted", "deletes", "deleting"),
    "create": ("created", "creates", "creating"),
    "bump": ("bumped", "bumps", "bumping"),
    "make": ("made", "makes", "making"),
    "merge": ("merged", "merges", "merging"),
    "revert": ("reverted", "reverts", "reverting"),
    "clean": ("cleaned", "cleans", "cleaning"),
    "introduce": ("introduced", "introduces", "introducing"),
    "use": ("used", "uses", "using"),
    "support": ("supported", "supports", "supporting"),
    "allow": ("allowed", "allows", "allowing"),
    "handle": ("handled", "handles", "handling"),
    "replace": ("replaced", "replaces", "replacing"),
    "drop": ("dropped", "drops", "dropping"),
}
NOT_IMPERATIVE = {form: verb for verb, forms in SLIPS.items() for form in forms}


def clean(message: str) -> list[str]:
    """The lines git would keep: no comment lines, nothing below the scissors, no trailing blanks."""
    lines = []
    for line in message.replace("\r\n", "\n").split("\n"):
        if line.startswith(SCISSORS):
            break
        if line.startswith("#"):
            continue
        lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def lint(
    message: str, convention: str = "auto", types: tuple[str, ...] = DEFAULT_TYPES, max_subject: int = 72
) -> dict[str, Any]:
    problems: list[dict[str, Any]] = []

    def problem(rule: str, severity: str, line: int, text: str) -> None:
        problems.append({"rule": rule, "severity": severity, "line": line, "message": text})

    lines = clean(message)
    subject = lines[0] if lines else ""
    ctype = scope = None
    breaking = False
    if not subject:
        problem("subject-empty", "error", 1, "the message is empty")
        return summarise(subject, ctype, scope, breaking, problems)

    if len(subject) > max_subject:
        problem(
            "subject-max-length",
            "error",
            1,
            f"subject is {len(subject)} characters; keep it to {max_subject} and move detail to the body",
        )
    if subject.endswith("."):
        problem("subject-full-stop", "warning", 1, "drop the period at the end of the subject")
    if re.match(r"^(fixup|squash|amend)! |^wip\b", subject, re.I):
        problem("subject-wip", "warning", 1, "work-in-progress or fixup commit: squash it before merging")

    description = subject
    use_conventional = convention == "conventional" or (
        convention == "auto" and LOOKS_CONVENTIONAL.match(subject) is not None
    )
    if use_conventional:
        m = CONVENTIONAL.match(subject)
        if m is None:
            problem(
                "header-format",
                "error",
                1,
                "expected `type(scope): description` (e.g. `fix(parser): handle empty input`)",
            )
        else:
            ctype, scope, description = m["type"], m["scope"], m["desc"]
            breaking = m["bang"] is not None
            if ctype not in types:
                hint = f" (did you mean `{ctype.lower()}`?)" if ctype.lower() in types else ""
                problem("type-enum", "error", 1, f"type `{ctype}` is not one of: {', '.join(types)}{hint}")
            if scope is not None and not re.fullmatch(r"[a-z0-9][a-z0-9._/-]*", scope):
                problem("scope-case", "warning", 1, f"scope `{scope}` should be a short lower-case noun")
            if not description.strip():
                problem("subject-empty", "error", 1, "nothing after `type: `")
            elif description[0].isupper() and not description.split()[0].isupper():
                problem("subject-case", "warning", 1, "start the description in lower case after `type: `")
    first_word = re.sub(r"[^A-Za-z]", "", (description.split() or [""])[0]).lower()
    if first_word in NOT_IMPERATIVE:
        problem(
            "subject-imperative",
            "warning",
            1,
            f"use the imperative mood: `{NOT_IMPERATIVE[first_word]}`, not `{first_word}`",
        )

    if len(lines) > 1 and lines[1]:
        problem("body-leading-blank", "error", 2, "leave line 2 blank between the subject and the body")
    in_code = False
    for number, line in enumerate(lines[1:], start=2):
        if line.startswith("```"):
            in_code = not in_code
        if len(line) > 72 and not in_code and "://" not in line and not FOOTER.match(line):
            problem("body-max-line-length", "warning", number, f"line is {len(line)} characters; wrap at 72")
        m = FOOTER.match(line)
        if m and m["token"].upper().replace("-", " ") == "BREAKING CHANGE":
            breaking = True
            if m["token"] not in ("BREAKING CHANGE", "BREAKING-CHANGE"):
                problem(
                    "footer-breaking-case", "error", number, "write the footer token as `BREAKING CHANGE:`"
                )
            if not m["value"].strip():
                problem("footer-breaking-empty", "error", number, "say what breaks and how to migrate")
    return summarise(subject, ctype, scope, breaking, problems)


def summarise(
    subject: str, ctype: str | None, scope: str | None, breaking: bool, problems: list[dict[str, Any]]
) -> dict[str, Any]:
    errors = sum(1 for p in problems if p["severity"] == "error")
    return {
        "valid": errors == 0,
        "errors": errors,
        "warnings": len(problems) - errors,
        "subject": subject,
        "type": ctype,
        "scope": scope,
        "breaking": breaking,
        "problems": problems,
    }


def tool_answer(line: str) -> None:
    """Answer one execute request line with one response line."""

    def reply(request_id: Any, message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, **message}) + "\n")
        sys.stdout.flush()

    try:
        request = json.loads(line)
    except ValueError as exc:
        reply(None, {"error": {"code": -32700, "message": f"could not parse the request: {exc}"}})
        return
    args = request.get("params", {}).get("arguments") or {}
    if not isinstance(args.get("message"), str):
        reply(request.get("id", 1), {"error": {"code": -32602, "message": "`message` must be a string"}})
        return
    result = lint(
        args["message"],
        convention=str(args.get("convention", "auto")),
        types=tuple(args.get("types") or DEFAULT_TYPES),
        max_subject=int(args.get("maxSubjectLength", 72)),
    )
    reply(request.get("id", 1), {"result": result})


def tool_main() -> None:
    # One call per request line until stdin closes: a worker (`worker` in the manifest) answers
    # many, a one-shot run one.
    for line in sys.stdin:
        if line.strip():
            tool_answer(line)


def hook_main(path: str) -> int:
    try:
        message = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"commit-msg: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    result = lint(message)
    for p in result["problems"]:
        print(f"commit-msg: {p['severity']} [{p['rule']}] line {p['line']}: {p['message']}", file=sys.stderr)
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(hook_main(sys.argv[1]))
    tool_main()
