"""Who holds a role's entitlements: seeded or derived holders, the counts every answer gives
for them (entitlement popularities, excluded entitlements, the archive's rows and columns),
and the archive's two layouts, all over real HTTP."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rmsync.errors import DocumentError
from rmsync.sandbox import LAYOUTS, ArchiveLayout, Sandbox, load_seed
from tests.conftest import FakeClock, api_client, token
from tests.expect import check_reported
from tests.run import rmsync, serving

SESSION = "11111111-2222-4333-8444-555555555555"
ROLE_ID = "aaaaaaaa-bbbb-4ccc-8ddd-000000000001"
ROLE = f"/beta/role-mining-sessions/{SESSION}/potential-roles/{ROLE_ID}"
# The headers by which each layout names the columns these tests read.
FILES = {
    "rmsync": ("identities.csv", "entitlements.csv"),
    "titled": ("Identities.csv", "Entitlements.csv"),
}
ID = {"rmsync": "id", "titled": "Entitlement ID"}
COUNT = {"rmsync": "identity_count", "titled": "Identity Count"}
POPULARITY = {"rmsync": "popularity", "titled": "Popularity"}
NAME = {"rmsync": "name", "titled": "Display Name"}
HAS, LACKS = "Included Identities", "Missing Identities"

HEAD = """\
version: 1
clients:
  - {client_id: rmsync-sandbox, client_secret: sandbox-secret-not-for-production}
identities:
  - {id: p1, name: Ann}
  - {id: p2, name: Bob}
  - {id: p3, name: Cid}
  - {id: p4, name: Dee}
  - {id: p5, name: Eve}
  - {id: p6, name: Fay}
sources:
  - {id: s1, name: SAP ERP}
entitlements:
  - {id: e1, name: E1, source: s1}
  - {id: e2, name: E2, source: s1}
  - {id: e3, name: E3, source: s1}
  - {id: e4, name: E4, source: s1}
  - {id: e5, name: E5, source: s1}
sessions:
  - id: 11111111-2222-4333-8444-555555555555
    name: s
    created: '2026-01-01T00:00:00Z'
    potential_roles:
      - id: aaaaaaaa-bbbb-4ccc-8ddd-000000000001
        name: r
        identities: [p1, p2, p3, p4, p5]
        entitlements:
"""
SEED = (
    HEAD
    + """\
          - {id: e1, holders: [p3, p1]}                   # popularity 40.0
          - {id: e2, popularity: 60, holders: [p2, p4, p5]}
          - {id: e3, popularity: 60}                      # 3 holders, derived
          - {id: e4, popularity: 20}                      # 1 holder, derived
          - {id: e5, holders: []}                         # popularity 0.0
