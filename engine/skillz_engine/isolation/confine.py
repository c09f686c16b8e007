"""How an installer step (uv, pip, npm) is confined: a clean environment and the tree's sandbox.

Installing a package runs code the package chose (``setup.py``, build backends, npm install
scripts), so an installer gets no more than a tool does:

* **environment**: built from scratch. Only :data:`PASSED` variables of the server's environment
  (locale, index, proxy and certificate settings) reach it: no secret, no ``SKILLZ_*`` variable,
  no active virtualenv. ``HOME``, ``TMPDIR`` and every installer cache point into a private
  scratch directory, so neither a user's ``~/.npmrc`` or ``pip.conf`` (which may hold tokens) nor a
  cache shared with other environments is read or written.
* **sandbox**: the tree's sandbox (``sandbox.mode`` in skillz.yaml; ``auto`` picks a working one,
  a named one that is missing fails closed), with the network on, the root read-only, a private
  ``/tmp`` as scratch, and only the environment directory being built writable. Without a sandbox
  (``none``, or ``auto`` on a machine without one) the environment is still clean and the scratch
  directory is a fresh temporary directory, removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from skillz_engine.isolation.argv import sandbox_argv, unset_argv
from skillz_engine.isolation.detect import resolve_mode
from skillz_engine.isolation.policy import Mounts

__all__ = ["PASSED", "Confinement", "confined", "passed_env"]

# the only variables of the server's environment an installer sees: locale, where packages come
# from, how to reach it (proxies), and which certificates to trust
PASSED = frozenset(
    {
        "PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
        "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST", "PIP_NO_INDEX",
        "PIP_CERT", "PIP_DEFAULT_TIMEOUT",
        "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX", "UV_FIND_LINKS",
        "UV_NATIVE_TLS", "UV_HTTP_TIMEOUT",
        "npm_config_registry", "NPM_CONFIG_REGISTRY", "npm_config_cafile", "NPM_CONFIG_CAFILE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
        "all_proxy",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    }
)  # fmt: skip
SANDBOX_SCRATCH = Path("/tmp")  # inside a sandbox /tmp is a private tmpfs


@dataclass(frozen=True, slots=True)
class Confinement:
    """The environment and the argv prefix of every step of one install."""

    env: Mapping[str, str]
    mode: str  # the sandbox (bwrap, firejail, nsjail) or "none"
    _binary: str | None
    _mounts: Mounts

    def argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the sandbox (unchanged without one)."""
        prefix = sandbox_argv(self.mode, self._binary, self._mounts, network=True)
        return [*prefix, *unset_argv(self.mode, self.env), *argv] if prefix else list(argv)


def passed_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The :data:`PASSED` variables of ``environ`` (the server's), with ``PATH`` and ``LANG`` set."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k in PASSED}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    return env


def _scratch_env(scratch: Path, environ: Mapping[str, str]) -> dict[str, str]:
    env = passed_env(environ)
    env.update(
        HOME=str(scratch),
        TMPDIR=str(scratch),
        XDG_CACHE_HOME=str(scratch / "cache"),
        XDG_CONFIG_HOME=str(scratch / "config"),
        UV_CACHE_DIR=str(scratch / "cache" / "uv"),
        PIP_CACHE_DIR=str(scratch / "cache" / "pip"),
        npm_config_cache=str(scratch / "cache" / "npm"),
        npm_config_userconfig=str(scratch / "npmrc"),
        UV_PYTHON_DOWNLOADS="never",
        UV_LINK_MODE="copy",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        npm_config_update_notifier="false",
    )
    return env


def _prefix(program: str) -> Path:
    """What a program needs to be visible: PREFIX of PREFIX/bin/prog, else its directory."""
    p = Path(program)
    return p.parent.parent if p.parent.name == "bin" else p.parent


@contextlib.contextmanager
def confined(
    mode: str,
    writable: Path,
    programs: Iterable[str],
    readable: Iterable[Path] = (),
    environ: Mapping[str, str] | None = None,
) -> Iterator[Confinement]:
    """The confinement of one install writing ``writable`` (created here) and running ``programs``.

    ``readable`` are further paths the installer reads (local packages a tree allowed with
    ``allowDirectReferences``). Raises :class:`SandboxUnavailable` for a named sandbox that is missing.
    """
    chosen, binary = resolve_mode(mode)
    writable.mkdir(parents=True, exist_ok=True)
    environ = os.environ if environ is None else environ
    programs = [shutil.which(p) or p for p in programs]
    if chosen != "none":
        ro = [p.resolve() for p in (*(_prefix(p) for p in programs if p.startswith("/")), *readable)]
        mounts = Mounts(tuple(p for p in ro if p.exists()), (writable.resolve(),), writable.resolve())
        yield Confinement(_scratch_env(SANDBOX_SCRATCH, environ), chosen, binary, mounts)
        return
    scratch = Path(tempfile.mkdtemp(prefix="skillz-install-"))
    try:
        mounts = Mounts((), (writable,), writable)
        yield Confinement(_scratch_env(scratch, environ), "none", None, mounts)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
