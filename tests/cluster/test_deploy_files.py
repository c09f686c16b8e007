"""The shipped deployment files parse and agree: deploy/haproxy.cfg (the configuration the cluster
tests run), deploy/compose.yaml and deploy/k8s/skillz.yaml (its HAProxy config checked by haproxy)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.balanced import HAPROXY_CFG, TEMPLATE_SLOTS, haproxy_env
from tests.conftest import require

DEPLOY = HAPROXY_CFG.parent


def haproxy_check(cfg: Path, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        [require("haproxy", "deploy files"), "-c", "-f", str(cfg)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def policy(cfg: str) -> list[str]:
    """The routing policy of a config: every line but where it listens and which servers it has."""
    lines = (line.strip() for line in cfg.splitlines())
    skip = ("#", "bind ", "server ", "server-template ", "resolvers ", "parse-resolv-conf", "hold ")
    return [line for line in lines if line and not line.startswith(skip)]


def test_the_haproxy_template_is_valid_when_filled() -> None:
    config = "\n".join(line.split("#")[0] for line in HAPROXY_CFG.read_text().splitlines())
    names = set(re.findall(r"\$\{(\w+)\}", config))
    env = haproxy_env("127.0.0.1:18000", ["127.0.0.1:18001", "127.0.0.1:18002"])
    assert names == set(env) and len(env) == TEMPLATE_SLOTS + 1
    haproxy_check(HAPROXY_CFG, env)


def test_compose_runs_redis_replicas_and_the_haproxy_template() -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    replicas = {n: s for n, s in services.items() if n.startswith("replica")}
    assert len(replicas) == TEMPLATE_SLOTS
    for name, service in replicas.items():
        command = service["command"]
        assert command[:2] == ["serve", "/tree"] and "--redis" in command and "--state-dir" in command
        assert service["environment"] == {"SKILLZ_REPLICA": name}
    proxy = services["haproxy"]
    assert set(proxy["environment"]) == set(haproxy_env("x", ["y"]))
    assert set(proxy["environment"].values()) >= {f"{n}:8000" for n in replicas}
    assert proxy["volumes"][0].startswith("./haproxy.cfg:")
    assert (DEPLOY / "Dockerfile").is_file()


def test_kubernetes_manifests_load_and_their_haproxy_has_the_tested_policy(tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "skillz.yaml").read_text()) if d]
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    assert "Deployment/skillz-replica" in kinds and "Service/skillz-replicas" in kinds, kinds
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["haproxy.cfg"]
    assert policy(config) == policy(HAPROXY_CFG.read_text())  # the same routing as the tested file
    (tmp_path / "haproxy.cfg").write_text(config)
    haproxy_check(tmp_path / "haproxy.cfg")
    replica = next(d for d in docs if d["metadata"]["name"] == "skillz-replica")["spec"]["template"]["spec"]
    args = replica["containers"][0]["args"]
    assert "--redis" in args and args[args.index("--redis") + 1] == "redis://skillz-redis:6379/0"
