"""Safe YAML loading that remembers where every value stood, and schema checks that say so.

Owns: parsing YAML text into plain data (no timestamps, no duplicate keys, no custom tags),
the line of every value, and turning JSON-schema errors into file:line problems.
Must not: read files other than the one it is given, or know what any document means.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

from rmsync.errors import RmsyncError

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a document, at a place a person can find."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class DocumentError(RmsyncError):
    """A document has one or more problems; all of them are listed, sorted."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


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
    """Parse one YAML document; raise DocumentError for a syntax error (duplicate keys are
    kept in `problems`)."""
    loader = _Loader(text)
    lines: dict[JsonPath, int] = {}
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        data = _build(loader, node, (), lines, problems, file) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise DocumentError([Problem(file, line, "", f"not valid YAML: {exc.problem}")]) from None
    finally:
        loader.dispose()
    return Located(file, data, lines, tuple(problems))


def load_file(path: Path, shown_as: str | None = None) -> Located:
    """Read and parse `path`; unreadable files are a DocumentError too."""
    name = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise DocumentError([Problem(name, 1, "", f"cannot read file: {reason}")]) from None
    return load_text(text, name)


def _build(
    loader: _Loader,
    node: yaml.Node,
    path: JsonPath,
    lines: dict[JsonPath, int],
    problems: list[Problem],
    file: str,
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                problems.append(Problem(file, line, field_name(path), f"key {key!r} is not text"))
                continue
            if key in result:
                first = lines[(*path, key)]
                msg = f"duplicate key (first defined on line {first}); keep one"
                problems.append(Problem(file, line, field_name((*path, key)), msg))
                continue
            result[key] = _build(loader, value_node, (*path, key), lines, problems, file)
            lines[(*path, key)] = line
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, i), lines, problems, file)
            for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


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


def schema_problems(doc: Located, schema: dict[str, Any]) -> list[Problem]:
    """Every way `doc` breaks `schema`, each at the line of the offending value."""
    validator = Draft202012Validator(schema)
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
        return [Problem(doc.file, line, field_name((*path, missing)), "required field is missing")]
    if "propertyNames" in error.absolute_schema_path:
        return [_at(doc, (*path, str(error.instance)), schema.get("errorMessage") or error.message)]
    return [_at(doc, path, schema.get("errorMessage") or error.message)]


def _at(doc: Located, path: JsonPath, message: str) -> Problem:
    return Problem(doc.file, doc.line_of(path), field_name(path) or "(document)", message)
