"""The one grammar for choosing potential roles by the tenant's own metrics.

Owns: which fields and operators a condition may use (exactly those the official spec lets
`GET /role-mining-sessions/{id}/potential-role-summaries` filter on: FIELDS below), reading
conditions from a YAML mapping (`where: {quality: ">= 80", saved: true}`) or from the command
line (`--where quality>=80`), typing their values, and writing them as ISC's `filters` string
in the V3 syntax (`quality ge 80 and saved eq true`). Must not: do I/O, read the clock, or
talk to the tenant (it is pure: the vocabulary only).

Conditions, on the command line: `FIELD OP VALUE`, where OP is a symbol (`=`, `==`, `>=`,
`>`, `<=`, `<`; spaces around it optional) or one of the spec's words (`eq`, `ge`, `gt`, `le`,
`lt`, `sw`, `co`; spaces around it required): `quality>=80`, `saved=true`, `type=SPECIALIZED`,
`name sw Acc`. In a mapping: FIELD: VALUE (equality) or FIELD: "OP VALUE", or a list of these
for more than one condition on a field (`quality: [">= 60", "< 90"]`). A text value may be put
in double quotes (`name sw "Acc "`) to keep spaces at its ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from rmsync.errors import RmsyncError
from rmsync.models import Condition
from rmsync.safetext import quoted

# The kinds of value a field takes.
METRIC = "a whole number from 0 to 100"
BOOL = "true or false"
ROLE_TYPE = "SPECIALIZED or COMMON"
TEXT = "text"
DATE = "a date (2026-09-14) or an ISO-8601 date-time (2026-09-14T09:00:00Z)"

ROLE_TYPES = ("SPECIALIZED", "COMMON")  # the spec's RoleMiningRoleType


@dataclass(frozen=True)
class Field:
    kind: str
    ops: tuple[str, ...]


_TEXT_OPS = ("eq", "sw", "co")
_ORDERED = ("eq", "ge", "gt", "le", "lt")

# beta-role-mining.yaml (and every later version), operation getPotentialRoleSummaries,
# parameter `filters`: "Filtering is supported for the following fields and operators".
FIELDS: dict[str, Field] = {
    "createdById": Field(TEXT, _TEXT_OPS),
    "createdByName": Field(TEXT, _TEXT_OPS),
    "description": Field(TEXT, ("sw", "co")),
    "endDate": Field(DATE, ("le", "lt")),
    "freshness": Field(METRIC, _ORDERED),
    "name": Field(TEXT, _TEXT_OPS),
    "quality": Field(METRIC, _ORDERED),
    "startDate": Field(DATE, ("ge", "gt")),
    "saved": Field(BOOL, ("eq",)),
    "type": Field(ROLE_TYPE, ("eq",)),
}

# The symbols rmsync also takes, and the spec's word each one stands for.
SYMBOLS = {"=": "eq", "==": "eq", ">=": "ge", ">": "gt", "<=": "le", "<": "lt"}
_SHOWN = {"eq": "=", "ge": ">=", "gt": ">", "le": "<=", "lt": "<", "sw": "sw", "co": "co"}
# Every operator word of the V3 filter syntax: one of these before a value is an operator
# (one the field does not take is an error, never part of the value).
_V3_WORDS = frozenset({"eq", "ne", "ge", "gt", "le", "lt", "sw", "co", "ca", "in"})

_SYMBOL_FORM = re.compile(r"\s*(?P<field>[A-Za-z][\w.]*)\s*(?P<op>[<>=!~]+)\s*(?P<value>.*?)\s*")
_WORD_FORM = re.compile(r"\s*(?P<field>[A-Za-z][\w.]*)\s+(?P<op>[A-Za-z]+)\s+(?P<value>.*?)\s*")
_OP_FIRST = re.compile(r"\s*(?:(?P<symbol>[<>=!~]+)\s*|(?P<word>[a-z]+)\s+)(?P<value>.*?)\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_DAY = re.compile(r"\d{4}-\d\d-\d\d")


class WhereError(RmsyncError):
    """A condition rmsync cannot send: `field` is the field it is about (None: the condition
    could not be read at all), so that a manifest can point at its line."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def from_cli(texts: Iterable[str]) -> tuple[Condition, ...]:
    """Conditions from `--where` options, in the order given."""
    found = []
    for text in texts:
        where = f"--where {text!r}"
        match = _SYMBOL_FORM.fullmatch(text) or _WORD_FORM.fullmatch(text)
        if match is None:
            raise WhereError(
                f"{where}: write a condition as FIELD OP VALUE, such as quality>=80, "
                f"saved=true or 'name sw Acc'; the fields are {_fields()}"
            )
        name = _field(match["field"], where)
        found.append(_condition(name, match["op"], match["value"], where))
    return tuple(found)


