"""The program ``execute_code`` runs: the client's Python, with a ``tools`` module, as a script.

This file is not imported by the engine. :mod:`skillz_engine.builtins.codemode` copies its source
into the state directory and runs it like any ``kind: script`` entry (same sandbox, limits and
``protocol: jsonrpc``), so it uses the standard library only and must run on any Python 3.

The execute request's ``arguments`` hold ``code`` (the client's source), ``tools`` (identifier ->
tool name) and ``max_stdout`` (bytes of captured ``print`` output kept). Every ``tools.<name>(...)``
is a ``tools/call`` request on stdout, answered on stdin, one at a time. The final response's
``result`` is ``{stdout, result}``, plus ``error`` (the traceback of the client's code, its frames
only) when it failed to compile or raised.
"""

from __future__ import annotations

import io
import json
import linecache
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any, TextIO

FILENAME = "<code>"


class ToolError(Exception):
    """A tool called from the code failed (its ``isError`` result), or the engine refused the call."""


class _Channel:
    """The JSON-RPC lines to and from the engine, on the process's real stdin and stdout."""

    def __init__(self, rx: TextIO, tx: TextIO) -> None:
        self.rx = rx
        self.tx = tx
        self.next_id = 2  # id 1 is the execute request

    def send(self, message: dict[str, Any]) -> None:
        self.tx.write(json.dumps({"jsonrpc": "2.0", **message}, default=repr) + "\n")
        self.tx.flush()

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        rid = self.next_id
        self.next_id += 1
        self.send({"id": rid, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
        while True:
            line = self.rx.readline()
            if not line:
                raise ToolError(f"{name}: the engine closed the connection")
            reply = json.loads(line)
            if reply.get("id") == rid:
                break
        if reply.get("error") is not None:
            raise ToolError(f"{name}: {reply['error'].get('message')}")
        result = reply.get("result") or {}
        if result.get("isError"):
            raise ToolError(result.get("error") or f"{name} failed")
        return result.get("output")


def _tools_module(channel: _Channel, names: dict[str, str]) -> types.ModuleType:
    """``tools``: one function per tool, ``call(name, arguments, **kwargs)`` and ``ToolError``."""
    module = types.ModuleType("tools", "The tools of this MCP session, one function each.")

    def call(name: str, arguments: dict[str, Any] | None = None, /, **kwargs: Any) -> Any:
        """Call tool ``name`` with ``arguments`` (a dict) and/or keyword arguments; its value."""
        return channel.call(name, {**(arguments or {}), **kwargs})

    def function(name: str) -> Callable[..., Any]:
        def tool(**kwargs: Any) -> Any:
            return channel.call(name, kwargs)

        tool.__name__ = tool.__qualname__ = name
        return tool

    module.call = call  # type: ignore[attr-defined]
    module.ToolError = ToolError  # type: ignore[attr-defined]
    module.NAMES = dict(names)  # type: ignore[attr-defined]
    for ident, name in names.items():
        setattr(module, ident, function(name))
    return module


def _traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` showing only the frames of the client's code."""
    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename == FILENAME])
    return "".join(te.format())


class _Capped(io.StringIO):
    """``print`` output, kept up to ``limit`` characters (the rest is counted, not kept)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.dropped = 0

    def write(self, s: str) -> int:
        room = self.limit - self.tell()
        if room < len(s):
            self.dropped += len(s) - max(room, 0)
            s = s[: max(room, 0)]
        super().write(s)
        return len(s)

    def text(self) -> str:
        note = f"\n[{self.dropped} more characters of output were cut]" if self.dropped else ""
        return self.getvalue() + note


def _value(value: Any) -> Any:
    """``value`` as JSON when it is JSON, else its ``repr``."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return repr(value)


def main() -> None:
    channel = _Channel(sys.stdin, sys.stdout)
    request = json.loads(sys.stdin.readline())
    args = request["params"]["arguments"]
    code: str = args["code"]
    module = _tools_module(channel, args.get("tools") or {})
    sys.modules["tools"] = module
    linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
    scope: dict[str, Any] = {"__name__": "__main__", "tools": module}
    captured = _Capped(int(args.get("max_stdout") or 1_000_000))
    out: dict[str, Any] = {}
    real_stdin, real_stdout = sys.stdin, sys.stdout
    sys.stdin, sys.stdout = io.StringIO(), captured  # stdin is the engine's: input() reads nothing
    try:
        exec(compile(code, FILENAME, "exec"), scope)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are the code's too
        if not (isinstance(exc, SystemExit) and exc.code in (None, 0)):
            out["error"] = _traceback(exc)
    finally:
        sys.stdin, sys.stdout = real_stdin, real_stdout
    out["stdout"] = captured.text()
    out["result"] = _value(scope.get("result"))
    channel.send({"id": request["id"], "result": out})


if __name__ == "__main__":
    main()
