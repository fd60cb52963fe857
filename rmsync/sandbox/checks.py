"""Strict checks of request values that the spec types, with the 400 each failure gets.

Owns: reading typed fields out of JSON bodies and JSON-patch documents leniently where the
spec's own examples are loose (`"false"`, `"83"`) and strictly everywhere else.
Must not: touch tenant state.
"""

from __future__ import annotations

from typing import Any

from rmsync.sandbox.faults import bad_request


def obj(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"The {what} must be a JSON object")
    return body


def popularity(body: dict[str, Any], name: str) -> int:
    value = body.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be an integer from 0 to 100, not {value!r}")
    if not 0 <= value <= 100:
        raise bad_request(f"{name} must be from 0 to 100, not {value}")
    return value


def flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false, not {value!r}")
    return value


def string_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{name} must be a list of ids")
    return value


def optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad_request(f"{name} must be an integer or null, not {value!r}")
    return value


def threshold(value: int | None, name: str) -> int | None:
    """A session's threshold: pruneThreshold 0-100, minNumIdentitiesInPotentialRole 1 or
    more (None: not given)."""
    if value is None:
        return None
    low, high = (0, 100) if name == "pruneThreshold" else (1, None)
    if value < low or (high is not None and value > high):
        allowed = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise bad_request(f"{name} must be {allowed}, not {value}")
    return value


def patch_ops(
    body: Any, ops: frozenset[str], fields: dict[str, type]
) -> list[tuple[str, str, Any]]:
    """(op, field, value) for each JSON-patch operation; 400 for anything not allowed."""
    if not isinstance(body, list):
        raise bad_request("The request body must be a JSON-patch array")
    result = []
    for item in body:
        item = obj(item, "patch operation")
        op, path = item.get("op"), item.get("path")
        if op not in ops:
            raise bad_request(
                f"Patch op {op!r} is not supported; use one of {', '.join(sorted(ops))}"
            )
        name = path[1:] if isinstance(path, str) and path.startswith("/") else None
        if name not in fields:
            raise bad_request(
                f"Patch path {path!r} is not supported; use one of "
                + ", ".join("/" + f for f in fields)
            )
        if op == "remove":
            result.append((op, name, None))
            continue
        if "value" not in item:
            raise bad_request(f"Patch op {op!r} on {path} needs a value")
        result.append((op, name, _coerce(item["value"], fields[name], str(path))))
    return result


def _coerce(value: Any, kind: type, path: str) -> Any:
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind is int and isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise bad_request(f"Patch value for {path} must be {kind.__name__}, not {value!r}")
