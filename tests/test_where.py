"""The where grammar: every form it reads, the filters it writes, and every error it gives."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from rmsync.models import Condition
from rmsync.where import FIELDS, WhereError, filters, from_cli, from_mapping, shown, text_literal
from tests.spec import FILES, SPEC_DIR

# -- the table is the spec's -----


def spec_table(file: str) -> dict[str, tuple[str, ...]]:
    """`**field**: *ops*` from the spec's `filters` of getPotentialRoleSummaries."""
    doc = yaml.safe_load((SPEC_DIR / file).read_text(encoding="utf-8"))
    [operation] = [
        op["get"] for path, op in doc["paths"].items() if path.endswith("/potential-role-summaries")
    ]
    [param] = [p for p in operation["parameters"] if p.get("name") == "filters"]
    pairs = re.findall(r"\*\*(\w+)\*\*: \*([a-z, ]+)\*", param["description"])
    return {name: tuple(op.strip() for op in ops.split(",")) for name, ops in pairs}


@pytest.mark.parametrize("file", sorted(set(FILES.values())))
def test_the_fields_and_operators_are_exactly_the_spec_s(file: str) -> None:
    assert {name: field.ops for name, field in FIELDS.items()} == spec_table(file)


# -- what it reads and writes -----


def test_the_issue_s_example_mapping_becomes_the_issue_s_filters() -> None:
    data = yaml.safe_load('{quality: ">= 80", saved: true, type: SPECIALIZED, name: "sw Acc"}')
    conditions = from_mapping(data)
    assert conditions == (
        Condition("quality", "ge", 80),
        Condition("saved", "eq", True),
        Condition("type", "eq", "SPECIALIZED"),
        Condition("name", "sw", "Acc"),
    )
    assert filters(conditions) == (
        'quality ge 80 and saved eq true and type eq "SPECIALIZED" and name sw "Acc"'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quality>=80", Condition("quality", "ge", 80)),
        ("quality >= 80", Condition("quality", "ge", 80)),
        ("quality>80", Condition("quality", "gt", 80)),
        ("freshness<=50", Condition("freshness", "le", 50)),
        ("freshness<50", Condition("freshness", "lt", 50)),
        ("quality=0", Condition("quality", "eq", 0)),
        ("quality==100", Condition("quality", "eq", 100)),
        ("quality ge 80", Condition("quality", "ge", 80)),
        ("quality GE 80", Condition("quality", "ge", 80)),
        ("saved=true", Condition("saved", "eq", True)),
        ("saved=False", Condition("saved", "eq", False)),
        ("saved eq true", Condition("saved", "eq", True)),
        ("type=SPECIALIZED", Condition("type", "eq", "SPECIALIZED")),
        ("type=common", Condition("type", "eq", "COMMON")),
        ("name sw Acc", Condition("name", "sw", "Acc")),
        ("name co payable clerks", Condition("name", "co", "payable clerks")),
        ("name=Accounting core", Condition("name", "eq", "Accounting core")),
        ('name sw "Acc "', Condition("name", "sw", "Acc ")),
        (r'name eq "say \"hi\""', Condition("name", "eq", 'say "hi"')),
        ("Quality>=80", Condition("quality", "ge", 80)),
        ("createdbyid sw 2c91", Condition("createdById", "sw", "2c91")),
        ("description co ledger", Condition("description", "co", "ledger")),
        ("startDate>=2026-09-14", Condition("startDate", "ge", "2026-09-14T00:00:00Z")),
        ("startDate gt 2026-09-14T09:02:11Z", Condition("startDate", "gt", "2026-09-14T09:02:11Z")),
        ("endDate<2026-09-14T11:02:11+02:00", Condition("endDate", "lt", "2026-09-14T09:02:11Z")),
        ("endDate<=2026-09-14T09:02:11.5", Condition("endDate", "le", "2026-09-14T09:02:11.500Z")),
    ],
)
def test_the_command_line_forms(text: str, expected: Condition) -> None:
    assert from_cli([text]) == (expected,)


