"""Dependency installs are confined (issue 15 #3): plain package specs only, unless skillz.yaml allows
direct references; installers run sandboxed in a clean environment, their env directory the only
place they can write."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from skillz_engine.isolation.confine import PASSED, confined
from skillz_engine.isolation.depspecs import npm_problem, pip_problem
from tests.conftest import Call, MakeTool, open_tree, require

pytestmark = pytest.mark.anyio

SECRET = "skillz-secret-4f9a1c77e2"


@pytest.mark.parametrize(
    "spec",
    ["./pkg", "/abs/pkg", "../up", "evil.tar.gz", "x.whl", "x @ https://e.example/x.whl",
     "git+https://e.example/x.git", "https://e.example/x.tar.gz", "--index-url=http://e.example",
     "-e .", "-r requirements.txt", "six>=1 --hash=sha256:00"],
)  # fmt: skip
def test_pip_specs_other_than_names_with_versions_are_refused(spec: str) -> None:
    assert pip_problem(spec) is not None


@pytest.mark.parametrize(
    "spec",
    ["./pkg", "/abs/pkg", "file:../pkg", "pkg@file:../pkg", "user/repo", "github:user/repo",
     "git+https://e.example/x.git", "https://e.example/x.tgz", "x.tgz", "alias@npm:lodash@4",
     "--registry=http://e.example", "-g", "x@git+ssh://e.example/x", "x@../y"],
)  # fmt: skip
def test_npm_specs_other_than_names_with_ranges_are_refused(spec: str) -> None:
    assert npm_problem(spec) is not None


def test_names_with_versions_are_accepted() -> None:
    for spec in ["six", "Requests[socks]>=2.31,<3", "rich ; python_version >= '3.8'", "a.b-c_d==1.0"]:
        assert pip_problem(spec) is None, spec
    for spec in [
        "lodash",
        "lodash@^4.17.21",
        "@types/node@>=18 <21",
        "is-number@7.0.0",
        "x@latest",
        "JSONStream",
    ]:
        assert npm_problem(spec) is None, spec
    assert (
        pip_problem("./pkg", allow_direct=True) is None
        and npm_problem("x@file:../y", allow_direct=True) is None
    )
    assert pip_problem("--index-url=x", allow_direct=True) is not None  # options: never


def test_bad_specs_are_positioned_diagnostics_and_the_opt_in_allows_them(
    make_tool: MakeTool, tmp_path: Path
) -> None:
    make_tool(
        "m",
        "kind: script\ndescription: d\nentry: main.py\ndependencies:\n  pip:\n    - six\n"
        "    - --index-url=http://e.example/simple\n  npm: [./local]\n",
        {"main.py": "print(1)\n"},
    )
    make_tool(
        "p",
        "kind: script\ndescription: d\nentry: main.py\n",
        {"main.py": '# /// script\n# dependencies = [\n#   "six",\n#   "x @ file:///etc",\n# ]\n# ///\n'},
    )
    tree = open_tree([tmp_path])
    tree.full_scan()
    snap = tree.snapshot()
    assert "m" not in snap.tools and "p" not in snap.tools
    found = sorted((Path(d.path).parent.name, d.line, d.col, d.code) for d in snap.errors)
    assert found == [("m", 7, 7, "SKZ522"), ("m", 8, 9, "SKZ522"), ("p", 4, 5, "SKZ522")]
    assert all(
        "allowDirectReferences" in (d.hint or "") for d in snap.errors if Path(d.path).parent.name == "p"
    )
    (tmp_path / "skillz.yaml").write_text("dependencies:\n  allowDirectReferences: true\n")
    tree = open_tree([tmp_path])
    tree.full_scan()
    snap = tree.snapshot()
    assert "p" in snap.tools and "m" not in snap.tools  # the option is refused even so
    assert [(d.line, d.code) for d in snap.errors] == [(7, "SKZ522")]


def test_installer_environment_is_clean_and_scratch_is_private(tmp_path: Path) -> None:
    environ = {"PATH": "/usr/bin:/bin", "SKILLZ_TOKEN": SECRET, "AWS_SECRET_ACCESS_KEY": SECRET,
               "PIP_INDEX_URL": "https://idx.example/simple", "HTTPS_PROXY": "http://proxy:3128",
               "VIRTUAL_ENV": "/v", "HOME": "/root"}  # fmt: skip
    with confined("none", tmp_path / "env", ["/usr/bin/true"], environ=environ) as box:
        env = dict(box.env)
        scratch = Path(env["HOME"])
        assert scratch.is_dir() and scratch != Path("/root")
    assert SECRET not in env.values() and "VIRTUAL_ENV" not in env
    assert env["PIP_INDEX_URL"] == "https://idx.example/simple" and env["HTTPS_PROXY"] == "http://proxy:3128"
    assert all(k in PASSED or v.startswith(str(scratch)) or k.startswith(("UV_", "PIP_", "npm_config_"))
               for k, v in env.items())  # fmt: skip
    assert not scratch.exists()  # removed with the install


def _probe_files(outside: Path) -> str:
    """Shell lines that record the environment and try to write outside the env directory."""
    return textwrap.dedent(f"""\
        env > "$INIT_CWD/seen-env.txt"
        if touch {outside}/var-tmp-marker 2>/dev/null; then echo WROTE >> "$INIT_CWD/seen-writes.txt"; \
        else echo REFUSED >> "$INIT_CWD/seen-writes.txt"; fi
        if touch "$INIT_CWD/../poisoned" 2>/dev/null; then echo WROTE >> "$INIT_CWD/seen-writes.txt"; \
        else echo REFUSED >> "$INIT_CWD/seen-writes.txt"; fi
        """)


PROBE_PACKAGE = '{"name": "probe", "version": "1.0.0", "scripts": {"preinstall": "sh probe.sh"}}'


def _pack(tmp_path: Path, script: str) -> Path:
    """A real npm package tarball whose preinstall runs ``script``."""
    npm = require("npm")
    pkg = tmp_path / "src" / "probe"
    pkg.mkdir(parents=True)
    (pkg / "package.json").write_text(PROBE_PACKAGE)
    (pkg / "probe.sh").write_text(script)
    dest = str(tmp_path / "src")
    subprocess.run(
        [npm, "pack", "--silent", "--pack-destination", dest], cwd=pkg, check=True, capture_output=True
    )
    return tmp_path / "src" / "probe-1.0.0.tgz"


def _npm_tool(make_tool: MakeTool, tarball: Path) -> None:
    manifest = "kind: script\ndescription: d\nentry: main.js\nprotocol: plain\ndependencies:\n"
    make_tool("probe", manifest + f"  npm: ['probe@file:{tarball}']\n", {"main.js": "console.log(1)\n"})


async def test_npm_install_script_runs_sandboxed_without_secrets(
    make_tool: MakeTool, call: Call, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real npm package whose preinstall runs `env` and tries to write outside its env directory
    (into /var/tmp and next to the other environments): no secret, no SKILLZ_* variable, no write."""
    require("bwrap", "installers run in the tree's sandbox")
    outside = Path("/var/tmp")
    tarball = _pack(tmp_path, _probe_files(outside))
    (tmp_path / "skillz.yaml").write_text(
        "sandbox: bwrap\ndependencies:\n  allowDirectReferences: true\n  installScripts: true\n"
    )
    _npm_tool(make_tool, tarball)
    monkeypatch.setenv("SKILLZ_UNNAMED_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_PASSWORD", SECRET)
    (outside / "var-tmp-marker").unlink(missing_ok=True)
    result, _ = await call("probe")
    assert not result.is_error, result.text_content()
    (env_dir,) = [p for p in (tmp_path / ".skillz" / "envs").iterdir() if p.is_dir()]
    seen = (env_dir / "seen-env.txt").read_text()
    assert "npm_lifecycle_event=preinstall" in seen  # the script really ran
    assert SECRET not in seen and "SKILLZ_" not in seen and "DATABASE_PASSWORD" not in seen
    # /var/tmp is read-only in the sandbox; the state directory lies under /tmp here, which the
    # sandbox replaces with a private tmpfs: that write lands there and is gone with it
    assert (env_dir / "seen-writes.txt").read_text().split()[0] == "REFUSED"
    assert not (outside / "var-tmp-marker").exists() and not (env_dir.parent / "poisoned").exists()


