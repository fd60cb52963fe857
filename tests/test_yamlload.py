"""YAML loading with lines: duplicates, syntax errors, no timestamps, schema problems at lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmsync.yamlload import (
    DocumentError,
    Problem,
    field_name,
    load_file,
    load_text,
    schema_problems,
)


def test_values_keep_their_lines_and_dates_stay_text() -> None:
    doc = load_text("a:\n  b: 2026-01-01\n  c:\n    - x\n    - y\n", "f.yaml")
    assert doc.data == {"a": {"b": "2026-01-01", "c": ["x", "y"]}}
    assert doc.line_of(("a", "c", 1)) == 5
    assert doc.line_of(("a", "missing", "deeper")) == 1


def test_duplicate_keys_are_all_reported() -> None:
    doc = load_text("a: 1\nb: 2\na: 3\nb: 4\n", "f.yaml")
    assert doc.data == {"a": 1, "b": 2}
    assert [str(p) for p in schema_problems(doc, {"type": "object"})] == [
        "f.yaml:3: a: duplicate key (first defined on line 1); keep one",
        "f.yaml:4: b: duplicate key (first defined on line 2); keep one",
    ]


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(DocumentError, match=r"^f.yaml:2: not valid YAML: mapping values"):
        load_text("a: 1\nb: c: d\ne: 3\n", "f.yaml")


def test_custom_tags_are_refused() -> None:
    with pytest.raises(
        DocumentError, match=r"^f\.yaml:2: not valid YAML: could not determine a constructor"
    ):
        load_text("ok: 1\na: !!python/object:os.system x\n", "f.yaml")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="cannot read file"):
        load_file(tmp_path / "absent.yaml")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DocumentError, match="not UTF-8"):
        load_file(binary)


def test_schema_problems_point_at_the_value() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["n"],
        "properties": {
            "n": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "string"}},
        },
    }
    doc = load_text("items:\n  - ok\n  - 3\nextra: 1\n", "f.yaml")
    assert schema_problems(doc, schema) == [
        Problem("f.yaml", 1, "n", "required field is missing"),
        Problem("f.yaml", 3, "items[1]", "3 is not of type 'string'"),
        Problem("f.yaml", 4, "extra", "unknown field (expected one of: items, n)"),
    ]


def test_field_names() -> None:
    assert field_name(("exports", "a-b", "download")) == "exports.a-b.download"
    assert field_name(("identities", 3, "name")) == "identities[3].name"
    assert field_name(()) == ""
