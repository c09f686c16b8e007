"""A service entry as Docker sees it: names, labels, the image, and the hardened arguments of
``containers.run``; and the variables a tool that requires it gets.

Pure: nothing here talks to the daemon, so what a manifest turns into is testable as data (and
the argv of a stdio MCP server in a container, :func:`stdio_argv`, is built from the same pieces).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillz_engine.runtimes.service.client import DIGEST, ENTRY, MANAGED, TREE
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.paths import safe_join
from skillz_engine.tree.specs import Healthcheck, ServiceSpec
from skillz_engine.units import parse_duration, parse_size

LOOPBACK = "127.0.0.1"
PIDS_LIMIT = 512  # processes one service may run (a fork bomb stays inside)
TMPFS = {"/tmp": "size=64m,mode=1777"}  # writable scratch space under a read-only root
HEALTH_DEFAULTS = {"interval": 2.0, "timeout": 5.0, "retries": 15, "start_period": 0.0}
_PORT = re.compile(r"^(?:(?P<ip>(?:\d{1,3}\.){3}\d{1,3}|\[[0-9A-Fa-f:]+\]):)?(?:(?P<host>\d+):)?(?P<ctr>\d+)"
                   r"(?:/(?P<proto>tcp|udp))?$")  # fmt: skip


def tree_id(state_dir: Path) -> str:
    """Which engine owns a container: a digest of its state directory (one server per state dir)."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]


