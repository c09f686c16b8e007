"""``kind: service`` against a real Docker daemon: tools that require a service get its variables,
and every way it can fail is an ``isError`` that says why."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest

from skillz_engine.engine import Engine
from skillz_engine.runtimes.service.client import DIGEST, ENTRY, TREE, client
from skillz_engine.runtimes.service.plan import tree_id
from tests.runtimes.docker_images import INDEX

pytestmark = pytest.mark.anyio

# the tool: reads the service's variables and fetches its page through them
FETCH = textwrap.dedent(
    """
    import json, os, urllib.request
    env = {k: v for k, v in os.environ.items() if k.startswith("WEB_")}
    url = f"http://{env['WEB_HOST']}:{env['WEB_PORT']}/"
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    print(json.dumps({"env": env, "body": body}))
    """
)
READY = "/bin/busybox sleep 0.2; /bin/busybox touch /tmp/ready; exec /bin/busybox httpd -f -p 8080 -h /www"


def service(
    image: str, *, test: str = '["/bin/busybox", "test", "-f", "/tmp/ready"]', extra: str = ""
) -> str:
    return (
        textwrap.dedent(
            f"""\
        kind: service
        description: a web server
        image: {image}
        command: ["/bin/sh", "-c", "{READY}"]
        ports: ["8080"]
        healthcheck: {{test: {test}, interval: 100ms, timeout: 1s, retries: 2}}
        """
        )
        + extra
    )


def write_tree(root: Path, service_yaml: str) -> None:
    (root / "services" / "web").mkdir(parents=True, exist_ok=True)
    (root / "services" / "web" / "manifest.yaml").write_text(service_yaml)
    tool = root / "tools" / "fetch"
    tool.mkdir(parents=True, exist_ok=True)
    (tool / "main.py").write_text(FETCH)
    (tool / "manifest.yaml").write_text(
        "kind: script\ndescription: fetch the web page\ninterpreter: python3\nentry: main.py\n"
        "protocol: plain\nrequires: {services: [web]}\n"
    )


def containers(root: Path) -> list[Any]:
    return list(client().containers.list(all=True, filters={"label": f"{TREE}={tree_id(root / '.skillz')}"}))


async def test_tool_reads_the_service_through_its_variables(service_root: Path, busybox_image: str) -> None:
    """The first call starts the service, waits for its health check, and the tool reaches it
    through WEB_HOST / WEB_PORT; the container is hardened, labelled and stopped at shutdown."""
    write_tree(service_root, service(busybox_image))
    async with Engine.open([service_root]) as engine:
        assert containers(service_root) == []  # not autostart: nothing runs before a call
        result = await engine.call("fetch", {})
        assert not result.is_error, result.text_content()
        out = json.loads(result.text_content())
        assert out["body"] == INDEX
        assert out["env"]["WEB_HOST"] == "127.0.0.1"
        assert out["env"]["WEB_PORT"] == out["env"]["WEB_PORT_8080"]
        (ct,) = containers(service_root)
        assert ct.labels[ENTRY] == "web" and ct.labels[DIGEST]
        host = ct.attrs["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
        assert host["ReadonlyRootfs"] is True and host["Init"] is True
        assert host["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"
        assert ct.attrs["State"]["Health"]["Status"] == "healthy"
        again = await engine.call("fetch", {})  # healthy: no second container
        assert not again.is_error and len(containers(service_root)) == 1
    assert containers(service_root) == []  # stopped and removed on shutdown


async def test_a_service_that_never_becomes_healthy(service_root: Path, busybox_image: str) -> None:
    """A failing health check is an isError carrying its last output; nothing is left running."""
    write_tree(service_root, service(busybox_image, test='"echo still warming up; exit 1"'))
    async with Engine.open([service_root]) as engine:
        result = await engine.call("fetch", {})
        assert result.is_error
        text = result.text_content()
        assert "service 'web' is unhealthy" in text and "still warming up" in text
        assert containers(service_root) == []


async def test_a_missing_image_says_how_to_get_it(service_root: Path, busybox_image: str) -> None:
    missing = f"{busybox_image}-missing"
    write_tree(service_root, service(missing))
    async with Engine.open([service_root]) as engine:
        result = await engine.call("fetch", {})
        assert result.is_error
        assert f"the image {missing!r} is not on this machine" in result.text_content()
        assert f"docker pull {missing}" in result.text_content()


async def test_an_unreachable_daemon_is_an_error(
    service_root: Path, busybox_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{service_root}/no-docker.sock")
    write_tree(service_root, service(busybox_image))
    async with Engine.open([service_root]) as engine:
        result = await engine.call("fetch", {})
        assert result.is_error
        assert (
            f"the Docker daemon is unreachable at unix://{service_root}/no-docker.sock"
            in result.text_content()
        )


async def test_an_edit_replaces_the_running_service_without_a_failed_call(
    service_root: Path, busybox_image: str
) -> None:
    """Make-before-break: the new container is healthy before the swap; calls keep succeeding
    throughout, and the old container is removed once they drained."""
    write_tree(service_root, service(busybox_image))
    failures: list[str] = []
    calls = 0
    async with Engine.open([service_root]) as engine:
        first = await engine.call("fetch", {})
        assert not first.is_error, first.text_content()
        (old,) = containers(service_root)
        done = anyio.Event()

        async def keep_calling() -> None:
            nonlocal calls
            while not done.is_set():
                r = await engine.call("fetch", {})
                calls += 1
                if r.is_error:
                    failures.append(r.text_content())

        async with anyio.create_task_group() as tg:
            tg.start_soon(keep_calling)
            manifest = service_root / "services" / "web" / "manifest.yaml"
            manifest.write_text(service(busybox_image, extra="env: {VERSION: '2'}\n"))
            await engine.apply([manifest])
            await anyio.sleep(0.3)
            done.set()
        with anyio.move_on_after(0.5):  # what the watcher runs beside itself: stop drained versions
            await engine.live.retire()
        (new,) = [c for c in containers(service_root) if c.status == "running"]
        assert new.id != old.id and new.attrs["Config"]["Env"].count("VERSION=2") == 1
        assert [c.id for c in containers(service_root)] == [new.id]  # the old one is gone
    assert failures == [] and calls > 0


async def test_a_restarted_engine_adopts_its_running_container(
    service_root: Path, busybox_image: str
) -> None:
    """keepRunning: the container outlives the engine, and the next engine uses it instead of
    starting a second one."""
    write_tree(service_root, service(busybox_image, extra="keepRunning: true\n"))
    async with Engine.open([service_root]) as engine:
        assert not (await engine.call("fetch", {})).is_error
    (kept,) = containers(service_root)
    assert kept.status == "running"
    async with Engine.open([service_root]) as engine:
        result = await engine.call("fetch", {})
        assert not result.is_error, result.text_content()
    assert [c.id for c in containers(service_root)] == [kept.id]


async def test_autostart_runs_the_service_before_the_first_call(
    service_root: Path, busybox_image: str
) -> None:
    write_tree(service_root, service(busybox_image, extra="autostart: true\n"))
    async with Engine.open([service_root]):
        (ct,) = containers(service_root)
        assert ct.attrs["State"]["Health"]["Status"] == "healthy"
    assert containers(service_root) == []


def test_prune_removes_versions_the_tree_no_longer_defines(
    service_root: Path, busybox_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kept container whose manifest changed while no engine ran is an orphan: `prune` removes
    it (and, with --volumes, the named volumes of a deleted service); the current version stays."""
    from skillz_engine.cli.main import main

    write_tree(service_root, service(busybox_image, extra="keepRunning: true\nvolumes: ['data:/data']\n"))

    async def first_run() -> None:
        async with Engine.open([service_root]) as engine:
            assert not (await engine.call("fetch", {})).is_error

    anyio.run(first_run)
    (old,) = containers(service_root)
    manifest = service_root / "services" / "web" / "manifest.yaml"
    manifest.write_text(
        service(busybox_image, extra="keepRunning: true\nvolumes: ['data:/data']\nenv: {V: '2'}\n")
    )
    assert main(["prune", str(service_root), "--dry-run"]) == 0
    assert f"would remove container {old.name}" in capsys.readouterr().out
    assert [c.id for c in containers(service_root)] == [old.id]
    assert main(["prune", str(service_root)]) == 0
    assert containers(service_root) == []
    volume = client().volumes.list(filters={"label": f"{TREE}={tree_id(service_root / '.skillz')}"})
    assert [v.name for v in volume] == [f"skillz-{tree_id(service_root / '.skillz')}-web-data"]
    (service_root / "services" / "web" / "manifest.yaml").unlink()
    (service_root / "services" / "web").rmdir()
    assert main(["prune", str(service_root), "--volumes"]) == 0
    assert "removed volume" in capsys.readouterr().out
    assert client().volumes.list(filters={"label": f"{TREE}={tree_id(service_root / '.skillz')}"}) == []


