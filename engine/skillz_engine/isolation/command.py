"""What one run of a tool executes: its argv wrapped in the sandbox, its clean environment, its limits.

Every process a runtime starts is described here by :func:`build_command` and started by
:func:`skillz_engine.isolation.process.run`. The environment is built from scratch
(:func:`build_env`): nothing of the server's environment leaks except ``PATH``, ``HOME``, ``LANG``
and the ``SKILLZ_*`` secrets the manifest lists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from skillz_engine.errors import RuntimeFailure
from skillz_engine.isolation.limits import limits_for
from skillz_engine.isolation.process import Command
from skillz_engine.isolation.sandbox import wrap
from skillz_engine.tree.specs import process_keys

if TYPE_CHECKING:
    from skillz_engine.tree.config import Config
    from skillz_engine.tree.model import EntrySpec

__all__ = ["BASE_VARS", "SERVICE_ENV", "build_command", "build_env", "secret_names"]

BASE_VARS = ("PATH", "HOME", "LANG")  # the only variables a tool inherits from the server
DEFAULT_LANG = "C.UTF-8"

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


def build_command(
    argv: Sequence[str],
    spec: EntrySpec,
    *,
    cwd: Path | None = None,
    config: Config | None = None,
    environ: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Command:
    """The command line of one run of ``spec``: clean env, limits, and the sandbox wrapper.

    The sandbox (``sandbox`` of the tool over skillz.yaml's) and the rlimits wrap the argv through
    :func:`skillz_engine.isolation.sandbox.wrap`. ``extra_env`` is set by the engine on top of the
    clean environment (a dependency environment's ``PATH``, ``VIRTUAL_ENV``, ``NODE_PATH``).
    """
    if not argv:
        raise RuntimeFailure(f"{spec.name}: empty command line")
    env = build_env(spec, environ)
    env.update(extra_env or {})
    limits = limits_for(spec, config)
    workdir = cwd if cwd is not None else spec.home
    wrapped = wrap(argv, spec, cwd=workdir, env=env, limits=limits, config=config)
    secrets = tuple(n for n in secret_names(spec) if n in env)
    return Command(tuple(wrapped.argv), workdir, env, limits, secrets, wrapped.mode, wrapped.cgroup)
