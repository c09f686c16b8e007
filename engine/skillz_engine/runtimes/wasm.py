"""``kind: wasm``: a WebAssembly (WASI preview 1) module run in-process by wasmtime.

One wasmtime ``Engine`` per process, with fuel and epoch interruption. A ticker thread advances
the epoch every :data:`TICK` seconds while calls run; each call's store has an epoch deadline of
one tick and a deadline callback that decides, every tick, whether the call may go on: it stops
the module when ``limits.timeout`` has passed, when the caller cancelled, or when stdout went over
``limits.output``.

A call: the arguments as JSON on stdin (a memfd), stdout and stderr as pipes drained by the event
loop while the module runs in a worker thread, ``wasi.args`` / ``wasi.env`` / ``secrets`` as the
manifest says, the ``wasi.mounts`` of the entry preopened read-only, and nothing else: no other
files, no network. Exit 0 -> stdout is the result (JSON validated against ``outputSchema``
becomes ``structuredContent``); a non-zero exit or a trap -> ``isError`` with the trap kind and the
stderr tail.

Compiled modules are cached: in memory per process, and on disk as serialized modules under
``<state>/cache/wasm/<sha256(module, engine configuration, wasmtime version)>.cwasm``, so a
restart deserializes instead of compiling. Modules built from source (``build``) come from
:mod:`skillz_engine.runtimes.wasmbuild`: ahead of time through :meth:`WasmRuntime.build`, or lazily at the
first call (with progress notifications).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import hashlib
import itertools
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillz_engine.build.contract import CallContext
from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.command import secret_names
from skillz_engine.isolation.limits import Limits, limits_for
from skillz_engine.runtimes import results
from skillz_engine.runtimes.base import BuildOptions, CompileProblem, Services, tool_def
from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.model import Args, Compiled, EntrySpec, ToolResult

__all__ = ["DEFAULT_FUEL", "DEFAULT_MEMORY", "STATS", "TICK", "WasmRuntime", "shared_engine"]

log = logging.getLogger("skillz_engine.wasm")

TICK = 0.01  # seconds between epoch increments while calls run
DEFAULT_MEMORY = 256 << 20  # bytes of linear memory per module unless limits.memory says otherwise
DEFAULT_FUEL = 10**12  # instructions (about minutes of work: the timeout is the usual limit)
STATS: collections.Counter[str] = collections.Counter()  # compiled / deserialized / memory / built


def format_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


# --------------------------------------------------------------------------- the shared engine


class _Call:
    """What the deadline callback needs to know about one running call."""

    __slots__ = ("cancelled", "cap", "deadline", "out_fd", "reason")

    def __init__(self, deadline: float, out_fd: int, cap: int) -> None:
        self.deadline = deadline
        self.out_fd = out_fd
        self.cap = cap
        self.cancelled = False
        self.reason: str | None = None

    def overflowed(self) -> bool:
        try:
            return os.fstat(self.out_fd).st_size > self.cap
        except OSError:
            return False


_CALLS: dict[int, _Call] = {}
_IDS = itertools.count(1)


def _deadline_callback_type() -> Any:
    from wasmtime import _bindings as b

    return b._wasmtime_store_epoch_deadline_callback.argtypes[1]


def _on_deadline(_ctx: Any, data: Any, delta: Any, kind: Any) -> int:
    """Runs on the call's thread every tick: go on for one more tick, or stop with a reason."""
    call = _CALLS.get(int(data or 0))
    reason = None
    if call is None:
        reason = "the call was abandoned"
    elif call.cancelled:
        reason = "cancelled"
    elif call.overflowed():
        reason = "output"
    elif time.monotonic() >= call.deadline:
        reason = "timeout"
    if reason is None:
        delta[0] = 1
        kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
        return 0
    if call is not None:
        call.reason = reason
    from wasmtime import _bindings as b

    err = b.wasmtime_error_new(ctypes.create_string_buffer(f"skillz: stopped ({reason})".encode()))
    return int(ctypes.cast(err, ctypes.c_void_p).value or 0)


