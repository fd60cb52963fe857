"""A yes-or-no JSON-schema check for the happy path, so a valid file never loads jsonschema.

Owns: deciding whether a document conforms to one of rmsync's own schemas (references
inlined), for the keywords those schemas use, with jsonschema's semantics (Draft 2020-12, an
integer is an int). Importing jsonschema costs about as much as click and yaml together, and
`validate` runs in pre-commit hooks on every commit; most files are valid. Must not: explain
anything (a file that does not conform goes to jsonschema, which says where and why), guess
at a keyword it does not know (it raises Unsupported, and the caller asks jsonschema), or be
used on a schema that has not been checked against jsonschema in tests/test_schemacheck.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

# Keywords that describe and never constrain; "$defs" is only a store for "$ref".
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"}
    | {"errorMessage", "markdownDescription", "deprecated", "readOnly", "writeOnly"}
)


class Unsupported(ValueError):
    """The schema uses a keyword (or a form of one) this check does not implement."""


def conforms(instance: object, schema: object) -> bool:
    """True when `instance` is valid against `schema`, as jsonschema would decide.

    Raises Unsupported for a schema outside the implemented keywords; callers then ask
    jsonschema. An unsupported keyword is found even where the instance never reaches it.
    """
    _supported(schema)
    return _valid(instance, schema)


def checker(schema: object) -> Callable[[object], bool]:
    """`conforms` for many instances of one schema (a lockfile's records, one at a time): the
    schema's keywords are checked once, here. Raises Unsupported as `conforms` does."""
    _supported(schema)
    return lambda instance: _valid(instance, schema)


def _supported(schema: object) -> None:
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise Unsupported(f"a schema must be an object or a boolean, not {type(schema).__name__}")
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword not in _CHECKS:
            raise Unsupported(f"keyword {keyword!r}")
        for sub in _subschemas(keyword, value):
            _supported(sub)
        if not _WELL_FORMED.get(keyword, lambda _v: True)(value):
            raise Unsupported(f"{keyword}: {value!r}")
        if keyword == "pattern":
            _pattern(value)


def _names(value: Any) -> bool:
    names = value if isinstance(value, list) else [value]
    return all(isinstance(name, str) and name in _TYPES for name in names)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# The forms each constraining keyword's value may take here; "pattern" is compiled too.
_WELL_FORMED: Mapping[str, Callable[[Any], bool]] = {
    "type": _names,
    "required": lambda v: isinstance(v, list) and all(isinstance(k, str) for k in v),
    "enum": lambda v: isinstance(v, list),
    "minLength": _count,
    "maxLength": _count,
    "minItems": _count,
    "maxItems": _count,
    "minProperties": _count,
    "maxProperties": _count,
    "uniqueItems": lambda v: isinstance(v, bool),
    "minimum": lambda v: _is_number(v),
    "maximum": lambda v: _is_number(v),
}


def _subschemas(keyword: str, value: Any) -> list[object]:
    if keyword == "properties":
        if not isinstance(value, dict):
            raise Unsupported("properties must be an object")
        return list(value.values())
    if keyword in ("anyOf", "allOf", "oneOf"):
        if not isinstance(value, list) or not value:
            raise Unsupported(f"{keyword} must be a non-empty list")
        return list(value)
    if keyword in ("items", "additionalProperties", "propertyNames", "not", "if", "then", "else"):
        return [value]
    return []


def _valid(instance: object, schema: object) -> bool:
    if isinstance(schema, bool):
        return schema
    assert isinstance(schema, dict)
    if "if" in schema:
        branch = "then" if _valid(instance, schema["if"]) else "else"
        if branch in schema and not _valid(instance, schema[branch]):
            return False
    return all(
        _CHECKS[keyword](instance, value, schema)
        for keyword, value in schema.items()
        if keyword not in _ANNOTATIONS
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: Mapping[str, Callable[[object], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _equal(one: object, other: object) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, containers compare member by member."""
    if isinstance(one, bool) or isinstance(other, bool):
        return isinstance(one, bool) and isinstance(other, bool) and one is other
    if isinstance(one, dict) and isinstance(other, dict):
        return one.keys() == other.keys() and all(_equal(one[k], other[k]) for k in one)
    if isinstance(one, list) and isinstance(other, list):
        return len(one) == len(other) and all(map(_equal, one, other))
    if _is_number(one) and _is_number(other):
        return one == other
    return type(one) is type(other) and one == other


@cache
def _pattern(text: object) -> re.Pattern[str]:
    if not isinstance(text, str):
        raise Unsupported("pattern must be a string")
    return re.compile(text)


def _type(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    names = value if isinstance(value, list) else [value]
    return any(_TYPES[name](instance) for name in names)


def _properties(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    return all(_valid(instance[key], sub) for key, sub in value.items() if key in instance)


def _additional(instance: object, value: Any, schema: dict[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    known = schema.get("properties", {})
    return all(_valid(item, value) for key, item in instance.items() if key not in known)


def _property_names(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, dict) or all(_valid(key, value) for key in instance)


def _required(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, dict) or all(key in instance for key in value)


def _items(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, list) or all(_valid(item, value) for item in instance)


def _pattern_check(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, str) or _pattern(value).search(instance) is not None


def _min_length(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, str) or len(instance) >= value


def _max_length(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, str) or len(instance) <= value


def _min_items(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, list) or len(instance) >= value


def _max_items(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, list) or len(instance) <= value


def _min_properties(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, dict) or len(instance) >= value


def _max_properties(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not isinstance(instance, dict) or len(instance) <= value


def _unique(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    if not value or not isinstance(instance, list):
        return True
    if all(isinstance(item, str) for item in instance):  # the usual case, in linear time
        return len(set(instance)) == len(instance)
    return not any(
        _equal(one, other) for i, one in enumerate(instance) for other in instance[i + 1 :]
    )


def _minimum(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not _is_number(instance) or instance >= value


def _maximum(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not _is_number(instance) or instance <= value


def _enum(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return any(_equal(instance, choice) for choice in value)


def _const(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return _equal(instance, value)


def _any_of(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return any(_valid(instance, sub) for sub in value)


def _all_of(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return all(_valid(instance, sub) for sub in value)


def _one_of(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return sum(1 for sub in value if _valid(instance, sub)) == 1


def _not(instance: object, value: Any, _schema: dict[str, Any]) -> bool:
    return not _valid(instance, value)


def _decided_by_if(_instance: object, _value: Any, _schema: dict[str, Any]) -> bool:
    return True  # "if", "then" and "else" are decided together, in _valid


_CHECKS: Mapping[str, Callable[[object, Any, dict[str, Any]], bool]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "propertyNames": _property_names,
    "required": _required,
    "items": _items,
    "pattern": _pattern_check,
    "minLength": _min_length,
    "maxLength": _max_length,
    "minItems": _min_items,
    "maxItems": _max_items,
    "minProperties": _min_properties,
    "maxProperties": _max_properties,
    "uniqueItems": _unique,
    "minimum": _minimum,
    "maximum": _maximum,
    "enum": _enum,
    "const": _const,
    "anyOf": _any_of,
    "allOf": _all_of,
    "oneOf": _one_of,
    "not": _not,
    "if": _decided_by_if,
    "then": _decided_by_if,
    "else": _decided_by_if,
}
