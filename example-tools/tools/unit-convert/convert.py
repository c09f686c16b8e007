#!/usr/bin/env python3
"""unit-convert: convert a quantity between units, with exact factors.

Every linear unit is stored as its factor to the quantity's SI base unit (metre, kilogram,
litre, square metre, metre per second, second, byte). Temperature is affine and handled apart.
jsonrpc script protocol: one response line per request line, until stdin closes.
"""

from __future__ import annotations

import json
import sys
from typing import Any

INVALID_PARAMS = -32602

INCH = 0.0254
FOOT = 0.3048
POUND = 0.45359237
US_GALLON = 3.785411784  # litres

# quantity -> {canonical symbol: (factor to base unit, aliases)}
UNITS: dict[str, dict[str, tuple[float, tuple[str, ...]]]] = {
    "length": {
        "m": (1.0, ("meter", "meters", "metre", "metres")),
        "km": (1000.0, ("kilometer", "kilometers", "kilometre", "kilometres")),
        "cm": (0.01, ("centimeter", "centimeters", "centimetre", "centimetres")),
        "mm": (0.001, ("millimeter", "millimeters", "millimetre", "millimetres")),
        "um": (1e-6, ("µm", "micrometer", "micrometers", "micron", "microns")),
        "nm": (1e-9, ("nanometer", "nanometers")),
        "in": (INCH, ("inch", "inches", '"')),
        "ft": (FOOT, ("foot", "feet", "'")),
        "yd": (0.9144, ("yard", "yards")),
        "mi": (1609.344, ("mile", "miles")),
        "nmi": (1852.0, ("nautical mile", "nautical miles")),
    },
    "mass": {
        "kg": (1.0, ("kilogram", "kilograms", "kilo", "kilos")),
        "g": (0.001, ("gram", "grams")),
        "mg": (1e-6, ("milligram", "milligrams")),
        "t": (1000.0, ("tonne", "tonnes", "metric ton", "metric tons")),
        "lb": (POUND, ("lbs", "pound", "pounds")),
        "oz": (POUND / 16, ("ounce", "ounces")),
        "st": (POUND * 14, ("stone", "stones")),
    },
    "volume": {
        "l": (1.0, ("liter", "liters", "litre", "litres")),
        "ml": (0.001, ("milliliter", "milliliters", "millilitre", "millilitres")),
        "m3": (1000.0, ("m^3", "cubic meter", "cubic meters", "cubic metre", "cubic metres")),
        "gal": (US_GALLON, ("gallon", "gallons", "us gallon", "us gallons")),
        "qt": (US_GALLON / 4, ("quart", "quarts")),
        "pt": (US_GALLON / 8, ("pint", "pints")),
        "cup": (US_GALLON / 16, ("cups",)),
        "floz": (US_GALLON / 128, ("fl oz", "fluid ounce", "fluid ounces")),
        "tbsp": (US_GALLON / 256, ("tablespoon", "tablespoons")),
        "tsp": (US_GALLON / 768, ("teaspoon", "teaspoons")),
    },
    "area": {
        "m2": (1.0, ("m^2", "square meter", "square meters", "square metre", "square metres")),
        "km2": (1e6, ("km^2", "square kilometer", "square kilometers")),
        "ha": (1e4, ("hectare", "hectares")),
        "acre": (4046.8564224, ("acres", "ac")),
        "ft2": (FOOT**2, ("ft^2", "sq ft", "square foot", "square feet")),
        "mi2": (1609.344**2, ("mi^2", "sq mi", "square mile", "square miles")),
    },
    "speed": {
        "m/s": (1.0, ("mps", "meters per second", "metres per second")),
        "km/h": (1000 / 3600, ("kmh", "kph", "kilometers per hour", "kilometres per hour")),
        "mph": (1609.344 / 3600, ("mi/h", "miles per hour")),
        "kn": (1852 / 3600, ("kt", "knot", "knots")),
        "ft/s": (FOOT, ("fps", "feet per second")),
    },
    "time": {
        "s": (1.0, ("sec", "secs", "second", "seconds")),
        "ms": (0.001, ("millisecond", "milliseconds")),
        "min": (60.0, ("minute", "minutes")),
        "h": (3600.0, ("hr", "hrs", "hour", "hours")),
        "d": (86400.0, ("day", "days")),
        "wk": (604800.0, ("week", "weeks")),
    },
    "data": {
        "B": (1.0, ("byte", "bytes")),
        "bit": (0.125, ("bits",)),
        "KB": (1e3, ("kilobyte", "kilobytes")),
        "MB": (1e6, ("megabyte", "megabytes")),
        "GB": (1e9, ("gigabyte", "gigabytes")),
        "TB": (1e12, ("terabyte", "terabytes")),
        "KiB": (2.0**10, ("kibibyte", "kibibytes")),
        "MiB": (2.0**20, ("mebibyte", "mebibytes")),
        "GiB": (2.0**30, ("gibibyte", "gibibytes")),
        "TiB": (2.0**40, ("tebibyte", "tebibytes")),
    },
}
TEMPERATURE = {
    "C": ("c", "°c", "celsius", "centigrade"),
    "F": ("f", "°f", "fahrenheit"),
    "K": ("k", "kelvin", "kelvins"),
}


