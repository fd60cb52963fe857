"""Safe YAML loading that remembers where every value stood, and schema checks that say so.

Owns: parsing YAML text into plain data (no timestamps, no duplicate keys, no tags beyond
the plain ones, no aliases or merge keys: an alias bomb is refused before it grows), the line
of every value, and turning JSON-schema errors into file:line problems. Hostile input is a
located problem too, never an exception: control characters, nesting deeper than MAX_DEPTH,
numbers longer than MAX_NUMBER (Python refuses to read ints of 4,300 digits), bad tags.
Must not: read files other than the one it is given, or know what any document means.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rmsync import schemacheck
from rmsync.errors import DocumentError, Problem

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

JsonPath = tuple[str | int, ...]

MAX_DEPTH = 50  # levels of lists and mappings; rmsync's own files need fewer than 10
MAX_NUMBER = 100  # characters in a number; no rmsync field needs more than 20


@dataclass(frozen=True)
class Located:
    """Parsed data plus the 1-based line of each value, keyed by its path.

    `problems` holds what parsing could survive (duplicate keys: the first one is kept), so
    that they are reported together with the schema's problems.
    """

    file: str
    data: Any
    lines: dict[JsonPath, int]
    problems: tuple[Problem, ...] = ()

    def line_of(self, path: Iterable[str | int]) -> int:
        """The line of the value at `path`, or of its nearest parent that has one."""
        parts = tuple(path)
        while parts and parts not in self.lines:
            parts = parts[:-1]
        return self.lines.get(parts, 1)


_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader without the implicit timestamp and value types: dates and `=` stay text."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        """The tag of a node; a plain scalar's is remembered per value (`_implicit_tag`)."""
        if kind is yaml.ScalarNode and implicit and implicit[0]:
            return _implicit_tag(value)
        return str(super().resolve(kind, value, implicit))


_Loader.yaml_implicit_resolvers = {  # `=` alone is text too, not YAML 1.1's "value" tag
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TAG + "timestamp", _TAG + "value")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def plain_tag(value: str) -> str:
    """What an unquoted scalar `value` is read as: str, int, float, bool or null (the short
    name of its tag), as this module's loader resolves it."""
    return _short(_implicit_tag(value)).removeprefix("!!")


def _implicit_tag(value: str) -> str:
    """The tag the loader gives the unquoted scalar `value`, remembered per value: a lockfile
    of thousands of records says the same few hundred values again and again (counts, flags,
    states), and matching each against every implicit type's pattern was a fifth of reading
    it."""
    found = _IMPLICIT.get(value)
    if found is None:
        found = _TAG + "str"
        table = _Loader.yaml_implicit_resolvers
        for candidate, pattern in [*table.get(value[:1], ()), *table.get(None, ())]:
            if pattern.match(value):
                found = candidate
                break
        if len(_IMPLICIT) >= 50_000:  # a file of distinct values gains nothing: start over
            _IMPLICIT.clear()
        _IMPLICIT[value] = found
    return found


_IMPLICIT: dict[str, str] = {}


def unprintable(text: str) -> bool:
    """Whether `text` holds a character YAML does not allow in a file, or one it reads as a
    line break where Python's splitting on newlines does not (or a byte order mark)."""
    return bool(_NON_PRINTABLE.search(text)) or any(c in text for c in "\r\x85\u2028\u2029\ufeff")


