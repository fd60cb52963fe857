"""Role mining in the sandbox over real HTTP: a PATCH of a session's thresholds re-runs it
(new role ids, the same names, counts moved by the documented rule), a created session moves
through its states on the clock and ends with roles, and the default seed's AUTO_RM session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rmsync.sandbox import Sandbox, Schedule, load_seed
from rmsync.sandbox.state import iso
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import FakeClock, api_client
from tests.spec import spec

AUTO_RM = "6fb24e80-eb2d-5fbe-b10d-4b0d4d293ca1"
HR_PARTNERS = "23759c7b-ed2c-56a1-ba35-a31680a4e3db"
SESSIONS = "/beta/role-mining-sessions"
PATCH = {"Content-Type": "application/json-patch+json"}
FINANCE_ROLES = {
    "Accounting core": 6,
    "Accounts payable clerks": 5,
    "Payroll specialists": 3,
    "Treasury analysts": 3,
    "Legacy mainframe operators": 3,
}  # name: identities


def _roles(api: httpx.Client, session_id: str) -> dict[str, dict[str, Any]]:
    """A session's roles by name."""
    got = api.get(f"{SESSIONS}/{session_id}/potential-role-summaries")
    assert got.status_code == 200, got.text
    return {r["name"]: r for r in got.json()}


def _popularities(api: httpx.Client, session_id: str, role_id: str) -> list[float]:
    path = f"{SESSIONS}/{session_id}/potential-roles/{role_id}/entitlement-popularities"
    return [e["popularity"] for e in api.get(path).json()]


def _patch(api: httpx.Client, session_id: str, **values: object) -> httpx.Response:
    ops = [{"op": "replace", "path": f"/{k}", "value": v} for k, v in values.items()]
    return api.patch(f"{SESSIONS}/{session_id}", json=ops, headers=PATCH)


def _state(api: httpx.Client, session_id: str) -> str:
    state: str = api.get(f"{SESSIONS}/{session_id}/status").json()["state"]
    return state


def _check(op_id: str, response: httpx.Response) -> None:
    """The response validates against the beta spec."""
    op = spec("beta").operation(op_id)
    content_type = response.headers["content-type"]
    spec("beta").check_response(op, response.status_code, content_type, response.json())


# -- PATCH of thresholds: a re-run -----