class SharedEngine:
    """The process's wasmtime engine, WASI linker, epoch ticker and module cache."""

    def __init__(self) -> None:
        import wasmtime

        cfg = wasmtime.Config()
        cfg.consume_fuel = True
        cfg.epoch_interruption = True
        self.engine = wasmtime.Engine(cfg)
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        from importlib.metadata import version

        self.config_id = f"wasmtime {version('wasmtime')}; fuel; epoch"
        self.modules: dict[str, Any] = {}  # key -> InstancePre
        self._lock = threading.Lock()
        self._active = 0
        self._wake = threading.Condition()
        self._ticker = threading.Thread(target=self._tick, name="skillz-wasm-epoch", daemon=True)
        self._ticker.start()
        self._callback: Any = None
        self._finalizer: Any = None
        with contextlib.suppress(Exception):  # the private binding may move: fall back to a fixed deadline
            from wasmtime import _bindings as b

            cb_type = _deadline_callback_type()
            fin_type = b._wasmtime_store_epoch_deadline_callback.argtypes[3]
            self._callback = cb_type(_on_deadline)
            self._finalizer = fin_type(0)

    # ticker ------------------------------------------------------------------------------

    def _tick(self) -> None:
        while True:
            with self._wake:
                while self._active == 0:
                    self._wake.wait()
            time.sleep(TICK)
            self.engine.increment_epoch()

    @contextlib.contextmanager
    def running(self) -> Any:
        with self._wake:
            self._active += 1
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                self._active -= 1

    # modules -----------------------------------------------------------------------------

    def key(self, binary: bytes) -> str:
        return hashlib.sha256(binary + b"\0" + self.config_id.encode()).hexdigest()

    def load(self, binary: bytes, cache_dir: Path | None) -> Any:
        """The ``InstancePre`` for a module: from memory, from the disk cache, or compiled (and
        then serialized to the cache, atomically)."""
        import wasmtime

        key = self.key(binary)
        pre = self.modules.get(key)
        if pre is not None:
            STATS["memory"] += 1
            return pre
        with self._lock:
            pre = self.modules.get(key)
            if pre is not None:
                return pre
            module = None
            path = cache_dir / f"{key}.cwasm" if cache_dir is not None else None
            if path is not None and path.is_file():
                try:
                    module = wasmtime.Module.deserialize_file(self.engine, str(path))
                    STATS["deserialized"] += 1
                except Exception as exc:  # a damaged or foreign cache file: compile again
                    log.warning("ignoring wasm cache file %s: %s", path, exc)
            if module is None:
                started = time.perf_counter()
                module = wasmtime.Module(self.engine, binary)
                STATS["compiled"] += 1
                log.info("compiled a wasm module (%d bytes) in %.1f ms", len(binary),
                         (time.perf_counter() - started) * 1000)  # fmt: skip
                if path is not None:
                    with contextlib.suppress(OSError):
                        path.parent.mkdir(parents=True, exist_ok=True)
                        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", dir=path.parent)
                        with os.fdopen(fd, "wb") as f:
                            f.write(module.serialize())
                        os.replace(tmp, path)
            pre = self.linker.instantiate_pre(module)
            self.modules[key] = pre
            return pre

    def configure(self, store: Any, call_id: int, timeout: float) -> None:
        """Every store gets a deadline (one tick + the callback, or the whole timeout)."""
        if self._callback is not None:
            from wasmtime import _bindings as b

            b.wasmtime_store_epoch_deadline_callback(store.ptr(), self._callback, ctypes.c_void_p(call_id),
                                                     self._finalizer)  # fmt: skip
            store.set_epoch_deadline(1)
        else:
            store.set_epoch_deadline(max(1, int(timeout / TICK) + 1))