"""
)
# id: (identityCount, popularity, its holders' names or None where they are derived)
EXPECTED: dict[str, tuple[int, float, str | None]] = {
    "e1": (2, 40.0, "Ann; Cid"),
    "e2": (3, 60.0, "Bob; Dee; Eve"),
    "e3": (3, 60.0, None),
    "e4": (1, 20.0, None),
    "e5": (0, 0.0, ""),
}
MEMBERS = ["Ann", "Bob", "Cid", "Dee", "Eve"]


def _seeded(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], text: str = SEED, **kw: Any
) -> Sandbox:
    path = tmp_path / "seed.yaml"
    path.write_text(text)
    return make_sandbox(seed=load_seed(path), **kw)


def _rows(data: bytes, member: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return list(csv.DictReader(io.StringIO(archive.read(member).decode())))


def _names(cell: str) -> list[str]:
    return cell.split("; ") if cell else []


def _counts(answer: httpx.Response) -> dict[str, tuple[int, float]]:
    assert answer.status_code == 200, answer.text
    return {e["entitlementRef"]["id"]: (e["identityCount"], e["popularity"]) for e in answer.json()}


def _download(api: httpx.Client, role: str, clock: FakeClock) -> bytes:
    export_id = api.post(f"{role}/export-async", json={}).json()["exportId"]
    clock.advance(2)
    answer = api.get(f"{role}/export-async/{export_id}/download")
    assert answer.status_code == 200, answer.text
    return answer.content


# -- holders from the seed -----


@pytest.mark.parametrize("layout", LAYOUTS)
def test_seeded_and_derived_holders_give_one_count_everywhere(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], clock: FakeClock, layout: ArchiveLayout
) -> None:
    sandbox = _seeded(tmp_path, make_sandbox, archive_layout=layout)
    with api_client(sandbox.base_url) as api:
        counts = _counts(api.get(f"{ROLE}/entitlement-popularities"))
        assert counts == {k: (n, p) for k, (n, p, _) in EXPECTED.items()}
        rows = {r[ID[layout]]: r for r in _rows(_download(api, ROLE, clock), FILES[layout][1])}
        assert set(rows) == set(EXPECTED)
        for key, (count, popularity, holders) in EXPECTED.items():
            row = rows[key]
            assert (int(row[COUNT[layout]]), float(row[POPULARITY[layout]])) == (count, popularity)
            has, lacks = _names(row[HAS]), _names(row[LACKS])
            assert len(has) == count
            assert sorted(has + lacks) == MEMBERS and has == sorted(has) and lacks == sorted(lacks)
            if holders is not None:
                assert row[HAS] == holders
        # Excluded, an entitlement keeps its count.
        edited = api.post(f"{ROLE}/edit-entitlements", json={"ids": ["e1", "e3"], "exclude": True})
        assert edited.status_code == 201
        excluded = _counts(api.get(f"{ROLE}/excluded-entitlements"))
        assert excluded == {k: counts[k] for k in ("e1", "e3")}
        left = {r[ID[layout]] for r in _rows(_download(api, ROLE, clock), FILES[layout][1])}
        assert left == {"e2", "e4", "e5"}


def test_holders_belong_to_the_role_they_are_seeded_in(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    second = """\
      - id: aaaaaaaa-bbbb-4ccc-8ddd-000000000002
        name: r2
        identities: [p1, p6]
        entitlements:
          - {id: e1, holders: [p6]}
"""
    sandbox = _seeded(tmp_path, make_sandbox, SEED + second)
    other = (
        f"/beta/role-mining-sessions/{SESSION}/potential-roles/aaaaaaaa-bbbb-4ccc-8ddd-000000000002"
    )
    with api_client(sandbox.base_url) as api:
        assert _counts(api.get(f"{other}/entitlement-popularities")) == {"e1": (1, 50.0)}
        rows = _rows(api.get(f"{other}/export").content, "entitlements.csv")
    assert [(r[HAS], r[LACKS]) for r in rows] == [("Fay", "Ann")]


def test_derived_holders_keep_the_default_seed_s_counts_and_differ_by_entitlement(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(rate_limit=None)
    different = 0
    with api_client(sandbox.base_url) as api:
        for role in api.get("/beta/role-mining-potential-roles").json():
            path = (
                f"/beta/role-mining-sessions/{role['session']['id']}/potential-roles/{role['id']}"
            )
            size = role["identityCount"]
            names = sorted(i["name"] for i in api.get(f"{path}/identities").json())
            counts = _counts(api.get(f"{path}/entitlement-popularities"))
            excluded = _counts(api.get(f"{path}/excluded-entitlements"))
            for n, popularity in (counts | excluded).values():
                assert n == round(popularity * size / 100)  # as before holders existed
            if excluded:
                api.post(
                    f"{path}/edit-entitlements", json={"ids": list(excluded), "exclude": False}
                )
            rows = _rows(api.get(f"{path}/export").content, "entitlements.csv")
            assert {r["id"]: (int(r["identity_count"]), float(r["popularity"])) for r in rows} == (
                counts | excluded
            )
            held: dict[int, set[str]] = {}
            for r in rows:
                has, lacks = _names(r[HAS]), _names(r[LACKS])
                assert len(has) == int(r["identity_count"]) and sorted(has + lacks) == names
                if 0 < len(has) < size:
                    held.setdefault(len(has), set()).add(r[HAS])
            different += sum(len(v) - 1 for v in held.values())
    assert different > 0  # entitlements of one count are held by different identities


# -- seeds that are refused -----

BAD = (
    HEAD
    + """\
          - {id: e1, holders: [p1, p6, nobody]}
          - {id: e2, popularity: 20, holders: [p1, p2]}
          - {id: e3}
          - {id: e4, holders: [p2, p2]}
          - {id: e5, holders: p1}
