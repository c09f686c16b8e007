"""An MCP server in its own container, over stdio: the ``docker run -i --rm ...`` that launches it.

An ``mcp-server`` entry that gives ``image`` (or ``build``) instead of ``command`` runs the upstream
as Docker's MCP gateway does: one container per server, talking JSON-RPC on stdin/stdout. The
proxy of ``kind: mcp-server`` starts the argv :func:`stdio_argv` returns, with the environment it
returns (values of ``env`` and ``secrets`` travel in the environment of the ``docker`` client, as
``-e NAME`` without a value, so no secret shows in a process listing). The container gets the same
hardening and labels as a service (:mod:`.plan`), no published ports, and no network unless the
manifest names one (``network``). For ``build``, the image is the tag :class:`.handle.ServiceHandle`
builds (``skillz-engine build`` or a service start); this module only describes the launch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from skillz_engine.runtimes.service.plan import PIDS_LIMIT, TMPFS, Plan, plan_from
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.records import read_record
from skillz_engine.tree.specs import ServiceSpec

# the service keys an mcp-server entry may carry for its container
CONTAINER_KEYS = ("image", "build", "command", "env", "secrets", "volumes", "resources", "capAdd", "readOnly",
                  "network")  # fmt: skip
NO_NETWORK = "none"


def container_plan(spec: EntrySpec, state_dir: Path, digest: str) -> Plan:
    """The container keys of ``spec`` (any kind's manifest data) as a service plan."""
    data = {k: spec.data[k] for k in CONTAINER_KEYS if k in spec.data}
    args = spec.data.get("args")
    if "command" not in data and args:  # `args` of an mcp-server: the container's command
        data["command"] = list(args)
    return plan_from(read_record(ServiceSpec, data), spec.name, spec.dir, state_dir, digest)


def stdio_argv(
    spec: EntrySpec,
    state_dir: Path,
    digest: str,
    *,
    docker: str = "docker",
    environ: Mapping[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """``(argv, env)``: the ``docker run -i --rm`` of ``spec``'s container over stdio, and the
    variables the ``docker`` client needs (the container's ``env`` and ``secrets``)."""
    environ = os.environ if environ is None else environ
    p = container_plan(spec, state_dir, digest)
    argv = [docker, "run", "-i", "--rm", "--init", "--name", p.container_name]
    for key, value in p.labels.items():
        argv += ["--label", f"{key}={value}"]
    argv += ["--security-opt", "no-new-privileges", "--cap-drop", "ALL"]
    for cap in p.cap_add:
        argv += ["--cap-add", cap]
    if p.read_only:
        argv += ["--read-only", *(a for path, opts in TMPFS.items() for a in ("--tmpfs", f"{path}:{opts}"))]
    argv += ["--pids-limit", str(PIDS_LIMIT), "--network", p.network or NO_NETWORK]
    if p.memory is not None:
        argv += ["--memory", str(p.memory)]
    if p.nano_cpus is not None:
        argv += ["--cpus", f"{p.nano_cpus / 1e9:g}"]
    env = dict(p.env)
    env.update({n: environ[n] for n in p.secrets if n in environ})
    for name in env:
        argv += ["-e", name]
    for source, mount in p.volumes.items():
        argv += ["-v", f"{source}:{mount['bind']}:{mount['mode']}"]
    argv.append(p.image)
    argv += p.command or []
    client_env = {k: environ[k] for k in ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG") if k in environ}
    return argv, {**client_env, **env}
