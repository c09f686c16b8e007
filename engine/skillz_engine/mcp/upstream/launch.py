"""How an ``mcp-server`` manifest becomes a transport to its upstream.

* stdio (``command``/``args``/``env``/``cwd``): the process is described as a script tool's is
  (:func:`skillz_engine.isolation.command.build_command`): a clean environment (``PATH``, ``HOME``,
  ``LANG``, the manifest's ``env`` and only the ``SKILLZ_*`` secrets it names), wrapped in the
  configured ``sandbox`` and ``limits``; its stderr goes to a log file in the state directory,
  whose last lines explain a failed start.
* Streamable HTTP (``url``, ``headers``) and legacy SSE (``transport: sse``): header values may
  name listed secrets as ``${SKILLZ_NAME}``.
* ``image``/``build`` (an upstream in a container, Docker's gateway model): the same stdio, through
  a hardened, labelled ``docker run -i --rm`` (:mod:`skillz_engine.runtimes.service.stdio`).

Everything a launch needs is resolved at compile time (:func:`launch_for`), so a manifest that
cannot launch is a diagnostic with file:line:col, not a failure on first use.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from skillz_engine.build.contract import CompileProblem
from skillz_engine.errors import RuntimeFailure
from skillz_engine.tree.config import Config
from skillz_engine.tree.diagnostics import Diagnostic, Severity
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.paths import PathEscape, safe_join
from skillz_engine.tree.specs import McpServerSpec

if TYPE_CHECKING:
    from skillz_engine.mcp.upstream.rpc import Channel

SECRET_REF = re.compile(r"\$\{(SKILLZ_[A-Za-z0-9_]+)\}")
STDERR_TAIL = 2000  # characters of the upstream's stderr quoted when it fails


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to reach one upstream (``digest`` identifies it: an edit that changes it
    starts a new upstream, make-before-break)."""

    transport: Literal["stdio", "streamable-http", "sse"]
    argv: tuple[str, ...] = ()
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    stderr: Path | None = None  # where a stdio upstream's stderr goes
    cgroup: Path | None = (
        None  # an unsandboxed stdio upstream's pids cgroup (made and emptied per connection)
    )
    # run (in a worker thread) before each connection: a container upstream's image is made here
    prepare: Callable[[], object] | None = field(default=None, compare=False, repr=False)

    @property
    def digest(self) -> str:
        parts = [self.transport, self.argv, str(self.cwd), sorted(self.env.items()), self.url]
        parts.append(sorted(self.headers.items()))
        return hashlib.blake2b(json.dumps(parts, default=str).encode(), digest_size=10).hexdigest()

    def describe(self) -> str:
        """What it runs or reaches, secrets left out (for diagnostics)."""
        return " ".join(self.argv) if self.transport == "stdio" else f"{self.transport} {self.url}"

    def stderr_tail(self) -> str:
        """The last lines the stdio upstream wrote to stderr ("" when none)."""
        if self.stderr is None:
            return ""
        try:
            with self.stderr.open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - STDERR_TAIL))
                return f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""


def launch_for(spec: EntrySpec, config: Config, stderr: Path) -> Launch:
    """The launch of ``spec``; raises :class:`CompileProblem` when it cannot be launched."""
    r = spec.record_as(McpServerSpec)
    if r.image or r.build:
        return _container(spec, r, stderr)
    if r.url:
        headers = {str(k): _fill(spec, r, str(k), str(v)) for k, v in r.headers.items()}
        return Launch(r.transport, url=r.url, headers=headers)
    if not r.command:
        raise CompileProblem([spec.diag((), "SKZ541", "an mcp-server needs `command` or `url`")])
    from skillz_engine.isolation.command import build_command

    try:
        cwd = safe_join(spec.dir, r.cwd, kind="dir") if r.cwd else spec.dir
        cmd = build_command([r.command, *r.args], spec, cwd=cwd, config=config)
    except (RuntimeFailure, PathEscape) as exc:
        where: tuple[str, ...] = ("cwd",) if isinstance(exc, PathEscape) else ("command",)
        raise CompileProblem(
            [spec.diag(where, "SKZ542", f"this upstream cannot be launched: {exc}", hint=_hint(exc))]
        ) from None
    if r.limits.processes is not None:
        raise CompileProblem(
            [
                spec.diag(
                    ("limits", "processes"),
                    "SKZ542",
                    "`limits.processes` is not applied to an upstream MCP server",
                    hint="Remove it; memory, cpu and openFiles limits apply.",
                    at_key=True,
                )
            ]
        )
    argv = cmd.argv
    if cmd.cgroup is not None and str(cmd.cgroup) in argv:
        # On cgroup v2 an unsandboxed run is wrapped to join a pids cgroup that the run's end
        # empties (on v1 the spawner joins it and nothing wraps the argv): right for a tool call,
        # wrong for a server that lives as long as its connection (and reconnects). The stdio
        # channel stops the upstream's process group itself; the wrapper is left out.
        argv = argv[argv.index(str(cmd.cgroup)) + 1 :]
    return Launch("stdio", argv=argv, cwd=cmd.cwd, env=dict(cmd.env), stderr=stderr)


