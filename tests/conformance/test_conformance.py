"""The official MCP conformance suite and MCP Inspector against ``skillz-engine serve`` on ``tree/``.

``tree/`` holds only manifests (and small scripts for the tools that log, report progress, sample,
elicit or run as tasks, and one skill): everything the server scenarios of
``@modelcontextprotocol/conformance`` expect. The engine is started as a real subprocess
(``serve --transport http --no-auth``); two pinned suites run every server scenario they have
(``--suite all``: active, pending and draft ones): 0.1.16 for each spec version it knows, and
0.2.0-alpha.12 for each spec version and once unfiltered (all 65 scenarios, the Skills and Tasks
extension scenarios included). A scenario passes when none of its checks is a FAILURE (warnings
are SHOULDs the suite only reports); one that finds no fixture reports a FAILURE, so a pass is
never vacuous. ``expected-failures.yaml`` lists what may fail, one line of reason (with the spec clause)
per entry; it should be empty, and an entry that passes fails the test, so it cannot go stale.

Inspector CLI 2.x (node 22) then calls ``tools/list``, ``tools/call``, ``resources/read`` and
``prompts/get`` over stdio and over HTTP.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conformance.nodejs_toolchain import CONFORMANCE_NEXT, CONFORMANCE_VERSION, Toolchain, toolchain

HERE = Path(__file__).parent
TREE = HERE / "tree"
EXPECTED_FAILURES = HERE / "expected-failures.yaml"
# (suite, spec version); None runs every scenario of the suite (extensions included)
RUNS = (
    (CONFORMANCE_VERSION, "2025-06-18"),
    (CONFORMANCE_VERSION, "2025-11-25"),
    (CONFORMANCE_NEXT, "2025-06-18"),
    (CONFORMANCE_NEXT, "2025-11-25"),
    (CONFORMANCE_NEXT, "2026-07-28"),
    (CONFORMANCE_NEXT, None),
)
RUN_TIMEOUT = 300

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node() -> Toolchain:
    return toolchain()


def engine_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "skillz_engine", *args]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``skillz-engine serve tree scratch --transport http --no-auth --port 0``; yields the MCP URL."""
    state = tmp_path_factory.mktemp("state")
    # a second, empty root the test_trigger_*_change tools add entries to and remove them from, so
    # the suite sees the tool and prompt lists change (the tree itself is never written)
    scratch = tmp_path_factory.mktemp("scratch")
    log = open(state.parent / "serve.log", "w+b")  # noqa: SIM115 (closed below)
    argv = engine_argv(
        "serve",
        str(TREE),
        str(scratch),
        "--transport",
        "http",
        "--no-auth",
        "--port",
        "0",
        "--state-dir",
        str(state),
    )
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server_json = state / "server.json"
    try:
        deadline = time.monotonic() + 30
        while not server_json.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"skillz-engine serve did not start:\n{log.read().decode(errors='replace')}")
            time.sleep(0.05)
        time.sleep(0.05)  # written atomically, but be gentle
        yield str(json.loads(server_json.read_text())["url"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def expected_failures() -> dict[str, str]:
    """Scenario -> reason, from the comments of ``expected-failures.yaml``."""
    data = yaml.safe_load(EXPECTED_FAILURES.read_text()) or {}
    names = [str(n) for n in data.get("server") or ()]
    reasons: dict[str, str] = {}
    for name in names:
        m = re.search(rf"^\s*-\s*{re.escape(name)}\s*#\s*(\S.*)$", EXPECTED_FAILURES.read_text(), re.M)
        assert m, f"expected-failures.yaml: {name} needs one line of reason citing the spec clause"
        reasons[name] = m.group(1)
    return reasons


def scenario_results(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Scenario name -> its checks, from ``<out>/server-<scenario>-<timestamp>/checks.json``."""
    results: dict[str, list[dict[str, Any]]] = {}
    for checks in sorted(out.glob("server-*/checks.json")):
        m = re.fullmatch(r"server-(.+)-\d{4}-\d\d-\d\dT.*", checks.parent.name)
        assert m, checks
        results[m.group(1)] = json.loads(checks.read_text())
    return results


def test_expected_failures_file_has_a_reason_per_entry() -> None:
    for name, reason in expected_failures().items():
        assert re.search(r"spec|SEP-\d+|§|/specification/", reason, re.I), f"{name}: {reason}"


@pytest.mark.parametrize(("suite", "version"), RUNS, ids=[f"{s}-{v or 'all'}" for s, v in RUNS])
def test_conformance_suite(
    node: Toolchain, served: str, suite: str, version: str | None, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    argv = [str(node.conformance(suite)), "server", "--url", served, "--suite", "all", "-o", str(out)]
    if version is not None:
        argv += ["--spec-version", version]
    proc = subprocess.run(
        argv, env=node.env(tmp_path), capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path
    )
    results = scenario_results(out)
    listed = re.search(r"Running all suite \((\d+) scenarios\)", proc.stdout)
    assert listed, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(results) == int(listed.group(1)), sorted(results)

    def failures(checks: list[dict[str, Any]]) -> list[str]:
        return [f"{c['id']}: {c.get('errorMessage', '')}" for c in checks if c["status"] == "FAILURE"]

    failed = {name: failures(checks) for name, checks in results.items() if failures(checks)}
    passed = sorted(set(results) - set(failed))
    expected = {n: r for n, r in expected_failures().items() if n in results}
    print(f"\nconformance {suite} {version or 'all'}: {len(passed)}/{len(results)} scenarios passed")
    for name in sorted(failed):
        print(f"  FAILED {name}: {'; '.join(failed[name])}")
    unexpected = {n: f for n, f in failed.items() if n not in expected}
    stale = sorted(n for n in expected if n not in failed)
    assert not unexpected, f"scenarios failed ({version}): {json.dumps(unexpected, indent=2)}"
    assert not stale, f"scenarios pass now; remove them from expected-failures.yaml: {stale}"


# ---------------------------------------------------------------------------- MCP Inspector


def inspector(node: Toolchain, home: Path, target: list[str], *method: str) -> Any:
    argv = [str(node.bin("mcp-inspector")), "--cli", *target, "--method", *method]
    proc = subprocess.run(argv, env=node.env(home), capture_output=True, text=True, timeout=120, cwd=home)
    assert proc.returncode == 0, f"{' '.join(method)}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return json.loads(proc.stdout)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_inspector_cli(node: Toolchain, served: str, transport: str, tmp_path: Path) -> None:
    if transport == "stdio":
        target = engine_argv("serve", str(TREE), "--state-dir", str(tmp_path / "state"), "--no-watch")
    else:
        target = [served, "--transport", "http"]

    tools = inspector(node, tmp_path, target, "tools/list")["tools"]
    names = {t["name"] for t in tools}
    assert {"test_simple_text", "test_image_content", "json_schema_2020_12_tool"} <= names
    schema = next(t for t in tools if t["name"] == "json_schema_2020_12_tool")["inputSchema"]
    assert schema["$defs"]["address"]["type"] == "object" and schema["additionalProperties"] is False

    called = inspector(node, tmp_path, target, "tools/call", "--tool-name", "test_simple_text")
    assert called["content"] == [{"type": "text", "text": "This is a simple text response for testing."}]
    assert not called.get("isError")

    read = inspector(node, tmp_path, target, "resources/read", "--uri", "test://template/42/data")
    assert read["contents"][0]["mimeType"] == "application/json"
    assert json.loads(read["contents"][0]["text"]) == {
        "id": "42",
        "templateTest": True,
        "data": "Data for ID: 42",
    }

    args = ["--prompt-name", "test_prompt_with_arguments", "--prompt-args", "arg1=left", "arg2=right"]
    prompt = inspector(node, tmp_path, target, "prompts/get", *args)
    text = "Prompt with arguments: arg1='left', arg2='right'"
    assert prompt["messages"] == [{"role": "user", "content": {"type": "text", "text": text}}]


def test_inspector_cli_skills_commands_verify_every_digest(
    node: Toolchain, served: str, tmp_path: Path
) -> None:
    """Inspector 2.12's SEP-2640 commands: skills/list --verify reads every file back and checks
    its digest and size against the listing; skills/get and resources/directory/read."""
    target = [served, "--transport", "http"]
    argv = [str(node.bin("mcp-inspector")), "--cli", *target, "--method", "skills/list", "--verify"]
    proc = subprocess.run(
        argv, env=node.env(tmp_path), capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (report,) = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert report["ok"] and report["outcome"] == "verified"
    assert [f["status"] for f in report["files"]] == ["verified", "verified"]

    uri = "skill://conformance-demo/SKILL.md"
    skill = inspector(node, tmp_path, target, "skills/get", "--uri", uri)["skill"]
    assert skill["frontmatter"]["name"] == "conformance-demo"
    assert [r["uri"] for r in skill["resources"]] == [uri, "skill://conformance-demo/references/GUIDE.md"]
    listing = inspector(
        node, tmp_path, target, "resources/directory/read", "--uri", "skill://conformance-demo"
    )
    assert {r["uri"] for r in listing["resources"]} == {uri, "skill://conformance-demo/references"}


def test_inspector_cli_rich_content_over_http(node: Toolchain, served: str, tmp_path: Path) -> None:
    target = [served, "--transport", "http"]
    image = inspector(node, tmp_path, target, "tools/call", "--tool-name", "test_image_content")
    assert image["content"][0]["type"] == "image" and image["content"][0]["mimeType"] == "image/png"
    blob = inspector(node, tmp_path, target, "resources/read", "--uri", "test://static-binary")
    assert blob["contents"][0]["mimeType"] == "image/png"
    assert (
        blob["contents"][0]["blob"]
        == base64.b64encode((TREE / "resources/static-binary/red.png").read_bytes()).decode()
    )
    args = ["--prompt-name", "test_prompt_with_embedded_resource", "--prompt-args", "resourceUri=test://x"]
    embedded = inspector(node, tmp_path, target, "prompts/get", *args)
    assert embedded["messages"][0]["content"]["resource"] == {
        "uri": "test://x",
        "mimeType": "text/plain",
        "text": "Embedded resource content for testing.",
    }


def test_tree_validates_clean() -> None:
    proc = subprocess.run(
        engine_argv("validate", "--strict", str(TREE)),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
