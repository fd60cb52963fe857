"""Collection query parameters as ISC's V3 standard defines them: paging, filters, sorters.

Owns: parsing and checking `offset`, `limit`, `count`, `filters` and `sorters`, and
applying them to a list of items. Must not: know what the items are beyond the getters
each route hands it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rmsync.sandbox.faults import bad_request

T = TypeVar("T")
Getter = Callable[[Any], Any]
MAX_LIMIT = 250

_CLAUSE = re.compile(
    r"""\s*(?P<field>[A-Za-z][\w.]*)\s+(?P<op>eq|ne|sw|co|ge|gt|le|lt|in)\s+
    (?P<value>"(?:[^"\\]|\\.)*"|\([^)]*\)|[^\s()]+)\s*""",
    re.VERBOSE,
)
_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "sw": lambda a, b: isinstance(a, str) and a.lower().startswith(str(b).lower()),
    "co": lambda a, b: isinstance(a, str) and str(b).lower() in a.lower(),
    "ge": lambda a, b: a is not None and a >= b,
    "gt": lambda a, b: a is not None and a > b,
    "le": lambda a, b: a is not None and a <= b,
    "lt": lambda a, b: a is not None and a < b,
    "in": lambda a, b: a in b,
}


@dataclass(frozen=True)
class Field:
    """A filterable or sortable field: the operators it takes and how to read it."""

    get: Getter
    ops: frozenset[str] = frozenset()


def boolean(params: Mapping[str, str], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(f"Query parameter {name} must be true or false, not {raw!r}")


def integer(params: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Query parameter {name} must be an integer, not {raw!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise bad_request(f"Query parameter {name} must be {bound}, not {value}")
    return value


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int | None


def collection(
    items: Sequence[T],
    params: Mapping[str, str],
    filters: Mapping[str, Field] | None = None,
    sorters: Mapping[str, Getter] | None = None,
) -> Page:
    """Filter, sort and page `items` as the request's parameters ask; 400 on any bad one."""
    offset = integer(params, "offset", 0, 0, None)
    limit = integer(params, "limit", MAX_LIMIT, 0, MAX_LIMIT)
    want_total = boolean(params, "count", False)
    chosen = list(items)
    if "filters" in params:
        chosen = _filter(chosen, params["filters"], filters or {})
    if "sorters" in params:
        chosen = _sort(chosen, params["sorters"], sorters or {})
    return Page(chosen[offset : offset + limit], len(chosen) if want_total else None)


def _filter(items: list[T], text: str, fields: Mapping[str, Field]) -> list[T]:
    tests = [_clause(part, fields) for part in re.split(r"\s+and\s+", text.strip()) if part]
    return [item for item in items if all(test(item) for test in tests)]


def _clause(text: str, fields: Mapping[str, Field]) -> Callable[[Any], bool]:
    match = _CLAUSE.fullmatch(text)
    if not match:
        raise bad_request(
            f'Invalid filter {text!r}; write it as: field op value (for example name sw "Acc")'
        )
    name, op, raw = match.group("field", "op", "value")
    spec = fields.get(name)
    if spec is None:
        allowed = ", ".join(sorted(fields)) or "none"
        raise bad_request(f"Filtering is not supported on {name!r}; supported fields: {allowed}")
    if op not in spec.ops:
        raise bad_request(
            f"Operator {op!r} is not supported for {name!r}; "
            f"use one of {', '.join(sorted(spec.ops))}"
        )
    value = _value(raw)
    test = _TESTS[op]

    def check(item: Any) -> bool:
        try:
            return bool(test(spec.get(item), value))
        except TypeError:
            return False

    return check


def _value(raw: str) -> Any:
    if raw.startswith("("):
        return [_value(part.strip()) for part in raw[1:-1].split(",") if part.strip()]
    if raw.startswith('"'):
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return float(raw) if "." in raw else int(raw)
    except ValueError:
        raise bad_request(
            f"Filter value {raw!r} must be quoted text, a number, true or false"
        ) from None


def _sort(items: list[T], text: str, fields: Mapping[str, Getter]) -> list[T]:
    keys = [part.strip() for part in text.split(",") if part.strip()]
    for key in reversed(keys):
        name = key.lstrip("-")
        getter = fields.get(name)
        if getter is None:
            allowed = ", ".join(sorted(fields)) or "none"
            raise bad_request(f"Sorting is not supported on {name!r}; supported fields: {allowed}")
        items = sorted(items, key=lambda item: _sortable(getter(item)), reverse=key.startswith("-"))
    return items


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)