def test_several_conditions_keep_their_order() -> None:
    conditions = from_cli(["saved=true", "quality>=75", "quality<90"])
    assert filters(conditions) == "saved eq true and quality ge 75 and quality lt 90"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"quality": 80}, Condition("quality", "eq", 80)),
        ({"quality": "80"}, Condition("quality", "eq", 80)),
        ({"quality": "> 80"}, Condition("quality", "gt", 80)),
        ({"quality": "ge 80"}, Condition("quality", "ge", 80)),
        ({"saved": False}, Condition("saved", "eq", False)),
        ({"saved": "true"}, Condition("saved", "eq", True)),
        ({"name": "Accounting core"}, Condition("name", "eq", "Accounting core")),
        ({"name": "Co op"}, Condition("name", "eq", "Co op")),  # a capital word is no operator
        ({"name": "= co op"}, Condition("name", "eq", "co op")),
        ({"name": "co op"}, Condition("name", "co", "op")),
        ({"description": "co ledger"}, Condition("description", "co", "ledger")),
        ({"startDate": ">= 2026-09-14"}, Condition("startDate", "ge", "2026-09-14T00:00:00Z")),
        ({"startDate": "gt 2026-09-14"}, Condition("startDate", "gt", "2026-09-14T00:00:00Z")),
    ],
)
def test_the_mapping_forms(data: dict[str, Any], expected: Condition) -> None:
    assert from_mapping(data) == (expected,)


def test_a_list_puts_several_conditions_on_one_field() -> None:
    conditions = from_mapping(yaml.safe_load('quality: [">= 60", "< 90"]'))
    assert filters(conditions) == "quality ge 60 and quality lt 90"


