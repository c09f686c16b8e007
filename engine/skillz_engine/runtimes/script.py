"""``kind: script``: one process per call, speaking the Skillz-compatible JSON-RPC protocol.

``protocol: jsonrpc`` (the default). The engine writes one line to the script's stdin::

    {"jsonrpc": "2.0", "id": 1, "method": "execute",
     "params": {"arguments": {...}, "context": {...}}}

and keeps stdin open to answer the script's requests. The script writes newline-delimited JSON to
stdout, read as it arrives:

* notifications (``method``, no ``id``): ``log`` / ``logging/message`` / ``notifications/message``
  (params ``level``, ``message``, ``data``); ``progress`` / ``notifications/progress`` /
  ``progress/update`` (``progress`` or ``current``, ``total``, ``message``; sent to the client
  with its own progress token); ``stream`` / ``stream/chunk`` (``data``, ``index``,
  ``is_final``), sent to the client as log messages while the script runs and collected: they
  are the result when the final response has none;
* requests (``method`` and ``id``), answered on stdin: ``tools/call`` (``name``, ``arguments``;
  the result is the MCP tool result), ``resources/list``, ``resources/read`` (``uri``),
  ``memory/get|set|list|delete`` (:mod:`skillz_engine.state.memory`, one namespace per tool; Skillz's
  shapes ``{value}``, ``{success: true}``, ``{keys}``, ``{deleted}``, refusals as ``{error}``
  inside the result), ``elicitation/create`` and ``sampling/createMessage`` (MCP params and
  results; sent to the client as server requests on 2025-11-25 connections, as input-required
  rounds on 2026-07-28 ones while the script waits; a client without the capability gives the
  JSON-RPC error :data:`UNSUPPORTED`), ``roots/list`` (the client's roots, else the configured
  ones); anything else gets the JSON-RPC error -32601;
* the final response (``id`` with ``result`` or ``error``): the tool's result. After it, stdin is
  closed and the script has :data:`FINISH_GRACE` seconds to exit.

``context.roots`` is the client's roots (as paths for ``file://`` URIs) when the client offers
them on a connection that can ask without a round trip (2025-11-25), else the configured roots:
``SKILLZ_ROOTS`` (colon-separated, as in Skillz) when set, else the tree's roots.
``context.capabilities`` says what this call can really do.

Lines that are not JSON-RPC are kept as text; a script that exits 0 without a final response
returns that text. Unlike the Rust Skillz: errors are ``isError`` results, the environment is
clean, secrets never appear in the context, stderr cannot deadlock, and every run has a timeout.

``protocol: plain``: the arguments object is written to stdin as JSON and stdin is closed; stdout
is the result (JSON if it parses, else text).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import anyio

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure, ToolNotFound
from skillz_engine.isolation.command import build_command, build_env
from skillz_engine.isolation.process import Child, Command, ProcessResult, run
from skillz_engine.runtimes import results
from skillz_engine.runtimes.base import BuildOptions, CompileProblem, Services, tool_def
from skillz_engine.state.memory import MemoryRefused, check_ttl, memory_for
from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.model import Args, Compiled, EntrySpec, ToolResult

if TYPE_CHECKING:
    from skillz_engine.isolation.deps import Activation, Plan

__all__ = [
    "EXTENSIONS",
    "INTERPRETERS",
    "ScriptRuntime",
    "capabilities",
    "configured_roots",
    "execution_context",
]

FINISH_GRACE = 2.0  # seconds a script may take to exit after its final response

# interpreter name -> programs tried on PATH, in order
INTERPRETERS: dict[str, tuple[str, ...]] = {
    "python": ("python3", "python"),
    "python3": ("python3", "python"),
    "node": ("node", "nodejs"),
    "nodejs": ("nodejs", "node"),
    "bash": ("bash",),
    "sh": ("sh",),
    "ruby": ("ruby",),
    "perl": ("perl",),
}
EXTENSIONS = {".py": "python3", ".js": "node", ".mjs": "node", ".cjs": "node", ".sh": "bash",
              ".rb": "ruby", ".pl": "perl"}  # fmt: skip

UNSUPPORTED = -32000  # JSON-RPC error of a request the connected client cannot serve
ROOTS_TIMEOUT = 5.0  # seconds the client may take to list its roots for the context
LOG_METHODS = frozenset({"log", "logging/message", "notifications/message"})
PROGRESS_METHODS = frozenset({"progress", "notifications/progress", "progress/update"})
STREAM_METHODS = frozenset({"stream", "stream/chunk"})
CLIENT_METHODS = frozenset({"elicitation/create", "sampling/createMessage", "roots/list"})
LOG_LEVELS = frozenset({"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"})
_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical", "trace": "debug"}


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class _Interpreter:
    """How to start the entry: programs looked up on PATH at call time, a fixed path, or none."""

    names: tuple[str, ...] = ()
    path: Path | None = None

    def resolve(self, search_path: str) -> list[str]:
        if self.path is not None:
            return [str(self.path)]
        for name in self.names:
            found = shutil.which(name, path=search_path)
            if found:
                return [found]
        if self.names:
            raise RuntimeFailure(f"interpreter {self.names[0]!r} not found on PATH ({search_path})")
        return []

    @property
    def name(self) -> str | None:
        return str(self.path) if self.path is not None else (self.names[0] if self.names else None)


def _diag(spec: EntrySpec, key: str, code: str, message: str, hint: str) -> Diagnostic:
    line, col = spec.positions.value((key,))
    return Diagnostic(spec.display, line, col, code, Severity.ERROR, message, f"$.{key}", hint)


def _interpreter(spec: EntrySpec, entry: Path) -> tuple[_Interpreter, list[Diagnostic]]:
    from skillz_engine.tree.validate import entry_path

    raw = spec.data.get("interpreter")
    if isinstance(raw, str) and raw:
        if raw in INTERPRETERS:
            return _Interpreter(INTERPRETERS[raw]), []
        if raw.startswith("/"):
            return _Interpreter(path=Path(raw)), []
        if "/" in raw or "\\" in raw:
            path, diags = entry_path(spec, ("interpreter",), raw)
            return _Interpreter(path=path), diags
        return _Interpreter((raw,)), []
    by_ext = EXTENSIONS.get(entry.suffix.lower())
    if by_ext is not None:
        return _Interpreter(INTERPRETERS[by_ext]), []
    if not entry.stat().st_mode & 0o111:
        return _Interpreter(), [
            _diag(spec, "entry", "SKZ505",
                  f"cannot tell how to run {entry.name!r}: no `interpreter`, no known extension, "
                  "and the file is not executable",
                  "Add `interpreter: python3` (or node, bash, ...), or make the file executable "
                  "with a `#!` line.")
        ]  # fmt: skip
    return _Interpreter(), []


class ScriptRuntime:
    """Compiles ``kind: script`` entries into one tool each."""

    kind = "script"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        script = self._script(spec, services)
        tool = tool_def(spec, script.invoke)
        return Compiled(spec, tools=(tool,))

    async def build(
        self, spec: EntrySpec, services: Services, progress: Callable[[str], None], options: BuildOptions
    ) -> list[Diagnostic]:
        """Install the entry's dependency environments ahead of time (``skillz-engine build``)."""
        try:
            script = self._script(spec, services)
        except CompileProblem as problem:
            return list(problem.diagnostics)
        if script.deps is None:
            return []

        async def report(message: str) -> None:
            progress(message)

        try:
            act = await script.activate(report, force=options.force, rebuilt=options.rebuilt)
        except RuntimeFailure as exc:
            line, col = spec.positions.value(("dependencies",))
            message = f"installing the dependencies of {spec.name!r} failed: {exc}"
            hint = "Fix the requirement the installer output names, then run `skillz-engine build` again."
            return [
                Diagnostic(spec.display, line, col, "SKZ521", Severity.ERROR, message, "$.dependencies", hint)
            ]
        done = [f"installed {d}" for d in act.installed] + [f"cached {d}" for d in act.cached]
        progress(", ".join(done) if done else "uses the tool's own env/ directory")
        return []

    def _script(self, spec: EntrySpec, services: Services) -> _Script:
        from skillz_engine.isolation.deps import plan_for
        from skillz_engine.tree.validate import entry_path

        entry, diags = entry_path(spec, ("entry",), str(spec.data["entry"]))
        cwd: Path | None = spec.dir
        if "cwd" in spec.data:
            cwd, more = entry_path(spec, ("cwd",), str(spec.data["cwd"]), kind="dir")
            diags += more
        interpreter = _Interpreter()
        plan: Plan | None = None
        if entry is not None:
            interpreter, more = _interpreter(spec, entry)
            diags += more
            plan, more = plan_for(spec, entry, interpreter.name)
            diags += more
        if diags or entry is None or cwd is None:
            raise CompileProblem(diags)
        return _Script(spec, services, entry, cwd, interpreter, plan)


