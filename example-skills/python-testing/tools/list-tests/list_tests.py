#!/usr/bin/env python3
"""list-tests: what pytest would collect from some Python source, found with `ast` (no imports).

jsonrpc script protocol: one response line per request line, until stdin closes.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path
from typing import Any

INVALID_PARAMS = -32602
SKIP_DIRS = {".git", ".hg", ".tox", ".nox", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"}
MAX_FILES = 2000


class ToolError(Exception):
    """Bad input, reported as a JSON-RPC error."""


def dotted(node: ast.AST) -> str:
    """`pytest.mark.slow` for an Attribute chain, the name for a Name, else ''."""
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def mark_name(decorator: ast.AST) -> str | None:
    """`slow` for @pytest.mark.slow or @mark.slow(...); None for other decorators."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    parts = dotted(target).split(".")
    if len(parts) >= 2 and parts[-2] == "mark":
        return parts[-1]
    return None


def literal_len(node: ast.AST) -> int | None:
    return len(node.elts) if isinstance(node, (ast.List, ast.Tuple, ast.Set)) else None


def parametrize_info(decorator: ast.Call) -> tuple[list[str], int | None]:
    """Argument names and case count of a @pytest.mark.parametrize(...) call."""
    names: list[str] = []
    if decorator.args:
        first = decorator.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names = [n.strip() for n in first.value.split(",") if n.strip()]
        elif isinstance(first, (ast.List, ast.Tuple)):
            names = [e.value for e in first.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    cases = literal_len(decorator.args[1]) if len(decorator.args) > 1 else None
    return names, cases


def fixture_info(func: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any] | None:
    for d in func.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if dotted(target) not in ("pytest.fixture", "fixture"):
            continue
        scope, autouse, name = "function", False, func.name
        if isinstance(d, ast.Call):
            for kw in d.keywords:
                if isinstance(kw.value, ast.Constant):
                    if kw.arg == "scope":
                        scope = str(kw.value.value)
                    elif kw.arg == "autouse":
                        autouse = bool(kw.value.value)
                    elif kw.arg == "name":
                        name = str(kw.value.value)
        return {"name": name, "line": func.lineno, "scope": scope, "autouse": autouse}
    return None


def test_info(
    func: ast.FunctionDef | ast.AsyncFunctionDef, cls: str | None, inherited: list[str]
) -> dict[str, Any]:
    marks = list(inherited)
    cases = 1
    param_names: set[str] = set()
    for d in func.decorator_list:
        name = mark_name(d)
        if name is None:
            continue
        marks.append(name)
        if name == "parametrize" and isinstance(d, ast.Call):
            names, n = parametrize_info(d)
            param_names.update(names)
            cases *= n if n is not None else 1
    args = [a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)]
    fixtures = [a for a in args if a not in param_names and not (cls and a == "self")]
    return {
        "name": func.name,
        "class": cls,
        "line": func.lineno,
        "async": isinstance(func, ast.AsyncFunctionDef),
        "marks": sorted(set(marks), key=marks.index),
        "cases": cases,
        "fixtures": fixtures,
    }


def is_test_class(node: ast.ClassDef) -> bool:
    has_init = any(isinstance(n, ast.FunctionDef) and n.name == "__init__" for n in node.body)
    return node.name.startswith("Test") and not has_init


def scan_module(source: str, filename: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tree = ast.parse(source, filename=filename or "<source>")
    tests: list[dict[str, Any]] = []
    fixtures: list[dict[str, Any]] = []

    def visit(body: list[ast.stmt], cls: str | None, class_marks: list[str]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                fx = fixture_info(node)
                if fx is not None:
                    fixtures.append({**fx, "file": filename})
                elif node.name.startswith("test"):
                    tests.append({**test_info(node, cls, class_marks), "file": filename})
            elif isinstance(node, ast.ClassDef) and is_test_class(node):
                marks = [m for m in (mark_name(d) for d in node.decorator_list) if m]
                visit(node.body, f"{cls}::{node.name}" if cls else node.name, class_marks + marks)

    visit(tree.body, None, [])
    for t in tests:
        parts = [t["file"]] if filename else []
        parts += [t["class"]] if t["class"] else []
        t["id"] = "::".join([*parts, t["name"]])
    return tests, fixtures


def test_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                found.append(Path(dirpath) / name)
                if len(found) >= MAX_FILES:
                    return found
    return found


def run(arguments: dict[str, Any]) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    fixtures: list[dict[str, Any]] = []
    errors: list[str] = []
    if isinstance(arguments.get("source"), str):
        try:
            tests, fixtures = scan_module(arguments["source"], None)
        except SyntaxError as exc:
            raise ToolError(f"the source does not parse: line {exc.lineno}: {exc.msg}") from None
    elif isinstance(arguments.get("path"), str):
        root = Path(arguments["path"]).expanduser()
        if not root.is_absolute():
            raise ToolError(f"`path` must be absolute, got {root}")
        if not root.exists():
            raise ToolError(f"{root} does not exist")
        for file in test_files(root):
            shown = file.relative_to(root).as_posix() if root.is_dir() else file.name
            try:
                t, f = scan_module(file.read_text(encoding="utf-8"), shown)
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(f"{shown}: cannot read: {exc}")
                continue
            except SyntaxError as exc:
                errors.append(f"{shown}:{exc.lineno}: syntax error: {exc.msg}")
                continue
            tests += t
            fixtures += f
    else:
        raise ToolError("give `source` (the text of a test module) or `path` (an absolute path)")
    return {"count": sum(t["cases"] for t in tests), "tests": tests, "fixtures": fixtures, "errors": errors}


def reply(request_id: Any, message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, **message}) + "\n")
    sys.stdout.flush()


def answer(line: str) -> None:
    """Answer one execute request line with one response line."""
    try:
        request = json.loads(line)
    except ValueError as exc:
        reply(None, {"error": {"code": -32700, "message": f"could not parse the request: {exc}"}})
        return
    request_id = request.get("id", 1)
    try:
        reply(request_id, {"result": run(request.get("params", {}).get("arguments") or {})})
    except ToolError as exc:
        reply(request_id, {"error": {"code": INVALID_PARAMS, "message": str(exc)}})


def main() -> None:
    # One call per request line until stdin closes: a worker (`worker` in the manifest) answers
    # many, a one-shot run one.
    for line in sys.stdin:
        if line.strip():
            answer(line)


if __name__ == "__main__":
    main()
