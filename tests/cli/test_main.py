"""The command line: verbs, formats and exit codes (0 ok, 1 errors, 2 usage, 3 internal)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from skillz_engine.builtins import catalog
from skillz_engine.cli.main import main

GOOD = (
    "kind: prompt\ndescription: A prompt.\nmessages:\n  - role: user\n    content: hi {{ who }}\n"
    "arguments:\n  - name: who\n    required: true\n"
)
BAD = "kind: prompt\ndescription: 3\nmessages: []\nbogus: 1\n"


def _tree(tmp_path: Path, bad: bool = False) -> Path:
    (tmp_path / "prompts/p").mkdir(parents=True)
    (tmp_path / "prompts/p/manifest.yaml").write_text(BAD if bad else GOOD)
    return tmp_path


def test_validate_clean_tree_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clean tree exits 0 and says how many entries were checked."""
    assert main(["validate", str(_tree(tmp_path))]) == 0
    assert "1 entry checked: 0 errors, 0 warnings" in capsys.readouterr().out


def test_validate_errors_exit_1_with_positions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Errors exit 1; each line is path:line:col: severity CODE message, with a hint below."""
    assert main(["validate", str(_tree(tmp_path, bad=True))]) == 1
    out = capsys.readouterr().out
    assert "manifest.yaml:2:14: error SKZ103 expected string, got an integer" in out
    assert "manifest.yaml:4:1: warning SKZ110 unknown key 'bogus'" in out
    assert "    hint: " in out


def test_strict_turns_warnings_into_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--strict fails on a tree whose only problem is an unknown key."""
    _tree(tmp_path)
    (tmp_path / "prompts/p/manifest.yaml").write_text(GOOD + "extra: 1\n")
    assert main(["validate", str(tmp_path)]) == 0
    assert main(["validate", "--strict", str(tmp_path)]) == 1
    assert "error SKZ110" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["json", "github", "sarif"])
def test_machine_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """json, github and sarif carry the same diagnostics with positions."""
    assert main(["validate", "--format", fmt, str(_tree(tmp_path, bad=True))]) == 1
    out = capsys.readouterr().out
    if fmt == "json":
        data = json.loads(out)
        assert data["errors"] >= 1 and data["warnings"] == 1
        d = data["diagnostics"][0]
        assert (d["line"], d["col"], d["code"], d["jsonPath"]) == (2, 14, "SKZ103", "$.description")
    elif fmt == "github":
        assert "::error file=" in out and ",line=2,col=14,title=SKZ103::" in out
        assert "::warning file=" in out
    else:
        sarif = json.loads(out)
        result = sarif["runs"][0]["results"][0]
        assert sarif["version"] == "2.1.0"
        assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 14}


def test_validate_accepts_manifest_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """pre-commit passes files: only those entries are reported."""
    _tree(tmp_path)
    (tmp_path / "prompts/q").mkdir()
    (tmp_path / "prompts/q/manifest.yaml").write_text(BAD)
    assert main(["validate", str(tmp_path / "prompts/p/manifest.yaml")]) == 0
    assert main(["validate", str(tmp_path / "prompts/q/manifest.yaml")]) == 1
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Bad flags, unknown verbs and unknown schema kinds exit 2."""
    assert main(["validate", "--format", "xml"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["schema", "scirpt"]) == 2
    assert "did you mean" in capsys.readouterr().err.lower()


def test_choice_lists_come_from_their_registries(capsys: pytest.CaptureFixture[str]) -> None:
    """--format offers every reporter, --disclosure every mode, --port says the default port."""
    from skillz_engine.cli.report import REPORTERS
    from skillz_engine.tree.config import DEFAULT_PORT, DISCLOSURE_MODES

    assert main(["validate", "--help"]) == 0
    assert "{" + ",".join(REPORTERS) + "}" in capsys.readouterr().out
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "{" + ",".join(DISCLOSURE_MODES) + "}" in out and f"default {DEFAULT_PORT};" in out
    assert main(["serve", "--disclosure", "bogus"]) == 2


def test_serve_strict_refuses_a_tree_with_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`serve --strict` reports the errors on stderr and exits 1 before anything is served."""
    assert main(["serve", "--strict", str(_tree(tmp_path, bad=True))]) == 1
    err = capsys.readouterr().err
    assert "error SKZ103" in err and "1 entry checked: 2 errors" in err
    assert not (tmp_path / ".skillz" / "audit.jsonl").exists()


