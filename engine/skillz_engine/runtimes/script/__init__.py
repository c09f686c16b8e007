"""``kind: script``: one process per call (or persistent workers, ``worker:``), speaking the
Skillz-compatible JSON-RPC protocol (``protocol: jsonrpc``, the default) or just arguments in,
result out (``protocol: plain``).

The protocol has one specification, ``docs/script-protocol.md``; these modules implement it:
:mod:`.runtime` (compiling, running, ``skillz-engine build``), :mod:`.interpreter` (how the entry
is started), :mod:`.session` (one jsonrpc run: the script's lines and the result),
:mod:`.host` (answering the script's requests), :mod:`.context` (what the script is told),
:mod:`.worker` (one persistent worker process) and :mod:`.pool` (a tool's workers).
"""

from __future__ import annotations

from skillz_engine.runtimes.script.runtime import ScriptRuntime

__all__ = ["ScriptRuntime"]
