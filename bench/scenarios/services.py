"""``kind: service``: start to healthy for a local image, and what ``requires.services`` adds to a call.

Row 1: a fresh version of a service (busybox httpd, imported locally: no registry) from nothing to
healthy through the engine's handle (``ensure``: find the image, run the hardened container, poll
its health check every 100 ms), against the bare SDK running the same image and waiting only until
it is running. The container is removed after each sample.

Row 2: in-process ``run_tool`` of a ``kind: command`` tool that requires the service (already
healthy) against the same tool without ``requires``, calls interleaved. Target (issue 13): at most
+1 ms p50.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import anyio

from bench.core import Ctx, Row, judge, reason_of, summary_or_none
from bench.procs import Unavailable

NAME = "services"
TITLE = "Docker service: start / call"
LABEL = "dev.skillz-engine.bench"
HEALTH = '{test: ["/bin/busybox", "test", "-f", "/tmp/ready"], interval: 100ms, timeout: 1s, retries: 20}'
COMMAND = '["/bin/sh", "-c", "/bin/busybox touch /tmp/ready; exec /bin/busybox httpd -f -p 8080 -h /"]'


def _image(run_id: str) -> Any:
    import io
    import tarfile

    from skillz_engine.runtimes.service.client import client

    busybox = shutil.which("busybox")
    if busybox is None:
        raise Unavailable("no static busybox on this machine (apt-get install busybox-static)")
    c = client()
    c.ping()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
    tag = f"skillz-engine-bench/busybox:{run_id}"
    c.api.import_image_from_data(buf.getvalue(), repository=tag.split(":")[0], tag=run_id,
                                 changes=[f"LABEL {LABEL}={run_id}"])  # fmt: skip
    return tag


def _write_tree(root: Path, image: str) -> None:
    svc = root / "services" / "web"
    svc.mkdir(parents=True, exist_ok=True)
    (svc / "manifest.yaml").write_text(
        f"kind: service\nimage: {image}\ncommand: {COMMAND}\nports: ['8080']\nhealthcheck: {HEALTH}\n"
    )
    for name, requires in (("with-service", "requires: {services: [web]}\n"), ("without", "")):
        tool = root / "tools" / name
        tool.mkdir(parents=True, exist_ok=True)
        (tool / "manifest.yaml").write_text(
            f"kind: command\ndescription: echo\nargv: [/bin/echo, ok]\nsandbox: none\n{requires}"
        )


def run(ctx: Ctx) -> list[Row]:
    run_id = uuid.uuid4().hex[:10]
    try:
        image = _image(run_id)
    except Exception as exc:
        reason = reason_of(exc)
        return [Row(TITLE, "start to healthy", "ms", unavailable=reason),
                Row(TITLE, "call with a healthy service", "ms", unavailable=reason)]  # fmt: skip
    root = ctx.work / "services-tree"
    _write_tree(root, image)
    rows: list[Row] = []
    try:
        rows.append(_start(ctx, root, image))
        rows.append(anyio.run(_calls, ctx, root))
    finally:
        _cleanup(root, run_id)
    return rows


def _start(ctx: Ctx, root: Path, image: str) -> Row:
    from skillz_engine.build.compile import Tree
    from skillz_engine.runtimes.service.client import client
    from skillz_engine.runtimes.service.handle import ServiceHandle

    tree = Tree([root])
    tree.full_scan()
    snap = tree.snapshot()
    (compiled,) = [c for c in snap.entries.values() if c.spec.kind == "service"]
    plan = compiled.handle.plan
    c = client()
    engine: list[float] = []
    bare: list[float] = []
    for r in range(ctx.reps(10, 2) + 1):
        for side in ("engine", "bare") if r % 2 else ("bare", "engine"):
            t0 = time.perf_counter()
            if side == "engine":
                handle = ServiceHandle(plan)
                handle.ensure()
                elapsed = (time.perf_counter() - t0) * 1000
                handle.stop()
            else:
                argv = ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/"]
                ports = {"8080/tcp": ("127.0.0.1", None)}
                ct = c.containers.run(
                    image, argv, detach=True, init=True, labels=dict(plan.labels), ports=ports
                )
                while ct.status != "running":
                    ct.reload()
                elapsed = (time.perf_counter() - t0) * 1000
                ct.remove(force=True)
            if r:
                (engine if side == "engine" else bare).append(elapsed)
    return Row(TITLE, "start to healthy (local busybox image)", "ms", summary_or_none(engine),
               "bare SDK run until running (no health check)", summary_or_none(bare),
               notes=f"{len(engine)} starts per side; health check interval 100 ms")  # fmt: skip


async def _calls(ctx: Ctx, root: Path) -> Row:
    from skillz_engine.engine import Engine
    from skillz_engine.runtimes.base import LocalCallContext, run_tool

    lat: dict[str, list[float]] = {"with-service": [], "without": []}
    async with Engine.open([root]) as engine:
        snap = engine.snapshot
        first = await engine.call("with-service", {})  # starts the service and waits for health
        if first.is_error:
            raise Unavailable(first.text_content()[:300])
        calls, warm = (20, 3) if ctx.quick else (300, 10)
        for i in range(warm + calls):
            for side in ("with-service", "without") if i % 2 else ("without", "with-service"):
                tool = snap.tools[side]
                t0 = time.perf_counter()
                result = await run_tool(tool, {}, LocalCallContext(snap, side))
                elapsed = (time.perf_counter() - t0) * 1000
                if result.is_error:
                    raise Unavailable(result.text_content()[:300])
                if i >= warm:
                    lat[side].append(elapsed)
    e, b = summary_or_none(lat["with-service"]), summary_or_none(lat["without"])
    row = Row(TITLE, "call: tool requiring a healthy service", "ms", e, "the same tool without requires", b,
              target="<= +1 ms p50",
              notes=f"{calls} calls per side, interleaved; in-process run_tool")  # fmt: skip
    if e is not None and b is not None:
        row.met = judge(ctx, e.median - b.median <= 1.0)
    return row


def _cleanup(root: Path, run_id: str) -> None:
    from skillz_engine.runtimes.service.client import TREE, client
    from skillz_engine.runtimes.service.plan import tree_id

    c = client()
    for ct in c.containers.list(all=True, filters={"label": f"{TREE}={tree_id(root / '.skillz')}"}):
        ct.remove(force=True)
    for image in c.images.list(filters={"label": f"{LABEL}={run_id}"}):
        c.images.remove(image.id, force=True)
