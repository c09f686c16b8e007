"""The exception tree: every exception class of the package derives from ``EngineError`` (or is
allowed out below, with the reason), and the tree drawn in ``errors.py``'s docstring is the real one."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass

import skillz_engine
from skillz_engine import errors
from skillz_engine.errors import EngineError

# modules not imported: running them is their only purpose
NOT_IMPORTED = {"skillz_engine.__main__": "raises SystemExit(main()) on import"}

# exception classes allowed outside the tree -> why
OUTSIDE = {
    "skillz_engine.runtimes.script.host._RpcError": "an error reply to a script's request; stays in its host",
    "skillz_engine.runtimes.wasm.runtime._PrepareError": "a failed preparation, made diagnostics there",
    "skillz_engine.builtins.codemode_runner.ToolError": "raised inside execute_code's child process, "
    "to the client's code (the runner is a standalone program, it imports nothing of the engine)",
}

# "    │   ├── tree.paths.PathEscape (ValueError)    a description"
_LINE = re.compile(
    r"^(?P<lead>(?:│   |    )*)(?P<branch>[├└]── )?"  # depth
    r"(?P<name>[\w.]+)(?: \((?P<also>[\w, ]+)\))?"  # [module.]Class (BuiltinBase, ...)
    r"(?:\s{2,}|$)"  # two spaces before the description
)


@dataclass(frozen=True)
class Drawn:
    qualname: str  # "skillz_engine.<module>.<Class>"
    parent: str | None  # the qualname of the class one level up, None for the root
    also: tuple[str, ...]  # builtin bases after the tree parent


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the package, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    names = [m.name for m in pkgutil.walk_packages(skillz_engine.__path__, "skillz_engine.")]
    for name in ["skillz_engine", *names]:
        if name in NOT_IMPORTED:
            continue
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == name:
                found[f"{name}.{cls.__qualname__}"] = cls
    return found


def drawn_tree(doc: str) -> list[Drawn]:
    """The classes of the drawing in ``doc`` (the block after the line ending in ``::``)."""
    lines = doc.split("::\n", 1)[1].strip("\n").split("\n\n", 1)[0].splitlines()
    out: list[Drawn] = []
    stack: list[str] = []  # qualname per depth
    for line in lines:
        m = _LINE.match(line[4:])  # the block is indented by four spaces
        assert m is not None, f"cannot read the drawing line {line!r}"
        depth = len(m["lead"]) // 4 + (1 if m["branch"] else 0)
        name = m["name"]
        qualname = f"skillz_engine.{name}" if "." in name else f"skillz_engine.errors.{name}"
        del stack[depth:]
        parent = stack[-1] if stack else None
        assert len(stack) == depth, f"line {line!r} is deeper than its parent"
        stack.append(qualname)
        also = tuple(a.strip() for a in m["also"].split(",")) if m["also"] else ()
        out.append(Drawn(qualname, parent, also))
    return out


def test_the_drawing_reader_reads_depth_parents_and_extra_bases() -> None:
    doc = (
        "Tree::\n\n"
        "    EngineError        root\n"
        "    ├── a.B (ValueError)   b\n"
        "    │   └── C          c\n"
        "    └── D              d\n"
        "        └── e.F        f\n\nafter"
    )
    assert drawn_tree(doc) == [
        Drawn("skillz_engine.errors.EngineError", None, ()),
        Drawn("skillz_engine.a.B", "skillz_engine.errors.EngineError", ("ValueError",)),
        Drawn("skillz_engine.errors.C", "skillz_engine.a.B", ()),
        Drawn("skillz_engine.errors.D", "skillz_engine.errors.EngineError", ()),
        Drawn("skillz_engine.e.F", "skillz_engine.errors.D", ()),
    ]


def test_every_exception_class_derives_from_engine_error() -> None:
    """An error the engine raises on purpose can be told from a bug by one ``except EngineError``."""
    classes = exception_classes()
    assert "skillz_engine.tree.paths.PathEscape" in classes  # the walk reached the subpackages
    outside = sorted(q for q, cls in classes.items() if not issubclass(cls, EngineError) and q not in OUTSIDE)
    assert outside == [], "derive these from EngineError (or allow them in OUTSIDE with the reason)"
    stale = sorted(q for q in OUTSIDE if q not in classes or issubclass(classes[q], EngineError))
    assert stale == [], "OUTSIDE names classes that are gone or now inside the tree"


def test_the_docstring_draws_the_real_tree() -> None:
    """Each drawn class exists where the drawing says, with exactly the drawn bases; each class of
    the tree is drawn."""
    assert errors.__doc__ is not None
    drawn = drawn_tree(errors.__doc__)
    classes = exception_classes()
    for d in drawn:
        assert d.qualname in classes, f"{d.qualname} is drawn but not defined there"
        cls = classes[d.qualname]
        bases = tuple(f"{b.__module__}.{b.__qualname__}" for b in cls.__bases__)
        expected = (d.parent or "builtins.Exception", *(f"builtins.{a}" for a in d.also))
        assert bases == expected, f"{d.qualname}: the drawing says {expected}, the class has {bases}"
    in_tree = {q for q, cls in classes.items() if issubclass(cls, EngineError)}
    assert in_tree == {d.qualname for d in drawn}, "draw every EngineError subclass, once"
    assert len(drawn) == len({d.qualname for d in drawn})
