"""schemacheck decides exactly as jsonschema does, for every schema rmsync ships (issue 8).

validate trusts schemacheck's "valid" without asking jsonschema, so a disagreement would let
a bad file pass. The checks: every bundled schema is covered (no Unsupported), hand-picked
edge cases of each keyword, and hypothesis mutating real documents (the example manifest,
golden lockfiles and plan files, the sandbox's seed and a fault plan) into near misses and
comparing both answers.
"""

from __future__ import annotations

import json
from copy import deepcopy
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, validators

from rmsync import bundled, schemacheck
from rmsync.yamlload import inline_refs

ROOT = Path(__file__).resolve().parents[1]
SANDBOX = ROOT / "rmsync" / "sandbox"


def _whole(_checker: object, value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# rmsync's rule, as yamlload gives it to jsonschema: an integer is an int, 7.0 is not one.
Reference = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _whole),
)


@cache
def schemas() -> dict[str, dict[str, Any]]:
    found = {
        name: bundled.schema(f"{name}.schema.json") for name in ("manifest", "lockfile", "plan")
    }
    for name in ("seed", "faults"):
        found[name] = json.loads((SANDBOX / f"{name}.schema.json").read_text(encoding="utf-8"))
    return {name: inline_refs(schema) for name, schema in found.items()}


def yaml_file(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


FAULTS = {
    "version": 1,
    "read_only_clients": ["reader"],
    "seed": 7,
    "faults": [
        {"path": "/beta/role-mining-sessions", "status": 500, "headers": {"X-A": "b"}},
        {"path": "*/export-async", "export": {"error": "broken"}, "times": 2, "rate": 0.5},
        {"path": "/oauth/token", "retry_after": 3, "status": 429, "body": "json"},
    ],
}


@cache
def samples() -> list[tuple[str, Any]]:
    """Valid documents of each kind, as rmsync reads them."""
    found: list[tuple[str, Any]] = [("manifest", yaml_file(ROOT / "examples" / "rmsync.yaml"))]
    found += [
        ("manifest", yaml_file(p))
        for p in sorted((ROOT / "tests" / "golden").glob("*/rmsync.yaml"))
    ]
    found += [
        ("lockfile", yaml_file(p))
        for p in sorted((ROOT / "tests" / "golden").glob("*/rmsync.lock.yaml"))
    ]
    found += [
        ("plan", json.loads(p.read_text(encoding="utf-8")))
        for p in sorted((ROOT / "tests" / "golden").rglob("plan.json"))
    ]
    found.append(("seed", yaml_file(SANDBOX / "default_seed.yaml")))
    found.append(("faults", FAULTS))
    valid = [(kind, doc) for kind, doc in found if Reference(schemas()[kind]).is_valid(doc)]
    return valid


def agree(kind: str, doc: Any) -> None:
    expected = Reference(schemas()[kind]).is_valid(doc)
    assert schemacheck.conforms(doc, schemas()[kind]) is expected, (kind, doc)


def test_every_schema_rmsync_ships_is_covered() -> None:
    for name, schema in schemas().items():
        try:
            schemacheck.conforms(None, schema)
        except schemacheck.Unsupported as exc:
            pytest.fail(f"{name}.schema.json: {exc}: add it to schemacheck, with tests")


def test_there_are_valid_samples_of_every_kind() -> None:
    kinds = {kind for kind, _ in samples()}
    assert kinds == set(schemas()), f"no valid sample of {set(schemas()) - kinds}"
    assert len(samples()) > 30


def test_every_sample_is_valid_to_both() -> None:
    for kind, doc in samples():
        agree(kind, doc)
        assert schemacheck.conforms(doc, schemas()[kind])


@pytest.mark.parametrize(
    ("schema", "instance", "valid"),
    [
        ({"type": "integer"}, 7, True),
        ({"type": "integer"}, 7.0, False),  # rmsync's rule: YAML's 7.0 is not an integer
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"type": "number"}, 2.5, True),
        ({"type": ["string", "null"]}, None, True),
        ({"type": ["string", "null"]}, 0, False),
        ({"enum": [1, "a"]}, True, False),  # true is not 1
        ({"enum": [1]}, 1.0, True),  # 1.0 is 1
        ({"const": False}, 0, False),
        ({"const": [1, {"a": None}]}, [1, {"a": None}], True),
        ({"const": {"a": 1}}, {"a": 1, "b": 2}, False),
        ({"pattern": "b+"}, "abbc", True),  # a search, not a whole match
        ({"pattern": "^b+$"}, "abbc", False),
        ({"pattern": "^b+$"}, 12, True),  # applies to strings only
        ({"minLength": 2}, "é", False),  # counted in characters
        ({"maxLength": 1}, "é", True),
        ({"minimum": 0}, -1, False),
        ({"minimum": 0}, "-1", True),
        ({"maximum": 100}, 100.0, True),
        ({"required": ["a"]}, {"b": 1}, False),
        ({"required": ["a"]}, [], True),
        ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"b": 1}, False),
        (
            {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
            {"a": "x"},
            True,
        ),
        ({"additionalProperties": {"type": "integer"}}, {"a": 1, "b": "2"}, False),
        ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"ab": 1, "Ab": 2}, False),
        ({"items": {"type": "string"}}, ["a", 1], False),
        ({"items": {"type": "string"}}, {"a": 1}, True),
        ({"minItems": 1}, [], False),
        ({"maxItems": 1}, [1, 2], False),
        ({"minProperties": 1}, {}, False),
        ({"maxProperties": 1}, {"a": 1}, True),
        ({"uniqueItems": True}, ["a", "b", "a"], False),
        ({"uniqueItems": True}, [1, True], True),  # true is not 1
        ({"uniqueItems": True}, [1, 1.0], False),  # 1.0 is 1
        ({"uniqueItems": True}, [{"a": [1]}, {"a": [1]}], False),
        ({"uniqueItems": False}, [1, 1], True),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, 3, False),
        ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 3, False),
        ({"allOf": [{"type": "integer"}, {"minimum": 0}]}, 3, True),
        ({"not": {"type": "null"}}, None, False),
        ({"if": {"const": 1}, "then": {"type": "integer"}, "else": {"type": "string"}}, 2, False),
        ({"if": {"const": 1}, "then": {"type": "integer"}, "else": {"type": "string"}}, "x", True),
        ({"then": {"type": "string"}}, 2, True),  # then without if does nothing
        ({"if": {"properties": {"s": {"const": "A"}}}, "then": {"required": ["x"]}}, {}, False),
        (True, {"anything": 1}, True),
        (False, None, False),
        ({"description": "only words", "errorMessage": "x"}, 1, True),
    ],
)
def test_each_keyword_decides_as_jsonschema(schema: Any, instance: Any, valid: bool) -> None:
    assert Reference(schema).is_valid(instance) is valid  # the case itself is right
    assert schemacheck.conforms(instance, schema) is valid