_SHARED: SharedEngine | None = None
_SHARED_LOCK = threading.Lock()


def shared_engine() -> SharedEngine:
    global _SHARED
    if _SHARED is None:
        with _SHARED_LOCK:
            if _SHARED is None:
                _SHARED = SharedEngine()
    return _SHARED


# --------------------------------------------------------------------------- one call


@dataclass
class _Outcome:
    exit_code: int = 0
    trap: str | None = None  # trap kind (out of fuel, unreachable, ...)
    message: str | None = None
    reason: str | None = None  # timeout / cancelled / output (our own stops)


class _Files:
    """The call's stdin, stdout and stderr: memory files (memfd) the module opens by path, so
    no reader has to run while it writes; the deadline callback watches stdout's size."""

    def __init__(self, payload: bytes) -> None:
        self.fds: list[int] = []
        self.paths: list[Path] = []
        self.stdin = self._file("stdin", payload)
        self.stdout = self._file("stdout")
        self.stderr = self._file("stderr")

    def _file(self, name: str, data: bytes = b"") -> int:
        if _MEMFD:
            fd = os.memfd_create(f"skillz-{name}")
        else:
            fd, path = tempfile.mkstemp(prefix=f"skillz-wasm-{name}-")
            self.paths.append(Path(path))
        self.fds.append(fd)
        if data:
            os.write(fd, data)
        return fd

    @staticmethod
    def path(fd: int) -> str:
        return f"/proc/self/fd/{fd}"

    @staticmethod
    def read(fd: int, limit: int, *, tail: bool = False) -> tuple[bytes, int]:
        """Up to ``limit`` bytes (the head, or the tail) and the file's whole size."""
        size = os.fstat(fd).st_size
        start = max(0, size - limit) if tail else 0
        return os.pread(fd, min(limit, size), start), size

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        for p in self.paths:
            p.unlink(missing_ok=True)


_MEMFD = hasattr(os, "memfd_create")


def _run_sync(
    shared: SharedEngine,
    pre: Any,
    call_id: int,
    files: _Files,
    argv: list[str],
    env: list[tuple[str, str]],
    mounts: list[tuple[str, str]],
    limits: Limits,
    memory: int,
    fuel: int,
) -> _Outcome:
    import wasmtime

    store = wasmtime.Store(shared.engine)
    try:
        store.set_fuel(fuel)
        store.set_limits(memory_size=memory, instances=8, tables=8, memories=4)
        shared.configure(store, call_id, limits.timeout)
        wc = wasmtime.WasiConfig()
        wc.stdin_file = files.path(files.stdin)
        wc.stdout_file = files.path(files.stdout)
        wc.stderr_file = files.path(files.stderr)
        wc.argv = argv
        wc.env = env
        for host, guest in mounts:
            wc.preopen_dir(host, guest, False)
        store.set_wasi(wc)
        try:
            instance = pre.instantiate(store)
            start = instance.exports(store).get("_start")
            if start is None:
                return _Outcome(1, message="the module has no `_start` export (is it a WASI command?)")
            with shared.running():
                start(store)
            return _Outcome(0)
        except wasmtime.ExitTrap as exc:
            return _Outcome(exc.code)
        except wasmtime.Trap as exc:
            code = exc.trap_code
            kind = code.name.lower().replace("_", " ") if code is not None else "trap"
            return _Outcome(1, trap=kind, message=exc.message)
        except wasmtime.WasmtimeError as exc:
            return _Outcome(1, message=str(exc))
    finally:
        store.close()


# --------------------------------------------------------------------------- the runtime


