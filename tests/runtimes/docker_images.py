"""Real Docker for the service tests: a busybox image made locally (no registry), and the removal
of everything a test's engine made.

Every image carries the session's unique label; every container, volume and network an engine
makes carries its tree's label (a digest of the test's state directory), so cleaning up removes
exactly what these tests made and nothing of anyone else's on a shared daemon.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skillz_engine.runtimes.service.client import TREE, ServiceFailure, client
from skillz_engine.runtimes.service.plan import tree_id
from tests.conftest import IN_CI, require

SESSION = uuid.uuid4().hex[:10]
TEST_LABEL = "dev.skillz-engine.test"
BUSYBOX = "/bin/busybox"
INDEX = "hello from busybox\n"


def docker_client() -> Any:
    """The daemon's client; skip (locally) or fail (CI) when there is none."""
    require("docker", "kind: service tests need a Docker daemon")
    try:
        c = client()
        c.ping()
    except (ServiceFailure, Exception) as exc:
        if IN_CI:
            pytest.fail(f"the Docker daemon does not answer (scripts/test starts one): {exc}")
        pytest.skip(f"the Docker daemon does not answer: {exc}")
    return c


def rootfs_tar(files: dict[str, str]) -> bytes:
    """A root file system holding static busybox (as /bin/busybox and /bin/sh) and ``files``."""
    busybox = shutil.which("busybox") or BUSYBOX
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="session")
def busybox_image() -> Iterator[str]:
    """``skillz-engine-test/busybox:<session>``: busybox httpd serving INDEX on 8080."""
    c = docker_client()
    tag = f"skillz-engine-test/busybox:{SESSION}"
    changes = [
        'CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]',
        "EXPOSE 8080",
        f"LABEL {TEST_LABEL}={SESSION}",
    ]
    c.api.import_image_from_data(rootfs_tar({"www/index.html": INDEX}), repository=tag.split(":")[0],
                                 tag=SESSION, changes=changes)  # fmt: skip
    yield tag
    for image in c.images.list(filters={"label": f"{TEST_LABEL}={SESSION}"}):
        c.images.remove(image.id, force=True)


def remove_tree(state_dir: Path) -> None:
    """Remove every container, volume, network and built image of the engine on ``state_dir``."""
    c = client()
    label = f"{TREE}={tree_id(state_dir)}"
    for ct in c.containers.list(all=True, filters={"label": label}):
        ct.remove(force=True)
    for volume in c.volumes.list(filters={"label": label}):
        volume.remove(force=True)
    for network in c.networks.list(filters={"label": label}):
        network.remove()
    for image in c.images.list(filters={"label": label}):
        c.images.remove(image.id, force=True)


@pytest.fixture
def service_root(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    """A root for one test; whatever its engine made in Docker is removed afterwards."""
    root = tmp_path / "tree"
    root.mkdir()
    yield root
    remove_tree(root / ".skillz")
