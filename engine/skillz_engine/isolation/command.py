"""What one run of a tool executes: its argv wrapped in the sandbox, its clean environment, its limits.

Every process a runtime starts is described here, by the :class:`Launcher` of its compiled entry
(or :func:`build_command` for a one-off), and started by :func:`skillz_engine.isolation.process.run`.
The environment is built from scratch (:func:`build_env`): nothing of the server's environment
leaks except ``PATH``, ``HOME``, ``LANG`` and the ``SKILLZ_*`` secrets the manifest lists.

A :class:`Launcher` lives as long as its compiled entry (one snapshot): it keeps the entry's limits
and the prepared sandbox of each program and environment it has seen
(:func:`skillz_engine.isolation.sandbox.prepare`: policy, mounts, the sandbox's options), so a call
only builds its environment (a few dictionary operations: the server's ``PATH`` or a secret may
change while it runs) and composes its argv.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.limits import Limits, limits_for
from skillz_engine.isolation.process import Command
from skillz_engine.isolation.sandbox import Prepared, finish, prepare
from skillz_engine.tree.specs import process_keys

if TYPE_CHECKING:
    from skillz_engine.tree.config import Config
    from skillz_engine.tree.model import EntrySpec

__all__ = ["BASE_VARS", "SERVICE_ENV", "Launcher", "build_command", "build_env", "secret_names"]

BASE_VARS = ("PATH", "HOME", "LANG")  # the only variables a tool inherits from the server
DEFAULT_LANG = "C.UTF-8"
PREPARED_KEEP = 16  # prepared sandboxes a launcher keeps (a templated program could vary per call)

# The variables of the Docker services the running call requires (``<NAME>_HOST``, ``<NAME>_PORT``),
# set by ``run_tool`` around one call for every tool kind, so no runtime has to pass them along.
SERVICE_ENV: ContextVar[Mapping[str, str]] = ContextVar("SERVICE_ENV", default=MappingProxyType({}))


def secret_names(spec: EntrySpec) -> tuple[str, ...]:
    """The ``SKILLZ_*`` variables the manifest asks for (anything else is ignored)."""
    return tuple(str(n) for n in process_keys(spec.record).secrets if str(n).startswith("SKILLZ_"))


def build_env(spec: EntrySpec, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The clean environment of a tool: PATH, HOME, LANG, the manifest's ``env``, its secrets,
    and the variables of the services the call requires (:data:`SERVICE_ENV`).

    Nothing else of the server's environment leaks. A secret that is not set on the server is
    simply absent. ``LANG`` defaults to ``C.UTF-8`` so interpreters read and write UTF-8.
    """
    environ = os.environ if environ is None else environ
    env: dict[str, str] = {}
    for name in BASE_VARS:
        if name in environ:
            env[name] = environ[name]
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", DEFAULT_LANG)
    for key, value in process_keys(spec.record).env.items():
        env[str(key)] = str(value)
    for name in secret_names(spec):
        if name in environ:
            env[name] = environ[name]
    env.update(SERVICE_ENV.get())
    return env


class Launcher:
    """The command lines of one compiled entry: its sandbox prepared once per program and
    environment, each run's argv, environment and cgroup made per call."""

    def __init__(self, spec: EntrySpec, *, cwd: Path | None = None, config: Config | None = None) -> None:
        self.spec = spec
        self.cwd = cwd if cwd is not None else spec.home
        self.config = config
        self._limits: Limits | None = None
        self._prepared: dict[tuple[str, tuple[tuple[str, str], ...]], Prepared] = {}

    @property
    def limits(self) -> Limits:
        if self._limits is None:
            self._limits = limits_for(self.spec, self.config)
        return self._limits

    def prepared(self, program: str, env: Mapping[str, str]) -> Prepared:
        """The sandbox of runs of ``program`` with ``env``, prepared on first use."""
        key = (program, tuple(env.items()))
        found = self._prepared.get(key)
        if found is None:
            found = prepare(program, self.spec, cwd=self.cwd, env=env, config=self.config)
            if len(self._prepared) >= PREPARED_KEEP:
                self._prepared.clear()
            self._prepared[key] = found
        return found

    def command(
        self,
        argv: Sequence[str],
        *,
        environ: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> Command:
        """The command line of one run: clean env, limits, and the sandbox wrapper.

        ``extra_env`` is set by the engine on top of the clean environment (a dependency
        environment's ``PATH``, ``VIRTUAL_ENV``, ``NODE_PATH``). Raises :class:`RuntimeFailure`
        (:class:`~skillz_engine.errors.SandboxUnavailable` among them) when it cannot be run.
        """
        spec = self.spec
        if not argv:
            raise RuntimeFailure(f"{spec.name}: empty command line")
        env = build_env(spec, environ)
        if extra_env:
            env.update(extra_env)
        limits = self.limits
        wrapped = finish(self.prepared(argv[0], env), argv[1:], cwd=self.cwd, env=env, limits=limits)
        secrets = tuple(n for n in secret_names(spec) if n in env)
        return Command(tuple(wrapped.argv), self.cwd, env, limits, secrets, wrapped.mode, wrapped.cgroup)


def build_command(
    argv: Sequence[str],
    spec: EntrySpec,
    *,
    cwd: Path | None = None,
    config: Config | None = None,
    environ: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Command:
    """The command line of one run of ``spec`` with nothing kept (a one-off run: code mode, an
    upstream server's start); a tool's calls go through its entry's :class:`Launcher`."""
    return Launcher(spec, cwd=cwd, config=config).command(argv, environ=environ, extra_env=extra_env)