class ToolError(Exception):
    """Bad input, reported as a JSON-RPC error."""


def _index() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """Two lookups: exact symbol -> (quantity, symbol), and lowercase name -> (quantity, symbol)."""
    exact: dict[str, tuple[str, str]] = {}
    folded: dict[str, tuple[str, str]] = {}
    for quantity, units in UNITS.items():
        for symbol, (_factor, aliases) in units.items():
            exact[symbol] = (quantity, symbol)
            for alias in (symbol, *aliases):
                folded.setdefault(alias.lower(), (quantity, symbol))
    for symbol, aliases in TEMPERATURE.items():
        exact[symbol] = ("temperature", symbol)
        for alias in aliases:
            folded[alias] = ("temperature", symbol)
    return exact, folded


EXACT, FOLDED = _index()


def lookup(unit: str) -> tuple[str, str]:
    """``(quantity, canonical symbol)``; exact case first so `MB` and `mb` stay distinct from `Mb`."""
    key = unit.strip()
    found = EXACT.get(key) or FOLDED.get(key.lower())
    if found is None:
        groups = [f"{q}: {' '.join(units)}" for q, units in UNITS.items()]
        groups.append(f"temperature: {' '.join(TEMPERATURE)}")
        raise ToolError(f"unknown unit {unit!r}. Known units - {'; '.join(groups)}")
    return found


def to_kelvin(value: float, symbol: str) -> float:
    return {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[symbol]


def from_kelvin(value: float, symbol: str) -> float:
    return {"C": value - 273.15, "F": (value - 273.15) * 9 / 5 + 32, "K": value}[symbol]


def convert(value: float, source: str, target: str) -> tuple[float, str, str, str]:
    q1, s1 = lookup(source)
    q2, s2 = lookup(target)
    if q1 != q2:
        raise ToolError(f"cannot convert {q1} ({s1}) to {q2} ({s2})")
    if q1 == "temperature":
        return from_kelvin(to_kelvin(value, s1), s2), s1, s2, q1
    base = value * UNITS[q1][s1][0]
    return base / UNITS[q1][s2][0], s1, s2, q1


def tidy(number: float, digits: int) -> float | int:
    """Round to ``digits`` significant digits; whole numbers come back as ints (212, not 212.0)."""
    rounded = float(f"{number:.{digits}g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 1e15 else rounded


def run(arguments: dict[str, Any]) -> dict[str, Any]:
    value = arguments.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ToolError("`value` must be a number")
    source, target = arguments.get("from"), arguments.get("to")
    if not isinstance(source, str) or not isinstance(target, str):
        raise ToolError("`from` and `to` must be unit names, e.g. `km` and `mi`")
    digits = int(arguments.get("precision") or 10)
    result, s1, s2, quantity = convert(float(value), source, target)
    result = tidy(result, digits)
    return {
        "value": value,
        "from": s1,
        "to": s2,
        "result": result,
        "quantity": quantity,
        "formatted": f"{value:.{digits}g} {s1} = {result:.{digits}g} {s2}",
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