def _container(spec: EntrySpec, r: McpServerSpec, stderr: Path) -> Launch:
    """An upstream in its own container over stdio (``image`` or ``build``), as Docker's MCP gateway
    runs one: the hardened, labelled ``docker run -i --rm`` of
    :func:`skillz_engine.runtimes.service.stdio.stdio_argv`, its image made (``build``) or checked
    (``image``, never pulled) before each connection, with the reason as the upstream's state."""
    from skillz_engine.runtimes.service.handle import ServiceHandle
    from skillz_engine.runtimes.service.stdio import container_plan, stdio_argv

    docker = shutil.which("docker")
    if docker is None:
        hint = "Install the Docker client (Debian: docker.io), or run the upstream with `command`."
        key = "image" if r.image else "build"
        raise CompileProblem([spec.diag((key,), "SKZ540", "the `docker` client is not installed", hint)])
    state_dir = stderr.parent.parent  # <state>/mcp-servers/<entry>.stderr.log
    try:
        argv, env = stdio_argv(spec, state_dir, spec.fingerprint, docker=docker)
        handle = ServiceHandle(container_plan(spec, state_dir, spec.fingerprint))
    except (RuntimeFailure, PathEscape, ValueError) as exc:
        raise CompileProblem(
            [spec.diag((), "SKZ540", f"this container upstream cannot be launched: {exc}")]
        ) from None
    return Launch("stdio", argv=tuple(argv), cwd=spec.dir, env=env, stderr=stderr, prepare=handle.image)


def _package(args: tuple[str, ...]) -> tuple[int, str] | None:
    """The first argument that is not an option (the package a launcher runs), with its index."""
    skip = False
    for i, a in enumerate(args):
        if skip:
            skip = False
        elif a in ("--from", "--with", "-p", "--package", "--python"):
            return (i + 1, args[i + 1]) if a in ("--from", "-p", "--package") and i + 1 < len(args) else None
        elif not a.startswith("-"):
            return i, a
    return None


def unpinned(spec: EntrySpec) -> Diagnostic | None:
    """A warning when ``npx``/``uvx`` runs a package without a version: what runs would change
    under the tree with every release (``npx pkg@1.2.3``, ``uvx pkg==1.2.3`` are pinned)."""
    r = spec.record_as(McpServerSpec)
    launcher = Path(r.command or "").name
    if launcher not in ("npx", "uvx", "bunx", "pipx"):
        return None
    found = _package(r.args)
    if found is None:
        return None
    i, pkg = found
    if launcher == "uvx" or launcher == "pipx":
        pinned = "==" in pkg or "@" in pkg
        example = f"{pkg}==1.2.3"
    else:
        pinned = "@" in pkg.lstrip("@")
        example = f"{pkg}@1.2.3"
    if pinned:
        return None
    return spec.diag(
        ("args", i),
        "SKZ545",
        f"`{launcher} {pkg}` runs whatever version is newest when it starts",
        hint=f"Pin it: `{example}`.",
        severity=Severity.WARNING,
    )


def _hint(exc: Exception) -> str:
    if isinstance(exc, PathEscape):
        return "`cwd` must stay inside the entry directory."
    return "Install the program, or name it by a path relative to the entry."


def _fill(spec: EntrySpec, r: McpServerSpec, header: str, value: str) -> str:
    """``value`` with each ``${SKILLZ_NAME}`` replaced by that secret (it must be listed)."""

    def secret(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in r.secrets:
            raise CompileProblem(
                [
                    spec.diag(
                        ("headers", header),
                        "SKZ543",
                        f"header {header!r} names secret {name} that `secrets` does not list",
                        hint=f"Add {name} to `secrets`.",
                    )
                ]
            )
        return os.environ.get(name, "")

    return SECRET_REF.sub(secret, value)


@contextlib.asynccontextmanager
async def open_transport(launch: Launch, timeout: float, notes: list[str]) -> AsyncIterator[Channel]:
    """The channel of a connection to the upstream, closed (process stopped) after. What it received
    that is not MCP, and HTTP error statuses, are added to ``notes``."""
    if launch.transport == "stdio":
        from mcp.client.stdio import get_default_environment

        from skillz_engine.mcp.upstream.channels import stdio_channel

        assert launch.stderr is not None
        launch.stderr.parent.mkdir(parents=True, exist_ok=True)
        env = get_default_environment() | dict(launch.env)
        with launch.stderr.open("w", encoding="utf-8") as errlog:
            async with stdio_channel(launch.argv, env, launch.cwd, errlog, notes) as channel:
                yield channel
    elif launch.transport == "sse":
        from mcp.client.sse import sse_client

        from skillz_engine.mcp.upstream.channels import SdkChannel

        async with sse_client(launch.url, headers=dict(launch.headers), timeout=timeout) as streams:
            yield SdkChannel(streams[0], streams[1], notes)
    else:
        from skillz_engine.mcp.upstream.http import http_channel

        async with http_channel(launch.url, launch.headers, timeout, notes) as channel:
            yield channel
