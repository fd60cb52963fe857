"""YAML loading with lines: duplicates, syntax errors, no timestamps, schema problems at lines."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from rmsync.errors import DocumentError, Problem
from rmsync.yamlload import field_name, load_file, load_text, schema_problems


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


ALIAS = "YAML aliases (*{}) are not allowed in rmsync files; write the value out"
MERGE = "YAML merge keys (<<) are not allowed in rmsync files; write the keys out"


def refused(text: str) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        load_text(text, "f.yaml")
    return [str(p) for p in caught.value.problems]


def test_an_alias_bomb_is_refused_at_once_naming_every_alias() -> None:
    names = "abcdefghi"
    text = f"a: &a [{', '.join(['x'] * 10)}]\n"
    text += "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in itertools.pairwise(names)
    )
    started = time.perf_counter()
    problems = refused(text)
    assert time.perf_counter() - started < 2
    assert len(problems) == 80
    assert problems[:2] == [
        "f.yaml:2: b[0]: " + ALIAS.format("a"),
        "f.yaml:2: b[1]: " + ALIAS.format("a"),
    ]
    assert problems[-1] == "f.yaml:9: i[9]: " + ALIAS.format("h")


def test_aliases_are_refused_at_their_own_lines_wherever_they_stand() -> None:
    text = (
        "base: &base\n"
        "  n: 1\n"
        "k: &k key\n"
        "copy: *base\n"
        "list:\n"
        "  - ok\n"
        "  - *k\n"
        "keys:\n"
        "  *k : 2\n"
        "self: &self [*self]\n"
        "copy: *k\n"  # under a duplicate key: skipped when building, still reported
    )
    assert refused(text) == [
        "f.yaml:4: copy: " + ALIAS.format("base"),
        "f.yaml:7: list[1]: " + ALIAS.format("k"),
        "f.yaml:9: keys: " + ALIAS.format("k"),
        "f.yaml:10: self[0]: " + ALIAS.format("self"),
        "f.yaml:11: copy: " + ALIAS.format("k"),
    ]


def test_merge_keys_are_refused_once_each() -> None:
    text = (
        "base: &base {n: 1}\n"
        "a:\n"
        "  <<: *base\n"
        "  m: 2\n"
        "b:\n"
        "  - <<: [{n: 1}, *base]\n"
        "c: {!!merge x: {n: 1}}\n"
    )
    assert refused(text) == [
        "f.yaml:3: a.<<: " + MERGE,
        "f.yaml:6: b[0].<<: " + MERGE,
        "f.yaml:7: c.x: " + MERGE,
    ]


def test_anchors_alone_and_quoted_merge_keys_are_plain_data() -> None:
    doc = load_text('a: &a 1\nb:\n  "<<": 2\n', "f.yaml")
    assert doc.data == {"a": 1, "b": {"<<": 2}}
    assert doc.problems == ()


def test_whole_numbers_written_as_decimals_are_not_integers() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    doc = load_text("n: 7.0\n", "f.yaml")
    assert schema_problems(doc, schema) == [
        Problem("f.yaml", 1, "n", "7.0 is not of type 'integer'")
    ]
    assert schema_problems(load_text("n: 7\n", "f.yaml"), schema) == []
