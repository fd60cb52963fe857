"""The export archive: which entitlements it lists and its byte-stable zip, in both layouts."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from rmsync.sandbox.archive import LAYOUTS, ArchiveLayout, build_zip, included
from rmsync.sandbox.seed import Entitlement, Identity, RoleEntitlement, Source, derive_holders

SAP = Source("s1", "SAP")
STAMP = (2026, 9, 14, 9, 2, 10)
PEOPLE = [
    Identity("i2", "Zed", "z@x", (("dept", "IT"),)),
    Identity("i1", "Amy", "a@x", (("loc", "NYC"),)),
]


def ent(
    ident: str, popularity: float, holders: tuple[str, ...], common: bool = False
) -> RoleEntitlement:
    return RoleEntitlement(
        Entitlement(ident, ident.upper(), "groups", None, SAP, 5.0, common), popularity, holders
    )


ENTS = [
    ent("a", 100.0, ("i2", "i1")),
    ent("b", 40.0, ("i2",)),
    ent("c", 95.0, ("i2", "i1"), common=True),
    ent("d", 10.0, ()),
]


def members(data: bytes, name: str) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return list(csv.reader(io.StringIO(archive.read(name).decode())))


def test_included_applies_exclusions_popularity_and_common_access() -> None:
    assert [e.entitlement.id for e in included(ENTS, [], 0, True)] == ["a", "c", "b", "d"]
    assert [e.entitlement.id for e in included(ENTS, ["a"], 40, True)] == ["c", "b"]
    assert [e.entitlement.id for e in included(ENTS, [], 0, False)] == ["a", "b", "d"]


def test_zip_is_byte_stable_and_holds_both_csvs() -> None:
    data = build_zip(PEOPLE, ENTS[:2], STAMP)
    assert build_zip(list(reversed(PEOPLE)), ENTS[:2], STAMP) == data
    assert build_zip(PEOPLE, ENTS[:2], STAMP, "rmsync") == data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["identities.csv", "entitlements.csv"]
        assert archive.getinfo("identities.csv").date_time == STAMP
        identities = archive.read("identities.csv").decode()
        entitlements = archive.read("entitlements.csv").decode().splitlines()
    assert identities == "id,name,email,dept,loc\ni1,Amy,a@x,,NYC\ni2,Zed,z@x,IT,\n"
    assert entitlements[0] == (
        "id,name,attribute,description,source_id,source_name,popularity,popularity_in_org,"
        "identity_count,common_access,Included Identities,Missing Identities"
    )
    assert entitlements[1] == "a,A,groups,,s1,SAP,100,5,2,false,Amy; Zed,"
    assert entitlements[2] == "b,B,groups,,s1,SAP,40,5,1,false,Zed,Amy"


def test_titled_layout_names_files_and_columns_otherwise_and_adds_one() -> None:
    data = build_zip(PEOPLE, ENTS, STAMP, "titled")
    assert build_zip(list(reversed(PEOPLE)), ENTS, STAMP, "titled") == data
    assert data != build_zip(PEOPLE, ENTS, STAMP, "rmsync")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["Identities.csv", "Entitlements.csv"]
    assert members(data, "Identities.csv") == [
        ["Identity ID", "Display Name", "Email", "dept", "loc"],
        ["i1", "Amy", "a@x", "", "NYC"],
        ["i2", "Zed", "z@x", "IT", ""],
    ]
    rows = members(data, "Entitlements.csv")
    assert rows[0] == [
        "Entitlement ID",
        "Entitlement Name",
        "Application",
        "Attribute",
        "Popularity",
        "Popularity In Org",
        "Identity Count",
        "Included Identities",
        "Missing Identities",
        "Risk Score",
    ]
    assert [r[:9] for r in rows[1:]] == [
        ["a", "A", "SAP", "groups", "100", "5", "2", "Amy; Zed", ""],
        ["b", "B", "SAP", "groups", "40", "5", "1", "Zed", "Amy"],
        ["c", "C", "SAP", "groups", "95", "5", "2", "Amy; Zed", ""],
        ["d", "D", "SAP", "groups", "10", "5", "0", "", "Amy; Zed"],
    ]
    assert all(0 <= int(r[9]) <= 100 for r in rows[1:])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_entitlement_held_by_no_one_or_everyone_has_an_empty_column(
    layout: ArchiveLayout,
) -> None:
    data = build_zip(PEOPLE, [ENTS[0], ENTS[3]], STAMP, layout)
    rows = members(data, "entitlements.csv" if layout == "rmsync" else "Entitlements.csv")
    header = rows[0]
    included_at, missing_at = (
        header.index("Included Identities"),
        header.index("Missing Identities"),
    )
    assert [(r[included_at], r[missing_at]) for r in rows[1:]] == [
        ("Amy; Zed", ""),
        ("", "Amy; Zed"),
    ]


def test_derived_holders_are_stable_sized_and_differ_between_entitlements() -> None:
    people = tuple(Identity(f"p{n}", f"P{n}", "", ()) for n in range(10))
    chosen = {e: derive_holders(e, people, 4) for e in ("e1", "e2", "e3", "e4")}
    assert all(len(h) == 4 for h in chosen.values())
    assert set(chosen["e1"]) == set(derive_holders("e1", tuple(reversed(people)), 4))
    assert len(set(chosen.values())) > 1
    assert derive_holders("e1", people, 10) == tuple(p.id for p in people)
    assert derive_holders("e1", people, 0) == ()