def field_name(path: Iterable[str | int]) -> str:
    """`exports.acme.session_id`, `identities[3].name`: a path as users write it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def load_text(text: str, file: str) -> Located:
    """Parse one YAML document; raise DocumentError for a syntax error, for aliases and
    merge keys (every one of them, each at its line), for control characters, nesting deeper
    than MAX_DEPTH, and values that break their tags or MAX_NUMBER (every one of them);
    duplicate keys are kept in `problems`."""
    if _NON_PRINTABLE.search(text):
        raise DocumentError(_unprintable(text, file))
    loader = _Loader(text)
    builder = _Builder(loader, file)
    try:
        data = builder.document()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        deep = exc.problem == "exceeded maximum nesting depth"  # libyaml's limit: 1,000 levels
        message = _TOO_DEEP if deep else f"not valid YAML: {exc.problem}"
        raise DocumentError([Problem(file=file, line=line, field="", message=message)]) from None
    except _Refused as exc:
        raise DocumentError(_refusals(text, file) or [exc.problem]) from None
    finally:
        loader.dispose()
    if builder.refused:
        raise DocumentError(builder.refused + builder.problems)
    return Located(file, data, builder.lines, tuple(builder.problems))


# What YAML allows in a file (YAML 1.1, 5.1); libyaml stops at the first other character.
_NON_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_UNPRINTABLE = (
    "control character U+{0:04X} is not allowed in YAML; "
    "delete it, or write it as \\u{0:04X} inside double quotes"
)


def _unprintable(text: str, file: str, most: int = 20) -> list[Problem]:
    """The first control character on each line that has one (on `most` lines at most)."""
    found: dict[int, Problem] = {}
    for match in _NON_PRINTABLE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        if line not in found:
            message = _UNPRINTABLE.format(ord(match.group()))
            found[line] = Problem(file=file, line=line, field="", message=message)
            if len(found) == most:
                break
    return list(found.values())


def load_file(path: Path, shown_as: str | None = None) -> Located:
    """Read and parse `path`; unreadable files are a DocumentError too."""
    name = shown_as or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(
            [Problem(file=name, line=1, field="", message=f"cannot read file: {exc.strerror}")]
        ) from None
    text = decode(data, name, "cannot read file: ", "; save it as UTF-8")
    return load_text(text.replace("\r\n", "\n").replace("\r", "\n"), name)  # as read_text


def decode(data: bytes, file: str, prefix: str = "", hint: str = "") -> str:
    """`data` as UTF-8 text, or a DocumentError at the line of the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"{prefix}not UTF-8 text (byte 0x{data[exc.start]:02x}){hint}"
        raise DocumentError([Problem(file=file, line=line, field="", message=message)]) from None


_MERGE_TAG = "tag:yaml.org,2002:merge"
_ALIAS = "YAML aliases (*{}) are not allowed in rmsync files; write the value out"
_MERGE = "YAML merge keys (<<) are not allowed in rmsync files; write the keys out"


