"""`rmsync fmt`: a manifest's text in canonical form, its comments and meaning kept.

Owns: the canonical form (keys in the order the README documents them, two-space indents, a
list's dash indented under its key, quotes only where YAML needs them, flow mappings kept as
the author wrote them, the exports and sets in the author's order), and the guarantee that
formatting never changes what a manifest says: the formatted text must load to exactly the
same data, or nothing is written. Must not: talk to the tenant, or decide what is valid
(the manifest module does; only a valid manifest is formatted).

ruamel.yaml is the one library that reads YAML with its comments and writes it back; it is
imported only here, when fmt runs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import yaml

from rmsync.errors import RmsyncError

_PARAMS = ("min_entitlement_popularity", "include_common_access", "refresh_after", "download")
# Where a mapping is (a path of keys; "*" is any key) → the order of its keys. Keys not named
# keep their order, after the named ones.
ORDER: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("version", "tenant", "defaults", "exports", "sets", "moved"),
    ("tenant",): ("api_version", "base_url"),
    ("defaults",): _PARAMS,
    ("exports", "*"): ("potential_role", "session_id", "potential_role_id", *_PARAMS),
    ("exports", "*", "potential_role"): ("session", "name", "id"),
    ("exports", "*", "potential_role", "session"): ("name", "id"),
    ("sets", "*"): ("session", "where", "name", *_PARAMS),
    ("sets", "*", "session"): ("name", "id"),
    ("moved", "*"): ("from", "to"),
}


class FormatError(RmsyncError):
    """A manifest fmt cannot put in canonical form safely; nothing was written."""


def formatted(text: str, file: str) -> str:
    """`text` in canonical form; a FormatError if the result would mean anything else.

    A comment on lines of its own belongs to the line below it. ruamel.yaml keeps such a
    comment with the key above it instead, so moving keys could move it away from what it
    describes: a mapping whose reordering would do that keeps the author's order (the rest
    is still made canonical)."""
    from ruamel.yaml.error import YAMLError

    if text.startswith("\ufeff"):  # a BOM: kept as it was, the rest formatted
        return "\ufeff" + formatted(text[1:], file)
    if "\r\n" in text:  # line ends as the file has them (a Windows checkout): kept
        return formatted(text.replace("\r\n", "\n"), file).replace("\n", "\r\n")
    round_trip = _yaml()
    try:
        data = round_trip.load(text)
    except YAMLError as exc:
        raise FormatError(f"{file}: not YAML that fmt can read: {exc}") from None
    wanted = _comments_above(text)
    _quote_as_needed(data)
    maps = [(node, order, list(node)) for node, order in _mappings(data, ())]
    for node, order, _ in maps:
        _put_in_order(node, order)
    result = _dump(round_trip, data)
    if _comments_above(result) != wanted:  # rare: try each mapping that moves on its own
        for node, _, authors in maps:
            _put_in_order(node, authors)
        for node, order, authors in maps:
            if order == authors:
                continue
            _put_in_order(node, order)
            if _comments_above(_dump(round_trip, data)) != wanted:
                _put_in_order(node, authors)
        result = _dump(round_trip, data)
    if _comments_above(result) != wanted or yaml.safe_load(result) != yaml.safe_load(text):
        raise FormatError(  # never a change of meaning, never a comment moved
            f"{file}: the canonical form would not say the same as the file, so it was not "
            "written; please report this with the file"
        )
    return result


def _yaml() -> Any:
    from ruamel.yaml import YAML

    round_trip = YAML()
    round_trip.indent(mapping=2, sequence=4, offset=2)
    round_trip.width = 4096  # never fold a long line: a diff should show what changed
    round_trip.preserve_quotes = True  # _quote_as_needed decides, for the YAML rmsync reads
    return round_trip


def _dump(round_trip: Any, data: Any) -> str:
    out = io.StringIO()
    round_trip.dump(data, out)
    return out.getvalue()


def _comments_above(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each comment on a line of its own, with the path of keys to the next line that holds
    one (`exports`, `payroll`, `download`): what the comment is about (a comment above the
    first one is the file's own). Order and indentation aside, fmt must keep these pairs: by
    path, so that an export named like a field (`download:`) is not taken for one."""
    found: list[tuple[str, tuple[str, ...]]] = []
    pending: list[str] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the mappings above this line
    started = False
    for line in text.splitlines():
        bare = line.strip()
        if bare.startswith("#"):
            pending.append(bare)
            continue
        if not bare:
            continue
        indent = len(line) - len(line.lstrip(" "))
        item = bare
        while item.startswith("- "):  # a list item: its keys sit past the dash
            indent, item = indent + 2, item[2:].lstrip()
            stack = [(i, k) for i, k in stack if i < indent - 1]
            stack.append((indent - 1, "-"))
        key = item.split(":", 1)[0].strip().strip("'\"") if ":" in item else item
        stack = [(i, k) for i, k in stack if i < indent]
        path = (*(k for _, k in stack), key)
        found += [(comment, path if started else ("^",)) for comment in pending]
        pending, started = [], True
        stack.append((indent, key))
    return sorted(found + [(comment, ("$",)) for comment in pending])


def _mappings(node: Any, path: tuple[str, ...]) -> list[tuple[Any, list[Any]]]:
    """Every mapping under `node` whose keys have a canonical order, with that order."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    found: list[tuple[Any, list[Any]]] = []
    if isinstance(node, CommentedMap):
        order = _order_for(path)
        if order:
            keys = list(node)
            found.append(
                (node, [*(k for k in order if k in node), *(k for k in keys if k not in order)])
            )
        for key, value in node.items():
            found += _mappings(value, (*path, str(key)))
    elif isinstance(node, CommentedSeq):
        for item in node:
            found += _mappings(item, (*path, "*"))
    return found


def _quote_as_needed(node: Any) -> None:
    """Each quoted string plain where YAML 1.1 (which rmsync's reader speaks) reads it plain
    as the same string, else in double quotes. ruamel.yaml alone would write YAML 1.2, where
    `yes`, `on` or `1_000` are plain strings that rmsync would read as a boolean or a
    number."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    quoted = (DoubleQuotedScalarString, SingleQuotedScalarString)
    if isinstance(node, CommentedMap):
        for key in list(node):
            value = node[key]
            if isinstance(value, quoted):
                plain = str.__str__(value) if _plain(value) else DoubleQuotedScalarString(value)
                # past CommentedMap.__setitem__, which would keep the old value's quotes
                super(CommentedMap, node).__setitem__(key, plain)
            else:
                _quote_as_needed(value)
    elif isinstance(node, CommentedSeq):
        for i, value in enumerate(node):
            if isinstance(value, quoted):
                plain = str.__str__(value) if _plain(value) else DoubleQuotedScalarString(value)
                list.__setitem__(node, i, plain)  # past the type-keeping __setitem__
            else:
                _quote_as_needed(value)


def _plain(text: str) -> bool:
    """Whether `text`, written plain as a value, reads back as itself (in a flow mapping too)."""
    if not text or text != text.strip() or any(c in text for c in ",[]{}#\n"):
        return False
    try:
        read: object = yaml.safe_load(f"k: {text}\n")
    except yaml.YAMLError:
        return False
    return read == {"k": text}


def _put_in_order(node: Any, order: Sequence[Any]) -> None:
    for key in order:
        node.move_to_end(key)


def _order_for(path: Sequence[str]) -> tuple[str, ...]:
    for pattern, order in ORDER.items():
        if len(pattern) == len(path) and all(
            p in ("*", k) for p, k in zip(pattern, path, strict=True)
        ):
            return order
    return ()
