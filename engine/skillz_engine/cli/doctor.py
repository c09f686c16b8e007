"""``skillz-engine doctor``: which runtimes this machine has.

Interpreters, package managers, sandboxes (and whether they really work: each is run once with
``true``, as tools are run), ``prlimit`` and the pids cgroup behind ``limits``, the Docker daemon,
and the WASM toolchains. Every probe is a real run of the program with a short timeout (the
Docker daemon is asked through the SDK, as services reach it); nothing here imports wasmtime.
The probes run in parallel threads, so the whole report takes about as long as the slowest probe.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Check", "Report", "probe", "render_text"]

TIMEOUT = 5.0  # seconds per probe
_VERSION = re.compile(r"\d+(?:\.\d+)+(?:[-+.\w]*)?")


@dataclass(frozen=True, slots=True)
class Check:
    """One thing probed: found and working (``ok``), its version, its path, and what we saw."""

    name: str
    ok: bool
    version: str | None = None
    path: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Report:
    interpreters: list[Check]
    package_managers: list[Check]
    sandboxes: list[Check]
    sandbox_auto: str
    limits: list[Check]
    docker: Check
    wasm: list[Check]

    def to_json(self) -> dict[str, Any]:
        return {
            "interpreters": [c.to_json() for c in self.interpreters],
            "packageManagers": [c.to_json() for c in self.package_managers],
            "sandboxes": {"auto": self.sandbox_auto, "programs": [c.to_json() for c in self.sandboxes]},
            "limits": [c.to_json() for c in self.limits],
            "docker": self.docker.to_json(),
            "wasm": [c.to_json() for c in self.wasm],
        }


def _run(argv: Sequence[str], timeout: float = TIMEOUT, cwd: str | None = None) -> tuple[int, str]:
    """Exit code and stdout+stderr of ``argv`` (-1 and the reason when it cannot run)."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL, cwd=cwd)  # fmt: skip
    except subprocess.TimeoutExpired:
        return -1, f"no answer within {timeout:g}s"
    except OSError as exc:
        return -1, exc.strerror or str(exc)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _version(text: str) -> str | None:
    m = _VERSION.search(text)
    return m.group(0) if m else None


def _program(
    name: str, version_args: Sequence[str] = ("--version",), *, label: str | None = None, beside: bool = False
) -> Check:
    from skillz_engine.isolation.programs import resolve_program

    path = shutil.which(name)
    if path is None and beside:  # as the installers find uv: in the engine's venv, active or not
        path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        return Check(label or name, False, detail="not found on PATH")
    real = resolve_program(path, Path.cwd(), dict(os.environ))  # a pyenv shim -> the real interpreter
    code, out = _run([real, *version_args])
    if code != 0:
        return Check(
            label or name, False, path=real, detail=out.splitlines()[-1] if out else f"exit code {code}"
        )
    return Check(label or name, True, _version(out), real)


def interpreters() -> list[Callable[[], Check]]:
    return [lambda: _program("python3"), lambda: _program("node"), lambda: _program("bash"),
            lambda: _program("ruby"), lambda: _program("perl", ("-e", "print $^V"))]  # fmt: skip


def package_managers() -> list[Callable[[], Check]]:
    def pip() -> Check:
        python = shutil.which("python3")
        if python is None:
            return Check("pip", False, detail="no python3 on PATH")
        check = _program("python3", ("-m", "pip", "--version"), label="pip")
        return check if check.ok else Check("pip", False, path=check.path, detail=check.detail)

    return [pip, lambda: _program("uv", beside=True), lambda: _program("npm")]


def _sandbox_check(mode: str) -> Check:
    from skillz_engine.isolation.detect import INSTALL_HINTS, detect

    found = detect()
    path = found.paths[mode]
    if path is None:
        return Check(mode, False, detail=f"not installed: {INSTALL_HINTS[mode]}")
    _, out = _run([path, "--version"])
    if found.works[mode]:
        return Check(mode, True, _version(out), path, "works (ran `true` inside it)")
    return Check(mode, False, _version(out), path, f"installed but does not work here: {found.errors[mode]}")


def limits_checks() -> list[Check]:
    from skillz_engine.isolation.cgroup import pids_cgroup_base
    from skillz_engine.isolation.detect import INSTALL_HINTS, detect

    prlimit = detect().prlimit
    checks = []
    if prlimit is None:
        checks.append(
            Check("prlimit", False, detail=f"not found: limits cannot be applied; {INSTALL_HINTS['prlimit']}")
        )
    else:
        _, out = _run([prlimit, "--version"])
        checks.append(
            Check("prlimit", True, _version(out), prlimit, "limits.memory, cpu, processes, openFiles")
        )
    cgroup = pids_cgroup_base()
    if cgroup is not None:
        checks.append(
            Check(
                "pids cgroup",
                True,
                path=str(cgroup),
                detail="limits.processes counts the tool's own processes",
            )
        )
    else:
        detail = "not writable: limits.processes falls back to RLIMIT_NPROC"
        if os.geteuid() == 0:
            detail += ", which the kernel does not enforce for root"
        checks.append(Check("pids cgroup", False, detail=detail))
    return checks