async def test_a_rust_skillz_service_json_is_read_directly(service_root: Path, busybox_image: str) -> None:
    """`services/web.json` (Skillz's format, its `network` included) serves as a service entry,
    with warning SKZ401 pointing at `migrate`."""
    write_tree(service_root, service(busybox_image))
    (service_root / "services" / "web" / "manifest.yaml").unlink()
    (service_root / "services" / "web").rmdir()
    network = f"skillz-test-{tree_id(service_root / '.skillz')}"
    skillz = {
        "name": "web",
        "image": busybox_image,
        "ports": ["8080"],
        "healthcheck": {"cmd": "/bin/busybox true", "interval": "100ms", "retries": 2},
        "network": network,
    }
    (service_root / "services" / "web.json").write_text(json.dumps(skillz))
    async with Engine.open([service_root]) as engine:
        warnings = [d for d in engine.snapshot.diagnostics if d.code == "SKZ401"]
        assert [d.path.endswith("services/web.json") for d in warnings] == [True]
        result = await engine.call("fetch", {})
        assert not result.is_error, result.text_content()
        assert json.loads(result.text_content())["body"] == INDEX
        (ct,) = containers(service_root)
        assert network in ct.attrs["NetworkSettings"]["Networks"]


async def test_the_daemon_going_away_mid_run_is_an_error(
    service_root: Path, busybox_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A healthy service is looked at again after RECHECK seconds; when the daemon no longer
    answers by then, the call fails saying so instead of running without its service."""
    from skillz_engine.runtimes.service import handle

    write_tree(service_root, service(busybox_image))
    async with Engine.open([service_root]) as engine:
        assert not (await engine.call("fetch", {})).is_error
        monkeypatch.setattr(handle, "RECHECK", 0.0)
        monkeypatch.setenv("DOCKER_HOST", f"unix://{service_root}/gone.sock")
        result = await engine.call("fetch", {})
        assert result.is_error and "the Docker daemon is unreachable" in result.text_content()
        monkeypatch.undo()  # the daemon is back: the engine stops its container on shutdown
    assert containers(service_root) == []


def test_build_makes_the_image_of_a_build_service(service_root: Path, busybox_image: str) -> None:
    """`skillz-engine build` builds a `build:` service's Dockerfile (FROM scratch) into a labelled
    image, and the service then runs from it."""
    from skillz_engine.cli.main import main

    write_tree(service_root, service(busybox_image))
    entry = service_root / "services" / "web"
    (entry / "image" / "rootfs" / "bin").mkdir(parents=True)
    (entry / "image" / "rootfs" / "www").mkdir()
    shutil.copy(shutil.which("busybox") or "/bin/busybox", entry / "image" / "rootfs" / "bin" / "busybox")
    (entry / "image" / "rootfs" / "bin" / "sh").symlink_to("busybox")
    (entry / "image" / "rootfs" / "www" / "index.html").write_text("built here\n")
    (entry / "image" / "Dockerfile").write_text("FROM scratch\nCOPY rootfs/ /\n")
    manifest = entry / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace(f"image: {busybox_image}", "build: image"))
    assert main(["build", str(service_root), "--only", "web"]) == 0
    label = f"{TREE}={tree_id(service_root / '.skillz')}"
    (image,) = client().images.list(filters={"label": label})
    assert image.tags[0].startswith("skillz-engine/")

    async def call() -> Any:
        async with Engine.open([service_root]) as engine:
            return await engine.call("fetch", {})

    result = anyio.run(call)
    assert not result.is_error, result.text_content()
    assert json.loads(result.text_content())["body"] == "built here\n"
