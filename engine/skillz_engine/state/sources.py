"""Git sources: repositories of skills (and tools) cloned at a pinned revision, served as roots.

Two places pin a source: ``sources:`` in ``skillz.yaml`` (the user's) and ``sources.json`` in the
state directory (written by the ``add_skill_repo`` built-in). Each pin is ``url`` (``https://``
or ``file://``), ``rev`` (a commit SHA, a tag, or a branch, which is *moving* and warned about)
and an optional ``path`` inside the repository.

A clone lives in ``<state>/sources/<slug>-<hash of url and rev>/`` (shallow where git allows) with
a ``.skillz-source.json`` marker written last, so a clone is either complete or absent: it is made
in a temporary directory and renamed into place. Compiling never touches the network: it mounts
the clones that exist (:func:`mounted`) and reports the pins whose clone is missing; the engine
fetches those (:func:`fetch`, in a worker thread) when it starts or when ``skillz.yaml`` changes.
Updating is explicit: a new ``rev`` is a new clone; ``add_skill_repo`` again re-fetches a branch.
:class:`GitSources` is what the engine hands a tree as its
:class:`~skillz_engine.build.roots.SourceProvider`.

GitPython is imported lazily, inside :func:`fetch`: ``validate`` never needs it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillz_engine.build.roots import MountedSources
from skillz_engine.errors import EngineError
from skillz_engine.tree.config import Config
from skillz_engine.tree.diagnostics import Diagnostic, Severity, display_path
from skillz_engine.tree.paths import PathEscape, check_relative, safe_join

log = logging.getLogger("skillz_engine.state.sources")

PINS_FILE = "sources.json"
MARKER = ".skillz-source.json"
SOURCES_DIR = "sources"
ALLOWED_SCHEMES = ("https://", "file://")
GIT_TIMEOUT = 300.0  # seconds for one git command
_SHA = re.compile(r"[0-9a-f]{7,40}")


class SourceError(EngineError):
    """A source cannot be fetched; the message says why in words a user can act on."""


@dataclass(frozen=True, slots=True)
class Source:
    url: str
    rev: str | None
    path: str | None = None
    origin: str = "config"  # "config" (skillz.yaml) or "pins" (add_skill_repo)
    index: int = 0  # position in its list (for diagnostics)
    name: str | None = None  # the clone directory's prefix (default: from the URL)

    @property
    def ident(self) -> tuple[str, str]:
        """What one mount is: the same repository and subdirectory is one source."""
        return (self.url.rstrip("/"), (self.path or "").strip("/"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "rev": self.rev}
        if self.path:
            out["path"] = self.path
        return out


@dataclass(frozen=True, slots=True)
class Fetched:
    source: Source
    dir: Path  # the clone
    commit: str
    ref: str  # "commit", "tag", "branch" or "default" (no rev: the remote's HEAD)

    @property
    def moving(self) -> bool:
        return self.ref in ("branch", "default")

    @property
    def root(self) -> Path:
        """The directory served: ``path`` inside the clone. A repository is hostile input, so a
        ``path`` that is (or passes through) a committed symlink leading out of the clone raises
        :class:`~skillz_engine.tree.paths.PathEscape`, as does one that is missing."""
        return safe_join(self.dir, self.source.path or ".", kind="dir", allow_hidden=True)


def _served_dir(fetched: Fetched) -> Path:
    """``fetched.root``, or :class:`SourceError` saying why the pinned ``path`` cannot be served."""
    try:
        return fetched.root
    except PathEscape as exc:
        where = fetched.source.rev or "HEAD"
        raise SourceError(
            f"the repository has no directory {fetched.source.path!r} at {where} ({exc.reason})"
        ) from exc


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be a source, or ``None``."""
    if not url.startswith(ALLOWED_SCHEMES):
        return f"source URL {url!r} must start with https:// or file://"
    if any(c in url for c in "\x00\n\r") or (url.startswith("file://") and len(url) <= len("file://")):
        return f"source URL {url!r} is not usable"
    return None


_GIST = re.compile(r"^https://gist\.github\.com/(?:[A-Za-z0-9-]+/)?([0-9a-f]{8,64})(?:\.git)?/?(?:#.*)?$")


