"""V3 collection parameters: filters, sorters and paging, on plain items and over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from rmsync.sandbox import Sandbox, load_seed
from rmsync.sandbox.faults import Fault
from rmsync.sandbox.query import Field, collection
from rmsync.sandbox.seed import default_seed_text
from tests.builders import FINANCE
from tests.conftest import api_client

ITEMS = [
    {"name": "Accounting core", "quality": 78, "saved": True},
    {"name": "Accounts payable", "quality": 72, "saved": False},
    {"name": 'Quote "q" role', "quality": 40, "saved": True},
    {"name": "Backend", "quality": 70, "saved": None},
]
FIELDS = {
    "name": Field(lambda i: i["name"], frozenset({"eq", "sw", "co", "in"})),
    "quality": Field(lambda i: i["quality"], frozenset({"eq", "ge", "gt", "le", "lt", "ne"})),
    "saved": Field(lambda i: i["saved"], frozenset({"eq"})),
}
SORTERS = {
    "name": lambda i: i["name"],
    "quality": lambda i: i["quality"],
    "saved": lambda i: i["saved"],
}


def names(params: dict[str, str]) -> list[str]:
    page = collection(ITEMS, params, FIELDS, SORTERS)
    return [item["name"] for item in page.items]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ('name eq "Backend"', ["Backend"]),
        ('name sw "acc"', ["Accounting core", "Accounts payable"]),
        ('name co "PAY"', ["Accounts payable"]),
        ('name eq "Quote \\"q\\" role"', ['Quote "q" role']),
        ('name in ("Backend", "Accounting core")', ["Accounting core", "Backend"]),
        ("quality ge 72", ["Accounting core", "Accounts payable"]),
        ("quality gt 72", ["Accounting core"]),
        ("quality lt 70", ['Quote "q" role']),
        ("quality ne 70 and quality le 72", ["Accounts payable", 'Quote "q" role']),
        ("saved eq true", ["Accounting core", 'Quote "q" role']),
        ('saved eq true and name sw "Acc"', ["Accounting core"]),
    ],
)
def test_filters_select_the_right_items(filters: str, expected: list[str]) -> None:
    assert names({"filters": filters}) == expected


@pytest.mark.parametrize(
    ("sorters", "expected"),
    [
        ("quality", ['Quote "q" role', "Backend", "Accounts payable", "Accounting core"]),
        ("-quality", ["Accounting core", "Accounts payable", "Backend", 'Quote "q" role']),
        ("-saved,name", ["Accounting core", 'Quote "q" role', "Accounts payable", "Backend"]),
    ],
)
def test_sorters_order_stably_with_nulls_first(sorters: str, expected: list[str]) -> None:
    assert names({"sorters": sorters}) == expected


def test_paging_and_total() -> None:
    page = collection(ITEMS, {"offset": "1", "limit": "2", "count": "true"}, FIELDS, SORTERS)
    assert [i["name"] for i in page.items] == ["Accounts payable", 'Quote "q" role']
    assert page.total == 4
    assert collection(ITEMS, {"offset": "10"}).items == []
    assert collection(ITEMS, {}).total is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filters": "colour eq 1"}, "Filtering is not supported on 'colour'"),
        ({"filters": "saved sw true"}, "Operator 'sw' is not supported for 'saved'"),
        ({"filters": "name eq"}, "Invalid filter"),
        ({"filters": "quality eq abc"}, "must be quoted text"),
        ({"sorters": "colour"}, "Sorting is not supported on 'colour'"),
        ({"limit": "251"}, "limit must be from 0 to 250"),
        ({"offset": "-1"}, "offset must be 0 or more"),
        ({"count": "1"}, "count must be true or false"),
    ],
)
def test_bad_parameters_are_400_with_a_reason(params: dict[str, Any], message: str) -> None:
    with pytest.raises(Fault) as caught:
        collection(ITEMS, params, FIELDS, SORTERS)
    assert caught.value.status == 400
    assert message in caught.value.text


# -- over HTTP, against a real sandbox -----

SESSIONS = "/beta/role-mining-sessions"
FINANCE_ROLES = f"{SESSIONS}/{FINANCE}/potential-role-summaries"
QUOTED = 'Say "hi" \\ and bye'  # a quote, a backslash and ` and `, all inside the text


def served(api: httpx.Client, path: str, filters: str) -> list[str]:
    response = api.get(path, params={"filters": filters})
    assert response.status_code == 200, response.text
    return sorted(item["name"] for item in response.json())


def refused(api: httpx.Client, filters: str) -> str:
    """The 400's message for `filters` on the Finance session's role listing."""
    response = api.get(FINANCE_ROLES, params={"filters": filters})
    assert response.status_code == 400, response.text
    (message,) = response.json()["messages"]
    text: str = message["text"]
    return text


@pytest.fixture
def quoted_api(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> Iterator[httpx.Client]:
    """The default tenant, with Accounting core renamed to QUOTED."""
    doc = yaml.safe_load(default_seed_text())
    doc["sessions"][0]["potential_roles"][0]["name"] = QUOTED
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with api_client(make_sandbox(seed=load_seed(path)).base_url) as client:
        yield client


@pytest.mark.parametrize(
    "filters",
    [
        'name eq "Sales and support 2026"',
        'name sw "Sales and "',
        'saved eq true and name eq "Sales and support 2026"',
        'name eq "Sales and support 2026" and saved eq true',
    ],
)
def test_and_inside_quoted_text_is_text(api: httpx.Client, filters: str) -> None:
    assert served(api, SESSIONS, filters) == ["Sales and support 2026"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ('name eq "Say \\"hi\\" \\\\ and bye"', [QUOTED]),
        ('name co "\\" \\\\ and b"', [QUOTED]),
        ('name sw "Say \\"hi\\"" and quality ge 78', [QUOTED]),
        ('name eq "Say \\"hi\\"" or name eq "Payroll specialists"', ["Payroll specialists"]),
        ('name eq "Say \\"hi\\" and bye"', []),  # the backslash is part of the name
    ],
)
def test_escaped_quotes_and_backslashes_in_quoted_text(
    quoted_api: httpx.Client, filters: str, expected: list[str]
) -> None:
    assert served(quoted_api, FINANCE_ROLES, filters) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ('(name sw "Acc") and ((quality ge 80) or (saved eq false))', []),
        ('(name sw "Acc")and (quality ge 75 or saved eq false)', ["Accounting core"]),
        (
            'quality ge 80 or name eq "Accounting core"',
            ["Accounting core", "Legacy mainframe operators", "Payroll specialists"],
        ),
        (
            "saved eq true or quality ge 80 and quality lt 85",  # `and` binds tighter
            ["Accounting core", "Accounts payable clerks", "Payroll specialists"],
        ),
        ('not (saved eq false) and not name sw "Accounts"', ["Accounting core"]),
    ],
)
def test_or_not_and_parentheses(api: httpx.Client, filters: str, expected: list[str]) -> None:
    assert served(api, FINANCE_ROLES, filters) == expected


EARLY = ["Accounting core", "Accounts payable clerks"]  # created 2026-09-14T09:02:11Z
LATE = ["Legacy mainframe operators", "Payroll specialists", "Treasury analysts"]  # :12Z, :13Z


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("startDate ge 2026-09-14T09:02:12Z", LATE),
        ('startDate ge "2026-09-14T09:02:12Z"', LATE),
        ("startDate gt 2026-09-14T09:02:11Z", LATE),
        ("startDate gt 2026-09-14T09:02:11.500Z", LATE),
        ("endDate lt 2026-09-14T09:02:12Z", EARLY),
        ("endDate le 2026-09-14T09:02:11Z", EARLY),
        # Offsets are compared as times, not as text ("11:02" sorts after every "09:02").
        ("endDate lt 2026-09-14T11:02:12+02:00", EARLY),
        ('endDate lt "2026-09-14T05:02:12-04:00"', EARLY),
        ("startDate ge 2026-09-14T10:02:12+01:00 and endDate le 2026-09-14T09:02:12Z", LATE[1:]),
        ("startDate ge 2026-09-15T00:00:00Z", []),
        ("endDate lt 2026-09-14T00:00Z", []),
    ],
)
def test_date_fields_take_iso_date_times_bare_or_quoted(
    api: httpx.Client, filters: str, expected: list[str]
) -> None:
    assert served(api, FINANCE_ROLES, filters) == expected


def test_an_empty_filter_keeps_everything(api: httpx.Client) -> None:
    assert served(api, FINANCE_ROLES, " ") == sorted(EARLY + LATE)


def test_date_filters_on_every_role(api: httpx.Client) -> None:
    found = served(api, "/beta/role-mining-potential-roles", "startDate ge 2026-11-01T00:00:00Z")
    assert "HR business partners" in found
    assert not set(found) & set(EARLY + LATE)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ('name eq "Accounting core', "Invalid filter"),
        ('name eq "Accounting core', "the quoted text at character 9 is not closed"),
        ('name eq "ends in a backslash\\', "is not closed"),
        ('name eq "Accounting core" and', "it ends where a field should be"),
        ('(name eq "Accounting core"', "it ends where ')' should be"),
        ('name eq "Accounting core")', "unexpected ')'"),
        ('name eq "a" andsaved eq true', "unexpected 'andsaved'"),
        ('name eq "a" saved eq true', "unexpected 'saved'"),
        ("name eq", "it ends where a value after 'eq' should be"),
        ('"name" eq "a"', "a field name expected, not '\"name\"'"),
        ('name is "a"', "an operator (eq, ne, sw, co, ge, gt, le, lt, in) expected, not 'is'"),
        ("colour eq 1", "Filtering is not supported on 'colour'"),
        (
            'description eq "x"',
            "Operator 'eq' is not supported for 'description'; use one of co, sw",
        ),
        ("quality ge high", "Filter value 'high' must be quoted text, a number, true or false"),
        ("quality ge 2026-09-14T00:00:00Z", "must be quoted text, a number, true or false"),
        ("startDate ge yesterday", "Filter value 'yesterday' for 'startDate' must be an ISO-8601"),
        ('startDate ge "2026-09-14"', "must be an ISO-8601 date-time with Z or an offset"),
        ("startDate ge 2026-09-14T00:00:00", "must be an ISO-8601 date-time with Z or an offset"),
        ("startDate ge 2026-13-14T00:00:00Z", "must be an ISO-8601 date-time with Z or an offset"),
        ("not " * 5000 + "saved eq true", "nested more than 50 deep"),
        ("(" * 5000 + "saved eq true" + ")" * 5000, "nested more than 50 deep"),
    ],
)
def test_a_bad_filter_is_a_400_that_says_what_is_wrong(
    api: httpx.Client, filters: str, message: str
) -> None:
    assert message in refused(api, filters)
