"""Which dependency specs a tree may ask installers for: package names with version ranges.

A requirement is handed to pip, uv or npm, which treat many strings as something other than a
package from the index: a local path or archive (``./pkg``, ``evil.tar.gz``), a URL or VCS
reference (``x @ https://...``, ``git+https://...``, ``user/repo``, ``npm:alias``), or an option
(``--index-url=http://attacker``, ``-e .``). Each of those runs code the tree's author did not
choose from the index, so they are refused unless skillz.yaml opts in with
``dependencies: {allowDirectReferences: true}``; options are refused always.

:func:`pip_problem` accepts a PEP 508 requirement without a URL (name, extras, version
specifiers, environment markers); :func:`npm_problem` accepts ``name`` or ``name@range`` with an
npm package name (scoped or not) and a semver range or dist-tag. Both return ``None`` for a good
spec, else the problem and a hint, so manifests, PEP 723 blocks and ``register_script`` report it
with its position.
"""

from __future__ import annotations

import re

__all__ = ["ARCHIVE_SUFFIXES", "npm_problem", "pip_problem"]

ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tbz", ".tar.xz", ".txz")
_OPT_IN = "or set `dependencies: {allowDirectReferences: true}` in skillz.yaml to allow direct references"
_NPM_NAME = re.compile(r"(?:@[a-z0-9][a-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*\Z")  # old names have capitals
_NPM_RANGE = re.compile(r"[0-9A-Za-z.*^~<>=| +_-]*\Z")  # semver ranges and dist-tags: no ':' or '/'

Problem = tuple[str, str]  # (what is wrong, how to fix it)


def _option(spec: str) -> Problem | None:
    if spec.lstrip().startswith("-"):
        return (
            f"{spec!r} is an installer option, not a package",
            "List package names only; set indexes and proxies in the server's environment "
            "(PIP_INDEX_URL, npm_config_registry, HTTPS_PROXY).",
        )
    return None


def pip_problem(spec: str, *, allow_direct: bool = False) -> Problem | None:
    """Why ``spec`` may not be handed to pip/uv, or ``None`` when it is a plain requirement."""
    option = _option(spec)
    if option is not None or allow_direct:
        return option
    from packaging.requirements import InvalidRequirement, Requirement

    hint = f"Write a package name with a version range, e.g. `requests>=2.31,<3`, {_OPT_IN}."
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0]
        return f"{spec!r} is not a PEP 508 requirement (a local path or URL?): {first}", hint
    if req.url is not None:
        return f"{spec!r} is a direct reference (`name @ {req.url}`), not a package from the index", hint
    if req.name.lower().endswith(ARCHIVE_SUFFIXES):
        return f"{spec!r} names an archive file, which pip installs from disk", hint
    return None


def npm_problem(spec: str, *, allow_direct: bool = False) -> Problem | None:
    """Why ``spec`` may not be handed to npm, or ``None`` when it is ``name`` or ``name@range``."""
    option = _option(spec)
    if option is not None or allow_direct:
        return option
    hint = f"Write a package name with a semver range, e.g. `lodash@^4.17` or `@scope/pkg@1`, {_OPT_IN}."
    at = spec.find("@", 1)  # a leading '@' starts a scope
    name, version = (spec, "") if at < 0 else (spec[:at], spec[at + 1 :])
    if not _NPM_NAME.match(name) or name.endswith(ARCHIVE_SUFFIXES):
        return f"{spec!r} is not an npm package name (a path, URL, tarball or git reference?)", hint
    if not _NPM_RANGE.match(version):
        return f"{spec!r}: {version!r} is not a semver range or dist-tag (a URL, path or alias?)", hint
    return None
