"""The argv that launches an MCP server in its own container over stdio (no daemon needed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from skillz_engine.runtimes.service.client import DIGEST, ENTRY, MANAGED, TREE
from skillz_engine.runtimes.service.plan import tree_id
from skillz_engine.runtimes.service.stdio import stdio_argv
from tests.conftest import open_tree


def test_stdio_argv_is_hardened_labelled_and_keeps_secrets_out_of_the_argv(tmp_path: Path) -> None:
    (tmp_path / "servers" / "fetch" / "cache").mkdir(parents=True)
    (tmp_path / "servers" / "fetch" / "manifest.yaml").write_text(
        "kind: service\nimage: mcp/fetch:1\nenv: {LOG_LEVEL: debug}\nsecrets: [SKILLZ_TOKEN]\n"
        "capAdd: [NET_BIND_SERVICE]\nresources: {memory: 256MiB, cpus: 0.5}\nvolumes: ['./cache:/cache:ro']\n"
    )
    tree = open_tree([tmp_path])
    tree.full_scan()
    (spec,) = tree.snapshot().specs.values()
    # an mcp-server entry: the same container keys, its `args` as the container's command
    server = dataclasses.replace(spec, kind="mcp-server", data={**spec.data, "args": ["--verbose"]})
    state = tmp_path / ".skillz"
    environ = {"PATH": "/usr/bin", "SKILLZ_TOKEN": "s3cret", "OTHER": "x"}
    argv, env = stdio_argv(server, state, "abc123", environ=environ)
    t = tree_id(state)
    assert argv == [
        "docker", "run", "-i", "--rm", "--init", "--name", f"skillz-{t}-fetch-abc123",
        "--label", f"{MANAGED}=1", "--label", f"{TREE}={t}", "--label", f"{ENTRY}=fetch",
        "--label", f"{DIGEST}=abc123",
        "--security-opt", "no-new-privileges", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE",
        "--read-only", "--tmpfs", "/tmp:size=64m,mode=1777", "--pids-limit", "512", "--network", "none",
        "--memory", str(256 << 20), "--cpus", "0.5",
        "-e", "LOG_LEVEL", "-e", "SKILLZ_TOKEN",
        "-v", f"{(tmp_path / 'servers' / 'fetch' / 'cache').resolve()}:/cache:ro",
        "mcp/fetch:1", "--verbose",
    ]  # fmt: skip
    assert "s3cret" not in " ".join(argv)
    assert env == {"PATH": "/usr/bin", "LOG_LEVEL": "debug", "SKILLZ_TOKEN": "s3cret"}
