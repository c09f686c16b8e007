"""URI templates with one variable: the small RFC 6570 subset resource templates use.

A template holds exactly one expression: ``{var}`` (a value without ``/``), ``{+var}`` or
``{/var}`` (both may hold ``/``; ``{/var}`` adds a leading ``/``). Matching percent-decodes the
value (strict UTF-8); expanding percent-encodes it, so ``match(expand(v)) == {var: v}``. Anything
else RFC 6570 allows (several variables, other operators, modifiers) is refused with a message
saying what to write instead.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

__all__ = ["UriTemplate"]


class UriTemplate:
    """A URI template with exactly one ``{var}``, ``{+var}`` or ``{/var}`` expression."""

    _SAFE = "/:@!$&'()*+,;="

    def __init__(self, template: str) -> None:
        exprs = re.findall(r"\{([^{}]*)\}", template)
        if len(exprs) != 1 or template.count("{") != 1 or template.count("}") != 1:
            raise ValueError(f"needs exactly one {{variable}}, found {len(exprs)} expressions")
        expr = exprs[0]
        op = expr[:1] if expr[:1] in "+/#.;?&=,!@|" else ""
        name = expr[len(op) :]
        if op not in ("", "+", "/"):
            raise ValueError(f"operator {op!r} is not supported; use {{var}}, {{+var}} or {{/var}}")
        if "," in name:
            raise ValueError(f"{{{expr}}} names {len(name.split(','))} variables; use exactly one")
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise ValueError(f"{{{expr}}}: variable names use letters, digits and '_' (no modifiers)")
        self.template, self.op, self.var = template, op, name
        head, tail = template.split("{" + expr + "}")
        self.head, self.tail = head, tail
        value = "[^/?#]+" if op == "" else "[^?#]+"
        lead = "/" if op == "/" else ""
        self.regex = re.compile(re.escape(head) + re.escape(lead) + f"(?P<v>{value})" + re.escape(tail))

    def match(self, uri: str) -> dict[str, str] | None:
        m = self.regex.fullmatch(uri)
        if m is None:
            return None
        try:
            value = unquote(m.group("v"), errors="strict")
        except UnicodeDecodeError:
            return None
        return {self.var: value}

    def expand(self, value: str) -> str:
        encoded = quote(value, safe="") if self.op == "" else quote(value, safe=self._SAFE)
        return self.head + ("/" if self.op == "/" else "") + encoded + self.tail