def configured_roots(ctx: CallContext) -> list[str]:
    """The roots a script sees when the client offers none: ``SKILLZ_ROOTS`` or the tree's roots."""
    env = os.environ.get("SKILLZ_ROOTS", "")
    if env.strip():
        return [r for r in env.split(":") if r]
    return [str(r) for r in ctx.snapshot.roots]


def _root_path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


async def _client_roots(ctx: CallContext) -> list[str] | None:
    """The client's roots for the context, when it offers them without a round trip."""
    if "roots" not in ctx.client_capabilities or ctx.questions_cost_round_trip:
        return None
    try:
        with anyio.fail_after(ROOTS_TIMEOUT):
            roots = await ctx.list_roots()
    except (RuntimeFailure, TimeoutError):
        return None
    return [_root_path(str(r["uri"])) for r in roots if isinstance(r.get("uri"), str)]


def capabilities(ctx: CallContext) -> dict[str, bool]:
    """What a script can ask of this call (``context.capabilities``)."""
    client = ctx.client_capabilities
    return {
        "memory": True,
        "resources": True,
        "tools": True,
        "sampling": "sampling" in client,
        "elicitation": "elicitation" in client,
        "roots": "roots" in client,
    }


async def execution_context(cmd: Command, ctx: CallContext) -> dict[str, Any]:
    """The ``context`` of the execute request: what the script may know about its call."""
    meta: dict[str, Any] = {}
    if ctx.progress_token is not None:
        meta["progressToken"] = ctx.progress_token
    roots = await _client_roots(ctx)
    tree = ctx.snapshot.roots
    return {
        "roots": roots if roots is not None else configured_roots(ctx),
        "tool_name": ctx.tool_name,
        "tools_dir": str(tree[0] / "tools") if tree else "",  # Skillz's key: where tools are written
        "working_directory": str(cmd.cwd),
        "environment": cmd.public_env(),
        "secrets": list(cmd.secrets),
        "capabilities": capabilities(ctx),
        "_meta": meta,
    }


