"""V3 collection parameters: filters, sorters and paging applied to plain items."""

from __future__ import annotations

from typing import Any

import pytest

from rmsync.sandbox.faults import Fault
from rmsync.sandbox.query import Field, collection

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