async def test_npm_install_scripts_are_off_by_default(
    make_tool: MakeTool, call: Call, tmp_path: Path
) -> None:
    tarball = _pack(tmp_path, 'env > "$INIT_CWD/seen-env.txt"\n')
    (tmp_path / "skillz.yaml").write_text("dependencies:\n  allowDirectReferences: true\n")
    _npm_tool(make_tool, tarball)
    result, _ = await call("probe")
    assert not result.is_error, result.text_content()
    (env_dir,) = [p for p in (tmp_path / ".skillz" / "envs").iterdir() if p.is_dir()]
    assert (env_dir / "node_modules" / "probe" / "probe.sh").is_file()
    assert not (env_dir / "seen-env.txt").exists()


BACKEND = """
import os, pathlib
def _probe():
    names = sorted(os.environ)
    writes = []
    for target in ("/var/tmp/skillz-pip-marker", os.environ.get("PROBE_TARGET", "/etc/skillz-pip-marker")):
        try:
            pathlib.Path(target).write_text("x")
            writes.append("WROTE")
        except OSError:
            writes.append("REFUSED")
    values = "SECRET-SEEN" if any("{secret}" in v for v in os.environ.values()) else "NO-SECRET"
    raise SystemExit("PROBE " + " ".join(writes) + " " + values + " NAMES " + ",".join(names))
def get_requires_for_build_wheel(config_settings=None):
    _probe()
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _probe()
"""