def clone_url(url: str) -> str:
    """The URL git clones for ``url``: a GitHub gist's page (``gist.github.com/<user>/<id>``) is
    the gist's repository ``gist.github.com/<id>.git``; anything else is cloned as given."""
    m = _GIST.match(url.strip())
    return f"https://gist.github.com/{m.group(1)}.git" if m else url.strip()


def check_path(path: str | None) -> str | None:
    if not path:
        return None
    reason = check_relative(path, allow_hidden=True)
    if reason is not None:
        return f"path {path!r} must be relative to the repository, without `..` ({reason})"
    return None


def _slug(url: str) -> str:
    tail = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", tail)[:40] or "repo"


def clone_dir(state_dir: Path, url: str, rev: str | None, name: str | None = None) -> Path:
    """Where the clone of ``url`` at ``rev`` lives (keyed by both)."""
    key = hashlib.sha256(f"{url.rstrip('/')}\0{rev or ''}".encode()).hexdigest()[:16]
    return state_dir / SOURCES_DIR / f"{name or _slug(url)}-{key}"


def cached(state_dir: Path, source: Source) -> Fetched | None:
    """The finished clone of ``source``, if one exists (no network)."""
    d = clone_dir(state_dir, source.url, source.rev, source.name)
    try:
        marker = json.loads((d / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Fetched(source, d, str(marker.get("commit", "")), str(marker.get("ref", "commit")))


# --------------------------------------------------------------------------- pins


def config_sources(config: Config) -> list[Source]:
    return [
        Source(pin.url, pin.rev or None, pin.path, "config", i, pin.name)
        for i, pin in enumerate(config.sources)
        if pin.url
    ]


def read_pins(state_dir: Path) -> list[Source]:
    try:
        data = json.loads((state_dir / PINS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for i, item in enumerate(data.get("sources", []) if isinstance(data, dict) else []):
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            out.append(Source(item["url"], item.get("rev") or None, item.get("path") or None, "pins", i))
    return out


def write_pins(state_dir: Path, pins: Sequence[Source]) -> Path:
    """Write the ``add_skill_repo`` pins atomically (temp file + rename)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / PINS_FILE
    tmp = path.with_name(f".{PINS_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"sources": [p.to_json() for p in pins]}, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def all_sources(config: Config, state_dir: Path) -> list[Source]:
    """Every pin: ``skillz.yaml`` first; a state pin for the same repository and path is ignored."""
    out = config_sources(config)
    seen = {s.ident for s in out}
    for p in read_pins(state_dir):
        if p.ident not in seen:
            seen.add(p.ident)
            out.append(p)
    return out


# --------------------------------------------------------------------------- mounting (no network)


def _where(config: Config, state_dir: Path, source: Source) -> tuple[str, int, int, str]:
    """(file, line, col, json path) of a pin, for diagnostics."""
    if source.origin == "config" and config.path is not None:
        from skillz_engine.tree.parse import parse_file

        doc = parse_file(config.path, display_path(config.path))
        line, col = doc.positions.value(("sources", source.index))
        return doc.display, line, col, f"$.sources[{source.index}]"
    return display_path(state_dir / PINS_FILE), 1, 1, f"$.sources[{source.index}]"


def source_diag(
    config: Config, state_dir: Path, source: Source, code: str, severity: Severity, message: str, hint: str
) -> Diagnostic:
    path, line, col, jp = _where(config, state_dir, source)
    return Diagnostic(path, line, col, code, severity, message, jp, hint)


def mounted(config: Config, state_dir: Path) -> tuple[dict[Path, str], list[Diagnostic], list[Source]]:
    """The roots of every fetched source (with the commit each serves), diagnostics about the
    pins, and the pins not fetched yet."""
    roots: dict[Path, str] = {}
    diags: list[Diagnostic] = []
    missing: list[Source] = []
    for s in all_sources(config, state_dir):
        problem = check_url(s.url) or check_path(s.path)
        if problem:
            diags.append(source_diag(config, state_dir, s, "SKZ601", Severity.ERROR, problem, "Fix the pin."))
            continue
        f = cached(state_dir, s)
        if f is None:
            missing.append(s)
            continue
        if f.moving:
            diags.append(moving_diag(config, state_dir, f))
        try:
            root = f.root  # a directory inside the clone: missing, a file or a link out all refuse
        except PathEscape as exc:
            diags.append(
                source_diag(
                    config,
                    state_dir,
                    s,
                    "SKZ603",
                    Severity.ERROR,
                    f"{s.url} at {s.rev or 'HEAD'} has no directory {s.path!r} to serve ({exc.reason})",
                    "Fix `path`: it names a directory of the repository, not a link out of it.",
                )
            )
            continue
        roots[root] = f.commit
    return roots, diags, missing


def moving_diag(config: Config, state_dir: Path, f: Fetched) -> Diagnostic:
    what = f"branch {f.source.rev!r}" if f.ref == "branch" else "the default branch (no rev)"
    return source_diag(
        config,
        state_dir,
        f.source,
        "SKZ602",
        Severity.WARNING,
        f"{f.source.url} is pinned to {what}, which moves; serving commit {f.commit[:12]}",
        f"Pin a commit or a tag for reproducible trees: `rev: {f.commit}`.",
    )


def missing_diag(config: Config, state_dir: Path, s: Source, why: str | None = None) -> Diagnostic:
    return source_diag(
        config,
        state_dir,
        s,
        "SKZ601",
        Severity.ERROR if why else Severity.WARNING,
        f"{s.url} at {s.rev or 'HEAD'} " + (f"cannot be fetched: {why}" if why else "is not fetched yet"),
        "Check the URL, the rev and the network; `serve` fetches missing sources when it starts."
        if why
        else "`serve` fetches it when it starts (or when skillz.yaml changes).",
    )


class GitSources:
    """The git sources of a tree: mounts the clones that exist, and remembers the pins still
    missing and why their last fetch failed (shown on the pin until a fetch works)."""

    def __init__(self) -> None:
        self.missing: list[Source] = []
        self.failures: dict[tuple[str, str], str] = {}  # why a fetch failed, by pin

    def mount(self, config: Config, state_dir: Path) -> MountedSources:
        roots, diags, self.missing = mounted(config, state_dir)
        why = self.failures.get
        return MountedSources(
            roots, (*diags, *(missing_diag(config, state_dir, s, why(s.ident)) for s in self.missing))
        )

    def fetch_missing(self, config: Config, state_dir: Path) -> bool:
        """Clone every missing pin (blocking); whether anything changed: a clone appeared, or a
        failure is new or different (its diagnostic must be shown)."""
        changed = False
        for s in list(self.missing):
            if sys.stderr.isatty():  # long work shows progress on a terminal only
                print(
                    f"skillz-engine: fetching {s.url} at {s.rev or 'HEAD'} ...", file=sys.stderr, flush=True
                )
            try:
                fetch(state_dir, s)
                self.failures.pop(s.ident, None)
                changed = True
            except SourceError as exc:
                log.warning("source %s at %s: %s", s.url, s.rev, exc)
                changed = changed or self.failures.get(s.ident) != str(exc)
                self.failures[s.ident] = str(exc)
        return changed


# --------------------------------------------------------------------------- fetching (network)


def _env() -> dict[str, str]:
    return {
        "GIT_TERMINAL_PROMPT": "0",  # never wait for credentials
        "GIT_ALLOW_PROTOCOL": "https:file",  # no ext::, ssh or git:// (submodules included)
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def _refs(git: Any, url: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in str(git.ls_remote(url, kill_after_timeout=GIT_TIMEOUT)).splitlines():
        sha, _, ref = line.partition("\t")
        if ref:
            out[ref] = sha
    return out


def fetch(state_dir: Path, source: Source, *, refresh: bool = False) -> Fetched:
    """Clone ``source`` into its cache directory (atomically) and return it; a finished clone is
    reused unless ``refresh``. Raises :class:`SourceError` with a readable reason."""
    problem = check_url(source.url) or check_path(source.path)
    if problem:
        raise SourceError(problem)
    if not refresh:
        hit = cached(state_dir, source)
        if hit is not None:
            _served_dir(hit)  # one clone serves every `path` pinned at its rev: check this one
            return hit
    try:
        import git
    except ImportError as exc:  # GitPython is a dependency; it refuses to load without git
        raise SourceError(f"git is not usable here (install git): {exc}") from exc
    target = clone_dir(state_dir, source.url, source.rev, source.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{target.name}-{os.getpid()}-{time.monotonic_ns()}")
    env = _env()
    try:
        g = git.Git()
        g.update_environment(**env)
        try:
            refs = _refs(g, source.url)
        except git.GitCommandError as exc:
            raise SourceError(f"cannot reach the repository: {_reason(exc)}") from None
        rev = source.rev
        if rev is None:
            kind, want = "default", "HEAD"
        elif f"refs/tags/{rev}" in refs:
            kind, want = "tag", f"refs/tags/{rev}"
        elif f"refs/heads/{rev}" in refs:
            kind, want = "branch", f"refs/heads/{rev}"
        elif _SHA.fullmatch(rev):
            kind, want = "commit", rev
        else:
            raise SourceError(f"rev {rev!r} is neither a tag, a branch nor a commit SHA of {source.url}")
        repo = git.Repo.init(tmp)
        repo.git.update_environment(**env)
        repo.create_remote("origin", source.url)
        try:
            if kind == "commit" and len(want) < 40:
                raise git.GitCommandError("fetch", "short SHA: full fetch needed")
            repo.git.fetch("--depth", "1", "origin", want, kill_after_timeout=GIT_TIMEOUT)
            repo.git.checkout("--detach", "FETCH_HEAD")
        except git.GitCommandError:
            if kind != "commit":
                raise
            # the server does not serve single commits (or the SHA is short): fetch everything
            everything = "+refs/heads/*:refs/remotes/origin/*"
            repo.git.fetch("origin", everything, "--tags", kill_after_timeout=GIT_TIMEOUT)
            repo.git.checkout("--detach", want)
        commit = repo.head.commit.hexsha
        _served_dir(Fetched(source, tmp, commit, kind))
        marker = {"url": source.url, "rev": rev, "ref": kind, "commit": commit, "fetched": time.time()}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            old = target.with_name(f".old-{target.name}-{time.monotonic_ns()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        return Fetched(source, target, commit, kind)
    except git.GitCommandError as exc:
        raise SourceError(_reason(exc)) from None
    except OSError as exc:
        raise SourceError(f"cannot write the clone under {target.parent}: {exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def pin_commit(state_dir: Path, fetched: Fetched) -> Fetched:
    """A clone of the default branch (no ``rev``) stored again as the commit it fetched: the pin
    ``add_skill_repo`` writes names that commit, and :func:`mounted` looks the clone up by the pin.
    (Kept under the "no rev" key, the clone was never found: nothing served until a restart
    fetched it again.) The clone is renamed, not fetched twice."""
    if fetched.source.rev is not None:
        return fetched
    s = fetched.source
    pinned = Source(s.url, fetched.commit, s.path, s.origin, s.index, s.name)
    hit = cached(state_dir, pinned)
    if hit is not None:  # this commit is already cloned: use it, drop the new copy
        shutil.rmtree(fetched.dir, ignore_errors=True)
        return hit
    marker = json.loads((fetched.dir / MARKER).read_text(encoding="utf-8"))
    marker.update(rev=fetched.commit, ref="commit")
    (fetched.dir / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    target = clone_dir(state_dir, s.url, fetched.commit, s.name)
    if target.exists():  # an unfinished clone (no marker): put it aside, it is replaced
        old = target.with_name(f".old-{target.name}-{time.monotonic_ns()}")
        os.replace(target, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(fetched.dir, target)
    return Fetched(pinned, target, fetched.commit, "commit")


def _reason(exc: Any) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    lines = [ln.strip().removeprefix("stderr: ").strip("'") for ln in text.splitlines() if ln.strip()]
    return "; ".join(lines[-3:])[:500] or "git failed"