class _Refused(Exception):
    """An alias or a merge key stopped the build; `problem` is where it was noticed."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Stop(Exception):
    """The build stopped (an alias, a merge key, nesting too deep): the rest of the file is
    only parsed, because a YAML error anywhere in it is what the file is reported for."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Builder:
    """Plain data and lines from the parser's events, one value at a time.

    No node tree is composed: a 50,000-entry manifest's tree took 120 MB at its peak, its
    events a few. The composer's own checks are kept (an alias names an anchor before it, an
    anchor is not given twice, one document), and so is what the tree walk refused: an alias
    met anywhere it would be built or checked (entering the node it names again is how an
    alias bomb of nine levels of ten aliases grows to a billion values), a merge key, a list
    or mapping deeper than MAX_DEPTH. Those stop the build at once, and the rest of the file
    is only parsed. A value that breaks its tag or MAX_NUMBER is noted in `refused` and the
    build goes on.
    """

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.lines: dict[JsonPath, int] = {}
        self.problems: list[Problem] = []
        self.refused: list[Problem] = []
        self.anchors: dict[str, Any] = {}  # each anchor's mark
        self.constructed: dict[tuple[str, str], Any] = {}  # `1`, `true`: made once each

    def document(self) -> Any:
        """The one document's data, None for a file without one; raises what stopped it."""
        loader = self.loader
        loader.get_event()  # the stream's start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        first = loader.get_event()  # the document's start
        stopped: Exception | None = None
        data = None
        try:
            data = self.build((), 0)
        except _Stop as stop:
            stopped = stop.error
        while not loader.check_event(yaml.StreamEndEvent):  # the rest: parsed, not built
            event = self.next()
            if isinstance(event, yaml.DocumentStartEvent):
                raise yaml.composer.ComposerError(
                    "expected a single document in the stream",
                    _mark(first),
                    "but found another document",
                    _mark(event),
                )
        if stopped is not None:
            raise stopped
        return data

    def next(self) -> yaml.Event:
        """The next event, with the composer's checks of anchors and aliases."""
        event: yaml.Event = self.loader.get_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", _mark(event)
                )
        elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            first = self.anchors.get(event.anchor)
            if first is not None:
                raise yaml.composer.ComposerError(
                    f"found duplicate anchor {event.anchor!r}; first occurrence",
                    first,
                    "second occurrence",
                    _mark(event),
                )
            self.anchors[event.anchor] = _mark(event)
        return event

    def build(self, path: JsonPath, depth: int) -> Any:
        event = self.next()
        self.enter(event, path, depth)
        self.lines[path] = _line(event)
        tag = self.tag(event)
        if not self.fits(event, tag, path):
            self.skip(event)
            return None
        if isinstance(event, yaml.MappingStartEvent):
            return self.mapping(path, depth)
        if isinstance(event, yaml.SequenceStartEvent):
            items: list[Any] = []
            while not self.loader.check_event(yaml.SequenceEndEvent):
                items.append(self.build((*path, len(items)), depth + 1))
            self.loader.get_event()
            return items
        assert isinstance(event, yaml.ScalarEvent)  # an alias stopped at `enter`
        return self.scalar(event, tag, path)

    def mapping(self, path: JsonPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while not self.loader.check_event(yaml.MappingEndEvent):
            line = _line(self.loader.peek_event())
            key = self.key(path, depth + 1)
            if key is _SKIPPED:
                pass
            elif not isinstance(key, str):
                self.problem(line, path, f"key {_shown(key)} is not text")
            elif key in result:
                first = self.lines[(*path, key)]
                self.problem(
                    line, (*path, key), f"duplicate key (first defined on line {first}); keep one"
                )
            else:
                result[key] = self.build((*path, key), depth + 1)
                self.lines[(*path, key)] = line
                continue
            where = (*path, key) if isinstance(key, str) else path
            self.mark(where, depth + 1)  # not built: aliases are still reported
        self.loader.get_event()
        return result

    def key(self, path: JsonPath, depth: int) -> Any:
        """A scalar key's value; a list or mapping as a key is a problem, and not built."""
        event = self.loader.peek_event()
        if not isinstance(event, yaml.CollectionStartEvent):
            event = self.mark(path, depth, key=True)
            if isinstance(event, yaml.ScalarEvent):
                tag = self.tag(event)
                return self.scalar(event, tag, path) if self.fits(event, tag, path) else _SKIPPED
            return _SKIPPED
        self.mark(path, depth, key=True)
        kind = "list" if isinstance(event, yaml.SequenceStartEvent) else "mapping"
        line = _line(event)
        self.problem(line, path, f"a {kind} is not allowed as a key; keys are text")
        return _SKIPPED

    def scalar(self, event: yaml.ScalarEvent, tag: str, path: JsonPath) -> Any:
        value = event.value
        if tag in (_STR, _MERGE_TAG):  # most values: the text itself; `a: <<` too
            return value
        if tag in (_TAG + "int", _TAG + "float") and len(value) > MAX_NUMBER:
            return self.refuse(event, path, _TOO_LONG.format(len(value)))
        if tag in (_TAG + "int", _TAG + "float") and _OLD_NUMBER.match(value):  # `!!int 010` too
            number = self.loader.construct_object(yaml.ScalarNode(tag, value), deep=True)
            message = (
                f"{_shown(value)} is a number in a form YAML tools read differently ({number} "
                f"here, as YAML 1.1 reads it); write {number}, or put it in quotes if it is text"
            )
            return self.refuse(event, path, message)
        found = self.constructed.get((tag, value), _SKIPPED)
        if found is not _SKIPPED:
            return found
        node = yaml.ScalarNode(tag, value, _mark(event), None, event.style)
        try:
            found = self.loader.construct_object(node, deep=True)
        except (ValueError, LookupError, AttributeError, TypeError, ArithmeticError):  # !!int abc
            return self.refuse(event, path, f"{_shown(value)} is not a valid {_short(tag)}; {_FIX}")
        finally:
            self.loader.constructed_objects.pop(node, None)
        if isinstance(found, float) and not math.isfinite(found):  # .nan, .inf: no rmsync field
            return self.refuse(event, path, f"{_shown(value)} is not a finite number")
        self.constructed[(tag, value)] = found
        return found

    def tag(self, event: yaml.Event) -> str:
        """The tag of the node `event` starts, explicit or resolved as the composer does."""
        given: str | None = getattr(event, "tag", None)
        if given is not None and given != "!":
            return given
        if isinstance(event, yaml.ScalarEvent):
            if event.implicit[0]:
                return _implicit_tag(event.value)
            return str(self.loader.resolve(yaml.ScalarNode, event.value, event.implicit))
        kind = yaml.MappingNode if isinstance(event, yaml.MappingStartEvent) else yaml.SequenceNode
        return str(self.loader.resolve(kind, None, getattr(event, "implicit", True)))

    def fits(self, event: yaml.Event, tag: str, path: JsonPath) -> bool:
        """Whether `tag` is a plain one (explicit or not) for the kind of node `event` starts."""
        kind = _KIND[type(event)]
        if tag in _PLAIN[kind] or (kind == "single value" and tag == _MERGE_TAG):
            return True
        shown = _short(tag)
        if any(tag in tags for tags in _PLAIN.values()):
            self.refuse(event, path, f"YAML tag {shown} does not fit a {kind}; remove it")
        else:
            self.refuse(event, path, f"YAML tag {shown} is not allowed in rmsync files; remove it")
        return False

    def refuse(self, event: yaml.Event, path: JsonPath, message: str) -> object:
        """Note a value that cannot be read; the build goes on without it (`_SKIPPED`)."""
        line = _line(event)
        self.refused.append(
            Problem(file=self.file, line=line, field=field_name(path), message=message)
        )
        return _SKIPPED

    def mark(self, path: JsonPath, depth: int, key: bool = False) -> yaml.Event:
        """Read the next node and all it holds without building it (keys, skipped values);
        return its first event."""
        event = self.next()
        if key and not isinstance(event, yaml.AliasEvent) and self.tag(event) == _MERGE_TAG:
            message = _MERGE
            line = _line(event)
            raise _Stop(_Refused(Problem(self.file, line, field_name(path), message)))
        self.enter(event, path, depth)
        if isinstance(event, yaml.MappingStartEvent):
            while not self.loader.check_event(yaml.MappingEndEvent):
                self.mark(path, depth + 1, key=True)
                self.mark(path, depth + 1)
            self.loader.get_event()
        elif isinstance(event, yaml.SequenceStartEvent):
            while not self.loader.check_event(yaml.SequenceEndEvent):
                self.mark(path, depth + 1)
            self.loader.get_event()
        return event

    def skip(self, event: yaml.Event) -> None:
        """Read the rest of the list or mapping `event` starts (if it does), unchecked."""
        open_ = 1 if isinstance(event, yaml.CollectionStartEvent) else 0
        while open_:
            found = self.next()
            if isinstance(found, yaml.CollectionStartEvent):
                open_ += 1
            elif isinstance(found, yaml.CollectionEndEvent):
                open_ -= 1

    def enter(self, event: yaml.Event, path: JsonPath, depth: int) -> None:
        """Stop at an alias, or at a list or mapping too deep to go into."""
        line = _line(event)
        if isinstance(event, yaml.AliasEvent):
            field = field_name(path) or "(document)"
            message = _ALIAS.format(event.anchor)
            raise _Stop(_Refused(Problem(file=self.file, line=line, field=field, message=message)))
        if depth >= MAX_DEPTH and isinstance(event, yaml.CollectionStartEvent):
            problem = Problem(self.file, line, field_name(path), _TOO_DEEP)
            raise _Stop(DocumentError([problem]))

    def problem(self, line: int, path: JsonPath, message: str) -> None:
        self.problems.append(
            Problem(file=self.file, line=line, field=field_name(path), message=message)
        )


# Numbers as only YAML 1.1 writes them: octal `010` (8), binary `0b11`, hexadecimal, `1_000`,
# sexagesimal `1:30` (90). PyYAML reads them so; YAML 1.2 tools read `010` as 10 and the rest
# as text. A plain decimal is the one way both agree on.
_OLD_NUMBER = re.compile(r"[-+]?(?:0[0-9_]|0[bxo]|[^:_]*[:_])", re.IGNORECASE)


def _line(event: yaml.Event) -> int:
    """The 1-based line where `event` starts."""
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 1


def _mark(event: yaml.Event) -> Any:
    """Where `event` starts, as a YAML error takes it (typed Any: libyaml's marks are not
    PyYAML's Mark class, though the errors read them alike)."""
    return event.start_mark


_SKIPPED = object()  # a key or value that could not be read (its problem is noted)
_PLAIN = {
    "single value": {_TAG + name for name in ("str", "int", "float", "bool", "null")},
    "list": {_TAG + "seq"},
    "mapping": {_TAG + "map"},
}
_KIND = {
    yaml.ScalarEvent: "single value",
    yaml.SequenceStartEvent: "list",
    yaml.MappingStartEvent: "mapping",
}
_DEEP = f"nested more than {MAX_DEPTH} levels deep"
_LONG = "a number of {} characters is too long"
_TOO_DEEP = _DEEP + "; rmsync files need a few levels, flatten it"
_TOO_LONG = _LONG + " for any rmsync field; check the value"
_FIX = "remove the tag or fix the value"


def _short(tag: str) -> str:
    """`!!int` for YAML's own tags, as users write them; other tags as they are."""
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _shown(value: object, most: int = 40) -> str:
    """`value` for a message: its repr, cut short when long (a 5,000-character key)."""
    text = str(value) if isinstance(value, str) else ""
    if len(text) > most:
        return f"{text[:most]!r}… ({len(text)} characters)"
    return repr(value)


def _refusals(text: str, file: str) -> list[Problem]:
    """Every alias and merge key in `text`, each at its own line: the node an alias names
    only knows the line of its anchor, so the parser's events are read again."""
    loader = _Loader(text)
    scan = _Scan(loader, file)
    try:
        while loader.check_event():
            scan.event(loader.get_event())
    finally:
        loader.dispose()
    return scan.problems


@dataclass
class _Frame:
    """A mapping or sequence being read: its path, how many nodes it holds so far (keys and
    values alike), its current key and whether that key is a merge key."""

    path: JsonPath
    mapping: bool
    count: int = 0
    key: str = ""
    merging: bool = False


class _Scan:
    """Follows parser events, keeping the path of each node, noting aliases and merge keys
    (an alias inside a merge key's value is not noted again)."""

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.stack: list[_Frame] = []
        self.problems: list[Problem] = []

    def event(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.CollectionEndEvent):
            self.stack.pop()
            self.done("?")
        elif isinstance(event, yaml.NodeEvent):
            path, is_key = self.place()
            if isinstance(event, yaml.AliasEvent):
                if not any(f.merging and f.count % 2 for f in self.stack):
                    self.report(event, path, _ALIAS.format(event.anchor))
                self.done(f"*{event.anchor}")
            elif isinstance(event, yaml.CollectionStartEvent):
                self.stack.append(_Frame(path, isinstance(event, yaml.MappingStartEvent)))
            elif isinstance(event, yaml.ScalarEvent):
                merge = is_key and self.tag(event) == _MERGE_TAG
                if merge:
                    self.report(event, (*path, event.value), _MERGE)
                self.done(event.value, merge)

    def place(self) -> tuple[JsonPath, bool]:
        """The path of the next node, and whether it is a mapping key (then: its mapping's)."""
        if not self.stack:
            return (), False
        top = self.stack[-1]
        if not top.mapping:
            return (*top.path, top.count), False
        return (top.path, True) if top.count % 2 == 0 else ((*top.path, top.key), False)

    def done(self, text: str, merge: bool = False) -> None:
        """A node is complete: it fills the next place in its parent."""
        if self.stack:
            top = self.stack[-1]
            if top.mapping and top.count % 2 == 0:
                top.key, top.merging = text, merge
            top.count += 1

    def tag(self, event: yaml.ScalarEvent) -> str:
        if event.tag not in (None, "!"):
            return str(event.tag)
        return str(self.loader.resolve(yaml.ScalarNode, event.value, event.implicit))

    def report(self, event: yaml.Event, path: JsonPath, message: str) -> None:
        line = _line(event)
        self.problems.append(
            Problem(
                file=self.file, line=line, field=field_name(path) or "(document)", message=message
            )
        )


def load_json(data: bytes, file: str) -> Located:
    """One JSON document from `data`, strictly, with the line of every value; a DocumentError
    (one problem, at its line) for bytes that are not UTF-8 or not JSON, for what only Python's
    json reads (NaN, Infinity, duplicate keys, half a surrogate pair), numbers longer than
    MAX_NUMBER and nesting deeper than MAX_DEPTH. Messages say what is wrong, not what to do:
    the caller knows that."""
    text = decode(data, file)
    unread: Exception | None = None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"not JSON: {exc.msg} (column {exc.colno})"
        raise DocumentError(
            [Problem(file=file, line=exc.lineno, field="", message=message)]
        ) from None
    except (RecursionError, ValueError) as exc:  # too deep; an int of 4,300 digits: see below
        doc, unread = None, exc
    scan = _JsonScan(text)
    line, message = scan.first() or (1, f"cannot be read ({unread})" if unread else "")
    if message:
        raise DocumentError([Problem(file=file, line=line, field="", message=message)])
    return Located(file, doc, scan.lines)


_JSON_TOKEN = re.compile(
    r'(?P<string>"[^"\\]*(?:\\.[^"\\]*)*")(?P<key>[ \t\n\r]*:)?'
    r"|[\[{]|[\]}]|true|false|null|NaN|-?Infinity|-?[0-9][0-9.eE+-]*"
)


@dataclass
class _JsonFrame:
    """An array or object being read: its path, and its item count or current key; an
    object's keys so far, with their lines."""

    path: JsonPath
    keys: dict[str, int] | None  # None for an array
    count: int = 0
    key: str = ""


class _JsonScan:
    """The tokens of JSON text that json.loads has read (or read up to where it gave up), with
    the line of every value: what json.loads cannot say is wrong, or cannot say where."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line, self.seen = 1, 0
        self.stack: list[_JsonFrame] = []
        self.lines: dict[JsonPath, int] = {}

    def first(self) -> tuple[int, str] | None:
        """The line and message of the first problem, in the order of the text."""
        for match in _JSON_TOKEN.finditer(self.text):
            self.line += self.text.count("\n", self.seen, match.start())
            self.seen = match.start()
            problem = self.token(match)
            if problem:
                return self.line, problem
        return None

    def token(self, match: re.Match[str]) -> str | None:
        piece, quoted = match.group(), match.group("string")
        if piece in ("]", "}"):
            del self.stack[-1:]
            return None
        value = _json_text(quoted) if quoted else None
        if isinstance(value, str) and match.group("key"):
            return self.key(value)
        path = self.place()
        self.lines[path] = self.line
        if piece in ("[", "{"):
            self.stack.append(_JsonFrame(path, {} if piece == "{" else None))
            return _DEEP if len(self.stack) > MAX_DEPTH else None
        return _json_scalar(piece) if value is None else _half_pair(value)

    def key(self, key: str) -> str | None:
        top = self.stack[-1] if self.stack else None
        if top is None or top.keys is None:
            return None  # not JSON: json.loads has said so
        if key in top.keys:
            shown = key if len(key) <= 40 else key[:40] + "…"
            return f'duplicate key "{shown}" (first on line {top.keys[key]})'
        top.keys[key], top.key = self.line, key
        return _half_pair(key)

    def place(self) -> JsonPath:
        """The path of the value that starts here."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.keys is not None:
            return (*top.path, top.key)
        top.count += 1
        return (*top.path, top.count - 1)


def _json_text(quoted: str) -> str:
    text: str = json.loads(quoted) if "\\" in quoted else quoted[1:-1]
    return text


def _half_pair(text: str) -> str | None:
    half = next((c for c in text if "\ud800" <= c <= "\udfff"), None)
    return None if half is None else f"text with half a UTF-16 surrogate pair (\\u{ord(half):04x})"


def _json_scalar(piece: str) -> str | None:
    if piece in ("NaN", "Infinity", "-Infinity"):
        return f"{piece} is not a JSON number"
    if piece in ("true", "false", "null"):
        return None
    if len(piece) > MAX_NUMBER:
        return _LONG.format(len(piece))
    finite = piece.lstrip("-").isdigit() or math.isfinite(float(piece))
    return None if finite else f"{piece} is too large a number"


def inline_refs(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """`schema` with every local `#/$defs/...` reference replaced by its definition.

    Validating large documents spends most of its time resolving references; a schema
    without them validates several times faster. Definitions must not be recursive.
    """
    if defs is None and isinstance(schema, dict):
        defs = schema.get("$defs", {})
    if isinstance(schema, list):
        return [inline_refs(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and defs is not None:
        target = inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        rest = {k: inline_refs(v, defs) for k, v in schema.items() if k != "$ref"}
        return {**target, **rest}
    return {k: inline_refs(v, defs) for k, v in schema.items() if k != "$defs"}


def _whole(_checker: object, value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@cache
def _validator_class() -> type[Validator]:
    """jsonschema's Draft 2020-12 validator, where an integer is an int.

    JSON Schema counts 7.0 as an integer; YAML reads it as a decimal, and code handed it
    would carry 7.0 on (and write it back so). Loaded only when a document needs explaining:
    importing jsonschema costs about as much as click and yaml together.
    """
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _whole)
    made: type[Validator] = validators.extend(Draft202012Validator, type_checker=checker)
    return made


def schema_problems(doc: Located, schema: dict[str, Any]) -> list[Problem]:
    """Every way `doc` breaks `schema`, each at the line of the offending value.

    A conforming document is recognised by schemacheck without loading jsonschema; any
    other (or a schema schemacheck does not cover) is explained by jsonschema.
    """
    try:
        if schemacheck.conforms(doc.data, schema):
            return sorted(set(doc.problems))
    except schemacheck.Unsupported:
        pass
    validator = _validator_class()(schema)
    found = {p for error in validator.iter_errors(doc.data) for p in _problems(doc, error)}
    return sorted(found | set(doc.problems))


def _problems(doc: Located, error: ValidationError) -> list[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and schema.get("additionalProperties") is False:
        known = schema.get("properties", {})
        hint = f"unknown field (expected one of: {', '.join(sorted(known))})"
        extras = sorted(set(error.instance) - set(known))
        return [_at(doc, (*path, key), hint) for key in extras]
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else ""
        line = doc.line_of(path)
        return [
            Problem(
                file=doc.file,
                line=line,
                field=field_name((*path, missing)),
                message="required field is missing",
            )
        ]
    if "propertyNames" in error.absolute_schema_path:
        return [_at(doc, (*path, str(error.instance)), schema.get("errorMessage") or error.message)]
    return [_at(doc, path, schema.get("errorMessage") or error.message)]


def _at(doc: Located, path: JsonPath, message: str) -> Problem:
    return Problem(
        file=doc.file,
        line=doc.line_of(path),
        field=field_name(path) or "(document)",
        message=message,
    )
