"""Reading typed records from manifest data: the generic half of :mod:`~skillz_engine.tree.specs`.

A record is a frozen dataclass; each field is read from the manifest key that is the camel case of
its name, unless its metadata names another key (``{"key": "allowed-tools"}``) or none (``{"key":
None}``: not read). A field typed as a record, a tuple of records, a tuple or a union of those is
converted; anything else is taken as written. Metadata ``FALSY`` makes an empty or zero value mean
the default (as the runtimes have always read those keys); ``{"present": key}`` makes a ``bool``
field say whether ``key`` is there, even as ``null``. A record with a ``SHORTHAND`` class attribute
also reads a plain string, as that one field (``sandbox: bwrap``).

Reading is lenient by design: records are made from validated data, but also from specs restored
from the cache and from the hand-made specs of tests, so a missing key takes the field's default,
``None`` counts as missing, and a value of the wrong shape for a nested record or a list is ignored
rather than raised on (the schema reports those).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

FALSY: Mapping[str, Any] = types.MappingProxyType({"falsy": True})

R = TypeVar("R")
_UNSET: Any = object()
Convert = Callable[[Any], Any]


def camel(name: str) -> str:
    """``ok_exit_codes`` -> ``okExitCodes``: the manifest key of a field name."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def json_key(f: dataclasses.Field[Any]) -> str | None:
    """The manifest key field ``f`` is read from (``None``: not read from the manifest)."""
    if "key" in f.metadata:
        k = f.metadata["key"]
        return None if k is None else str(k)
    return camel(f.name)


def _is_record(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _readable(record: type[Any], raw: Any) -> bool:
    """Whether ``raw`` can be read as ``record``: a mapping, or a string where it has a shorthand."""
    return isinstance(raw, Mapping) or (isinstance(raw, str) and hasattr(record, "SHORTHAND"))


def _convert(hint: Any) -> Convert | None:
    """How a raw value becomes a value of type ``hint``; ``None``: taken as it is."""
    origin, args = get_origin(hint), get_args(hint)
    if _is_record(hint):
        return lambda raw: read_record(hint, raw) if _readable(hint, raw) else _UNSET
    if origin is tuple:
        item = args[0]
        if _is_record(item):
            return lambda raw: (
                tuple(read_record(item, x if isinstance(x, Mapping) else {}) for x in raw)
                if isinstance(raw, list | tuple)
                else _UNSET
            )
        return lambda raw: tuple(raw) if isinstance(raw, list | tuple) else _UNSET
    if origin in (Union, types.UnionType):
        record = next((a for a in args if _is_record(a)), None)
        listy = any(get_origin(a) is tuple for a in args)
        if record is None and not listy:
            return None
        # a value none of the shaped members takes is kept only when a plain member (str, ...) may
        plain = any(a is not type(None) and not _is_record(a) and get_origin(a) is not tuple for a in args)

        def union(raw: Any) -> Any:
            if record is not None and _readable(record, raw):
                return read_record(record, raw)
            if listy and isinstance(raw, list | tuple):
                return tuple(raw)
            return raw if plain else _UNSET

        return union
    return None


@dataclass(frozen=True, slots=True)
class _Plan:
    name: str
    key: str | None
    present: str | None
    falsy: bool
    convert: Convert | None


_PLANS: dict[type[Any], tuple[_Plan, ...]] = {}


def _plans(cls: type[Any]) -> tuple[_Plan, ...]:
    """How each field of ``cls`` is read (worked out once per record type)."""
    known = _PLANS.get(cls)
    if known is not None:
        return known
    hints = get_type_hints(cls)
    plans = []
    for f in dataclasses.fields(cls):
        meta, how = f.metadata, _convert(hints[f.name])
        plans.append(_Plan(f.name, json_key(f), meta.get("present"), bool(meta.get("falsy")), how))
    _PLANS[cls] = tuple(plans)
    return _PLANS[cls]


def record_values(cls: type[Any], data: Any) -> dict[str, Any]:
    """The field values of record ``cls`` that ``data`` gives (a field it does not give is absent)."""
    shorthand = getattr(cls, "SHORTHAND", None)
    if isinstance(data, str) and shorthand is not None:
        data = {shorthand: data}
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, Any] = {}
    for plan in _plans(cls):
        if plan.present is not None:
            out[plan.name] = plan.present in data
            continue
        if plan.key is None:
            continue
        raw = data.get(plan.key)
        if raw is None or (plan.falsy and not raw):
            continue
        value = raw if plan.convert is None else plan.convert(raw)
        if value is not _UNSET:
            out[plan.name] = value
    return out


def read_record(cls: type[R], data: Any) -> R:
    """Record ``cls`` read from ``data`` (a mapping of manifest keys), defaults for what it lacks."""
    return cls(**record_values(cls, data))
