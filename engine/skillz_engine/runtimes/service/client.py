"""The Docker daemon, reached through the ``docker`` SDK (imported here, lazily, and nowhere else
of the runtimes): one client per ``DOCKER_HOST``, and the error every service failure becomes.

The SDK is blocking; callers run it in a worker thread. A daemon that does not answer is a
:class:`ServiceFailure` saying so (and where the engine looked), never a traceback.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from skillz_engine.errors import RuntimeFailure

LABEL = "dev.skillz-engine"  # prefix of every label the engine puts on containers, volumes, images
MANAGED = f"{LABEL}.managed"  # "1" on everything the engine made
TREE = f"{LABEL}.tree"  # digest of the state directory: which engine owns it
ENTRY = f"{LABEL}.entry"  # the service entry's name
DIGEST = f"{LABEL}.digest"  # digest of the entry's definition: a different one is a replaced version
TIMEOUT = 30  # seconds one API request may take

_lock = threading.Lock()
_clients: dict[str, Any] = {}


class ServiceFailure(RuntimeFailure):
    """A Docker service cannot be reached, built, started or become healthy (the message says why
    and what to do)."""


def docker_host() -> str:
    """Where the daemon is looked for: ``DOCKER_HOST``, else Docker's default socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def client() -> Any:
    """The ``docker.DockerClient`` of the current ``DOCKER_HOST`` (made once, then reused).

    Raises :class:`ServiceFailure` when the SDK is missing or the daemon does not answer."""
    host = docker_host()
    with _lock:
        c = _clients.get(host)
    if c is not None:
        return c
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ServiceFailure(
            f"the docker Python package is missing ({exc}); reinstall skillz-engine"
        ) from exc
    try:
        c = docker.DockerClient(base_url=host, version="auto", timeout=TIMEOUT)
    except Exception as exc:
        raise unreachable(exc) from exc
    with _lock:
        return _clients.setdefault(host, c)


def unreachable(exc: BaseException) -> ServiceFailure:
    """The failure of a daemon that does not answer."""
    return ServiceFailure(
        f"the Docker daemon is unreachable at {docker_host()} ({type(exc).__name__}: {exc}); "
        "start it (`sudo systemctl start docker` or `dockerd &`) or point DOCKER_HOST at one"
    )


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the daemon did not answer (as opposed to refusing a request)."""
    import docker.errors
    import requests.exceptions

    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError | FileNotFoundError):
        return True
    return isinstance(exc, docker.errors.DockerException) and not isinstance(exc, docker.errors.APIError)


def info() -> dict[str, Any]:
    """What ``doctor`` shows of the daemon: its version and API version (raises ServiceFailure)."""
    try:
        version = client().version()
    except ServiceFailure:
        raise
    except Exception as exc:
        raise unreachable(exc) from exc
    return {"host": docker_host(), "version": version.get("Version"), "api": version.get("ApiVersion")}
