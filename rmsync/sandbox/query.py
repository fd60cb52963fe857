"""Collection query parameters as ISC's V3 standard defines them: paging, filters, sorters.

Owns: parsing and checking `offset`, `limit`, `count`, `filters` and `sorters`, and
applying them to a list of items. Must not: know what the items are beyond the getters
each route hands it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from rmsync.sandbox.faults import bad_request

T = TypeVar("T")
Getter = Callable[[Any], Any]
MAX_LIMIT = 250

_FIELD = re.compile(r"[A-Za-z][\w.]*")
# An ISO-8601 date-time with its zone (Z or an offset), as real ISC takes for date fields.
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})"
)
_KEYWORDS = frozenset({"and", "or", "not"})
_EXAMPLE = 'write it as: field op value (for example name sw "Acc")'
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
    date: bool = False  # values are ISO-8601 date-times, bare or quoted, compared as times


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
    test = _Parser(text, fields).parse()
    return [item for item in items if test(item)]


Test = Callable[[Any], bool]


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "text" (a quoted string, unescaped), "(", ")" or ","
    text: str


def _tokens(text: str) -> list[_Token]:
    """Words, quoted strings (`\"` and `\\` escapes), parentheses and commas: keywords and
    punctuation count only outside quotes."""
    tokens: list[_Token] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "(),":
            tokens.append(_Token(char, char))
            at += 1
        elif char == '"':
            chars: list[str] = []
            end = at + 1
            while end < len(text) and text[end] != '"':
                if text[end] == "\\":
                    end += 1
                    if end == len(text):
                        break
                chars.append(text[end])
                end += 1
            if end >= len(text):
                raise _invalid(text, f"the quoted text at character {at + 1} is not closed")
            tokens.append(_Token("text", "".join(chars)))
            at = end + 1
        else:
            end = at
            while end < len(text) and not text[end].isspace() and text[end] not in '(),"':
                end += 1
            tokens.append(_Token("word", text[at:end]))
            at = end
    return tokens


def _invalid(text: str, reason: str) -> Exception:
    return bad_request(f"Invalid filter {text!r}: {reason}; {_EXAMPLE}")


def _shown(token: _Token) -> str:
    return f'"{token.text}"' if token.kind == "text" else token.text


MAX_DEPTH = 50  # of `not` and brackets in one filter


class _Parser:
    """`or` of `and`s of (`not`) clauses or parenthesised filters; `and` binds tighter."""

    def __init__(self, text: str, fields: Mapping[str, Field]) -> None:
        self.text = text
        self.fields = fields
        self.tokens = _tokens(text)
        self.at = 0
        self.depth = 0

    def parse(self) -> Test:
        if not self.tokens:
            return lambda item: True  # an empty `filters` keeps every item
        test = self._any()
        if self.at < len(self.tokens):
            raise _invalid(self.text, f"unexpected {_shown(self.tokens[self.at])!r}")
        return test

    def _peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _next(self, wanted: str) -> _Token:
        token = self._peek()
        if token is None:
            raise _invalid(self.text, f"it ends where {wanted} should be")
        self.at += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "word" and token.text == word:
            self.at += 1
            return True
        return False

    def _any(self) -> Test:
        tests = [self._all()]
        while self._keyword("or"):
            tests.append(self._all())
        return tests[0] if len(tests) == 1 else lambda item: any(t(item) for t in tests)

    def _all(self) -> Test:
        tests = [self._one()]
        while self._keyword("and"):
            tests.append(self._one())
        return tests[0] if len(tests) == 1 else lambda item: all(t(item) for t in tests)

    def _one(self) -> Test:
        self.depth += 1  # `not` and brackets nest: a bounded depth, never a RecursionError
        if self.depth > MAX_DEPTH:
            raise _invalid(self.text, f"nested more than {MAX_DEPTH} deep")
        try:
            return self._nested()
        finally:
            self.depth -= 1

    def _nested(self) -> Test:
        if self._keyword("not"):
            negated = self._one()
            return lambda item: not negated(item)
        token = self._peek()
        if token is not None and token.kind == "(":
            self.at += 1
            test = self._any()
            closing = self._next("')'")
            if closing.kind != ")":
                raise _invalid(self.text, f"')' expected, not {_shown(closing)!r}")
            return test
        return self._clause()

    def _clause(self) -> Test:
        name = self._next("a field")
        if name.kind != "word" or name.text in _KEYWORDS or not _FIELD.fullmatch(name.text):
            raise _invalid(self.text, f"a field name expected, not {_shown(name)!r}")
        op = self._next(f"an operator after {name.text!r}")
        if op.kind != "word" or op.text not in _TESTS:
            ops = ", ".join(_TESTS)
            raise _invalid(self.text, f"an operator ({ops}) expected, not {_shown(op)!r}")
        spec = self.fields.get(name.text)
        if spec is None:
            allowed = ", ".join(sorted(self.fields)) or "none"
            raise bad_request(
                f"Filtering is not supported on {name.text!r}; supported fields: {allowed}"
            )
        if op.text not in spec.ops:
            raise bad_request(
                f"Operator {op.text!r} is not supported for {name.text!r}; "
                f"use one of {', '.join(sorted(spec.ops))}"
            )
        if op.text == "in":
            value: Any = self._list(name.text, spec)
        else:
            value = self._value(self._next(f"a value after {op.text!r}"), name.text, spec)
        return _check(spec, _TESTS[op.text], value)

    def _list(self, name: str, spec: Field) -> list[Any]:
        opening = self._next("'('")
        if opening.kind != "(":
            raise _invalid(self.text, f"'in' takes a list in parentheses, not {_shown(opening)!r}")
        values: list[Any] = []
        while True:
            token = self._next("')'")
            if token.kind == ")":
                return values
            if token.kind == "," and values:
                token = self._next("a value")
            elif values:
                raise _invalid(self.text, f"',' or ')' expected, not {_shown(token)!r}")
            values.append(self._value(token, name, spec))

    def _value(self, token: _Token, name: str, spec: Field) -> Any:
        if token.kind not in ("word", "text") or (token.kind == "word" and token.text in _KEYWORDS):
            raise _invalid(self.text, f"a value expected, not {_shown(token)!r}")
        if spec.date:
            moment = _moment(token.text)
            if moment is None:
                raise bad_request(
                    f"Filter value {token.text!r} for {name!r} must be an ISO-8601 date-time "
                    "with Z or an offset (for example 2026-09-14T00:00:00Z)"
                )
            return moment
        if token.kind == "text":
            return token.text
        if token.text in ("true", "false"):
            return token.text == "true"
        try:
            return float(token.text) if "." in token.text else int(token.text)
        except ValueError:
            raise bad_request(
                f"Filter value {token.text!r} must be quoted text, a number, true or false"
            ) from None


def _moment(text: str) -> datetime | None:
    if not _DATE_TIME.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # a month 13, a day 32
        return None


def _check(spec: Field, test: Callable[[Any, Any], bool], value: Any) -> Test:
    def check(item: Any) -> bool:
        actual = spec.get(item)
        if spec.date and isinstance(actual, str):
            actual = _moment(actual)
        try:
            return bool(test(actual, value))
        except TypeError:
            return False

    return check


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
