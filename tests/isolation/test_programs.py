"""Finding programs: a version-manager shim is replaced by the interpreter it runs."""

from __future__ import annotations

from pathlib import Path

from skillz_engine.isolation.programs import resolve_program


def test_version_manager_shim_is_resolved(tmp_path: Path) -> None:
    """A pyenv-style shim is replaced by the interpreter it runs (asked once, then cached)."""
    root = tmp_path / ".fakeenv"
    (root / "shims").mkdir(parents=True)
    (root / "bin").mkdir()
    real = tmp_path / "versions" / "9.9" / "bin" / "tool"
    real.parent.mkdir(parents=True)
    real.write_text("#!/bin/sh\necho real\n")
    real.chmod(0o755)
    shim = root / "shims" / "tool"
    shim.write_text('#!/bin/sh\nexec fakeenv exec tool "$@"\n')
    shim.chmod(0o755)
    calls = tmp_path / "calls"
    manager = root / "bin" / "fakeenv"
    manager.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n[ "$1" = which ] && echo {real}\n')
    manager.chmod(0o755)
    env = {"PATH": f"{root / 'shims'}:/usr/bin:/bin"}
    assert resolve_program("tool", tmp_path, env) == str(real)
    assert resolve_program(str(shim), tmp_path, env) == str(real)
    assert calls.read_text().split("\n")[0] == "which tool" and calls.read_text().count("which") == 1
    assert resolve_program("/bin/sh", tmp_path, env) == "/bin/sh"  # not a shim: unchanged
