"""The export archive: which entitlements it lists and its byte-stable zip."""

from __future__ import annotations

import io
import zipfile

from rmsync.sandbox.archive import build_zip, included
from rmsync.sandbox.seed import Entitlement, Identity, RoleEntitlement, Source

SAP = Source("s1", "SAP")
STAMP = (2026, 9, 14, 9, 2, 10)


def ent(ident: str, popularity: float, common: bool = False) -> RoleEntitlement:
    return RoleEntitlement(
        Entitlement(ident, ident.upper(), "groups", None, SAP, 5.0, common), popularity
    )


ENTS = [ent("a", 100.0), ent("b", 40.0), ent("c", 95.0, common=True), ent("d", 10.0)]
PEOPLE = [
    Identity("i2", "Zed", "z@x", (("dept", "IT"),)),
    Identity("i1", "Amy", "a@x", (("loc", "NYC"),)),
]


def test_included_applies_exclusions_popularity_and_common_access() -> None:
    assert [e.entitlement.id for e in included(ENTS, [], 0, True)] == ["a", "c", "b", "d"]
    assert [e.entitlement.id for e in included(ENTS, ["a"], 40, True)] == ["c", "b"]
    assert [e.entitlement.id for e in included(ENTS, [], 0, False)] == ["a", "b", "d"]


def test_zip_is_byte_stable_and_holds_both_csvs() -> None:
    data = build_zip(PEOPLE, ENTS[:2], STAMP)
    assert build_zip(list(reversed(PEOPLE)), ENTS[:2], STAMP) == data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["identities.csv", "entitlements.csv"]
        assert archive.getinfo("identities.csv").date_time == STAMP
        identities = archive.read("identities.csv").decode()
        entitlements = archive.read("entitlements.csv").decode().splitlines()
    assert identities == "id,name,email,dept,loc\ni1,Amy,a@x,,NYC\ni2,Zed,z@x,IT,\n"
    assert entitlements[1] == "a,A,groups,,s1,SAP,100,5,2,false"
    assert entitlements[2] == "b,B,groups,,s1,SAP,40,5,1,false"
