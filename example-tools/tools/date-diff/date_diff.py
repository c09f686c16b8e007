#!/usr/bin/env python3
"""date-diff: the span between two ISO 8601 dates, in several units.

jsonrpc script protocol: one response line per request line, until stdin closes.
"""

from __future__ import annotations

import calendar
import json
import sys
from datetime import date, datetime, timedelta, timezone
from typing import Any

INVALID_PARAMS = -32602
UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11; the tool may run on an older python3


class ToolError(Exception):
    """Bad input, reported as a JSON-RPC error."""


def parse(text: str, field: str) -> datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):  # fromisoformat() in 3.11 takes Z, older Pythons do not
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ToolError(
            f"`{field}` is not an ISO 8601 date: {text!r} (expected e.g. 2024-03-01 or 2024-03-01T09:30:00Z)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def business_days(first: date, last: date) -> int:
    """Monday-Friday days in [first, last)."""
    if last <= first:
        return -business_days(last, first) if last < first else 0
    total = (last - first).days
    weeks, rest = divmod(total, 7)
    count = weeks * 5
    for i in range(rest):
        if (first + timedelta(days=weeks * 7 + i)).weekday() < 5:
            count += 1
    return count


def calendar_span(a: date, b: date) -> tuple[int, int, int]:
    """Years, months and days from a to b (a <= b), day-of-month clamped like most calendars."""
    months = (b.year - a.year) * 12 + (b.month - a.month)
    if b.day < a.day:
        months -= 1
    year, month = divmod(a.month - 1 + months, 12)
    year += a.year
    month += 1
    anchor = date(year, month, min(a.day, calendar.monthrange(year, month)[1]))
    return months // 12, months % 12, (b - anchor).days


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def run(arguments: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(arguments.get("start"), str):
        raise ToolError("`start` is required: an ISO 8601 date such as 2024-03-01")
    start = parse(arguments["start"], "start")
    end_text = arguments.get("end")
    end = (
        parse(end_text, "end")
        if isinstance(end_text, str)
        else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    seconds = (end - start).total_seconds()
    sign = -1 if seconds < 0 else 1
    lo, hi = (start, end) if sign > 0 else (end, start)
    years, months, days = calendar_span(lo.date(), hi.date())
    whole_days = int(abs(seconds) // 86400) * sign
    if years or months:
        parts = [plural(years, "year")] if years else []
        parts += [plural(months, "month")] if months else []
        parts += [plural(days, "day")] if days else []
        text = ", ".join(parts) + f" ({plural(abs(whole_days), 'day')})"
    elif whole_days:
        text = plural(abs(whole_days), "day")
    else:
        text = f"{abs(seconds) / 3600:g} hours"
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": whole_days,
        "weeks": round(seconds / 86400 / 7, 2),
        "businessDays": business_days(start.date(), end.date()),
        "hours": round(seconds / 3600, 4),
        "seconds": seconds,
        "calendar": {"years": sign * years, "months": sign * months, "days": sign * days},
        "text": text if sign > 0 else f"{text}, end is before start",
    }


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