def test_yaml_dates_and_times_are_read_as_utc() -> None:
    data = yaml.safe_load("endDate: '<= 2026-10-01'")
    assert from_mapping(data) == (Condition("endDate", "le", "2026-10-01T00:00:00Z"),)
    later = datetime(2026, 10, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert from_mapping({"endDate": [f"< {later.isoformat()}"]}) == (
        Condition("endDate", "lt", "2026-10-01T10:00:00Z"),
    )


def test_text_is_quoted_and_escaped_as_the_v3_syntax_says() -> None:
    tricky = 'Finance "core" \\ ledger & #1 % and or'
    assert filters([Condition("name", "co", tricky)]) == (
        'name co "Finance \\"core\\" \\\\ ledger & #1 % and or"'
    )
    assert text_literal('a"b\\c') == '"a\\"b\\\\c"'
    # numbers, booleans and date-times go bare; the role type (an enumeration) is quoted
    assert (
        filters(
            [
                Condition("quality", "le", 90),
                Condition("saved", "eq", False),
                Condition("startDate", "gt", "2026-09-14T00:00:00Z"),
                Condition("type", "eq", "COMMON"),
            ]
        )
        == 'quality le 90 and saved eq false and startDate gt 2026-09-14T00:00:00Z and type eq "COMMON"'
    )


def test_no_condition_is_no_filter() -> None:
    assert filters(()) is None
    assert from_cli([]) == ()
    assert from_mapping({}) == ()


def test_shown_text_is_quoted() -> None:
    assert shown(Condition("name", "sw", 'say "hi"')) == 'name sw "say \\"hi\\""'
    assert shown(Condition("type", "eq", "COMMON")) == "type = COMMON"
    assert shown(Condition("endDate", "lt", "2026-10-01T00:00:00Z")) == (
        "endDate < 2026-10-01T00:00:00Z"
    )


# -- every error -----


def fails(call: Any, *args: Any) -> WhereError:
    with pytest.raises(WhereError) as caught:
        call(*args)
    return caught.value


ALL_FIELDS = (
    "createdById, createdByName, description, endDate, freshness, name, quality, saved, "
    "startDate, type"
)


def test_an_unknown_field_names_every_field() -> None:
    error = fails(from_cli, ["qualty>=80"])
    assert str(error) == (
        f"--where 'qualty>=80': potential roles cannot be chosen by 'qualty'; the fields are "
        f"{ALL_FIELDS}"
    )
    assert error.field == "qualty"
    error = fails(from_mapping, {"popularity": ">= 3"})
    assert str(error).startswith("where.popularity: potential roles cannot be chosen by")
    assert ALL_FIELDS in str(error)
    assert error.field == "popularity"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "quality!=80",
            "quality cannot be compared with '!='; quality takes =, >=, >, <=, < "
            "(eq, ge, gt, le, lt)",
        ),
        ("quality=>80", "quality cannot be compared with '=>'"),
        ("quality ne 80", "quality cannot be compared with 'ne'"),
        ("quality sw 8", "quality cannot be compared with 'sw'"),
        ("name>=A", "name cannot be compared with '>='; name takes = (eq, sw, co)"),
        ("name in A", "name cannot be compared with 'in'"),
        ("name Accounting core", "name cannot be compared with 'Accounting'"),
        ("saved>true", "saved cannot be compared with '>'; saved takes = (eq)"),
        ("type co SPEC", "type cannot be compared with 'co'; type takes = (eq)"),
        ("description=ledger", "description cannot be compared with '='; description takes sw, co"),
        ("startDate<=2026-01-01", "startDate takes >=, > (ge, gt)"),
        ("endDate>2026-01-01", "endDate takes <=, < (le, lt)"),
    ],
)
def test_an_operator_the_field_does_not_take_names_the_ones_it_does(
    text: str, message: str
) -> None:
    error = fails(from_cli, [text])
    assert str(error).startswith(f"--where {text!r}: ")
    assert message in str(error)
    assert error.field == re.split(r"[\s<>=!]", text)[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quality": "!= 80"}, "where.quality: quality cannot be compared with '!='"),
        ({"name": "ne Acc"}, "where.name: name cannot be compared with 'ne'"),
        (
            {"startDate": date(2026, 9, 14)},
            "where.startDate: a value alone means =, which "
            'startDate does not take; write it as ">= VALUE" (startDate takes >=, > (ge, gt))',
        ),
        (
            {"description": "ledger"},
            "where.description: a value alone means =, which "
            'description does not take; write it as "sw VALUE" (description takes sw, co)',
        ),
    ],
)
def test_mapping_operator_errors(data: dict[str, Any], message: str) -> None:
    error = fails(from_mapping, data)
    assert str(error) == message or str(error).startswith(message)
    assert error.field == next(iter(data))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("quality>=80%", "quality takes a whole number from 0 to 100, not '80%'"),
        ("quality>=101", "quality takes a whole number from 0 to 100, not '101'"),
        ("quality>=-1", "quality takes a whole number from 0 to 100, not '-1'"),
        ("freshness>=7.5", "freshness takes a whole number from 0 to 100, not '7.5'"),
        ("quality>=", "quality takes a whole number from 0 to 100, not ''"),
        ("saved=yes", "saved takes true or false, not 'yes'"),
        ("type=ROLE", "type takes SPECIALIZED or COMMON, not 'ROLE'"),
        ("name=", "name takes text, not ''"),
        ('name=""', "name takes text, not ''"),
        ("name sw a\x1bb", "name takes text, not 'a\\x1bb'"),
        (
            "startDate>=yesterday",
            "startDate takes a date (2026-09-14) or an ISO-8601 "
            "date-time (2026-09-14T09:00:00Z), not 'yesterday'",
        ),
        ("startDate>=2026-13-01", "not '2026-13-01'"),
    ],
)
def test_a_value_of_the_wrong_kind_says_what_the_field_takes(text: str, message: str) -> None:
    error = fails(from_cli, [text])
    assert message in str(error)
    assert error.field is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quality": True}, "where.quality: quality takes a whole number from 0 to 100, not True"),
        ({"quality": 80.0}, "not 80.0"),
        ({"saved": 1}, "where.saved: saved takes true or false, not 1"),
        ({"type": None}, "where.type: type takes SPECIALIZED or COMMON, not None"),
        ({"name": 2026}, "where.name: name takes text, not 2026"),
        ({"name": ["sw A", 7]}, "where.name: name takes text, not 7"),
        ({"endDate": "< soon"}, "where.endDate: endDate takes a date"),
    ],
)
def test_mapping_value_errors(data: dict[str, Any], message: str) -> None:
    assert message in str(fails(from_mapping, data))


@pytest.mark.parametrize("text", ["quality", "quality 80", "", "   ", ">= 80", "9x>=1"])
def test_a_condition_that_cannot_be_read_shows_the_form(text: str) -> None:
    error = fails(from_cli, [text])
    assert str(error) == (
        f"--where {text!r}: write a condition as FIELD OP VALUE, such as quality>=80, "
        f"saved=true or 'name sw Acc'; the fields are {ALL_FIELDS}"
    )
    assert error.field is None


@pytest.mark.parametrize("data", [["quality >= 80"], "quality >= 80", None, 7])
def test_a_where_that_is_not_a_mapping(data: Any) -> None:
    error = fails(from_mapping, data, "sets.finance.where")
    assert str(error) == (
        'sets.finance.where: must be a mapping of field to condition, such as {quality: ">= 80", '
        "saved: true}"
    )


def test_a_time_without_an_offset_is_utc() -> None:
    assert from_mapping({"startDate": ">= 2026-09-14T09:00"}) == (
        Condition("startDate", "ge", "2026-09-14T09:00:00Z"),
    )