@pytest.mark.parametrize(
    "schema",
    [
        {"format": "date"},
        {"$ref": "#/$defs/x"},
        {"patternProperties": {"^a": {}}},
        {"items": [{"type": "string"}]},
        {"type": "int"},
        {"properties": {"a": {"contains": {}}}},
        {"anyOf": []},
        {"minLength": -1},
        {"required": "a"},
        {"pattern": 3},
        {"not": {"dependentRequired": {}}},
        [],
    ],
)
def test_a_keyword_it_does_not_know_is_refused_not_guessed(schema: Any) -> None:
    with pytest.raises(schemacheck.Unsupported):
        schemacheck.conforms("instance never reaches it", schema)


def test_a_document_that_does_not_conform_is_explained_by_jsonschema() -> None:
    from rmsync.yamlload import load_text, schema_problems

    doc = load_text("version: 1\nexports: {x: {potential_role_id: 7}}\n", "m.yaml")
    problems = schema_problems(doc, inline_refs(bundled.schema("manifest.schema.json")))
    assert problems and all(p.file == "m.yaml" for p in problems)
    assert any(p.line == 2 for p in problems)


# -- near misses: real documents, one or a few values changed --------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 300)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["", "a", "A", "x-1", "STARTING", "SUCCESS", "v2025", "beta", "1h", "7d"])
    | st.sampled_from(["e0cc5d7d-0000-4000-8000-000000000001", "2026-11-30T00:00:00Z"])
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += paths(value, (*prefix, index))
    return found


def mutate(doc: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    """`doc` with the value at `path` replaced, deleted, or given an extra key or item."""
    if not path:
        return value
    copy = deepcopy(doc)
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "add" and isinstance(parent[last], dict):
        parent[last]["zz-extra" if not isinstance(value, str) else value or "zz"] = value
    elif how == "add" and isinstance(parent[last], list):
        parent[last].append(value)
    else:
        parent[last] = value
    return copy


NEAR = settings(
    max_examples=400,
    deadline=timedelta(seconds=2),
    derandomize=True,  # the same examples every run: CI is not flaky
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@NEAR
@given(st.data())
def test_near_misses_of_real_documents_are_decided_as_jsonschema_does(data: st.DataObject) -> None:
    kind, doc = data.draw(st.sampled_from(samples()), label="sample")
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        path = data.draw(st.sampled_from(paths(doc)), label="path")
        how = data.draw(st.sampled_from(["replace", "delete", "add"]), label="how")
        value = data.draw(JSON_VALUES, label="value")
        doc = mutate(doc, path, how, value)
    agree(kind, doc)