def test_schema_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`schema KIND` prints that schema; without KIND the union of all kinds."""
    assert main(["schema", "command"]) == 0
    assert json.loads(capsys.readouterr().out)["$id"].endswith("/command.schema.json")
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$id"].endswith("/manifest.schema.json")


@pytest.mark.parametrize(
    "kind", ["script", "command", "prompt", "resource", "skill", "wasm", "pipeline", "service", "mcp-server"]
)
def test_new_scaffolds_an_entry_that_validates(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`new KIND NAME` writes an entry that validates with no errors."""
    assert main(["new", kind, "demo-one", "--root", str(tmp_path)]) == 0
    assert main(["validate", str(tmp_path)]) == 0
    assert main(["new", kind, "demo-one", "--root", str(tmp_path)]) == 2  # exists


@pytest.mark.parametrize("interpreter", ["python", "node", "bash"])
def test_new_script_runs(tmp_path: Path, interpreter: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A scaffolded script of each interpreter runs through `call`."""
    assert main(["new", "script", "demo", "--interpreter", interpreter, "--root", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["call", "demo", str(tmp_path), "--args", '{"text": "hey"}']) == 0
    assert "hey" in capsys.readouterr().out


@pytest.mark.parametrize("interpreter", ["python", "node", "bash", "ruby"])
def test_new_leaves_no_placeholder(tmp_path: Path, interpreter: str) -> None:
    """Every scaffolded file is filled in: no `{description}`-style template field survives."""
    assert main(["new", "script", "demo", "--interpreter", interpreter, "--root", str(tmp_path)]) == 0
    for path in (tmp_path / "tools" / "demo").iterdir():
        text = path.read_text()
        assert not re.search(r"\{[a-z_]+\}", text.replace("${#input}", "")), (path.name, text)


def test_new_bundle_needs_skills(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bundle lists existing skills; with none it says to create one first."""
    assert main(["new", "bundle", "b", "--root", str(tmp_path)]) == 2
    assert main(["new", "skill", "helper", "--root", str(tmp_path)]) == 0
    assert main(["new", "bundle", "b", "--root", str(tmp_path)]) == 0
    assert main(["validate", str(tmp_path)]) == 0


def test_list_and_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`list --json` shows entries and built-ins; `call` runs a tool and exits 1 on isError."""
    _tree(tmp_path)
    assert main(["list", "--json", str(tmp_path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    builtin = {p.name for p in catalog().prompts}  # the authoring prompts every server has
    assert [p["name"] for p in listed["prompts"] if p["name"] not in builtin] == ["p"]
    assert {"list_tools", "search_tools", "call_tool"} <= {t["name"] for t in listed["tools"]}
    assert main(["call", "search_tools", str(tmp_path), "--args", '{"query": "call"}']) == 0
    assert "call_tool" in capsys.readouterr().out
    assert main(["call", "call_tool", str(tmp_path), "--args", '{"tool_name": "nope"}']) == 1
    assert main(["call", "nope", str(tmp_path)]) == 2
    assert "unknown tool 'nope'" in capsys.readouterr().err
    assert main(["call", "list_tool", str(tmp_path)]) == 2
    assert "unknown tool 'list_tool'; did you mean list_tools" in capsys.readouterr().err
    assert main(["call", "list_tools", str(tmp_path), "--args", "{bad"]) == 2


def test_console_script_process(tmp_path: Path) -> None:
    """The installed entry point runs as a process, with the same exit codes."""
    env = {**os.environ, "NO_COLOR": "1"}
    ok = subprocess.run(
        [sys.executable, "-m", "skillz_engine", "validate", str(_tree(tmp_path))],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "prompts/p/manifest.yaml").write_text(BAD)
    bad = subprocess.run(
        [sys.executable, "-m", "skillz_engine", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 1 and "SKZ103" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr


def test_migrate_rewrites_rust_skillz_manifests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`migrate DIR` turns tool_type manifests into manifest.yaml that validates without warnings."""
    tool = tmp_path / "old"
    tool.mkdir()
    (tool / "manifest.json").write_text(
        json.dumps(
            {
                "name": "old",
                "version": "1.0.0",
                "description": "An old tool",
                "tool_type": "script",
                "entry_file": "old.py",
                "interpreter": "python3",
                "input_schema": {"type": ""},
                "dependencies": ["requests"],
                "created_at": "2025-13-01T00:00:00Z",
            }
        )
    )
    (tool / "old.py").write_text("print(1)\n")
    assert main(["validate", "--strict", str(tmp_path)]) == 1  # SKZ401 under --strict
    assert main(["migrate", "--dry-run", str(tmp_path)]) == 0
    assert (tool / "manifest.json").exists()
    assert main(["migrate", str(tmp_path)]) == 0
    assert (tool / "manifest.yaml").exists() and (tool / "manifest.json.bak").exists()
    capsys.readouterr()
    assert main(["validate", "--strict", str(tmp_path)]) == 0, capsys.readouterr().out


def test_migrate_keeps_every_field_of_a_skillz_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`services/<name>.json` becomes services/<name>/manifest.yaml with every field, `network`
    included (healthcheck.cmd as test), and the result validates clean."""
    old = {
        "name": "cache",
        "description": "Redis for the tools",
        "image": "redis:7-alpine",
        "ports": ["6379"],
        "env": {"REDIS_ARGS": "--save ''"},
        "volumes": ["cachedata:/data"],
        "healthcheck": {"cmd": "redis-cli ping", "interval": "2s", "retries": 15, "timeout": "5s"},
        "network": "skillz_services",
    }
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "cache.json").write_text(json.dumps(old))
    assert main(["migrate", str(tmp_path)]) == 0
    new = yaml.safe_load((tmp_path / "services" / "cache" / "manifest.yaml").read_text())
    hc = {"test": "redis-cli ping", "interval": "2s", "retries": 15, "timeout": "5s"}
    assert new == {
        "kind": "service",
        **{k: v for k, v in old.items() if k != "healthcheck"},
        "healthcheck": hc,
    }
    assert (tmp_path / "services" / "cache.json.bak").exists()
    capsys.readouterr()
    assert main(["validate", "--strict", str(tmp_path)]) == 0, capsys.readouterr().out


def test_validate_file_resolves_references_to_siblings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pipeline manifest passed alone (pre-commit) still sees the tools elsewhere in the tree."""
    (tmp_path / "tools/t").mkdir(parents=True)
    (tmp_path / "tools/t/manifest.yaml").write_text("kind: command\ndescription: t\nargv: [echo, hi]\n")
    (tmp_path / "pipelines/p").mkdir(parents=True)
    (tmp_path / "pipelines/p/manifest.yaml").write_text(
        "kind: pipeline\ndescription: p\nsteps:\n  - id: a\n    tool: t\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "pipelines/p/manifest.yaml"]) == 0, capsys.readouterr().out


def test_every_flag_and_argument_has_help() -> None:
    """`--help` of every verb explains each of its arguments (no bare `--json`)."""
    import argparse

    from skillz_engine.cli.main import build_parser

    parser = build_parser()
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{verb} {action.dest}"
        for verb, sub in verbs.choices.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert not missing


def test_missing_default_root_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no ~/.skillz, `list` and `call` say there is no tree and how to make one (exit 2), not
    "1 errors" or "unknown tool"; `serve` creates it and says it serves only the built-ins."""
    monkeypatch.setenv("SKILLZ_HOME", str(tmp_path / "home"))
    assert main(["list"]) == 2
    assert "no tree at" in capsys.readouterr().err
    assert main(["call", "hello"]) == 2
    err = capsys.readouterr().err
    assert "no tree at" in err and "skillz-engine new script hello" in err
    from skillz_engine.cli.roots import existing_roots

    said: list[str] = []
    assert existing_roots(None, say=said.append) == [tmp_path / "home"]
    assert (tmp_path / "home").is_dir() and "only the built-in tools" in said[0]


def test_list_table_is_aligned_and_names_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`list` prints one aligned row per tool, prompt and resource (the kind column starts at the
    same place on every row) and prints the errors themselves, not only how many there are."""
    _tree(tmp_path)
    bad = tmp_path / "tools" / "broken"
    bad.mkdir(parents=True)
    (bad / "manifest.yaml").write_text("kind: script\n")
    assert main(["list", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [
        line for line in out.splitlines() if re.match(r"\S+\s{2,}(builtin|prompt|resource|template)\b", line)
    ]
    assert len(rows) >= 4
    kinds = {re.search(r"\s{2,}(builtin|prompt|resource|template)\b", row).start(1) for row in rows}  # type: ignore[union-attr]
    assert len(kinds) == 1, out
    assert re.search(r"^2 errors, 0 warnings", out, re.M) and "SKZ102" in out and "manifest.yaml:1:1" in out
    assert all(line == line.rstrip() for line in out.splitlines())
