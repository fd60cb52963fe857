"""A fast reader for the block YAML that rmsync's own dumper writes (the lockfile).

Owns: turning text in that narrow subset (block mappings and indentless lists, one value per
line, plain and single-quoted keys, plain, single-quoted and backslash-free double-quoted
scalars, `[]` and `{}`) into the same plain data rmsync.yamlload would make of it, about ten
times faster.
Anything else (a comment or blank line inside, an anchor, a tag, a flow collection, a
folded or escaped scalar, a duplicate key, a number PyYAML reads another way, a character
YAML forbids) gives None, and the caller reads the text with rmsync.yamlload, which
explains every problem at its line. So this module never decides that a file is wrong, and
never returns data yamlload would not (tests hold the two to the same answers).
Must not: report problems, read files, or know what a document means.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import Any

from yaml.constructor import SafeConstructor

from rmsync import yamlload

_LINE = re.compile(
    r"(?P<indent> *)(?P<dash>- )?(?:(?:(?P<key>[^ \-?:,\[\]{}#&*!|>'\"%@`][^:]*)"
    r"|'(?P<quoted>(?:[^']|'')*)'):(?: (?P<value>.+))?"
    r"|(?P<item>.+))"
)
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_SINGLE = re.compile(r"'((?:[^']|'')*)'")
_DOUBLE = re.compile(r'"([^"\\]*)"')
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_EMPTY = frozenset({"[]", "{}"})
_BOOLS: dict[str, bool] = SafeConstructor.bool_values


class _Outside(Exception):
    """The text leaves the subset: the caller reads it the careful way."""


def load(
    text: str, header: str = "", end: str = "", shared: dict[str, Any] | None = None
) -> Any | None:
    """The data of `text` (after `header` and before `end`, comment lines both), or None if
    any of it is outside the subset. Equal values are one object (a text read again is not
    read again), across calls that pass the same `shared` dict: a lockfile's records name
    the same entitlements, sources and counts thousands of times."""
    if not text.startswith(header) or not text.endswith(end) or "\t" in text:
        return None
    body = text[len(header) : len(text) - len(end)]
    if not body.endswith("\n") or yamlload.unprintable(body):
        return None
    _seen.values = shared if shared is not None else {}
    try:
        tokens = [_token(line) for line in body[:-1].split("\n")]
        data, at = _block(tokens, 0, tokens[0][0], 1)  # a document may sit indented
    except _Outside:
        return None
    finally:
        _seen.values = None
    return data if at == len(tokens) else None


class _Seen(threading.local):
    values: dict[str, Any] | None = None  # scalar text -> its value, while a load runs


_seen = _Seen()
_MISSING = object()


_Token = tuple[int, str, str | None, str | None]  # indent, kind (key, dash, item), key, value


def _token(line: str) -> _Token:
    match = _LINE.fullmatch(line)
    if match is None:
        raise _Outside
    indent, dash, key, value, item = match.group("indent", "dash", "key", "value", "item")
    if key is not None and (key[-1] == " " or " #" in key or yamlload.plain_tag(key) != "str"):
        raise _Outside  # `yes:`, `1:`: a key PyYAML would not read as text
    quoted = match.group("quoted")
    if quoted is not None:  # `'no':`, as the dumper writes a name YAML would read otherwise
        key = quoted.replace("''", "'")
    if key is not None:  # one object per key: records count members by the same few names
        key = sys.intern(key)
    if dash is None:
        if key is None:
            raise _Outside  # a scalar alone on a line: a continuation, or not a mapping
        return len(indent), "key", key, value
    if key is None:
        return len(indent), "item", None, item
    return len(indent), "dash", key, value


def _block(tokens: list[_Token], at: int, indent: int, depth: int) -> tuple[Any, int]:
    """The mapping or list that starts at `tokens[at]`, at `indent`; and where it ends."""
    if depth > yamlload.MAX_DEPTH or at >= len(tokens) or tokens[at][0] != indent:
        raise _Outside
    if tokens[at][1] == "key":
        return _mapping(tokens, at, indent, depth)
    return _list(tokens, at, indent, depth)


def _mapping(tokens: list[_Token], at: int, indent: int, depth: int) -> tuple[Any, int]:
    found: dict[str, Any] = {}
    while at < len(tokens) and tokens[at][0] == indent and tokens[at][1] == "key":
        _, _, key, value = tokens[at]
        assert key is not None
        if key in found:
            raise _Outside  # a duplicate key: yamlload says where
        found[key], at = _value(tokens, at, indent, value, depth)
    if at < len(tokens) and tokens[at][0] > indent:
        raise _Outside  # deeper than a sibling: a folded scalar, or not this subset
    return found, at


def _list(tokens: list[_Token], at: int, indent: int, depth: int) -> tuple[Any, int]:
    found: list[Any] = []
    while at < len(tokens) and tokens[at][0] == indent and tokens[at][1] != "key":
        _, kind, key, value = tokens[at]
        if kind == "item":
            assert value is not None
            found.append(_scalar(value))
            at += 1
            continue
        # `- key: value`: a mapping whose first key shares the dash's line, two columns in
        tokens[at] = (indent + 2, "key", key, value)
        item, at = _mapping(tokens, at, indent + 2, depth + 1)
        found.append(item)
    if at < len(tokens) and tokens[at][0] > indent:
        raise _Outside
    return found, at


def _value(
    tokens: list[_Token], at: int, indent: int, value: str | None, depth: int
) -> tuple[Any, int]:
    """The value of the key at `tokens[at]`: on its line, or the block under it (a list may
    start at the key's own indent, as PyYAML writes one)."""
    if value is not None:
        return _scalar(value), at + 1
    nxt = at + 1
    if nxt < len(tokens) and (
        tokens[nxt][0] > indent or (tokens[nxt][0] == indent and tokens[nxt][1] != "key")
    ):
        return _block(tokens, nxt, tokens[nxt][0], depth + 1)
    raise _Outside  # `key:` and nothing: null, written out by the dumper, never this


def _scalar(text: str) -> Any:
    if text in _EMPTY:
        return [] if text == "[]" else {}  # a new one each time: lists and mappings change
    seen = _seen.values
    found = _MISSING if seen is None else seen.get(text, _MISSING)
    if found is _MISSING:
        found = _read(text)
        if seen is not None:
            seen[text] = found
    return found


def _read(text: str) -> Any:
    if text[0] == "'":
        single = _SINGLE.fullmatch(text)
        if single is None:
            raise _Outside
        return single.group(1).replace("''", "'")
    if text[0] == '"':
        double = _DOUBLE.fullmatch(text)
        if double is None:
            raise _Outside  # an escape: yamlload decodes it
        return double.group(1)
    negative = text[0] == "-" and text[1:2].isdigit()  # `-1`: a plain scalar, not a list item
    indicator = text[0] in _INDICATORS and not negative
    if indicator or text[0] == " " or text[-1] in " :" or ": " in text or " #" in text:
        raise _Outside
    tag = yamlload.plain_tag(text)
    if tag == "str":
        return text
    if tag == "null":
        return None
    if tag == "bool":
        return _BOOLS[text.lower()]
    if tag == "int" and _INT.fullmatch(text) and len(text) <= yamlload.MAX_NUMBER:
        return int(text)
    if tag == "float" and _FLOAT.fullmatch(text) and len(text) <= yamlload.MAX_NUMBER:
        return float(text)
    raise _Outside  # `0x1F`, `1_000`, `010`, `.inf`: yamlload reads them its own way
