"""The import contract, read from the code itself (every import: top-level, in functions, and under
``TYPE_CHECKING``).

Imports point one way, from the command line down to the base helpers:

    cli -> mcp -> engine -> live, builtins -> runtimes -> isolation, state -> build -> tree -> base

``mcp`` (the adapter) sits above ``engine``: it receives an Engine and never builds one, so the
engine itself never imports the adapter. Packages of one rank may import each other, but no module
import cycle is allowed anywhere, lazy imports included. Third-party rules: only ``skillz_engine.mcp``
imports ``mcp``; only ``skillz_engine.mcp.http`` imports starlette and uvicorn; wasmtime is the wasm
runtime's; GitPython is the sources store's; the core (tree, build, live) imports none of mcp, docker,
wasmtime, starlette, uvicorn or git.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "engine" / "skillz_engine"

# top-level name under skillz_engine -> rank (a module may import only ranks <= its own)
RANKS: Mapping[str, int] = {
    "units": 0, "errors": 0,  # errors imports nothing of the package; units' UnitError is an EngineError
    "tree": 1, "__init__": 1,  # the package re-exports tree's diagnostics
    "build": 2,
    "isolation": 3, "state": 3,
    "runtimes": 4,
    "live": 5, "builtins": 5,
    "engine": 6,
    "mcp": 7,
    "cli": 8, "__main__": 8,
}  # fmt: skip

# third-party top-level module -> the skillz_engine module prefixes allowed to import it
THIRD_PARTY: Mapping[str, tuple[str, ...]] = {
    "mcp": ("skillz_engine.mcp",),
    # the status page is its own module of routes (page, login, event stream, metrics), served by http
    "starlette": ("skillz_engine.mcp.http", "skillz_engine.mcp.status"),
    "uvicorn": ("skillz_engine.mcp.http",),  # prefix: also mcp.httpconn, uvicorn's h11 protocol subclassed
    "httpx": ("skillz_engine.mcp",),
    "pydantic": ("skillz_engine.mcp",),
    "wasmtime": ("skillz_engine.runtimes.wasm", "skillz_engine.cli.doctor"),
    # sources clones skill repositories; githistory commits the writers' changes (history: git)
    "git": ("skillz_engine.state.sources", "skillz_engine.state.githistory"),
    "docker": ("skillz_engine.runtimes", "skillz_engine.state", "skillz_engine.cli.doctor"),
    "redis": ("skillz_engine.state",),  # the cluster's Redis backends (bus, memory, locks, audit)
}
CORE = ("skillz_engine.tree", "skillz_engine.build", "skillz_engine.live")
CORE_FORBIDDEN = ("mcp", "docker", "wasmtime", "starlette", "uvicorn", "git")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports (a module name)
    line: int
    where: str  # "top", "function" or "type-checking"


def module_name(path: Path, package: Path) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, module: str, known: set[str], *, is_package: bool = False) -> Iterator[Import]:
    """Every import in ``source``, with relative imports resolved and ``from pkg import submodule``
    turned into the submodule (so importing a module through its package counts)."""
    tree = ast.parse(source)

    def visit(node: ast.AST, where: str) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = "function" if where == "top" else where
            if isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    yield from visit_stmt(stmt, "type-checking")
                for stmt in child.orelse:
                    yield from visit_stmt(stmt, where)
                continue
            yield from visit_stmt(child, inner)

    def visit_stmt(node: ast.AST, where: str) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno, where)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                if not is_package:
                    parts = parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield Import(module, sub if sub in known else base, node.lineno, where)
        else:
            yield from visit(node, where)

    yield from visit(tree, "top")


def collect(package: Path = PACKAGE) -> list[Import]:
    files = sorted(package.rglob("*.py"))
    known = {module_name(f, package) for f in files}
    out: list[Import] = []
    for f in files:
        name = module_name(f, package)
        out.extend(imports_of(f.read_text(encoding="utf-8"), name, known, is_package=f.name == "__init__.py"))
    return out


def rank_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "skillz_engine":
        return None
    return RANKS.get(parts[1] if len(parts) > 1 else "__init__")


def layer_violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        src, dst = rank_of(imp.module), rank_of(imp.target)
        if src is None or dst is None:
            if imp.target.startswith("skillz_engine.") and dst is None:
                out.append(f"{imp.module}:{imp.line}: {imp.target} is in no layer (add it to RANKS)")
            continue
        if dst > src:
            out.append(f"{imp.module}:{imp.line} ({imp.where}) imports {imp.target}, a higher layer")
    return list(dict.fromkeys(out))


def third_party_violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        top = imp.target.split(".")[0]
        if top in CORE_FORBIDDEN and imp.module.startswith(CORE):
            out.append(f"{imp.module}:{imp.line}: the core imports {imp.target}")
            continue
        allowed = THIRD_PARTY.get(top)
        if allowed is not None and not imp.module.startswith(allowed):
            out.append(f"{imp.module}:{imp.line}: imports {imp.target} (only {', '.join(allowed)} may)")
    return list(dict.fromkeys(out))


def cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), as sorted lists."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.target.startswith("skillz_engine") and imp.target != imp.module:
            graph.setdefault(imp.module, set()).add(imp.target)
            graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_imports_point_one_way() -> None:
    problems = layer_violations(collect())
    assert problems == [], "\n".join(problems)


def test_third_party_imports_stay_in_their_module() -> None:
    problems = third_party_violations(collect())
    assert problems == [], "\n".join(problems)


def test_no_import_cycle_anywhere() -> None:
    found = cycles(collect())
    assert found == [], "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("tree/model.py", "import mcp.types", "the core imports mcp.types"),
        ("build/compile.py", "    from skillz_engine.mcp import fanout", "a higher layer"),
        (
            "runtimes/wasm/runtime.py",
            "import starlette",
            "only skillz_engine.mcp.http, skillz_engine.mcp.status may",
        ),
        ("tree/scan.py", "from skillz_engine.build import snapshot", "a higher layer"),
    ],
)
def test_a_forbidden_import_is_caught(tmp_path: Path, module: str, line: str, expected: str) -> None:
    """The contract is live: add one forbidden import to a copy of the package and it is reported."""
    import shutil

    copy = tmp_path / "skillz_engine"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    text = target.read_text(encoding="utf-8")
    if line.startswith("    "):  # a function-level import
        text += f"\n\ndef _added() -> None:\n{line}\n"
    else:
        text += f"\n{line}\n"
    target.write_text(text, encoding="utf-8")
    imports = collect(copy)
    problems = layer_violations(imports) + third_party_violations(imports)
    assert any(expected in p for p in problems), problems


def test_a_cycle_is_caught() -> None:
    imports = [
        Import("skillz_engine.build.compile", "skillz_engine.build.assemble", 1, "top"),
        Import("skillz_engine.build.assemble", "skillz_engine.build.compile", 9, "function"),
    ]
    assert cycles(imports) == [["skillz_engine.build.assemble", "skillz_engine.build.compile"]]