def from_mapping(data: Any, where: str = "where") -> tuple[Condition, ...]:
    """Conditions from a YAML mapping (field → value, "OP value", or a list of these), in its
    order; `where` names the mapping in messages (`where.quality: ...`)."""
    if not isinstance(data, Mapping):
        raise WhereError(
            f"{where}: must be a mapping of field to condition, such as "
            '{quality: ">= 80", saved: true}'
        )
    found = []
    for key, given in data.items():
        place = f"{where}.{key}"
        name = _field(str(key), place)
        if isinstance(given, list) and not given:
            raise WhereError(
                f"{place}: an empty list is no condition (it would select every role): give "
                'one, such as ">= 80", or a list of them, or leave the field out',
                name,
            )
        for value in given if isinstance(given, list) else [given]:
            found.append(_from_value(name, value, place))
    return tuple(found)


def filters(conditions: Sequence[Condition]) -> str | None:
    """The conditions as ISC's `filters` parameter, joined by `and` (None: no condition)."""
    if not conditions:
        return None
    return " and ".join(f"{c.field} {c.op} {_literal(c)}" for c in conditions)


def shown(condition: Condition) -> str:
    """A condition as a person writes it: `quality >= 80`, `name sw "Acc"`."""
    kind = FIELDS[condition.field].kind
    value = condition.value
    text = (
        ("true" if value else "false")
        if isinstance(value, bool)
        else quoted(str(value))
        if kind == TEXT
        else str(value)
    )
    return f"{condition.field} {_SHOWN[condition.op]} {text}"


# -- reading -----


def _fields() -> str:
    return ", ".join(sorted(FIELDS))


def _field(given: str, where: str) -> str:
    if given in FIELDS:
        return given
    folded = {name.casefold(): name for name in FIELDS}
    if given.casefold() in folded:
        return folded[given.casefold()]
    raise WhereError(
        f"{where}: potential roles cannot be chosen by {given!r}; the fields are {_fields()}",
        given,
    )


def _operators(name: str) -> str:
    ops = FIELDS[name].ops
    symbols = [s for s in ("=", ">=", ">", "<=", "<") if SYMBOLS[s] in ops]
    words = ", ".join(ops)
    return f"{', '.join(symbols)} ({words})" if symbols else words


def _op(name: str, given: str, where: str) -> str:
    op = SYMBOLS.get(given, given.lower() if given.isalpha() else None)
    if op is None or op not in FIELDS[name].ops:
        raise WhereError(
            f"{where}: {name} cannot be compared with {given!r}; {name} takes {_operators(name)}",
            name,
        )
    return op


def _from_value(name: str, value: Any, where: str) -> Condition:
    """One value of a mapping: a bare value (equality), or text starting with an operator."""
    if isinstance(value, str):
        match = _OP_FIRST.fullmatch(value)
        if match and (match["symbol"] or match["word"] in _V3_WORDS):
            return _condition(name, match["symbol"] or match["word"], match["value"], where)
    if "eq" not in FIELDS[name].ops:
        first = next((s for s, op in SYMBOLS.items() if op == FIELDS[name].ops[0]), None)
        example = f"{first or FIELDS[name].ops[0]} VALUE"
        raise WhereError(
            f"{where}: a value alone means =, which {name} does not take; write it as "
            f'"{example}" ({name} takes {_operators(name)})',
            name,
        )
    if isinstance(value, str):
        return _condition(name, "eq", value, where)
    return Condition(name, "eq", _typed(name, value, where))


def _condition(name: str, op: str, raw: str, where: str) -> Condition:
    return Condition(name, _op(name, op, where), _typed(name, _unquoted(raw), where))


def _unquoted(raw: str) -> str:
    """`"Acc "` → `Acc `: double quotes keep spaces; `\\"` and `\\\\` inside them are a
    quote and a backslash."""
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _typed(name: str, value: Any, where: str) -> int | bool | str:
    """The value as the field's kind, or a WhereError saying what the field takes."""
    kind = FIELDS[name].kind
    typed: int | bool | str | None = None
    if kind == METRIC:
        typed = _metric(value)
    elif kind == BOOL:
        typed = _boolean(value)
    elif kind == ROLE_TYPE:
        text = str(value).upper() if isinstance(value, str) else None
        typed = text if text in ROLE_TYPES else None
    elif kind == DATE:
        typed = _date(value)
    elif isinstance(value, str) and value and not _CONTROL.search(value):
        typed = value
    if typed is None:
        shown_value = repr(value) if isinstance(value, str) else str(value)
        raise WhereError(f"{where}: {name} takes {kind}, not {shown_value}", name)
    return typed


def _metric(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,4}", value.strip()):
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= 100 else None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _date(value: Any) -> str | None:
    """A date (midnight UTC) or a date-time (in UTC; none given: UTC), written as ISO-8601
    in UTC with a Z, as the V3 syntax compares them (`created gt 2018-12-18T23:05:55Z`)."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and _DAY.match(value.strip()):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond // 1000:03d}"
    return text + "Z"


# -- writing -----


def _literal(condition: Condition) -> str:
    """A value in the V3 filter syntax: numbers, booleans and date-times bare; text (and the
    role type, an enumeration) in double quotes, with `\\` and `"` escaped by a backslash."""
    value, kind = condition.value, FIELDS[condition.field].kind
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind in (TEXT, ROLE_TYPE):
        return text_literal(str(value))
    return str(value)


def text_literal(text: str) -> str:
    """Text in the V3 filter syntax: in double quotes, `\\` and `"` escaped by a backslash."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
