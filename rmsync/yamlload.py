"""Safe YAML loading that remembers where every value stood, and schema checks that say so.

Owns: parsing YAML text into plain data (no timestamps, no duplicate keys, no custom tags,
no aliases or merge keys: an alias bomb is refused before it grows), the line of every value,
and turning JSON-schema errors into file:line problems.
Must not: read files other than the one it is given, or know what any document means.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators

from rmsync.errors import DocumentError, Problem

JsonPath = tuple[str | int, ...]


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


_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader without the implicit timestamp type: dates stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def field_name(path: Iterable[str | int]) -> str:
    """`exports.acme.session_id`, `identities[3].name`: a path as users write it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def load_text(text: str, file: str) -> Located:
    """Parse one YAML document; raise DocumentError for a syntax error and for aliases and
    merge keys (every one of them, each at its line); duplicate keys are kept in `problems`."""
    loader = _Loader(text)
    builder = _Builder(loader, file)
    try:
        node = loader.get_single_node()
        data = builder.build(node, ()) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise DocumentError(
            [Problem(file=file, line=line, field="", message=f"not valid YAML: {exc.problem}")]
        ) from None
    except _Refused as exc:
        raise DocumentError(_refusals(text, file) or [exc.problem]) from None
    finally:
        loader.dispose()
    return Located(file, data, builder.lines, tuple(builder.problems))


def load_file(path: Path, shown_as: str | None = None) -> Located:
    """Read and parse `path`; unreadable files are a DocumentError too."""
    name = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise DocumentError(
            [Problem(file=name, line=1, field="", message=f"cannot read file: {reason}")]
        ) from None
    return load_text(text, name)


_MERGE_TAG = "tag:yaml.org,2002:merge"
_ALIAS = "YAML aliases (*{}) are not allowed in rmsync files; write the value out"
_MERGE = "YAML merge keys (<<) are not allowed in rmsync files; write the keys out"


class _Refused(Exception):
    """An alias or a merge key stopped the build; `problem` is where it was noticed."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Builder:
    """Plain data and lines from a composed node tree, entering no node twice.

    An alias is the very node it names, met again: entering it again is how an alias bomb
    (nine levels of ten aliases each) grows to a billion values. So the second meeting of any
    node, or a merge key, stops the build at once.
    """

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.lines: dict[JsonPath, int] = {}
        self.problems: list[Problem] = []
        self.seen: set[int] = set()

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.enter(node, path)
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            self.mark(key_node, path, key=True)
            key = self.loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                self.problem(line, path, f"key {key!r} is not text")
            elif key in result:
                first = self.lines[(*path, key)]
                self.problem(
                    line, (*path, key), f"duplicate key (first defined on line {first}); keep one"
                )
            else:
                result[key] = self.build(value_node, (*path, key))
                self.lines[(*path, key)] = line
                continue
            self.mark(value_node, path)  # not built, but its aliases are still reported
        return result

    def mark(self, node: yaml.Node, path: JsonPath, key: bool = False) -> None:
        """Enter `node` and all it holds without building it (keys, skipped values)."""
        if key and node.tag == _MERGE_TAG:
            raise _Refused(
                Problem(
                    file=self.file,
                    line=node.start_mark.line + 1,
                    field=field_name(path),
                    message=_MERGE,
                )
            )
        self.enter(node, path)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                self.mark(key_node, path, key=True)
                self.mark(value_node, path)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                self.mark(item, path)

    def enter(self, node: yaml.Node, path: JsonPath) -> None:
        if id(node) in self.seen:
            field = field_name(path) or "(document)"
            problem = Problem(
                file=self.file,
                line=node.start_mark.line + 1,
                field=field,
                message=_ALIAS.format("..."),
            )
            raise _Refused(problem)
        self.seen.add(id(node))

    def problem(self, line: int, path: JsonPath, message: str) -> None:
        self.problems.append(
            Problem(file=self.file, line=line, field=field_name(path), message=message)
        )


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
        line = event.start_mark.line + 1 if event.start_mark else 1
        self.problems.append(
            Problem(
                file=self.file, line=line, field=field_name(path) or "(document)", message=message
            )
        )


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


# JSON Schema counts 7.0 as an integer; YAML reads it as a decimal, and code handed it would
# carry 7.0 on (and write it back so). An integer is an int here.
_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _whole),
)


def schema_problems(doc: Located, schema: dict[str, Any]) -> list[Problem]:
    """Every way `doc` breaks `schema`, each at the line of the offending value."""
    validator = _Validator(schema)
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
