"""The sandbox's behaviour over real HTTP: auth, versions, rate limit, exports, edits, paging."""

from __future__ import annotations

import csv
import io
import socket
import threading
import zipfile
from collections.abc import Callable

import httpx
import pytest

from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Limit, Sandbox, Schedule
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import TLS, FakeClock, api_client, token

ROLE = f"/beta/role-mining-sessions/{FINANCE}/potential-roles/{ACCOUNTING}"
SUMMARY = f"/beta/role-mining-sessions/{FINANCE}/potential-role-summaries/{ACCOUNTING}"


def _role_id(api: httpx.Client, name: str) -> tuple[str, str]:
    for role in api.get("/beta/role-mining-potential-roles").json():
        if role["name"] == name:
            return role["session"]["id"], role["id"]
    raise AssertionError(f"no role named {name}")


def _csv(data: bytes, member: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return list(csv.DictReader(io.StringIO(archive.read(member).decode())))


# -- auth -----


@pytest.mark.parametrize("where", ["form", "query", "basic"])
def test_token_from_form_query_or_basic_auth(sandbox: Sandbox, where: str) -> None:
    creds = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    url = f"{sandbox.base_url}/oauth/token"
    if where == "form":
        response = httpx.post(url, data={"grant_type": "client_credentials", **creds}, verify=TLS)
    elif where == "query":
        response = httpx.post(url, params={"grant_type": "client_credentials", **creds}, verify=TLS)
    else:
        auth = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        response = httpx.post(url, data={"grant_type": "client_credentials"}, auth=auth, verify=TLS)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 749
    with api_client(sandbox.base_url, bearer=body["access_token"]) as api:
        assert api.get("/beta/role-mining-sessions").status_code == 200


def test_token_refused_for_wrong_secret_unknown_client_or_grant(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/oauth/token"
    wrong = httpx.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": "nope",
        },
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    unknown = httpx.post(
        url, data={"grant_type": "client_credentials", "client_id": "who", "client_secret": "x"}
    )
    assert unknown.status_code == 401
    grant = httpx.post(
        url,
        data={
            "grant_type": "password",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
    )
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    assert "nope" not in wrong.text


def test_token_lifetime_is_configurable_and_expiry_is_401(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    sandbox = make_sandbox(token_lifetime=60)
    with api_client(sandbox.base_url) as api:
        clock.advance(59)
        assert api.get("/beta/role-mining-sessions").status_code == 200
        clock.advance(1)
        expired = api.get("/beta/role-mining-sessions")
    assert expired.status_code == 401
    assert expired.json() == {"error": "JWT validation failed: JWT is expired"}


def test_only_tokens_it_issued_are_accepted(make_sandbox: Callable[..., Sandbox]) -> None:
    one, other = make_sandbox(), make_sandbox()
    foreign = token(other.base_url)
    with api_client(one.base_url, bearer=foreign) as api:
        assert api.get("/beta/role-mining-sessions").status_code == 401
    missing = httpx.get(f"{one.base_url}/beta/role-mining-sessions")
    assert missing.status_code == 401
    basic = httpx.get(f"{one.base_url}/beta/role-mining-sessions", auth=("a", "b"))
    assert basic.status_code == 401


def test_second_seeded_client_gets_its_own_token(sandbox: Sandbox) -> None:
    bearer = token(sandbox.base_url, "rmsync-ci", "ci-secret-not-for-production")
    with api_client(sandbox.base_url, bearer=bearer) as api:
        assert api.get("/beta/role-mining-sessions").status_code == 200


# -- versions -----


@pytest.mark.parametrize(
    "path",
    [
        "/beta/role-mining-sessions",
        "/v2024/role-mining-sessions",
        "/v2025/role-mining-sessions",
        "/v2026/role-mining-sessions",
        "/role-mining-sessions/v1",
    ],
)
def test_every_version_serves_the_same_sessions(sandbox: Sandbox, path: str) -> None:
    with api_client(sandbox.base_url, "v2025") as api:
        names = [s["name"] for s in api.get(path).json()]
    assert names == [
        "Finance Q3 2026",
        "Sales and support 2026",
        "Engineering platform",
        "Auto-scoped org 2026",
    ]


@pytest.mark.parametrize("value", [None, "false", "yes"])
def test_versioned_apis_need_the_experimental_header(api: httpx.Client, value: str | None) -> None:
    headers = {} if value is None else {"X-SailPoint-Experimental": value}
    response = api.get("/v2026/role-mining-sessions", headers=headers)
    assert response.status_code == 400
    assert "X-SailPoint-Experimental" in response.json()["messages"][0]["text"]
    v1 = api.get("/role-mining-potential-roles/v1", headers=headers)
    assert v1.status_code == 400
    assert api.get("/beta/role-mining-sessions", headers=headers).status_code == 200


def test_unknown_path_is_404_and_wrong_method_405(api: httpx.Client) -> None:
    assert api.get("/beta/role-mining-nothing").status_code == 404
    assert api.get("/v3/role-mining-sessions").status_code == 404
    wrong = api.delete(f"/beta/role-mining-sessions/{FINANCE}")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, HEAD, OPTIONS, PATCH"  # HEAD wherever GET is


# -- rate limit -----


def test_rate_limit_per_client_and_version(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    sandbox = make_sandbox(rate_limit=Limit(100, 10.0))
    with (
        api_client(sandbox.base_url) as api,
        api_client(sandbox.base_url, "v2025", bearer=api.headers["Authorization"][7:]) as v2025,
    ):
        statuses = [api.get("/beta/role-mining-sessions").status_code for _ in range(100)]
        assert statuses == [200] * 100
        refused = api.get("/beta/role-mining-sessions")
        assert refused.status_code == 429
        assert refused.json() == {"message": " Rate Limit Exceeded "}
        assert refused.headers["Retry-After"] == "10"
        assert v2025.get("/v2025/role-mining-sessions").status_code == 200
        with api_client(
            sandbox.base_url,
            bearer=token(sandbox.base_url, "rmsync-ci", "ci-secret-not-for-production"),
        ) as other:
            assert other.get("/beta/role-mining-sessions").status_code == 200
        clock.advance(4)
        assert api.get("/beta/role-mining-sessions").headers["Retry-After"] == "6"
        clock.advance(6)
        assert api.get("/beta/role-mining-sessions").status_code == 200


def test_rate_limit_can_be_turned_off(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(rate_limit=None)
    with api_client(sandbox.base_url) as api:
        assert {api.get("/beta/role-mining-sessions").status_code for _ in range(150)} == {200}


# -- exports -----


def test_export_moves_queued_in_progress_success_and_downloads_a_zip(
    api: httpx.Client, clock: FakeClock
) -> None:
    started = api.post(
        f"{ROLE}/export-async", json={"minEntitlementPopularity": 0, "includeCommonAccess": True}
    )
    assert started.status_code == 202
    export_id = started.json()["exportId"]
    assert started.json()["status"] == "QUEUED"
    clock.advance(0.5)
    assert api.get(f"{ROLE}/export-async/{export_id}").json()["status"] == "IN_PROGRESS"
    early = api.get(f"{ROLE}/export-async/{export_id}/download")
    assert early.status_code == 400
    assert early.headers["content-type"] == "application/json"
    assert "IN_PROGRESS" in early.json()["messages"][0]["text"]
    clock.advance(1.0)
    assert api.get(f"{ROLE}/export-async/{export_id}").json()["status"] == "SUCCESS"
    done = api.get(f"{ROLE}/export-async/{export_id}/download")
    assert done.status_code == 200
    assert done.headers["content-type"] == "application/zip"
    identities = _csv(done.content, "identities.csv")
    role = api.get(SUMMARY).json()
    assert len(identities) == role["identityCount"] == 6
    assert {row["id"] for row in identities} == set(role["identityIds"])
    assert len(_csv(done.content, "entitlements.csv")) == role["entitlementCount"]


def test_schedule_is_configurable(make_sandbox: Callable[..., Sandbox], clock: FakeClock) -> None:
    sandbox = make_sandbox(schedule=Schedule(queued=5, running=20))
    with api_client(sandbox.base_url) as api:
        export_id = api.post(f"{ROLE}/export-async", json={}).json()["exportId"]
        clock.advance(24.9)
        assert api.get(f"{ROLE}/export-async/{export_id}").json()["status"] == "IN_PROGRESS"
        clock.advance(0.1)
        assert api.get(f"{ROLE}/export-async/{export_id}").json()["status"] == "SUCCESS"


def test_exports_honour_popularity_and_common_access(api: httpx.Client, clock: FakeClock) -> None:
    def entitlements(body: dict[str, object]) -> list[dict[str, str]]:
        export_id = api.post(f"{ROLE}/export-async", json=body).json()["exportId"]
        clock.advance(2)
        return _csv(
            api.get(f"{ROLE}/export-async/{export_id}/download").content, "entitlements.csv"
        )

    everything = entitlements({})
    popular = entitlements({"minEntitlementPopularity": 90})
    no_common = entitlements({"includeCommonAccess": False})
    assert popular and all(float(row["popularity"]) >= 90 for row in popular)
    assert {r["id"] for r in everything} - {r["id"] for r in popular} == {
        r["id"] for r in everything if float(r["popularity"]) < 90
    }
    assert any(r["common_access"] == "true" for r in everything)
    assert no_common and all(r["common_access"] == "false" for r in no_common)
    assert len(no_common) == sum(r["common_access"] == "false" for r in everything)


def test_same_state_and_parameters_give_a_byte_identical_zip(
    api: httpx.Client, clock: FakeClock
) -> None:
    def download(body: dict[str, object]) -> bytes:
        export_id = api.post(f"{ROLE}/export-async", json=body).json()["exportId"]
        clock.advance(2)
        return api.get(f"{ROLE}/export-async/{export_id}/download").content

    first = download({"minEntitlementPopularity": 10})
    assert download({"minEntitlementPopularity": 10}) == first
    assert download({"minEntitlementPopularity": 90}) != first
    assert api.get(f"{ROLE}/export").content == download({})


def test_seeded_error_role_ends_in_error_and_has_no_zip(
    api: httpx.Client, clock: FakeClock
) -> None:
    session_id, role_id = _role_id(api, "Legacy mainframe operators")
    base = f"/beta/role-mining-sessions/{session_id}/potential-roles/{role_id}"
    export_id = api.post(f"{base}/export-async", json={}).json()["exportId"]
    clock.advance(2)
    assert api.get(f"{base}/export-async/{export_id}").json()["status"] == "ERROR"
    download = api.get(f"{base}/export-async/{export_id}/download")
    assert download.status_code == 400
    assert "ERROR" in download.json()["messages"][0]["text"]


def test_export_ids_belong_to_their_role(api: httpx.Client) -> None:
    export_id = api.post(f"{ROLE}/export-async", json={}).json()["exportId"]
    session_id, other = _role_id(api, "Accounts payable clerks")
    elsewhere = api.get(
        f"/beta/role-mining-sessions/{session_id}/potential-roles/{other}/export-async/{export_id}"
    )
    assert elsewhere.status_code == 404
    unknown = api.get(f"{ROLE}/export-async/6d1f4e2a-7d0e-4c1e-9a57-0b8f3f1d2c3b")
    assert unknown.status_code == 404
    assert unknown.json()["detailCode"] == "404 Not found"


@pytest.mark.parametrize(
    "body",
    [
        {"minEntitlementPopularity": 101},
        {"minEntitlementPopularity": -1},
        {"minEntitlementPopularity": "10"},
        {"minEntitlementPopularity": True},
        {"minEntitlementPopularity": 10.5},
        {"includeCommonAccess": "no"},
        [1, 2],
    ],
)
def test_bad_export_requests_are_400(api: httpx.Client, body: object) -> None:
    response = api.post(f"{ROLE}/export-async", json=body)
    assert response.status_code == 400
    assert response.json()["detailCode"] == "400.1 Bad Request Content"


def test_malformed_json_and_ids_are_400_with_fresh_tracking_ids(api: httpx.Client) -> None:
    first = api.post(
        f"{ROLE}/export-async", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    second = api.get("/beta/role-mining-sessions/not-a-uuid")
    assert (first.status_code, second.status_code) == (400, 400)
    assert first.json()["trackingId"] != second.json()["trackingId"]


# -- role edits -----


def test_edit_entitlements_changes_counts_dates_and_exports(
    api: httpx.Client, clock: FakeClock
) -> None:
    before = api.get(SUMMARY).json()
    ent_id = api.get(f"{ROLE}/entitlement-popularities").json()[0]["entitlementRef"]["id"]
    clock.advance(600)
    edited = api.post(f"{ROLE}/edit-entitlements", json={"ids": [ent_id], "exclude": True})
    assert edited.status_code == 201
    after = api.get(f"/beta/role-mining-potential-roles/{ACCOUNTING}").json()
    assert after["entitlementCount"] == before["entitlementCount"] - 1
    assert after["excludedEntitlements"] == [ent_id]
    assert after["modifiedDate"] > before["modifiedDate"]
    excluded = api.get(f"{ROLE}/excluded-entitlements").json()
    assert [e["entitlementRef"]["id"] for e in excluded] == [ent_id]
    export_id = api.post(f"{ROLE}/export-async", json={}).json()["exportId"]
    clock.advance(2)
    rows = _csv(api.get(f"{ROLE}/export-async/{export_id}/download").content, "entitlements.csv")
    assert ent_id not in {r["id"] for r in rows}
    api.post(f"{ROLE}/edit-entitlements", json={"ids": [ent_id], "exclude": False})
    assert api.get(SUMMARY).json()["entitlementCount"] == before["entitlementCount"]


def test_patch_role_changes_what_later_gets_return(api: httpx.Client) -> None:
    ops = [
        {"op": "replace", "path": "/description", "value": "Renamed"},
        {"op": "replace", "path": "/saved", "value": "false"},
    ]
    response = api.patch(SUMMARY, json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert response.status_code == 200
    role = api.get(f"/beta/role-mining-potential-roles/{ACCOUNTING}").json()
    assert (role["description"], role["saved"]) == ("Renamed", False)
    bad = api.patch(SUMMARY, json=[{"op": "replace", "path": "/density", "value": 1}])
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/beta/role-mining-sessions", {"type": "WEIRD"}),
        ("POST", "/beta/role-mining-sessions", {"pruneThreshold": "high"}),
        ("PATCH", f"/beta/role-mining-sessions/{FINANCE}", [{"op": "move", "path": "/name"}]),
        ("PATCH", SUMMARY, [{"op": "add", "path": "/name", "value": "x"}]),
        ("PATCH", SUMMARY, [{"op": "replace", "path": "/saved", "value": "maybe"}]),
        ("POST", f"{ROLE}/edit-entitlements", {"ids": "one", "exclude": True}),
        ("POST", f"{ROLE}/edit-entitlements", {"ids": [], "exclude": "yes"}),
    ],
)
def test_unknown_enums_and_wrong_types_are_400(
    api: httpx.Client, method: str, path: str, body: object
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["messages"][0]["text"]


def test_created_session_is_listed(api: httpx.Client) -> None:
    body = {"name": "Mine", "type": "COMMON", "scope": {"criteria": "x"}, "pruneThreshold": 50}
    created = api.post("/beta/role-mining-sessions", json=body)
    assert created.status_code == 201
    got = api.get(f"/beta/role-mining-sessions/{created.json()['id']}").json()
    assert (got["name"], got["type"], got["pruneThreshold"]) == ("Mine", "COMMON", 50)


# -- collections -----


def test_pagination_offset_limit_and_total_count(api: httpx.Client) -> None:
    everything = api.get("/beta/role-mining-potential-roles").json()
    assert len(everything) == 14
    page = api.get(
        "/beta/role-mining-potential-roles", params={"offset": 5, "limit": 4, "count": "true"}
    )
    assert [r["id"] for r in page.json()] == [r["id"] for r in everything[5:9]]
    assert page.headers["X-Total-Count"] == "14"
    assert "X-Total-Count" not in api.get("/beta/role-mining-potential-roles").headers
    assert api.get("/beta/role-mining-potential-roles", params={"limit": 0}).json() == []


@pytest.mark.parametrize(
    "params", [{"limit": 251}, {"limit": -1}, {"offset": -1}, {"limit": "ten"}, {"count": "yes"}]
)
def test_bad_paging_is_400(api: httpx.Client, params: dict[str, str | int]) -> None:
    assert api.get("/beta/role-mining-potential-roles", params=params).status_code == 400


def test_filters_and_sorters(api: httpx.Client) -> None:
    found = api.get(
        "/beta/role-mining-potential-roles", params={"filters": 'name sw "acc"', "sorters": "name"}
    )
    assert found.status_code == 400  # name is filterable, not sortable, on this route
    found = api.get(
        "/beta/role-mining-potential-roles",
        params={"filters": 'name sw "acc"', "sorters": "-quality"},
    )
    assert [r["name"] for r in found.json()] == [
        "Accounting core",
        "Accounts payable clerks",
        "Account executives",
    ]
    assert (
        api.get("/beta/role-mining-potential-roles", params={"filters": "density gt 3"}).status_code
        == 400
    )
    assert (
        api.get("/beta/role-mining-potential-roles", params={"filters": "quality zz 3"}).status_code
        == 400
    )


# -- the server itself -----


def test_concurrent_clients_are_served_consistently(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    sandbox = make_sandbox(rate_limit=None)
    bearer = token(sandbox.base_url)
    export_ids: list[str] = []
    failures: list[int] = []

    def work() -> None:
        with api_client(sandbox.base_url, bearer=bearer) as api:
            for _ in range(20):
                response = api.post(f"{ROLE}/export-async", json={})
                if response.status_code != 202:
                    failures.append(response.status_code)
                export_ids.append(response.json()["exportId"])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(set(export_ids)) == 160


def test_listens_only_on_its_host_and_stops_cleanly(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox()
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    with socket.create_connection((host, int(port)), timeout=2):
        pass
    sandbox.stop()
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2)