@dataclass(frozen=True, slots=True)
class _Script:
    spec: EntrySpec
    services: Services
    entry: Path
    cwd: Path
    interpreter: _Interpreter
    deps: Plan | None = None

    @property
    def output_schema(self) -> Mapping[str, Any] | None:
        schema = self.spec.data.get("outputSchema")
        return schema if isinstance(schema, Mapping) else None

    async def activate(
        self, report: Callable[[str], Any], *, force: bool = False, rebuilt: set[str] | None = None
    ) -> Activation:
        """The interpreter argv and extra variables, with the dependency environments installed."""
        from skillz_engine.isolation.deps import Activation
        from skillz_engine.isolation.installers import Settings

        path = build_env(self.spec)["PATH"]
        program = self.interpreter.resolve(path)
        if self.deps is None:
            return Activation(program)
        settings = Settings.from_config(self.services.config)
        state = self.services.state_dir
        return await self.deps.activate(program, path, state, settings, report, force=force, rebuilt=rebuilt)

    async def command(self, ctx: CallContext | None = None) -> Command:
        args = [str(a) for a in self.spec.data.get("args") or ()]
        try:
            act = await self.activate(_install_reporter(self.spec.name, ctx))
        except RuntimeFailure as exc:
            if ctx is not None and self.deps is not None:
                await ctx.log("error", f"{self.spec.name}: dependencies not installed: {exc}", self.spec.name)
            raise
        argv = [*act.program, str(self.entry), *args]
        return build_command(argv, self.spec, cwd=self.cwd, config=self.services.config, extra_env=act.env)

    async def invoke(self, arguments: Args, ctx: CallContext) -> ToolResult:
        try:
            cmd = await self.command(ctx)
            if self.spec.data.get("protocol", "jsonrpc") == "plain":
                return await self._plain(cmd, arguments)
            return await _Session(self, cmd, ctx).run(arguments)
        except RuntimeFailure as exc:
            return ToolResult.error(f"{self.spec.name}: {exc}")

    def failure(self, cmd: Command, proc: ProcessResult, text: str = "") -> ToolResult:
        """The error result of a run that timed out, crashed or exited non-zero."""
        if proc.timed_out:
            message = f"{self.spec.name} timed out after {cmd.limits.timeout:g}s"
        else:
            message = f"{self.spec.name} {proc.exit_description()}"
        if text.strip():
            message += f"\nstdout:\n{results.tail(text)}"
        return results.with_note(results.error_result(message, proc.stderr), proc.truncation_note())

    async def _plain(self, cmd: Command, arguments: Args) -> ToolResult:
        payload = json.dumps(dict(arguments), ensure_ascii=False).encode() + b"\n"
        proc = await run(cmd, input=payload)
        if not proc.ok:
            return self.failure(cmd, proc, proc.stdout_text())
        result = results.from_output(proc.stdout_text().rstrip("\n"), self.output_schema)
        return results.with_note(result, proc.truncation_note())