@pytest.mark.parametrize("installer", ["uv", "pip"])
async def test_pip_build_code_runs_sandboxed_without_secrets(
    make_tool: MakeTool, call: Call, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installer: str
) -> None:
    """A real pip/uv install of a local package whose build backend dumps its environment and tries
    to write outside: it sees no secret and no SKILLZ_* variable, and both writes fail."""
    require("bwrap", "installers run in the tree's sandbox")
    if installer == "uv":
        require("uv")
    pkg = tmp_path / "src" / "probe"
    pkg.mkdir(parents=True)
    build = '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    (pkg / "pyproject.toml").write_text('[project]\nname = "probe"\nversion = "1"\n' + build)
    (pkg / "backend.py").write_text(BACKEND.replace("{secret}", SECRET))
    (tmp_path / "skillz.yaml").write_text(
        f"sandbox: bwrap\ndependencies:\n  allowDirectReferences: true\n  installer: {installer}\n"
    )
    make_tool("probe", f"kind: script\ndescription: d\nentry: main.py\nprotocol: plain\n"
                       f"dependencies:\n  pip: ['{pkg}']\n", {"main.py": "print(1)\n"})  # fmt: skip
    monkeypatch.setenv("SKILLZ_UNNAMED_SECRET", SECRET)
    monkeypatch.setenv("PROBE_TARGET", str(tmp_path / "outside-marker"))  # not passed: the default is tried
    result, _ = await call("probe")
    text = result.text_content()
    assert result.is_error and "PROBE" in text, text
    probe = text[text.index("PROBE") :]
    assert probe.split()[1:4] == ["REFUSED", "REFUSED", "NO-SECRET"], probe
    assert "SKILLZ_" not in probe and "PROBE_TARGET" not in probe
    assert not Path("/var/tmp/skillz-pip-marker").exists() and not Path("/etc/skillz-pip-marker").exists()
