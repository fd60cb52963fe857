"""YAML loading with lines: duplicates, syntax errors, no timestamps, schema problems at lines."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
import yaml

from rmsync import yamlload
from rmsync.errors import DocumentError, Problem
from rmsync.yamlload import field_name, load_file, load_json, load_text, schema_problems


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
    assert refused("ok: 1\na: !!python/object:os.system x\nb: !foo\n") == [
        "f.yaml:2: a: YAML tag !!python/object:os.system is not allowed in rmsync files; remove it",
        "f.yaml:3: b: YAML tag !foo is not allowed in rmsync files; remove it",
    ]


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


@pytest.mark.parametrize(
    ("text", "number"),
    [("010", "8"), ("1:30", "90"), ("1_0", "10"), ("0x1F", "31"), ("0b11", "3"), ("1_0.5", "10.5")],
)
def test_numbers_only_yaml_1_1_reads_so_are_refused_not_misread(text: str, number: str) -> None:
    assert refused(f"min_entitlement_popularity: {text}\n") == [
        f"f.yaml:1: min_entitlement_popularity: {text!r} is a number in a form YAML tools read "
        f"differently ({number} here, as YAML 1.1 reads it); write {number}, or put it in quotes "
        "if it is text"
    ]


def test_decimal_numbers_read_as_written_and_tagged_old_forms_are_refused_too() -> None:
    text = 'a: 0\nb: -0\nc: 10\nd: 0.5\ne: "010"\nf: !!int 10\ng: 1.5e+3\n'
    assert load_text(text, "f.yaml").data == {
        "a": 0,
        "b": 0,
        "c": 10,
        "d": 0.5,
        "e": "010",
        "f": 10,
        "g": 1500.0,
    }
    assert refused("f: !!int 010\n")[0].startswith("f.yaml:1: f: '010' is a number in a form")


def test_a_list_or_mapping_tagged_as_a_merge_key_is_refused_too() -> None:
    assert refused("x:\n  ? !!merge [a]\n  : 1\n") == ["f.yaml:2: x: " + MERGE]
    assert refused("a: 1\na: {? !!merge [z] : 1}\n") == ["f.yaml:2: a: " + MERGE]


def test_an_alias_of_an_anchor_inside_a_refused_value_is_refused_at_the_alias() -> None:
    # the value with a tag is never built, but its anchor is known: the alias is an alias
    assert refused("a: !foo [&x 1]\nb: *x\n") == ["f.yaml:2: b: " + ALIAS.format("x")]


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


# Found by fuzzing (issue 9): each of these was an "internal error" with a traceback.


def test_control_characters_are_refused_at_their_lines() -> None:
    assert refused("a: 1\nb: x\x01y\nc: ok\nd: \x00\n\x7f\n") == [
        "f.yaml:2: control character U+0001 is not allowed in YAML; delete it, or write it as \\u0001 inside double quotes",
        "f.yaml:4: control character U+0000 is not allowed in YAML; delete it, or write it as \\u0000 inside double quotes",
        "f.yaml:5: control character U+007F is not allowed in YAML; delete it, or write it as \\u007F inside double quotes",
    ]


def test_escaped_control_characters_and_tabs_are_text() -> None:
    assert load_text('a: "x\\u0001y"\nb:\t"tab"\n', "f.yaml").data == {"a": "x\x01y", "b": "tab"}


@pytest.mark.parametrize("depth", [60, 500, 990])
def test_deep_nesting_is_refused_at_the_line_it_goes_too_deep(depth: int) -> None:
    flow = "a:\n  b: " + "[" * depth + "]" * depth + "\n"
    block = "a:\n" + "".join(" " * i + "- \n" for i in range(1, depth))
    assert refused(flow) == [
        f"f.yaml:2: a.b{'[0]' * 48}: nested more than 50 levels deep; rmsync files need a few levels, flatten it"
    ]
    assert refused(block)[0].startswith("f.yaml:51: a[0][0]")


def test_nesting_beyond_what_libyaml_parses_says_the_same() -> None:
    assert refused("a: 1\nb: " + "[" * 5000 + "]" * 5000 + "\n") == [
        "f.yaml:2: nested more than 50 levels deep; rmsync files need a few levels, flatten it"
    ]


def test_deep_nesting_under_a_duplicate_key_is_refused_too() -> None:
    text = "a: 1\na: " + "{k: " * 999 + "1" + "}" * 999 + "\n"
    assert refused(text) == [
        "f.yaml:2: a: nested more than 50 levels deep; rmsync files need a few levels, flatten it"
    ]


def test_nesting_up_to_the_limit_is_fine() -> None:
    doc = load_text("a: " + "[" * 49 + "]" * 49 + "\n", "f.yaml")
    assert doc.line_of(("a",) + (0,) * 48) == 1


def test_numbers_too_long_for_any_field_are_refused_every_one() -> None:
    text = (
        f"a: {'1' * 5000}\n"  # over Python's 4,300-digit limit: was a ValueError
        f"b: 0x{'f' * 5000}\n"  # as big, through another base
        f"c: 1{':30' * 60}\n"  # sexagesimal (YAML 1.1)
        f"{'9' * 200}: key\n"
        f"d: -{'1' * 101}.5\n"
        f"e: {'1' * 100}\n"
    )
    message = "a number of {} characters is too long for any rmsync field; check the value"
    assert refused(text) == [
        f"f.yaml:1: a: {message.format(5000)}",
        f"f.yaml:2: b: {message.format(5002)}",
        f"f.yaml:3: c: {message.format(181)}",
        f"f.yaml:4: {message.format(200)}",
        f"f.yaml:5: d: {message.format(104)}",
    ]


def test_numbers_that_are_not_finite_are_refused_every_one() -> None:
    text = "a: .nan\nb: -.inf\nc: !!float .INF\nd: 1.0e+999\ne: 1.5\n"
    assert refused(text) == [
        "f.yaml:1: a: '.nan' is not a finite number",
        "f.yaml:2: b: '-.inf' is not a finite number",
        "f.yaml:3: c: '.INF' is not a finite number",
        "f.yaml:4: d: '1.0e+999' is not a finite number",
    ]


def test_bad_explicit_tags_are_refused_every_one_at_its_line() -> None:
    text = (
        "a: !!timestamp hello\n"
        "b: !!int abc\n"
        "c: !!float abc\n"
        "d: !!bool maybe\n"
        "e: !!binary '@@@'\n"
        "f: !!timestamp 2026-01-01\n"
        "g: !!set {x}\n"
        "h: !!str {x: 1}\n"
        "i: !!python/object:os.system x\n"
        "j: [!!int 1.5]\n"
        f"k: !!int '{'1' * 5000}'\n"
        "!!int abc: 1\n"
        "ok: !!str 123\n"
    )
    assert refused(text) == [
        "f.yaml:1: a: YAML tag !!timestamp is not allowed in rmsync files; remove it",
        "f.yaml:2: b: 'abc' is not a valid !!int; remove the tag or fix the value",
        "f.yaml:3: c: 'abc' is not a valid !!float; remove the tag or fix the value",
        "f.yaml:4: d: 'maybe' is not a valid !!bool; remove the tag or fix the value",
        "f.yaml:5: e: YAML tag !!binary is not allowed in rmsync files; remove it",
        "f.yaml:6: f: YAML tag !!timestamp is not allowed in rmsync files; remove it",
        "f.yaml:7: g: YAML tag !!set is not allowed in rmsync files; remove it",
        "f.yaml:8: h: YAML tag !!str does not fit a mapping; remove it",
        "f.yaml:9: i: YAML tag !!python/object:os.system is not allowed in rmsync files; remove it",
        "f.yaml:10: j[0]: '1.5' is not a valid !!int; remove the tag or fix the value",
        "f.yaml:11: k: a number of 5000 characters is too long for any rmsync field; check the value",
        "f.yaml:12: 'abc' is not a valid !!int; remove the tag or fix the value",
    ]


def test_plain_tags_on_nothing_are_refused() -> None:
    assert refused('a: !!int\nb: !!int ""\nc: !!int +\nd: !!float ""\n') == [
        "f.yaml:1: a: '' is not a valid !!int; remove the tag or fix the value",
        "f.yaml:2: b: '' is not a valid !!int; remove the tag or fix the value",
        "f.yaml:3: c: '+' is not a valid !!int; remove the tag or fix the value",
        "f.yaml:4: d: '' is not a valid !!float; remove the tag or fix the value",
    ]


def test_plain_tags_still_read_and_a_lone_equals_sign_is_text() -> None:
    text = "a: !!str 123\nb: !!int '7'\nc: !!float 1\nd: !!bool yes\ne: !!null ''\nf: =\ng: !!seq [1]\n"
    assert load_text(text, "f.yaml").data == {
        "a": "123",
        "b": 7,
        "c": 1.0,
        "d": True,
        "e": None,
        "f": "=",
        "g": [1],
    }


def test_values_that_are_not_text_as_keys_are_reported_not_built() -> None:
    doc = load_text("? [!!int abc]\n: 1\n? {a: 1}\n: 2\n1: 3\n", "f.yaml")
    assert [str(p) for p in doc.problems] == [
        "f.yaml:1: a list is not allowed as a key; keys are text",
        "f.yaml:3: a mapping is not allowed as a key; keys are text",
        "f.yaml:5: key 1 is not text",
    ]


def test_a_file_that_is_not_utf8_names_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nb: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DocumentError) as caught:
        load_file(path, "latin1.yaml")
    assert str(caught.value) == (
        "latin1.yaml:2: cannot read file: not UTF-8 text (byte 0xe9); save it as UTF-8"
    )


def json_refused(data: bytes) -> str:
    with pytest.raises(DocumentError) as caught:
        load_json(data, "p.json")
    return str(caught.value)


def test_json_reads_plain_json() -> None:
    doc = load_json(b'{"a": [1, 2.5,\n "x\\u00e9", null, true],\n "b": {"c":\n 3}}', "p.json")
    assert doc.data == {"a": [1, 2.5, "xé", None, True], "b": {"c": 3}}
    assert doc.lines == {
        (): 1,
        ("a",): 1,
        ("a", 0): 1,
        ("a", 1): 1,
        ("a", 2): 2,
        ("a", 3): 2,
        ("a", 4): 2,
        ("b",): 3,
        ("b", "c"): 4,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{\n"a": 1,\n"b": [1,, 2]}', "p.json:3: not JSON: Expecting value (column 9)"),
        (b'{\n"a": "caf\xe9"}', "p.json:2: not UTF-8 text (byte 0xe9)"),
        (b'{\n"a":\n [NaN]}', "p.json:3: NaN is not a JSON number"),
        (b'{"a":\n -Infinity}', "p.json:2: -Infinity is not a JSON number"),
        (b'{"a":\n 1e999}', "p.json:2: 1e999 is too large a number"),
        (b'{"a": 1,\n "b": {"c": 1},\n "a": 2}', 'p.json:3: duplicate key "a" (first on line 1)'),
        (b'{"b": {"c": 1,\n "\\u0063": 2}}', 'p.json:2: duplicate key "c" (first on line 1)'),
        (b'{"a":\n ' + b"1" * 5000 + b"}", "p.json:2: a number of 5000 characters is too long"),
        (b'{"a":\n "\\ud800"}', "p.json:2: text with half a UTF-16 surrogate pair (\\ud800)"),
        (b"\n" + b"[" * 5000 + b"]" * 5000, "p.json:2: nested more than 50 levels deep"),
        (b'\n{"a": ' + b"[" * 50 + b"]" * 50 + b"}", "p.json:2: nested more than 50 levels deep"),
        (b"[" * 600 + b"]" * 600, "p.json:1: nested more than 50 levels deep"),
    ],
)
def test_json_that_only_python_reads_is_refused_at_its_line(data: bytes, message: str) -> None:
    assert json_refused(data) == message


def test_json_in_strings_is_text_not_structure() -> None:
    text = '{"a": "[[[[ NaN {\\"a\\": 1, \\"a\\": 2} ' + "9" * 200 + '", "b": "\\ud83d\\ude00"}'
    assert load_json(text.encode(), "p.json").data["b"] == "😀"
    nested: list[object] = []
    for _ in range(49):
        nested = [nested]
    assert load_json(b"[" * 50 + b"]" * 50, "p.json").data == nested


def test_without_libyaml_deep_nesting_is_still_a_located_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Pure(yaml.SafeLoader):  # PyYAML's own parser: no limit of its own, unlike libyaml's
        yaml_implicit_resolvers = yamlload._Loader.yaml_implicit_resolvers

    monkeypatch.setattr(yamlload, "_Loader", Pure)
    assert refused("a: 1\nb: " + "[" * 2000 + "]" * 2000 + "\n") == [
        f"f.yaml:2: b{'[0]' * 49}: nested more than 50 levels deep; rmsync files need a few "
        "levels, flatten it"
    ]
    assert refused("a: !!int abc\n") == [
        "f.yaml:1: a: 'abc' is not a valid !!int; remove the tag or fix the value"
    ]