def docker() -> Check:
    """Whether a Docker daemon answers, its version and API version (through the SDK, as
    ``kind: service`` reaches it: ``DOCKER_HOST``, else the default socket)."""
    from skillz_engine.runtimes.service.client import ServiceFailure, docker_host, info

    try:
        daemon = info()
    except ServiceFailure as exc:
        return Check("docker daemon", False, path=docker_host(), detail=str(exc))
    return Check("docker daemon", True, daemon["version"], daemon["host"], f"reachable (API {daemon['api']})")


def _wasmtime() -> Check:
    if importlib.util.find_spec("wasmtime") is None:
        return Check("wasmtime (python)", False, detail="not installed: pip install wasmtime")
    try:
        version: str | None = importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return Check("wasmtime (python)", True, version, detail="importable")


def _clang_wasi() -> Check:
    clang = shutil.which("clang")
    if clang is None:
        return Check(
            "clang wasm32-wasi",
            False,
            detail="no clang: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32",
        )
    _, out = _run([clang, "--version"])
    with tempfile.TemporaryDirectory(prefix="skillz-doctor-") as tmp:
        src = Path(tmp) / "hello.c"
        src.write_text('#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n')
        code, err = _run(
            [clang, "--target=wasm32-wasi", "-O0", str(src), "-o", str(Path(tmp) / "hello.wasm")]
        )
        if code != 0:
            last = err.splitlines()[-1] if err else f"exit code {code}"
            fix = "apt-get install lld wasi-libc libclang-rt-dev-wasm32"
            return Check(
                "clang wasm32-wasi",
                False,
                _version(out),
                clang,
                f"cannot build for wasm32-wasi ({last}): {fix}",
            )
    return Check("clang wasm32-wasi", True, _version(out), clang, "compiles and links C with wasi-libc")


def _rustc_wasi() -> Check:
    rustc = "/usr/bin/rustc" if Path("/usr/bin/rustc").exists() else shutil.which("rustc")
    if rustc is None:
        return Check(
            "rustc wasm32-wasi", False, detail="no rustc: apt-get install rustc libstd-rust-dev-wasm32"
        )
    _, out = _run([rustc, "--version"])
    code, sysroot = _run([rustc, "--print", "sysroot"])
    if code == 0 and (Path(sysroot) / "lib" / "rustlib" / "wasm32-wasi").is_dir():
        return Check("rustc wasm32-wasi", True, _version(out), rustc, "has the wasm32-wasi standard library")
    return Check("rustc wasm32-wasi", False, _version(out), rustc,
                 "no wasm32-wasi standard library: apt-get install libstd-rust-dev-wasm32")  # fmt: skip


def _cargo() -> Check:
    # Debian's cargo pairs with Debian's rustc (the one with wasm32-wasi); a rustup cargo may come first
    return _program("/usr/bin/cargo" if Path("/usr/bin/cargo").exists() else "cargo", label="cargo")


def wasm() -> list[Callable[[], Check]]:
    return [_wasmtime, _clang_wasi, _rustc_wasi,
            _cargo]  # fmt: skip


def probe() -> Report:
    """Probe everything (in parallel) and return the report."""
    from skillz_engine.isolation.detect import AUTO_ORDER, detect

    groups: dict[str, list[Callable[[], Check]]] = {
        "interpreters": interpreters(),
        "package_managers": package_managers(),
        "wasm": wasm(),
        "docker": [docker],
    }
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {k: [pool.submit(fn) for fn in fns] for k, fns in groups.items()}
        detected = pool.submit(detect)
        detected.result()
        sandboxes = [_sandbox_check(m) for m in AUTO_ORDER]
        limits = limits_checks()
        results = {k: [f.result() for f in fs] for k, fs in futures.items()}
    return Report(
        interpreters=results["interpreters"],
        package_managers=results["package_managers"],
        sandboxes=sandboxes,
        sandbox_auto=detect().auto,
        limits=limits,
        docker=results["docker"][0],
        wasm=results["wasm"],
    )


def _lines(checks: Sequence[Check]) -> list[str]:
    name_w = max((len(c.name) for c in checks), default=0)
    version_w = max((len(c.version or "") for c in checks), default=0)
    out = []
    for c in checks:
        mark = "ok" if c.ok else "--"
        where = "  ".join(p for p in (c.path or "", c.detail) if p)
        out.append(f"  {mark}  {c.name:<{name_w}}  {c.version or '':<{version_w}}  {where}".rstrip())
    return out


def render_text(report: Report) -> str:
    auto = report.sandbox_auto
    auto_text = f"auto picks {auto}" if auto != "none" else "auto finds none: tools run unsandboxed"
    sections: list[tuple[str, list[Check]]] = [
        ("interpreters", report.interpreters),
        ("package managers", report.package_managers),
        (f"sandboxes ({auto_text})", report.sandboxes),
        ("limits", report.limits),
        ("docker", [report.docker]),
        ("wasm toolchains", report.wasm),
    ]
    lines: list[str] = []
    for title, checks in sections:
        lines.append(title)
        lines += _lines(checks)
    return "\n".join(lines) + "\n"