def env_prefix(name: str) -> str:
    """``redis`` -> ``REDIS``, ``my-db.1`` -> ``MY_DB_1``: the prefix of a service's variables."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


@dataclass(frozen=True, slots=True)
class Port:
    container: int
    proto: str  # tcp | udp
    host_ip: str
    host_port: int | None  # None: a free port the daemon picks

    @property
    def key(self) -> str:
        return f"{self.container}/{self.proto}"


def parse_port(text: str) -> Port:
    m = _PORT.match(text)
    if m is None:  # the schema's pattern makes this unreachable for a valid manifest
        raise ValueError(f"cannot read the port {text!r}")
    host = m.group("host")
    ip = (m.group("ip") or LOOPBACK).strip("[]")
    return Port(int(m.group("ctr")), m.group("proto") or "tcp", ip, int(host) if host else None)


@dataclass(frozen=True, slots=True)
class Health:
    """The health check in Docker's units, with the engine's defaults filled in."""

    test: list[str]
    interval: float
    timeout: float
    retries: int
    start_period: float

    def docker(self) -> dict[str, Any]:
        ns = 1_000_000_000
        return {
            "test": self.test,
            "interval": int(self.interval * ns),
            "timeout": int(self.timeout * ns),
            "retries": self.retries,
            "start_period": int(self.start_period * ns),
        }

    @property
    def patience(self) -> float:
        """Seconds after which a service that is neither healthy nor unhealthy has failed."""
        return self.start_period + (self.interval + self.timeout) * (self.retries + 1) + 10


def health_of(hc: Healthcheck) -> Health:
    def seconds(value: Any, key: str) -> float:
        return parse_duration(value) if value is not None else float(HEALTH_DEFAULTS[key])

    test = ["CMD-SHELL", hc.test] if isinstance(hc.test, str) else ["CMD", *hc.test]
    retries = hc.retries if hc.retries is not None else int(HEALTH_DEFAULTS["retries"])
    return Health(test, seconds(hc.interval, "interval"), seconds(hc.timeout, "timeout"), retries,
                  seconds(hc.start_period, "start_period"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the engine asks of Docker for one version of a service entry."""

    name: str  # the entry's name
    tree: str  # tree_id of the owning engine
    digest: str  # of the definition: a new digest is a new container (make-before-break)
    image: str  # the image run (for `build`: the tag the engine builds)
    build_dir: Path | None  # the Dockerfile directory, for `build`
    container_name: str
    command: list[str] | None
    env: Mapping[str, str]
    secrets: tuple[str, ...]
    ports: tuple[Port, ...]
    volumes: Mapping[str, Mapping[str, str]]  # Docker's `volumes=` argument
    named_volumes: tuple[str, ...]  # the prefixed names the engine creates (labelled)
    health: Health | None
    read_only: bool
    cap_add: tuple[str, ...]
    memory: int | None
    nano_cpus: int | None
    network: str | None
    keep_running: bool
    autostart: bool
    labels: Mapping[str, str] = field(default_factory=dict)

    def run_kwargs(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The keyword arguments of ``containers.run``: detached, labelled, hardened."""
        environ = os.environ if environ is None else environ
        env = dict(self.env)
        env.update({n: environ[n] for n in self.secrets if n in environ})
        kw: dict[str, Any] = {
            "image": self.image,
            "name": self.container_name,
            "detach": True,
            "init": True,  # a PID 1 that forwards SIGTERM: stop is prompt
            "labels": dict(self.labels),
            "environment": env,
            "ports": {p.key: (p.host_ip, p.host_port) for p in self.ports},
            "volumes": {k: dict(v) for k, v in self.volumes.items()},
            "security_opt": ["no-new-privileges"],
            "cap_drop": ["ALL"],
            "pids_limit": PIDS_LIMIT,
        }
        if self.command is not None:
            kw["command"] = self.command
        if self.cap_add:
            kw["cap_add"] = list(self.cap_add)
        if self.read_only:
            kw["read_only"] = True
            kw["tmpfs"] = dict(TMPFS)
        if self.health is not None:
            kw["healthcheck"] = self.health.docker()
        if self.memory is not None:
            kw["mem_limit"] = self.memory
        if self.nano_cpus is not None:
            kw["nano_cpus"] = self.nano_cpus
        if self.network is not None:
            kw["network"] = self.network
        return kw


def definition_digest(spec: EntrySpec) -> str:
    """The digest of what the service is: its manifest data, and for ``build`` every file of the
    entry (a changed Dockerfile is a new image). Touching a file without changing it is no change."""
    data = json.dumps(spec.data, sort_keys=True, default=str)
    record = spec.record_as(ServiceSpec)
    extra = spec.fingerprint if record.build is not None else ""
    return hashlib.sha256(f"{data}\0{extra}".encode()).hexdigest()[:12]


def plan_of(spec: EntrySpec, state_dir: Path) -> Plan:
    """The plan of one service entry (raises ``PathEscape`` for a path leaving the entry)."""
    return plan_from(spec.record_as(ServiceSpec), spec.name, spec.dir, state_dir, definition_digest(spec))


def plan_from(r: ServiceSpec, name: str, entry_dir: Path, state_dir: Path, digest: str) -> Plan:
    """The plan of the service keys ``r`` of the entry ``name`` in ``entry_dir``."""
    tree = tree_id(state_dir)
    prefix = f"skillz-{tree}-{name}"
    build_dir = safe_join(entry_dir, r.build, kind="dir") if r.build is not None else None
    image = r.image if r.image is not None else f"skillz-engine/{tree}-{name.lower()}:{digest}"
    volumes: dict[str, dict[str, str]] = {}
    named: list[str] = []
    for v in r.volumes:
        source, target, *mode = v.split(":")
        if source.startswith("./"):
            key = str(safe_join(entry_dir, source[2:] or ".", kind="dir"))
        else:
            key = f"{prefix}-{source}"
            named.append(key)
        volumes[key] = {"bind": target, "mode": mode[0] if mode else "rw"}
    command = None
    if r.command is not None:
        command = shlex.split(r.command) if isinstance(r.command, str) else list(r.command)
    labels = {MANAGED: "1", TREE: tree, ENTRY: name, DIGEST: digest}
    cpus = r.resources.cpus
    return Plan(
        name=name,
        tree=tree,
        digest=digest,
        image=image,
        build_dir=build_dir,
        container_name=f"{prefix}-{digest}",
        command=command,
        env={str(k): str(v) for k, v in r.env.items()},
        secrets=r.secrets,
        ports=tuple(parse_port(p) for p in r.ports),
        volumes=volumes,
        named_volumes=tuple(named),
        health=health_of(r.healthcheck) if r.healthcheck is not None else None,
        read_only=r.read_only,
        cap_add=r.cap_add,
        memory=parse_size(r.resources.memory) if r.resources.memory is not None else None,
        nano_cpus=int(cpus * 1e9) if cpus is not None else None,
        network=r.network,
        keep_running=r.keep_running,
        autostart=r.autostart,
        labels=labels,
    )


def endpoint_env(name: str, host: str, ports: list[tuple[int, int]]) -> dict[str, str]:
    """The variables of a tool that requires service ``name``: ``<NAME>_HOST``, ``<NAME>_PORT``
    (the first published port) and ``<NAME>_PORT_<container port>`` for each."""
    p = env_prefix(name)
    env = {f"{p}_HOST": host}
    if ports:
        env[f"{p}_PORT"] = str(ports[0][1])
    for container, published in ports:
        env[f"{p}_PORT_{container}"] = str(published)
    return env