def test_higher_prune_threshold_gives_new_ids_same_names_fewer_entitlements(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    sandbox = make_sandbox(id_seed=7)
    with api_client(sandbox.base_url) as api:
        before = _roles(api, FINANCE)
        popular = {
            name: _popularities(api, FINANCE, r["id"]) for name, r in before.items()
        }  # the included entitlements' popularities
        start = clock()
        patched = _patch(api, FINANCE, pruneThreshold=90)
        assert patched.status_code == 202, patched.text
        _check("patchRoleMiningSession", patched)
        body = patched.json()
        assert (body["status"]["state"], body["name"], body["pruneThreshold"]) == (
            "UPDATED",
            "Finance Q3 2026",
            90,
        )
        assert body["potentialRoleCount"] == 0
        # The old roles are gone at once, by every route.
        assert (
            api.get(f"{SESSIONS}/{FINANCE}/potential-role-summaries/{ACCOUNTING}").status_code
            == 404
        )
        assert api.get(f"/beta/role-mining-potential-roles/{ACCOUNTING}").status_code == 404
        assert _roles(api, FINANCE) == {}
        clock.advance(2.0)
        assert _state(api, FINANCE) == "POTENTIAL_ROLES_CREATED"
        after = _roles(api, FINANCE)
        session = api.get(f"{SESSIONS}/{FINANCE}").json()
    assert set(after) == set(before) == set(FINANCE_ROLES)
    assert not {r["id"] for r in after.values()} & {r["id"] for r in before.values()}
    for name, role in after.items():
        assert role["identityCount"] == before[name]["identityCount"]
        assert role["entitlementCount"] == sum(p >= 90 for p in popular[name]) > 0
    assert after["Accounting core"]["entitlementCount"] == 6  # of 9: 83.3, 83.3, 16.7 pruned
    assert session["name"] == "Finance Q3 2026"
    assert session["potentialRoleCount"] == session["potentialRolesReadyCount"] == 5
    assert session["modifiedDate"] == iso(start + 2.0)  # when the re-run was done


def test_higher_min_identities_drops_the_smaller_roles(sandbox: Sandbox, api: httpx.Client) -> None:
    mapping = sandbox.rerun_session(FINANCE, min_identities=5)
    after = _roles(api, FINANCE)
    assert sorted(after) == ["Accounting core", "Accounts payable clerks"]
    assert len(mapping) == 2 and set(mapping.values()) == {r["id"] for r in after.values()}
    assert mapping[ACCOUNTING] == after["Accounting core"]["id"]
    # Back to the seed's thresholds: every role again, each with its seed counts, new ids.
    again = sandbox.rerun_session(FINANCE, min_identities=3)
    roles = _roles(api, FINANCE)
    assert {n: r["identityCount"] for n, r in roles.items()} == FINANCE_ROLES
    assert roles["Accounting core"]["entitlementCount"] == 9
    assert set(again) == set(mapping.values())  # only the roles that were there map
    assert not set(again.values()) & set(mapping.values())


def test_lower_thresholds_never_invent_roles_or_access(sandbox: Sandbox, api: httpx.Client) -> None:
    before = _roles(api, FINANCE)
    sandbox.rerun_session(FINANCE, prune_threshold=0, min_identities=1)
    after = _roles(api, FINANCE)
    counts = {n: (r["identityCount"], r["entitlementCount"]) for n, r in after.items()}
    assert counts == {n: (r["identityCount"], r["entitlementCount"]) for n, r in before.items()}


def test_rerun_ids_depend_on_the_id_seed_and_the_run_only(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    one, two, other = make_sandbox(id_seed=3), make_sandbox(id_seed=3), make_sandbox(id_seed=4)
    first = one.rerun_session(FINANCE, prune_threshold=80)
    assert first == two.rerun_session(FINANCE, prune_threshold=80)
    assert set(first.values()).isdisjoint(other.rerun_session(FINANCE, prune_threshold=80).values())
    # The ids come from the run, not the thresholds: run 2 of the twin gets run 2's ids.
    second = one.rerun_session(FINANCE, prune_threshold=95)
    assert set(second) == set(first.values())
    assert second == two.rerun_session(FINANCE, prune_threshold=95)
    assert set(second.values()).isdisjoint(first.values())
    # Same thresholds as before still re-run: new ids.
    third = one.rerun_session(FINANCE)
    assert set(third.values()).isdisjoint(second.values())
    with api_client(one.base_url) as api:
        assert {r["id"] for r in _roles(api, FINANCE).values()} == set(third.values())


def test_http_patch_and_python_rerun_give_the_same_roles(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    by_http, by_python = make_sandbox(id_seed=1), make_sandbox(id_seed=1)
    with api_client(by_http.base_url) as api:
        assert (
            _patch(api, FINANCE, minNumIdentitiesInPotentialRole=4, pruneThreshold=85).status_code
            == 202
        )
        clock.advance(2.0)
        over_http = _roles(api, FINANCE)
    mapping = by_python.rerun_session(FINANCE, prune_threshold=85, min_identities=4)
    with api_client(by_python.base_url) as api:
        in_python = _roles(api, FINANCE)
        session = api.get(f"{SESSIONS}/{FINANCE}").json()
    assert {n: r["id"] for n, r in over_http.items()} == {n: r["id"] for n, r in in_python.items()}
    assert {n: r["entitlementCount"] for n, r in over_http.items()} == {
        n: r["entitlementCount"] for n, r in in_python.items()
    }
    assert set(mapping.values()) == {r["id"] for r in in_python.values()}
    assert (session["pruneThreshold"], session["minNumIdentitiesInPotentialRole"]) == (85, 4)


def test_rerun_keeps_names_descriptions_and_saved_but_not_edits(
    sandbox: Sandbox, api: httpx.Client
) -> None:
    summary = f"{SESSIONS}/{FINANCE}/potential-role-summaries/{ACCOUNTING}"
    ops = [
        {"op": "replace", "path": "/name", "value": "Accounting (renamed)"},
        {"op": "replace", "path": "/saved", "value": False},
    ]
    assert api.patch(summary, json=ops, headers=PATCH).status_code == 200
    sandbox.exclude_entitlements(ACCOUNTING, ["01661227481ab620e00dfe0060291a77"])
    new_id = sandbox.rerun_session(FINANCE)[ACCOUNTING]
    role = api.get(f"/beta/role-mining-potential-roles/{new_id}").json()
    assert (role["name"], role["saved"], role["description"]) == (
        "Accounting (renamed)",
        False,
        "General ledger and period close for accountants",
    )
    assert (role["excludedEntitlements"], role["entitlementCount"]) == ([], 9)
    # A role the seed excludes from keeps that exclusion while it has the entitlement.
    ap = _roles(api, FINANCE)["Accounts payable clerks"]
    full = api.get(f"/beta/role-mining-potential-roles/{ap['id']}").json()
    assert full["excludedEntitlements"] == ["2341fbf4251d3b1bf0609961ecb798fa"]


def test_exports_of_old_roles_are_gone(
    sandbox: Sandbox, api: httpx.Client, clock: FakeClock
) -> None:
    role = f"{SESSIONS}/{FINANCE}/potential-roles/{ACCOUNTING}"
    export_id = api.post(f"{role}/export-async", json={}).json()["exportId"]
    clock.advance(2)
    assert api.get(f"{role}/export-async/{export_id}").json()["status"] == "SUCCESS"
    new_id = sandbox.rerun_session(FINANCE)[ACCOUNTING]
    assert api.get(f"{role}/export-async/{export_id}").status_code == 404
    assert api.get(f"{role}/export-async/{export_id}/download").status_code == 404
    moved = f"{SESSIONS}/{FINANCE}/potential-roles/{new_id}/export-async/{export_id}"
    assert api.get(moved).status_code == 404  # an export belongs to the role it was made of
    assert [e.id for e in sandbox.created_exports()] == [export_id]  # the record keeps it
    assert (
        api.post(f"{SESSIONS}/{FINANCE}/potential-roles/{new_id}/export-async", json={}).status_code
        == 202
    )


def test_rerun_on_the_clock_like_a_patch(
    sandbox: Sandbox, api: httpx.Client, clock: FakeClock
) -> None:
    mapping = sandbox.rerun_session(FINANCE, prune_threshold=75, at_once=False)
    assert _state(api, FINANCE) == "UPDATED"
    assert api.get(f"/beta/role-mining-potential-roles/{mapping[ACCOUNTING]}").status_code == 404
    clock.advance(2.0)
    assert api.get(f"/beta/role-mining-potential-roles/{mapping[ACCOUNTING]}").status_code == 200


def test_a_patch_of_name_or_saved_alone_is_no_rerun(api: httpx.Client) -> None:
    before = _roles(api, FINANCE)
    response = _patch(api, FINANCE, name="Renamed", saved="false")
    assert response.status_code == 202
    assert response.json()["status"]["state"] == "POTENTIAL_ROLES_CREATED"
    after = _roles(api, FINANCE)
    assert {n: r["id"] for n, r in after.items()} == {n: r["id"] for n, r in before.items()}
    got = api.get(f"{SESSIONS}/{FINANCE}").json()
    assert (got["name"], got["saved"]) == ("Renamed", False)


@pytest.mark.parametrize(
    "values",
    [{"pruneThreshold": 101}, {"pruneThreshold": -1}, {"minNumIdentitiesInPotentialRole": 0}],
)
def test_thresholds_out_of_range_are_400_and_change_nothing(
    api: httpx.Client, values: dict[str, int]
) -> None:
    before = _roles(api, FINANCE)
    response = _patch(api, FINANCE, **values)
    assert response.status_code == 400, response.text
    assert _roles(api, FINANCE) == before


def test_rerun_session_refuses_bad_thresholds(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="pruneThreshold must be from 0 to 100"):
        sandbox.rerun_session(FINANCE, prune_threshold=200)
    with pytest.raises(ValueError, match="minNumIdentitiesInPotentialRole must be 1 or more"):
        sandbox.rerun_session(FINANCE, min_identities=0)


# -- POST: a session that mines on the clock -----


def test_created_session_moves_through_its_states_and_ends_with_roles(
    api: httpx.Client, clock: FakeClock
) -> None:
    body = {
        "name": "Finance again",
        "scope": {"criteria": 'attributes.department:"Finance"'},
        "pruneThreshold": 60,
        "minNumIdentitiesInPotentialRole": 3,
    }
    created = api.post(SESSIONS, json=body)
    assert created.status_code == 201, created.text
    _check("createRoleMiningSessions", created)
    session_id = created.json()["id"]
    assert (created.json()["status"]["state"], created.json()["potentialRoleCount"]) == (
        "CREATED",
        0,
    )
    seen = []
    for _ in range(4):
        got = api.get(f"{SESSIONS}/{session_id}")
        _check("getRoleMiningSession", got)
        seen.append(
            (
                got.json()["status"]["state"],
                got.json()["potentialRoleCount"],
                got.json()["potentialRolesReadyCount"],
            )
        )
        assert _roles(api, session_id) == {}
        clock.advance(0.5)
    assert seen == [
        ("CREATED", 0, 0),
        ("IDENTITIES_OBTAINED", 0, 0),
        ("PRUNE_THRESHOLD_OBTAINED", 0, 0),
        ("POTENTIAL_ROLES_PROCESSING", 6, 0),
    ]
    done = api.get(f"{SESSIONS}/{session_id}")
    _check("getRoleMiningSession", done)
    assert done.json()["status"]["state"] == _state(api, session_id) == "POTENTIAL_ROLES_CREATED"
    assert done.json()["potentialRoleCount"] == done.json()["potentialRolesReadyCount"] == 6
    roles = _roles(api, session_id)
    # The seed roles whose identities are all in Finance, the AUTO_RM session's one too.
    assert set(roles) == set(FINANCE_ROLES) | {"Finance display users"}
    assert roles["Accounting core"]["id"] != ACCOUNTING
    assert roles["Accounting core"]["entitlementCount"] == 9  # 60 is below the seed's 70
    # The roles are whole roles: readable, exportable.
    role = f"{SESSIONS}/{session_id}/potential-roles/{roles['Accounting core']['id']}"
    assert api.get(f"{role}/identities").status_code == 200
    assert api.post(f"{role}/export-async", json={}).status_code == 202


@pytest.mark.parametrize(
    ("scope", "names", "method"),
    [
        (
            {"criteria": 'attributes.department:("Sales" OR "Support")'},
            {"Account executives", "Sales managers", "Customer support agents"},
            "MANUAL",
        ),
        (
            {"criteria": 'attributes.department:IT AND attributes.location:"chicago"'},
            {"IT service desk"},
            "MANUAL",
        ),
        (
            {
                "identityIds": [
                    "10f65425bcd15235fed3fa06bcf4c33c",
                    "2aab3ca5da23e3d5075a7323139b65d4",
                ]
            },
            {"HR business partners"},
            "MANUAL",
        ),
        ({"criteria": "source.name:DataScienceDataset"}, set(), "MANUAL"),
        ({}, None, "AUTO_RM"),
    ],
)
def test_created_session_mines_the_seed_roles_in_its_scope(
    make_sandbox: Callable[..., Sandbox],
    scope: dict[str, Any],
    names: set[str] | None,
    method: str,
) -> None:
    sandbox = make_sandbox(schedule=Schedule(mining=0))
    with api_client(sandbox.base_url) as api:
        created = api.post(SESSIONS, json={"scope": scope})
        assert created.status_code == 201, created.text
        _check("createRoleMiningSessions", created)
        body = created.json()
        assert body["status"]["state"] == "POTENTIAL_ROLES_CREATED"  # no mining time
        assert body["scopingMethod"] == method
        assert body["scope"]["identityIds"] == scope.get("identityIds", [])
        mined = set(_roles(api, body["id"]))
    seeded = {r.name for s in load_seed().sessions for r in s.roles}
    assert mined == (names if names is not None else seeded)


def test_session_counts_follow_its_thresholds(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(schedule=Schedule(mining=0))
    with api_client(sandbox.base_url) as api:
        body = {"scope": {}, "minNumIdentitiesInPotentialRole": 6, "pruneThreshold": 100}
        created = api.post(SESSIONS, json=body).json()
        roles = _roles(api, created["id"])
    assert {n: r["identityCount"] for n, r in roles.items()} == {
        "Accounting core": 6,
        "Account executives": 6,
        "Backend developers": 6,
        "Finance display users": 6,
    }
    # Only what every identity of the role holds is left at a prune threshold of 100.
    assert {n: r["entitlementCount"] for n, r in roles.items()} == {
        "Accounting core": 6,
        "Account executives": 4,
        "Backend developers": 5,
        "Finance display users": 4,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"pruneThreshold": 101},
        {"minNumIdentitiesInPotentialRole": 0},
        {"scope": {"identityIds": "one"}},
    ],
)
def test_created_session_bad_values_are_400(api: httpx.Client, body: dict[str, Any]) -> None:
    response = api.post(SESSIONS, json=body)
    assert response.status_code == 400, response.text


def test_created_session_can_be_rerun(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    sandbox = make_sandbox(id_seed=2)
    with api_client(sandbox.base_url) as api:
        body = {"scope": {"criteria": "attributes.department:Engineering"}}
        session_id = api.post(SESSIONS, json=body).json()["id"]
        clock.advance(2.0)
        before = _roles(api, session_id)
        assert set(before) == {"Backend developers", "SRE on-call", "Data engineers"}
        mapping = sandbox.rerun_session(session_id, min_identities=4)
        assert list(mapping) == [before["Backend developers"]["id"]]
        assert set(_roles(api, session_id)) == {"Backend developers"}


# -- the AUTO_RM session of the default seed -----


def test_default_seed_has_an_auto_rm_session_with_two_roles(api: httpx.Client) -> None:
    sessions = {s["id"]: s for s in api.get(SESSIONS).json()}
    auto = sessions[AUTO_RM]
    assert (auto["name"], auto["scopingMethod"], auto["scope"]["criteria"]) == (
        "Auto-scoped org 2026",
        "AUTO_RM",
        None,
    )
    assert auto["potentialRoleCount"] == 2 and auto["identityCount"] == 8
    assert {s["scopingMethod"] for i, s in sessions.items() if i != AUTO_RM} == {"MANUAL"}
    listed = api.get(
        "/beta/role-mining-potential-roles", params={"filters": 'scopingMethod eq "AUTO_RM"'}
    )
    assert listed.status_code == 200, listed.text
    assert sorted(r["name"] for r in listed.json()) == [
        "Finance display users",
        "HR business partners",
    ]
    assert {r["session"]["scopingMethod"] for r in listed.json()} == {"AUTO_RM"}
    roles = _roles(api, AUTO_RM)
    assert {n: (r["identityCount"], r["entitlementCount"]) for n, r in roles.items()} == {
        "HR business partners": (2, 5),
        "Finance display users": (6, 5),
    }


def test_auto_rm_session_rerun_moves_its_counts(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.rerun_session(AUTO_RM, prune_threshold=90)
    roles = _roles(api, AUTO_RM)
    assert {n: r["entitlementCount"] for n, r in roles.items()} == {
        "HR business partners": 4,  # VPN, held by 1 of 2, is pruned
        "Finance display users": 4,  # the Finance share, held by 5 of 6, is pruned
    }
    mapping = sandbox.rerun_session(AUTO_RM, min_identities=3)
    assert HR_PARTNERS not in mapping and set(_roles(api, AUTO_RM)) == {"Finance display users"}