"""
)


def test_a_seed_whose_holders_are_wrong_is_refused_at_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    with pytest.raises(DocumentError) as schema:
        load_seed(path)
    assert str(schema.value) == (
        f"{path}:32: sessions[0].potential_roles[0].entitlements[4].holders: 'p1' is not of type 'array'"
    )
    path.write_text(BAD.replace("holders: p1", "holders: [p1]"))
    expect = [
        "# expect: bad.yaml:28: sessions[0].potential_roles[0].entitlements[0].holders[1]: 'p6' is not one of this role's identities",
        "# expect: bad.yaml:28: sessions[0].potential_roles[0].entitlements[0].holders[2]: 'nobody' is not one of this role's identities",
        "# expect: bad.yaml:29: sessions[0].potential_roles[0].entitlements[1].popularity: popularity 20 of 5 identities is 1 holder, but holders lists 2",
        "# expect: bad.yaml:30: sessions[0].potential_roles[0].entitlements[2]: needs popularity, holders or both",
        "# expect: bad.yaml:31: sessions[0].potential_roles[0].entitlements[3].holders[1]: 'p2' is listed twice",
    ]
    path.write_text(path.read_text() + "\n".join(expect) + "\n")
    with pytest.raises(DocumentError) as caught:
        load_seed(path)
    check_reported(path, caught.value)


# -- the archive's layouts -----


def test_each_layout_is_byte_identical_for_the_same_state_and_parameters(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    zips: dict[str, bytes] = {}
    for layout in LAYOUTS:
        first, second = (_seeded(tmp_path, make_sandbox, archive_layout=layout) for _ in range(2))
        with api_client(first.base_url) as one, api_client(second.base_url) as two:
            zips[layout] = one.get(f"{ROLE}/export").content
            assert two.get(f"{ROLE}/export").content == zips[layout]
            assert _download(one, ROLE, clock) == zips[layout]
        with zipfile.ZipFile(io.BytesIO(zips[layout])) as archive:
            assert tuple(archive.namelist()) == FILES[layout]
    assert zips["rmsync"] != zips["titled"]


def test_the_titled_layout_s_headers(tmp_path: Path, make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = _seeded(tmp_path, make_sandbox, archive_layout="titled")
    with api_client(sandbox.base_url) as api:
        data = api.get(f"{ROLE}/export").content
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        heads = [archive.read(name).decode().splitlines()[0] for name in archive.namelist()]
    assert heads == [
        "Identity ID,Display Name,Email",
        "Entitlement ID,Entitlement Name,Application,Attribute,Popularity,Popularity In Org,"
        "Identity Count,Included Identities,Missing Identities,Risk Score",
    ]
    people = _rows(data, "Identities.csv")
    assert [p[NAME["titled"]] for p in people] == MEMBERS


def test_an_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="archive_layout must be one of rmsync, titled, not 'csv'"):
        Sandbox(archive_layout="csv")  # type: ignore[arg-type]


def test_rmsync_sandbox_serves_the_layout_it_is_given(tmp_path: Path) -> None:
    wrong = rmsync("sandbox", "--archive-layout", "csv", cwd=tmp_path, env=dict(os.environ))
    assert wrong.code == 1  # rmsync's usage errors
    assert "'csv' is not one of 'rmsync', 'titled'" in wrong.err
    with (
        serving("--archive-layout", "titled") as (base_url, lines),
        api_client(base_url, bearer=token(base_url)) as api,
    ):
        assert lines[4] == "Export archives use the titled layout.\n"
        role = api.get("/beta/role-mining-potential-roles").json()[0]
        path = f"/beta/role-mining-sessions/{role['session']['id']}/potential-roles/{role['id']}"
        with zipfile.ZipFile(io.BytesIO(api.get(f"{path}/export").content)) as archive:
            assert archive.namelist() == ["Identities.csv", "Entitlements.csv"]


def test_the_readme_seed_example_is_a_valid_seed(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Seed format") :]
    start = section.index("```yaml\n") + 8
    path = tmp_path / "seed.yaml"
    path.write_text(section[start : section.index("```\n", start)])
    (role,) = load_seed(path).sessions[0].roles
    assert [(e.popularity, e.holders) for e in role.entitlements] == [
        (100.0, ("0c9fc66acaf48b1edd6e54f575c82ac1",))
    ]
