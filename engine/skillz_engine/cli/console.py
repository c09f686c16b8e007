"""What ``serve`` says on stderr while it runs: one line per change, per new problem, per failed call.

A person running the server should see it work without an MCP client: ``+ tool greet`` when an
entry appears, ``~ tool hash`` when one changes, ``- prompt old`` when one goes, ``! path:line:col:
error CODE message`` when an edit breaks something (the entry keeps serving its last good version),
and ``x tool hash failed after 12 ms: ...`` for a call that failed. ``-q`` keeps only problems and
failures, ``-v`` adds every call; ``--log-format json`` prints one JSON object per line instead,
for log collectors.

The console is a listener of the live registry (changes) and an observer of the engine (calls): it
reads what the engine already computes and adds no work to a request.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Literal, TextIO

if TYPE_CHECKING:
    from skillz_engine.build.diff import Delta
    from skillz_engine.build.snapshot import Snapshot
    from skillz_engine.engine import CallEvent, Engine
    from skillz_engine.tree.diagnostics import Diagnostic
    from skillz_engine.tree.model import Compiled

Verbosity = Literal["quiet", "normal", "verbose"]
LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

# entries shown as one line (a skill is a prompt plus one resource per file: listing each is noise)
_WHOLE_KINDS = frozenset({"skill", "bundle"})


def _items(entry: Compiled | None) -> dict[tuple[str, str], str]:
    """``(type, name) -> digest`` of what one entry serves, the way the console names it."""
    if entry is None:
        return {}
    if entry.spec.kind in _WHOLE_KINDS:
        return {(entry.spec.kind, entry.spec.name): entry.spec.fingerprint}
    found: dict[tuple[str, str], str] = {}
    for t in entry.tools:
        found[("tool", t.name)] = str(t.digest)
    for p in entry.prompts:
        found[("prompt", p.name)] = str(p.digest)
    for r in entry.resources:
        found[("resource", r.uri)] = str(r.digest)
    for tpl in entry.templates:
        found[("template", tpl.uri_template)] = tpl.uri_template
    return found


def changes(old: Snapshot, new: Snapshot, delta: Delta) -> Iterator[tuple[str, str, str]]:
    """``(sign, type, name)`` for what the swap from ``old`` to ``new`` added (+), changed (~) and
    removed (-), entry by entry, in a stable order."""
    keys = delta.added_entries | delta.removed_entries | delta.changed_entries
    for key in sorted(keys):
        before, after = _items(old.entries.get(key)), _items(new.entries.get(key))
        for item in sorted(after.keys() - before.keys()):
            yield "+", *item
        for item in sorted(after.keys() & before.keys()):
            if after[item] != before[item]:
                yield "~", *item
        for item in sorted(before.keys() - after.keys()):
            yield "-", *item


def _key(d: Diagnostic) -> tuple[str, int, int, str, str]:
    return (d.path, d.line, d.col, d.code, d.message)


class ServeConsole:
    """Prints the running server's events to ``out`` (stderr: stdout is the stdio protocol)."""

    def __init__(
        self, out: TextIO | None = None, verbosity: Verbosity = "normal", fmt: LogFormat = "text"
    ) -> None:
        self.out = out if out is not None else sys.stderr
        self.verbosity = verbosity
        self.fmt = fmt
        self._seen: Snapshot | None = None

    def attach(self, engine: Engine) -> Callable[[], None]:
        """Follow ``engine`` from now on; returns the function that stops following it."""
        self._seen = engine.snapshot
        stop_calls = engine.observe_calls(self.on_call)
        stop_changes = engine.live.add_listener(self.on_delta)

        def detach() -> None:
            stop_calls()
            stop_changes()

        return detach

    # ------------------------------------------------------------------ events

    def started(self, snapshot: Snapshot, where: str) -> None:
        """One line of what is served, then the problems the tree has at start."""
        self._seen = snapshot
        if self.verbosity != "quiet":
            self._emit(
                "start",
                f"serving {len(snapshot.tools)} tools, {len(snapshot.prompts)} prompts, "
                f"{len(snapshot.resources)} resources {where}",
                tools=len(snapshot.tools),
                prompts=len(snapshot.prompts),
                resources=len(snapshot.resources),
                where=where,
            )
        for d in snapshot.diagnostics:
            self._problem(d)

    async def on_delta(self, delta: Delta, snapshot: Snapshot) -> None:
        old, self._seen = self._seen, snapshot
        if old is None:
            return
        if self.verbosity != "quiet":
            for sign, kind, name in changes(old, snapshot, delta):
                self._emit("change", f"{sign} {kind} {name}", change=sign, type=kind, name=name)
        if delta.diagnostics_changed:
            before = {_key(d) for d in old.diagnostics}
            after = {_key(d) for d in snapshot.diagnostics}
            for d in snapshot.diagnostics:
                if _key(d) not in before:
                    self._problem(d)
            fixed = sorted({d.path for d in old.diagnostics} - {k[0] for k in after})
            if self.verbosity != "quiet":
                for path in fixed:
                    self._emit("fixed", f"= {path}: no more problems", path=path)

    def on_call(self, event: CallEvent) -> None:
        if event.error is not None:
            first = event.error.strip().splitlines()[0] if event.error.strip() else "failed"
            self._emit(
                "call",
                f"x {event.method} {event.tool} failed after {event.ms:.0f} ms: {first[:200]}",
                tool=event.tool,
                ms=round(event.ms, 1),
                ok=False,
                error=event.error[:2000],
                session=event.session,
            )
        elif self.verbosity == "verbose":
            self._emit(
                "call",
                f"  {event.method} {event.tool} {event.ms:.0f} ms",
                tool=event.tool,
                ms=round(event.ms, 1),
                ok=True,
                session=event.session,
            )

    # ------------------------------------------------------------------ output

    def _problem(self, d: Diagnostic) -> None:
        self._emit(
            "diagnostic",
            f"! {d.format()}" + (f"  (hint: {d.hint})" if d.hint else ""),
            path=d.path,
            line=d.line,
            col=d.col,
            code=d.code,
            severity=d.severity.value,
            message=d.message,
        )

    def _emit(self, event: str, text: str, **fields: object) -> None:
        if self.fmt == "json":
            record = {"time": round(time.time(), 3), "event": event, **fields}
            line = json.dumps(record, ensure_ascii=False, default=str)
        else:
            line = text
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (OSError, ValueError):  # a closed stderr must not fail a swap or a call
            pass
