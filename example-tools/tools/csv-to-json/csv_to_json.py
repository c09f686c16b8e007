#!/usr/bin/env python3
"""csv-to-json: CSV text in, rows as JSON out, with progress and log notifications.

jsonrpc script protocol. Besides the final response line, a script may print notification
lines at any time; the host forwards them to the client:

    {"jsonrpc":"2.0","method":"log","params":{"level":"info","message":"..."}}
    {"jsonrpc":"2.0","method":"progress","params":{"progress":1,"total":3,"message":"..."}}
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from typing import Any

INVALID_PARAMS = -32602
CANDIDATE_DELIMITERS = ",;\t|"
PROGRESS_STEPS = 10  # at most this many progress notifications per call
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class ToolError(Exception):
    """Bad input, reported as a JSON-RPC error."""


def send(message: dict[str, Any]) -> None:
    """Write one JSON-RPC line to the host and flush, so notifications arrive while we work."""
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
    sys.stdout.flush()


def log(level: str, message: str) -> None:
    send({"method": "log", "params": {"level": level, "message": message}})


def progress(done: int, total: int, message: str) -> None:
    send({"method": "progress", "params": {"progress": done, "total": total, "message": message}})


def detect_delimiter(text: str) -> str:
    """The candidate that occurs most often in the first non-blank line (`,` on a tie or none).

    Simpler than ``csv.Sniffer`` and predictable: a header line rarely holds quoted delimiters.
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in CANDIDATE_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])  # max() keeps the first of equals: `,`
    return best if counts[best] else ","


def convert_cell(cell: str) -> Any:
    stripped = cell.strip()
    if stripped == "":
        return None
    if NUMBER.match(stripped):
        number = float(stripped)
        if number.is_integer() and re.fullmatch(r"[+-]?\d+", stripped):
            return int(stripped)
        return number
    return cell


def unique_columns(names: list[str]) -> list[str]:
    """Blank or repeated header cells get names of their own (`column_3`, `name_2`)."""
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(names, start=1):
        name = raw.strip() or f"column_{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def run(arguments: dict[str, Any]) -> dict[str, Any]:
    text = arguments.get("csv")
    if not isinstance(text, str):
        raise ToolError("`csv` must be a string holding the CSV text")
    if not text.strip():
        raise ToolError("`csv` is empty")
    delimiter = arguments.get("delimiter") or detect_delimiter(text)
    header = arguments.get("header", True)
    numbers = bool(arguments.get("numbers", False))

    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise ToolError(f"malformed CSV: {exc}") from None
    records = [r for r in records if any(cell.strip() for cell in r)]  # skip blank lines
    columns = unique_columns(records.pop(0)) if header and records else []
    total = len(records)
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    log("info", f"delimiter {shown}, {len(columns) or 'no'} header columns, {total} data rows")

    rows: list[Any] = []
    ragged = 0
    every = max(1, -(-total // PROGRESS_STEPS))  # ceil(total / PROGRESS_STEPS)
    for n, record in enumerate(records, start=1):
        cells = [convert_cell(c) for c in record] if numbers else list(record)
        if columns:
            if len(cells) != len(columns):
                ragged += 1
            row = {col: (cells[i] if i < len(cells) else None) for i, col in enumerate(columns)}
            row.update({f"column_{i + 1}": cells[i] for i in range(len(columns), len(cells))})
            rows.append(row)
        else:
            rows.append(cells)
        if n % every == 0 or n == total:
            progress(n, total, f"{n}/{total} rows")
    if ragged:
        log("warning", f"{ragged} row(s) had a different number of cells than the header")
    return {"columns": columns, "rows": rows, "rowCount": len(rows)}


def answer(line: str) -> None:
    """Answer one execute request line with one response line."""
    try:
        request = json.loads(line)
    except ValueError as exc:
        send({"id": None, "error": {"code": -32700, "message": f"could not parse the request: {exc}"}})
        return
    request_id = request.get("id", 1)
    try:
        send({"id": request_id, "result": run(request.get("params", {}).get("arguments") or {})})
    except ToolError as exc:
        send({"id": request_id, "error": {"code": INVALID_PARAMS, "message": str(exc)}})


def main() -> None:
    # One call per request line until stdin closes: a worker (`worker` in the manifest) answers
    # many, a one-shot run one.
    for line in sys.stdin:
        if line.strip():
            answer(line)


if __name__ == "__main__":
    main()
