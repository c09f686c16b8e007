"""Where each key and value of a TOML text starts: the positions :mod:`tomllib` does not give.

:mod:`tomllib` parses but keeps no positions, so a single-file tool's ``# /// skillz`` block is
parsed by it (the authority on what the TOML means) and then read once more by this light scanner,
which only records the 1-based (line, col) of every key and value under its JSON path: table
headers (``[limits]``, ``[[x]]``), dotted and quoted keys, inline tables and arrays, across lines.
It runs only on text :mod:`tomllib` accepted; anything it does not follow ends the scan with the
positions found so far, and :meth:`Positions.value` falls back to the nearest ancestor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skillz_engine.tree.positions import JsonPath, Pos

__all__ = ["toml_positions"]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass
class _Scan:
    text: str
    where: list[Pos]  # the (line, col) of each offset's line start, mapped to the file
    i: int = 0
    values: dict[JsonPath, Pos] = field(default_factory=dict)
    keys: dict[JsonPath, Pos] = field(default_factory=dict)
    arrays: dict[JsonPath, int] = field(default_factory=dict)  # [[x]] seen so far

    def pos(self, i: int) -> Pos:
        line = self.text.count("\n", 0, i)
        start = self.text.rfind("\n", 0, i) + 1
        first_line, col_offset = self.where[line]
        return first_line, i - start + 1 + col_offset

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def skip(self, newlines: bool) -> None:
        """Skip blanks and comments (and newlines, inside arrays)."""
        while self.i < len(self.text):
            c = self.text[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.i += 1
            elif c == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                return

    def string(self) -> str:
        """The string starting at ``i`` (any of TOML's four kinds); ``i`` moves past it."""
        t, i = self.text, self.i
        for quote in ('"""', "'''"):
            if t.startswith(quote, i):
                end = t.find(quote, i + 3)
                while quote == '"""' and end > 0 and _escaped(t, end):
                    end = t.find(quote, end + 1)
                end = len(t) if end < 0 else end
                while t.startswith(quote[0], end + 3):  # up to two quotes may end the content
                    end += 1
                self.i = end + 3
                return t[i + 3 : end]
        quote = t[i]
        j = i + 1
        while j < len(t) and t[j] != quote and t[j] != "\n":
            j += 2 if quote == '"' and t[j] == "\\" else 1
        self.i = j + 1
        raw = t[i + 1 : j]
        if quote == '"' and "\\" in raw:
            import json

            try:
                return str(json.loads(f'"{raw}"'))
            except ValueError:
                return raw
        return raw

    def key(self) -> list[tuple[str, Pos]]:
        """A (dotted) key: each part with where it starts."""
        parts: list[tuple[str, Pos]] = []
        while True:
            self.skip(False)
            at = self.pos(self.i)
            if self.peek() in ('"', "'"):
                parts.append((self.string(), at))
            else:
                j = self.i
                while j < len(self.text) and self.text[j] in _BARE:
                    j += 1
                if j == self.i:
                    raise ValueError("no key")
                parts.append((self.text[self.i : j], at))
                self.i = j
            self.skip(False)
            if self.peek() != ".":
                return parts
            self.i += 1

    def value(self, path: JsonPath) -> None:
        self.values.setdefault(path, self.pos(self.i))
        c = self.peek()
        if c == "{":
            self.i += 1
            self.skip(False)
            while self.peek() not in ("}", ""):
                self.pair(path)
                self.skip(False)
                if self.peek() == ",":
                    self.i += 1
                    self.skip(False)
            self.i += 1
        elif c == "[":
            self.i += 1
            index = 0
            self.skip(True)
            while self.peek() not in ("]", ""):
                self.value((*path, index))
                self.skip(True)
                if self.peek() == ",":
                    self.i += 1
                    index += 1
                    self.skip(True)
            self.i += 1
        elif c in ('"', "'"):
            self.string()
        else:
            while self.i < len(self.text) and self.text[self.i] not in ",]}\n#":
                self.i += 1

    def pair(self, table: JsonPath) -> None:
        """``key = value`` inside ``table``."""
        parts = self.key()
        path = table
        for name, at in parts:
            path = (*path, name)
            self.keys.setdefault(path, at)
            self.values.setdefault(path, at)
        self.skip(False)
        if self.peek() != "=":
            raise ValueError("no '='")
        self.i += 1
        self.skip(False)
        self.values[path] = self.pos(self.i)
        self.value(path)

    def header(self) -> JsonPath:
        """``[a.b]`` or ``[[a.b]]`` at ``i``: the table path that follows."""
        array = self.text.startswith("[[", self.i)
        self.i += 2 if array else 1
        parts = self.key()
        path: JsonPath = tuple(name for name, _ in parts)
        for n, (_, at) in enumerate(parts):
            self.keys.setdefault(path[: n + 1], at)
            self.values.setdefault(path[: n + 1], at)
        self.i += 2 if array else 1
        if array:
            index = self.arrays.get(path, 0)
            self.arrays[path] = index + 1
            path = (*path, index)
            self.values[path] = parts[0][1]
        return path

    def run(self) -> None:
        table: JsonPath = ()
        while self.i < len(self.text):
            self.skip(True)
            if not self.peek():
                return
            if self.peek() == "[":
                table = self.header()
            else:
                self.pair(table)
            end = self.text.find("\n", self.i)
            self.i = len(self.text) if end < 0 else end


def _escaped(text: str, i: int) -> bool:
    n = 0
    while i - n - 1 >= 0 and text[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def toml_positions(text: str, where: list[Pos]) -> tuple[dict[JsonPath, Pos], dict[JsonPath, Pos]]:
    """(values, keys) positions of ``text``, which :mod:`tomllib` accepted. ``where[n]`` maps the
    text's line ``n`` (0-based) to its line in the file and the columns its comment prefix took."""
    scan = _Scan(text, where)
    if where:
        scan.values[()] = (where[0][0], 1 + where[0][1])
    try:
        scan.run()
    except (ValueError, IndexError):
        pass  # a construct the light scan does not follow: keep what it found
    return scan.values, scan.keys
