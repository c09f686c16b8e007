"""How ``execute_code`` runs the client's code: as a script entry, through the script runtime.

:mod:`.codemode_runner` is copied into ``<state>/codemode/`` and started with the script runtime's
command line (:func:`~skillz_engine.isolation.command.build_command`: the sandbox and ``limits`` of
``skillz.yaml``, the clean environment) and spoken to by its ``protocol: jsonrpc``
:class:`~skillz_engine.runtimes.script.session.Session`, so each call the code makes is the script
protocol's nested ``tools/call`` (same snapshot, audited, depth-limited, cancelled with the call).
Kept apart from :mod:`.codemode` so that loading the built-in catalog imports no process machinery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.command import build_command
from skillz_engine.isolation.process import ProcessResult
from skillz_engine.runtimes.script.host import Host
from skillz_engine.runtimes.script.session import Session
from skillz_engine.tree.model import EntrySpec, ToolResult
from skillz_engine.tree.positions import Positions

__all__ = ["RUNNER", "run_code"]

NAME = "execute_code"
RUNNER = Path(__file__).with_name("codemode_runner.py")
ARGUMENTS_SHOWN = 200  # characters of a call's arguments (as JSON) listed in the result


def _runner_dir(state_dir: Path) -> Path:
    """``<state>/codemode/`` holding the runner (rewritten when the engine's copy differs)."""
    where = state_dir / "codemode"
    source = RUNNER.read_text(encoding="utf-8")
    target = where / "runner.py"
    if not target.is_file() or target.read_text(encoding="utf-8") != source:
        where.mkdir(parents=True, exist_ok=True)
        tmp = where / f".runner.{time.monotonic_ns()}.tmp"
        tmp.write_text(source, encoding="utf-8")
        tmp.replace(target)
    return where


def _spec(where: Path) -> EntrySpec:
    """The code run as a script entry: its sandbox and limits are skillz.yaml's alone."""
    data = {"kind": "script", "description": "code sent to execute_code", "entry": "runner.py",
            "interpreter": "python3"}  # fmt: skip
    return EntrySpec("script", NAME, where, where, where / "runner.py", NAME, data, Positions(), NAME)


def _brief(arguments: Any) -> Any:
    """A call's arguments as the result lists them: as sent when their JSON is short, else the
    start of it (the code passes large values between tools; echoing them back would send the
    model what code mode exists to keep from it)."""
    encoded = json.dumps(arguments, ensure_ascii=False, default=str)
    return arguments if len(encoded) <= ARGUMENTS_SHOWN else encoded[:ARGUMENTS_SHOWN] + "..."


class _CodeHost(Host):
    """The script host, recording each nested ``tools/call`` the code makes (in order)."""

    def __init__(self, ctx: CallContext, state_dir: Path) -> None:
        super().__init__(NAME, ctx, state_dir)
        self.calls: list[dict[str, Any]] = []

    async def request(self, method: str, params: Mapping[str, Any]) -> Any:
        if method != "tools/call":
            return await super().request(method, params)
        record: dict[str, Any] = {"tool": params.get("name"), "arguments": _brief(params.get("arguments"))}
        self.calls.append(record)
        start = time.perf_counter()
        try:
            reply = await super().request(method, params)
        except Exception:
            record["isError"] = True
            raise
        finally:
            record["ms"] = round((time.perf_counter() - start) * 1000, 1)
        record["isError"] = bool(reply.get("isError"))
        return reply


class _CodeSession(Session):
    """The script session, turning the runner's final answer into ``execute_code``'s result."""

    host: _CodeHost

    def _final_result(self, final: Mapping[str, Any], proc: ProcessResult) -> ToolResult:
        value = final.get("result")
        if not isinstance(value, Mapping):  # the runner always answers a result; a bug otherwise
            return super()._final_result(final, proc)
        out = {"stdout": value.get("stdout", ""), "result": value.get("result"), "calls": self.host.calls}
        if value.get("error"):
            out["error"] = value["error"]
            text = f"execute_code: the code failed\n{value['error']}"
            if out["stdout"]:
                text += f"\nstdout:\n{out['stdout']}"
            return ToolResult.text(text, is_error=True, structured=out)
        return ToolResult.text(json.dumps(out, ensure_ascii=False, default=str), structured=out)


async def run_code(code: str, tools: Mapping[str, str], ctx: CallContext) -> ToolResult:
    """Run ``code`` with ``tools`` (identifier -> tool name) for the call ``ctx``."""
    snap = ctx.snapshot
    state = snap.state_dir or (ctx.engine.state_dir if ctx.engine is not None else None)
    if state is None:
        return ToolResult.error("execute_code: this server has no state directory to run code from")
    host = _CodeHost(ctx, state)
    try:
        where = _runner_dir(state)
        argv = ["python3", str(where / "runner.py")]
        cmd = build_command(argv, _spec(where), cwd=where, config=snap.config)
        request = {"code": code, "tools": dict(tools), "max_stdout": cmd.limits.output // 2}
        result = await _CodeSession(NAME, None, cmd, ctx, host).run(request)
    except (RuntimeFailure, OSError) as exc:
        return ToolResult.error(f"execute_code: {exc}")
    if result.structured is None:  # timed out, crashed or killed: keep the calls it made
        out = {"stdout": "", "result": None, "calls": host.calls, "error": result.text_content()}
        return ToolResult(result.content, out, True, result.meta)
    return result
