"""One version of a service entry, running (or not) as one labelled container.

A :class:`ServiceHandle` is made per compiled version. :meth:`ServiceHandle.ensure` is what a tool
with ``requires.services`` calls before it runs: it adopts a running container of the same tree,
entry and digest (an engine restarted, another call first), else builds or finds the image and
runs it, then waits until it is healthy, and returns its :class:`Endpoint`. Every failure is a
:class:`ServiceFailure` that says why: the daemon is down, the image is missing (with the command
that makes it), the container exited (with its last log lines), the health check failed (with its
last output). The SDK blocks, so every method here runs in a worker thread; a lock per handle
keeps two concurrent first calls from starting two containers.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from skillz_engine.runtimes.service.client import (
    DIGEST,
    ENTRY,
    TREE,
    ServiceFailure,
    client,
    is_connection_error,
    unreachable,
)
from skillz_engine.runtimes.service.plan import Plan, endpoint_env

log = logging.getLogger("skillz_engine.runtimes.service")

RECHECK = 5.0  # seconds a healthy endpoint is trusted before the container is looked at again
POLL = 0.1  # seconds between health polls while starting
STOP_TIMEOUT = 5  # seconds a container gets to stop before it is killed
NO_HEALTH_PATIENCE = 30.0  # seconds to wait for a container without a health check to run


# the versions each service entry has running through this process: (tree, entry) -> digests
_RUNNING: dict[tuple[str, str], set[str]] = {}
_running_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Endpoint:
    container: str  # the container id
    host: str
    ports: tuple[tuple[int, int], ...]  # (container port, published host port)

    def env(self, name: str) -> dict[str, str]:
        return endpoint_env(name, self.host, list(self.ports))


class ServiceHandle:
    """See the module docstring."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._lock = threading.Lock()
        self._endpoint: Endpoint | None = None
        self._checked = 0.0
        self.touched = False  # ensure() was called: shutdown must look for a container to stop

    # ------------------------------------------------------------------ start

    def cached(self) -> Endpoint | None:
        """The endpoint found healthy less than :data:`RECHECK` seconds ago (no thread, no daemon)."""
        ep = self._endpoint
        if ep is not None and time.monotonic() - self._checked < RECHECK:
            return ep
        return None

    def ensure(self) -> Endpoint:
        """The endpoint of this version, running and healthy (started here when it is not)."""
        ep = self.cached()
        if ep is not None:
            return ep
        with self._lock:
            self.touched = True
            ep = self.cached()  # another thread started it while this one waited
            if ep is not None:
                return ep
            try:
                return self._ensure()
            except ServiceFailure:
                self._endpoint = None
                raise
            except Exception as exc:
                self._endpoint = None
                raise self._failure(exc) from exc

    def _ensure(self) -> Endpoint:
        c = client()
        ct = self.container(c)
        if ct is not None and ct.status != "running":
            ct.remove(force=True)  # an exited or half-made one: start afresh
            ct = None
        if ct is None:
            ct = self._run(c)
        ep = self._wait_healthy(ct)
        self._endpoint, self._checked = ep, time.monotonic()
        with _running_lock:
            _RUNNING.setdefault((self.plan.tree, self.plan.name), set()).add(self.plan.digest)
        return ep

    def another_version_running(self) -> bool:
        """Whether this process runs another version of this entry: one this version replaces
        (start this one before the swap), or one that replaced it (remove this one, even with
        ``keepRunning``). Asks no daemon, so a server starts without one."""
        with _running_lock:
            return bool(_RUNNING.get((self.plan.tree, self.plan.name), set()) - {self.plan.digest})

    def _failure(self, exc: BaseException) -> ServiceFailure:
        if is_connection_error(exc):
            return unreachable(exc)
        return ServiceFailure(f"service {self.plan.name!r}: {type(exc).__name__}: {exc}")

    def container(self, c: Any | None = None) -> Any | None:
        """This version's container (any state), found by its labels; ``None`` when there is none."""
        c = c if c is not None else client()
        p = self.plan
        found = c.containers.list(
            all=True, filters={"label": [f"{TREE}={p.tree}", f"{ENTRY}={p.name}", f"{DIGEST}={p.digest}"]}
        )
        return found[0] if found else None

    def image(self, *, force: bool = False) -> bool:
        """Make sure this version's image is here, building it for ``build`` (again when
        ``force``); ``True`` when it was built now. Raises ServiceFailure saying how to get it."""
        with self._lock:
            try:
                return self._image(client(), force=force)
            except ServiceFailure:
                raise
            except Exception as exc:
                raise self._failure(exc) from exc

    def _image(self, c: Any, *, force: bool = False) -> bool:
        import docker.errors

        p = self.plan
        if not (force and p.build_dir is not None):
            try:
                c.images.get(p.image)
                return False
            except docker.errors.ImageNotFound:
                pass
        if p.build_dir is None:
            raise ServiceFailure(
                f"service {p.name!r}: the image {p.image!r} is not on this machine; "
                f"make it with `docker pull {p.image}` (or build it and tag it {p.image})"
            )
        log.info("building the image of service %s from %s", p.name, p.build_dir)
        try:
            c.images.build(path=str(p.build_dir), tag=p.image, labels=dict(p.labels), rm=True, forcerm=True)
        except docker.errors.BuildError as exc:
            lines = [str(x.get("stream") or x.get("error") or "").rstrip() for x in exc.build_log]
            tail = "\n".join(line for line in lines if line)[-2000:]
            raise ServiceFailure(
                f"service {p.name!r}: building {p.build_dir} failed: {exc.msg}\n{tail}\n"
                f"try it by hand: docker build -t {p.image} {p.build_dir}"
            ) from exc
        return True

    def _run(self, c: Any) -> Any:
        p = self.plan
        self._image(c)
        for name in p.named_volumes:
            try:
                c.volumes.get(name)
            except Exception:
                c.volumes.create(name=name, labels=dict(p.labels))
        if p.network is not None and not c.networks.list(names=[p.network]):
            c.networks.create(p.network, labels=dict(p.labels))
        log.info("starting service %s (%s)", p.name, p.image)
        return c.containers.run(**p.run_kwargs())

    def _wait_healthy(self, ct: Any) -> Endpoint:
        p = self.plan
        patience = p.health.patience if p.health is not None else NO_HEALTH_PATIENCE
        deadline = time.monotonic() + patience
        while True:
            ct.reload()
            state = ct.attrs.get("State") or {}
            health = (state.get("Health") or {}).get("Status")
            if state.get("Status") in ("exited", "dead"):
                logs = _tail(ct)
                self._discard(ct)
                raise ServiceFailure(
                    f"service {p.name!r}: the container exited with code {state.get('ExitCode')}"
                    f"{' (' + state['Error'] + ')' if state.get('Error') else ''}; its last output:\n{logs}"
                    + _read_only_hint(p, logs)
                )
            if state.get("Status") == "running" and health in (None, "healthy"):
                return self._endpoint_of(ct)
            if health == "unhealthy" or time.monotonic() > deadline:
                last = _last_check(state)
                logs = _tail(ct)
                self._discard(ct)
                what = (
                    "is unhealthy" if health == "unhealthy" else f"did not become healthy in {patience:.0f}s"
                )
                raise ServiceFailure(
                    f"service {p.name!r} {what}; the health check's last output:\n{last}\n"
                    f"the container's last output:\n{logs}" + _read_only_hint(p, logs)
                )
            time.sleep(POLL)

    def _endpoint_of(self, ct: Any) -> Endpoint:
        published = (ct.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        ports: list[tuple[int, int]] = []
        host = "127.0.0.1"
        for port in self.plan.ports:
            bindings = published.get(port.key) or []
            if bindings:
                ports.append((port.container, int(bindings[0]["HostPort"])))
                host = port.host_ip if port.host_ip not in ("0.0.0.0", "::") else "127.0.0.1"
        return Endpoint(ct.id, host, tuple(ports))

    # ------------------------------------------------------------------ after start

    def release(self) -> None:
        """Forget this version's container without stopping it (``keepRunning`` at shutdown)."""
        self._endpoint = None
        with _running_lock:
            _RUNNING.get((self.plan.tree, self.plan.name), set()).discard(self.plan.digest)

    def stop(self) -> bool:
        """Stop and remove this version's container; ``False`` when there was none."""
        with self._lock:
            self.release()
            try:
                ct = self.container()
            except ServiceFailure:
                return False
            except Exception as exc:
                raise self._failure(exc) from exc
            if ct is None:
                return False
            self._discard(ct)
            return True

    def status(self) -> dict[str, Any]:
        """What ``services status`` shows: state, health, ports, image, container."""
        p = self.plan
        out: dict[str, Any] = {"name": p.name, "image": p.image, "digest": p.digest}
        try:
            ct = self.container()
        except Exception as exc:
            return {**out, "state": "unknown", "error": str(self._failure(exc))}
        if ct is None:
            return {**out, "state": "not started"}
        state = ct.attrs.get("State") or {}
        out.update(
            state=state.get("Status"), container=ct.name, health=(state.get("Health") or {}).get("Status")
        )
        if state.get("Status") == "running":
            out["ports"] = {str(c): h for c, h in self._endpoint_of(ct).ports}
        return out

    def logs(self, tail: int = 100) -> str:
        ct = self.container()
        if ct is None:
            raise ServiceFailure(f"service {self.plan.name!r} has no container (start it first)")
        return _tail(ct, tail)

    def _discard(self, ct: Any) -> None:
        try:
            ct.stop(timeout=STOP_TIMEOUT)
        except Exception:  # already gone or stopped
            pass
        try:
            ct.remove(force=True)
        except Exception:
            pass


def _tail(ct: Any, n: int = 20) -> str:
    try:
        text: str = ct.logs(tail=n).decode("utf-8", "replace")
    except Exception as exc:
        return f"(logs unavailable: {exc})"
    return text.rstrip() or "(no output)"


def _last_check(state: dict[str, Any]) -> str:
    checks = (state.get("Health") or {}).get("Log") or []
    if not checks:
        return "(no check has run yet)"
    last = checks[-1]
    return f"exit {last.get('ExitCode')}: {str(last.get('Output') or '').strip() or '(no output)'}"


def _read_only_hint(p: Plan, logs: str) -> str:
    if p.read_only and "read-only file system" in logs.lower():
        return "\nhint: the image writes outside its volumes; set `readOnly: false` in the manifest"
    return ""
