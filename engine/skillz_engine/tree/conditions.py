"""Rust Skillz pipeline ``condition`` expressions, as the ``when`` expressions pipelines evaluate.

Skillz's grammar (pipeline.rs ``evaluate_condition``): ``<a> == <b>``, ``<a> != <b>`` (split on
the first operator, ``==`` looked for first), or one operand tested for truth. An operand is a
``$`` path (``$prev``, ``$prev.a.b``, ``$input.x``, ``$<step>.x``), ``true``, ``false``, ``null``,
a number, or else a string (surrounding quotes stripped). ``when`` is a Jinja2 expression over
``prev``, ``input`` and ``steps``, so ``$count.words != 0`` becomes
``steps["count"]["words"] != 0``. The legacy reader and ``migrate`` translate ``condition``; a
``when`` written in Skillz's form (it holds a ``$``, which no Jinja2 expression can) is translated
when the pipeline is compiled, so both keep working.
"""

from __future__ import annotations

import json
import re

__all__ = ["condition_expression", "is_skillz_condition"]

_PATH = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_LITERALS = {"true": "true", "false": "false", "null": "none"}


def is_skillz_condition(text: str) -> bool:
    """Whether a ``when`` is in Skillz's condition form rather than a Jinja2 expression."""
    return "$" in text and "{{" not in text


def _operand(raw: str) -> str:
    s = raw.strip()
    if _PATH.match(s):
        root, *parts = s[1:].split(".")
        expr = root if root in ("prev", "input") else f"steps[{json.dumps(root)}]"
        return expr + "".join(f"[{json.dumps(p)}]" for p in parts)
    if s in _LITERALS:
        return _LITERALS[s]
    if _NUMBER.match(s):
        return s
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1]
    return json.dumps(s)


def condition_expression(condition: str) -> str:
    """The ``when`` expression that means what Skillz's ``condition`` means."""
    for op in ("==", "!="):
        left, found, right = condition.partition(op)
        if found:
            return f"{_operand(left)} {op} {_operand(right)}"
    return _operand(condition)