def _diag(spec: EntrySpec, path: tuple[str | int, ...], code: str, message: str, hint: str) -> Diagnostic:
    from skillz_engine.tree.parse import format_json_path

    line, col = spec.positions.value(path)
    return Diagnostic(spec.display, line, col, code, Severity.ERROR, message, format_json_path(path), hint)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where the module comes from: a file of the entry (``.wasm`` / ``.wat``) or a build."""

    module: Path | None
    build: Any = None  # wasmbuild.Source when built from source
    mounts: tuple[tuple[str, str], ...] = ()


def _plan(spec: EntrySpec) -> _Plan:
    from skillz_engine.tree.validate import entry_path

    diags: list[Diagnostic] = []
    module: Path | None = None
    source = None
    build = spec.data.get("build")
    if isinstance(build, Mapping):
        language = str(build.get("language"))
        rel = str(build.get("source"))
        deps = [str(d) for d in build.get("dependencies") or ()]
        target = (spec.dir / rel).resolve()
        path, more = entry_path(spec, ("build", "source"), rel, kind="dir" if target.is_dir() else "file")
        diags += more
        if language == "wat" and path is not None and path.is_file():
            module = path  # WAT needs no toolchain: wasmtime compiles it directly
        elif path is not None:
            from skillz_engine.runtimes import wasmbuild

            for i, dep in enumerate(deps):
                try:
                    wasmbuild.parse_dependency(dep)
                except ValueError as exc:
                    diags.append(_diag(spec, ("build", "dependencies", i), "SKZ532", str(exc),
                                       "Name a crate and a semver requirement: `serde_json@1`, "
                                       "`serde@1.0[derive]`."))  # fmt: skip
            if deps and language != "rust":
                diags.append(_diag(spec, ("build", "dependencies"), "SKZ532",
                                   f"`dependencies` are Rust crates; a {language} build cannot use them",
                                   "Remove `dependencies`, or write the tool in Rust."))  # fmt: skip
            if not diags:
                try:
                    source = wasmbuild.source_from_dir(language, spec.dir, rel, deps, _display_dir(spec))
                except wasmbuild.BuildError as exc:
                    diags.append(_diag(spec, ("build", "source"), "SKZ530", exc.message,
                                       "Point `build.source` at the source file or directory."))  # fmt: skip
    else:
        rel = str(spec.data.get("module"))
        module, more = entry_path(spec, ("module",), rel)
        diags += more
    mounts: list[tuple[str, str]] = []
    wasi = spec.data.get("wasi") or {}
    for i, m in enumerate(wasi.get("mounts") or ()):
        host, more = entry_path(spec, ("wasi", "mounts", i, "host"), str(m["host"]), kind="dir")
        diags += more
        if host is not None:
            mounts.append((str(host), str(m["guest"])))
    if diags:
        raise CompileProblem(diags)
    return _Plan(module, source, tuple(mounts))


def _display_dir(spec: EntrySpec) -> str:
    return str(Path(spec.display).parent.as_posix())


class WasmRuntime:
    """Compiles ``kind: wasm`` entries into one tool each (no work until start or first call)."""

    kind = "wasm"

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        plan = _plan(spec)
        tool = _WasmTool(spec, services, plan)
        return Compiled(spec, tools=(tool_def(spec, tool.invoke),), start=tool.start)

    async def build(
        self, spec: EntrySpec, services: Services, progress: Callable[[str], None], options: BuildOptions
    ) -> list[Diagnostic]:
        """Build the entry's module ahead of time and put its compiled form in the module cache
        (idempotent: nothing is done when both are current)."""
        try:
            plan = _plan(spec)
        except CompileProblem as problem:
            return list(problem.diagnostics)
        import anyio

        from skillz_engine.runtimes import wasmbuild

        if options.force and plan.build is not None:
            await anyio.to_thread.run_sync(wasmbuild.forget, services.state_dir, plan.build)
        tool = _WasmTool(spec, services, plan)
        before = (STATS["built"], STATS["compiled"])
        try:
            await tool.prepare(progress)
        except _PrepareError as exc:
            return list(exc.diagnostics)
        if STATS["compiled"] > before[1]:
            progress("module compiled and cached for restarts")
        elif STATS["built"] == before[0]:
            progress("cached")
        return []


class _PrepareError(Exception):
    def __init__(self, message: str, diagnostics: tuple[Diagnostic, ...], log: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.diagnostics = diagnostics
        self.log = log


class _WasmTool:
    def __init__(self, spec: EntrySpec, services: Services, plan: _Plan) -> None:
        self.spec = spec
        self.services = services
        self.plan = plan
        self.pre: Any = None
        self._lock: Any = None
        wasi = spec.data.get("wasi") or {}
        self.argv = [spec.name, *(str(a) for a in wasi.get("args") or ())]
        env = {str(k): str(v) for k, v in (wasi.get("env") or {}).items()}
        self.secrets = secret_names(spec)
        self.env = env
        lim = spec.data.get("limits") or {}
        self.fuel = int(lim.get("fuel") or DEFAULT_FUEL)
        schema = spec.data.get("outputSchema")
        self.output_schema = schema if isinstance(schema, Mapping) else None

    @property
    def cache_dir(self) -> Path:
        return self.services.state_dir / "cache" / "wasm"

    def _limits(self) -> Limits:
        return limits_for(self.spec, self.services.config)

    async def start(self) -> None:
        """Make-before-break: load the module now when that is cheap (a file, or a build that is
        already in the cache); a build still to do waits for ``build`` or the first call."""
        import anyio

        if self.plan.module is None:
            from skillz_engine.runtimes import wasmbuild

            built = await anyio.to_thread.run_sync(wasmbuild.cached_module, self.services.state_dir,
                                                   self.plan.build)  # fmt: skip
            if built is None:
                return
        try:
            await self.prepare(lambda _m: None)
        except _PrepareError as exc:
            raise RuntimeFailure(exc.message) from exc

    async def prepare(self, progress: Callable[[str], None]) -> Any:
        """The module's ``InstancePre``: built if needed, compiled or loaded from the cache."""
        import anyio

        if self.pre is not None:
            return self.pre
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self.pre is None:
                self.pre = await anyio.to_thread.run_sync(self._prepare_sync, progress)
        return self.pre

    def _prepare_sync(self, progress: Callable[[str], None]) -> Any:
        import wasmtime

        from skillz_engine.runtimes import wasmbuild

        if self.plan.module is not None:
            path = self.plan.module
            data = path.read_bytes()
            if path.suffix == ".wat":
                try:
                    data = bytes(wasmtime.wat2wasm(data.decode("utf-8", "replace")))
                except wasmtime.WasmtimeError as exc:
                    shown = (
                        f"{_display_dir(self.spec)}/{path.relative_to(self.spec.dir.resolve()).as_posix()}"
                    )
                    diag = wasmbuild.wat_diagnostic(str(exc), shown)
                    raise _PrepareError(f"{path.name} is not valid WAT: {diag.format()}", (diag,)) from exc
        else:
            try:
                built = wasmbuild.build(self.services.state_dir, self.plan.build, progress=progress)
            except wasmbuild.BuildError as exc:
                diags = exc.diagnostics or (self._module_diag(f"{exc.message}: {exc.log.strip()[-400:]}"),)
                raise _PrepareError(exc.message, diags, exc.log) from exc
            if not built.cached:
                STATS["built"] += 1
            data = built.module.read_bytes()
        try:
            return shared_engine().load(data, self.cache_dir)
        except wasmtime.WasmtimeError as exc:
            raise _PrepareError(f"the module does not load: {exc}", (self._module_diag(str(exc)),)) from exc

    def _module_diag(self, message: str) -> Diagnostic:
        key = ("build", "source") if self.plan.module is None or "build" in self.spec.data else ("module",)
        first = message.strip().splitlines()[0] if message.strip() else message
        return _diag(self.spec, key, "SKZ530", first[:500], "Fix the module or its source.")

    async def invoke(self, arguments: Args, ctx: CallContext) -> ToolResult:
        import anyio

        try:
            if self.pre is None:
                pre = await self._prepare_with_progress(ctx)
            else:
                pre = self.pre
        except _PrepareError as exc:
            text = exc.message
            if exc.log.strip():
                text += "\n" + results.tail(exc.log, 4000)
            return ToolResult.error(f"{self.spec.name}: {text}")
        limits = self._limits()
        memory = limits.memory or DEFAULT_MEMORY
        env = list(self.env.items()) + [(n, os.environ[n]) for n in self.secrets if n in os.environ]
        payload = json.dumps(dict(arguments), ensure_ascii=False).encode() + b"\n"
        call_id = next(_IDS)
        files = _Files(payload)
        call = _Call(time.monotonic() + limits.timeout, files.stdout, limits.output)
        _CALLS[call_id] = call
        shared = shared_engine()
        finished = threading.Event()

        def work() -> _Outcome:
            try:
                return _run_sync(shared, pre, call_id, files, self.argv, env, list(self.plan.mounts),
                                 limits, memory, self.fuel)  # fmt: skip
            finally:
                finished.set()

        try:
            outcome = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
            if call.reason is not None:
                outcome.reason = call.reason
            out, size = files.read(files.stdout, limits.output)
            err, _ = files.read(files.stderr, results.STDERR_TAIL, tail=True)
            return self._result(outcome, out, size, err, limits, memory)
        finally:
            call.cancelled = True  # the deadline callback stops a module still running
            if not finished.is_set():
                with anyio.CancelScope(shield=True):
                    while not finished.is_set():  # its files must outlive it
                        await anyio.sleep(TICK / 2)
            _CALLS.pop(call_id, None)
            files.close()

    async def _prepare_with_progress(self, ctx: CallContext) -> Any:
        import anyio
        import anyio.from_thread

        steps = itertools.count(1)

        def progress(message: str) -> None:
            with contextlib.suppress(Exception):
                anyio.from_thread.run(ctx.progress, float(next(steps)), None, message)

        if self.plan.module is None:
            await ctx.progress(0.0, None, f"preparing {self.spec.name} (building from source on first use)")
        return await self.prepare(progress)

    def _result(
        self, o: _Outcome, out: bytes, size: int, stderr: bytes, limits: Limits, memory: int
    ) -> ToolResult:
        name = self.spec.name
        stdout = out.decode("utf-8", "replace")
        if o.reason == "output" or size > limits.output:
            return results.error_result(
                f"{name} wrote more than {format_size(limits.output)} to stdout (limits.output) and was "
                f"stopped; the first part was:\n{stdout[:500]}",
                stderr,
            )
        if o.reason == "timeout" or o.trap == "interrupt":
            return results.error_result(
                f"{name} timed out after {limits.timeout:g}s (limits.timeout)", stderr
            )
        if o.reason == "cancelled":
            return results.error_result(f"{name} was cancelled", stderr)
        if o.trap is not None:
            message = f"{name} trapped: {o.trap}"
            if o.trap == "out of fuel":
                message += f" (limits.fuel: {self.fuel})"
            elif o.trap in ("unreachable", "memory out of bounds"):
                message += f" (a panic, an abort or an out-of-memory; limits.memory is {format_size(memory)})"
            if stdout.strip():
                message += f"\nstdout:\n{results.tail(stdout)}"
            return results.error_result(message, stderr)
        if o.message is not None:
            message = o.message.strip()
            if "memory" in message and "limit" in message:
                message += f" (limits.memory is {format_size(memory)})"
            return results.error_result(f"{name} failed: {message}", stderr)
        if o.exit_code != 0:
            message = f"{name} exited with status {o.exit_code}"
            if stdout.strip():
                message += f"\nstdout:\n{results.tail(stdout)}"
            return results.error_result(message, stderr)
        return results.from_output(stdout.rstrip("\n"), self.output_schema)