def _install_reporter(name: str, ctx: CallContext | None) -> Callable[[str], Any]:
    """Install progress of a first call, sent to the client as progress and log notifications."""
    step = 0

    async def report(message: str) -> None:
        nonlocal step
        step += 1
        if ctx is not None:
            await ctx.progress(step, None, f"{name}: {message}")
            await ctx.log("info", f"{name}: {message}", name)

    return report


def _protocol_message(line: str) -> dict[str, Any] | None:
    """The JSON-RPC message on ``line``, or ``None`` if the line is text."""
    if not line.lstrip().startswith("{"):
        return None
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    if not isinstance(msg, dict):
        return None
    if "jsonrpc" in msg or isinstance(msg.get("method"), str):
        return msg
    return msg if "id" in msg and ("result" in msg or "error" in msg) else None


def _nested_reply(name: str, result: ToolResult) -> dict[str, Any]:
    """A ``tools/call`` answer: the MCP tool result, plus Skillz's ``output`` (the structured value,
    else the text as JSON when it parses, else the text) or ``error`` (the failure's text)."""
    reply = result.to_json()
    text = result.text_content()
    if result.is_error:
        reply["error"] = f"Tool '{name}' failed: {text}"
    elif result.structured is not None:
        reply["output"] = result.structured
    else:
        try:
            reply["output"] = json.loads(text)
        except ValueError:
            reply["output"] = text
    return reply


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class _Session:
    """One jsonrpc conversation with a script."""

    def __init__(self, script: _Script, cmd: Command, ctx: CallContext) -> None:
        self.script = script
        self.cmd = cmd
        self.ctx = ctx
        self.final: dict[str, Any] | None = None
        self.text: list[str] = []
        self.chunks: list[Any] = []

    async def run(self, arguments: Args) -> ToolResult:
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "execute",
            "params": {"arguments": dict(arguments), "context": await execution_context(self.cmd, self.ctx)},
        }
        line = json.dumps(request, ensure_ascii=False, default=str).encode() + b"\n"
        proc = await run(self.cmd, input=line, close_stdin=False, on_line=self.on_line)
        note = proc.truncation_note()
        if self.final is not None:
            return results.with_note(self._final_result(proc), note)
        text = "\n".join(self.text)
        if not proc.ok:
            return self.script.failure(self.cmd, proc, text)
        if not text and self.chunks:
            joined = self._joined_chunks()
            text = joined if isinstance(joined, str) else json.dumps(joined, ensure_ascii=False)
        return results.with_note(results.from_output(text, self.script.output_schema), note)

    def _final_result(self, proc: ProcessResult) -> ToolResult:
        assert self.final is not None
        if "error" in self.final and self.final["error"] is not None:
            error = self.final["error"]
            if isinstance(error, Mapping):
                message = f"{self.script.spec.name} failed: error {error.get('code')}: {error.get('message')}"
                if error.get("data") is not None:
                    message += f"\ndata: {json.dumps(error['data'], ensure_ascii=False, default=str)}"
            else:
                message = f"{self.script.spec.name} failed: {error}"
            return results.error_result(message, proc.stderr)
        value = self.final.get("result")
        if value is None and self.chunks:  # a streaming script: its chunks are the result
            value = self._joined_chunks()
        return results.from_json(value, self.script.output_schema)

    def _joined_chunks(self) -> Any:
        if all(isinstance(c, str) for c in self.chunks):
            return "".join(self.chunks)
        return list(self.chunks)

    async def on_line(self, raw: bytes, child: Child) -> None:
        line = raw.decode("utf-8", "replace")
        if not line.strip():
            return
        msg = _protocol_message(line)
        if msg is None:
            if self.final is None:
                self.text.append(line)
            return
        method = msg.get("method")
        if isinstance(method, str):
            params = msg.get("params")
            params = params if isinstance(params, Mapping) else {}
            if method in LOG_METHODS | PROGRESS_METHODS | STREAM_METHODS:
                await self._notification(method, params)
            elif msg.get("id") is not None:
                child.start_soon(self._answer, msg.get("id"), method, params, child)
            return
        if ("result" in msg or "error" in msg) and self.final is None:
            self.final = msg
            child.finish(FINISH_GRACE)
            await child.close_stdin()

    async def _notification(self, method: str, params: Mapping[str, Any]) -> None:
        logger = self.script.spec.name
        if method in LOG_METHODS:
            level = str(params.get("level") or "info").lower()
            level = _LEVEL_ALIASES.get(level, level)
            data = params.get("data")
            await self.ctx.log(level if level in LOG_LEVELS else "info",
                               data if data is not None else params.get("message"), logger)  # fmt: skip
        elif method in PROGRESS_METHODS:
            progress = _number(params.get("progress", params.get("current")))
            if progress is None:
                return
            message = params.get("message")
            await self.ctx.progress(progress, _number(params.get("total")),
                                    message if isinstance(message, str) else None)  # fmt: skip
        else:
            data = params.get("data")
            self.chunks.append(data)
            chunk = {
                "type": "stream_chunk",
                "index": params.get("index", len(self.chunks) - 1),
                "is_final": bool(params.get("is_final", False)),
                "data": data,
            }
            await self.ctx.log("info", chunk, logger)

    async def _answer(self, rid: Any, method: str, params: Mapping[str, Any], child: Child) -> None:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
        try:
            if method in CLIENT_METHODS:  # waiting for a person or a model is not the script's time
                with child.waiting():
                    reply["result"] = await self._request(method, params)
            else:
                reply["result"] = await self._request(method, params)
        except _RpcError as exc:
            reply["error"] = {"code": exc.code, "message": exc.message}
        except Exception as exc:  # an engine fault answering: tell the script, keep going
            reply["error"] = {"code": -32603, "message": f"internal error: {type(exc).__name__}: {exc}"}
        await child.send(json.dumps(reply, ensure_ascii=False, default=str).encode() + b"\n")

    async def _request(self, method: str, params: Mapping[str, Any]) -> Any:
        snapshot = self.ctx.snapshot
        if method == "tools/call":
            name = params.get("name")
            arguments = params.get("arguments") or {}
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except ValueError as exc:
                    raise _RpcError(-32602, f"arguments is not JSON: {exc}") from exc
            if not isinstance(name, str):
                raise _RpcError(-32602, "tools/call needs a string `name`")
            try:
                result = await self.ctx.call_tool(name, arguments)
            except ToolNotFound as exc:
                raise _RpcError(-32602, str(exc)) from exc
            return _nested_reply(name, result)
        if method == "resources/list":
            listed = []
            for r in snapshot.resources.values():
                item = {"uri": r.uri, "name": r.name, "title": r.title, "description": r.description,
                        "mimeType": r.mime_type, "size": r.size}  # fmt: skip
                listed.append({k: v for k, v in item.items() if v is not None})
            return {"resources": listed}
        if method == "resources/read":
            uri = params.get("uri")
            if not isinstance(uri, str):
                raise _RpcError(-32602, "resources/read needs a string `uri`")
            resource = snapshot.resources.get(uri)
            if resource is not None:
                return {"contents": await resource.read(snapshot)}
            found = snapshot.find_template(uri)
            if found is not None:
                template, values = found
                return {"contents": await template.read(uri, values, snapshot)}
            raise _RpcError(-32002, f"resource not found: {uri}")
        if method.startswith("memory/"):
            return self._memory(method, params)
        if method == "elicitation/create":
            if not isinstance(params.get("message"), str):
                raise _RpcError(-32602, "elicitation/create needs a string `message`")
            return await self._ask("elicitation", self.ctx.elicit, params)
        if method == "sampling/createMessage":
            if not isinstance(params.get("messages"), list):
                raise _RpcError(-32602, "sampling/createMessage needs a `messages` list")
            params = {"maxTokens": 1000, **params}
            return await self._ask("sampling", self.ctx.sample, params)
        if method == "roots/list":
            return {"roots": await self._roots()}
        raise _RpcError(-32601, f"Method not found: {method}")

    async def _ask(self, capability: str, ask: Any, params: Mapping[str, Any]) -> Any:
        if capability not in self.ctx.client_capabilities:
            raise _RpcError(UNSUPPORTED, f"the connected client does not support {capability}")
        try:
            return await ask(params)
        except RuntimeFailure as exc:
            raise _RpcError(UNSUPPORTED, str(exc)) from exc

    async def _roots(self) -> list[dict[str, Any]]:
        if "roots" in self.ctx.client_capabilities:
            try:
                return await self.ctx.list_roots()
            except RuntimeFailure:
                pass
        return [
            {"uri": Path(r).absolute().as_uri(), "name": Path(r).name} for r in configured_roots(self.ctx)
        ]

    def _memory(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        ns = self.script.spec.name  # one namespace per tool; a script cannot pick another
        raw = params.get("key")
        key = raw if isinstance(raw, str) else ""  # "" is refused with "key must be a non-empty string"
        try:
            state = self.ctx.snapshot.state_dir or self.script.services.state_dir
            store = memory_for(self.ctx.snapshot.config, state)
            if method == "memory/get":
                return {"value": store.get(ns, key)[1]}
            if method == "memory/set":
                if "value" not in params:
                    raise MemoryRefused("memory/set needs a `value`")
                store.set(ns, key, params["value"], check_ttl(params.get("ttl")))
                return {"success": True}
            if method == "memory/list":
                return {"keys": store.keys(ns)}
            if method == "memory/delete":
                return {"deleted": store.delete(ns, key)}
        except MemoryRefused as exc:
            return {"error": str(exc)}  # Skillz answers refusals inside the result
        raise _RpcError(-32601, f"Method not found: {method}")
