"""Every operation of every API version, success and error paths, checked against the spec."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from rmsync.sandbox import Limit, Sandbox
from rmsync.sandbox.http import VERSIONS
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import FakeClock, api_client
from tests.spec import Operation, spec

EXPORT_BODY = {"minEntitlementPopularity": 20, "includeCommonAccess": False}
# Request bodies and query strings for operations whose spec gives no example (or a partial one).
BODIES: dict[str, Any] = {
    "createRoleMiningSessions": {
        "scope": {"criteria": "attributes.department:Finance"},
        "pruneThreshold": 60,
        "name": "New",
    },
    "updateEntitlementsPotentialRole": {"ids": ["not-in-role"], "exclude": True},
    "exportRoleMiningPotentialRoleAsync": EXPORT_BODY,
    "createPotentialRoleProvisionRequest": {
        "roleName": "Accounting",
        "ownerId": "2b568c65bc3c4c57a43bd97e3a8e41",
    },
}
QUERIES: dict[str, dict[str, str]] = {
    "getRoleMiningSessions": {
        "count": "true",
        "limit": "2",
        "offset": "1",
        "filters": "saved eq true",
        "sorters": "-createdDate",
    },
    "getPotentialRoleSummaries": {
        "count": "true",
        "filters": 'name sw "Acc" and quality ge 10',
        "sorters": "createdDate",
    },
    "getAllPotentialRoleSummaries": {
        "count": "true",
        "sorters": "-quality,identityCount",
        "filters": "freshness gt 0",
    },
    "getEntitlementsPotentialRole": {
        "includeCommonAccess": "false",
        "sorters": "entitlementName",
        "filters": 'applicationName sw "SAP"',
    },
    "getEntitlementDistributionPotentialRole": {"includeCommonAccess": "true"},
    "getIdentitiesPotentialRole": {"sorters": "name", "filters": 'name sw "A"', "count": "true"},
    "getExcludedEntitlementsPotentialRole": {"sorters": "popularity"},
    "getPotentialRoleApplications": {"filters": 'applicationName sw "S"'},
    "getPotentialRoleEntitlements": {"filters": 'entitlementRef.name sw "FI"'},
    "getSavedPotentialRoles": {"sorters": "modified", "limit": "5"},
    "getPotentialRoleSourceIdentityUsage": {"sorters": "-usageCount"},
    "createPotentialRoleProvisionRequest": {
        "min-entitlement-popularity": "10",
        "include-common-access": "false",
    },
}
EXPECTED_STATUS = {"POST": 201, "PATCH": 200}
STATUS = {
    "exportRoleMiningPotentialRoleAsync": 202,
    "patchRoleMiningSession": 202,
    "createPotentialRoleProvisionRequest": 202,
}


def all_operations() -> list[Operation]:
    return [op for version in VERSIONS for op in spec(version).operations()]


class World:
    """Ids that exist in the default seed, plus an export and a source made on the way."""

    def __init__(self, client: httpx.Client, version: str, clock: FakeClock) -> None:
        self.params = {"sessionId": FINANCE, "potentialRoleId": ACCOUNTING}
        start = spec(version).operation("exportRoleMiningPotentialRoleAsync")
        export = client.post(start.url(**self.params), json={})
        assert export.status_code == 202, export.text
        self.params["exportId"] = export.json()["exportId"]
        clock.advance(60)
        listing = spec(version).operation("getEntitlementsPotentialRole")
        self.params["sourceId"] = client.get(listing.url(**self.params)).json()[0]["sourceId"]


@pytest.fixture
def conformant(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> Iterator[Callable[[str], tuple[httpx.Client, World]]]:
    sandbox = make_sandbox(rate_limit=None)
    clients: list[httpx.Client] = []

    def connect(version: str) -> tuple[httpx.Client, World]:
        client = api_client(sandbox.base_url, version)
        clients.append(client)
        return client, World(client, version, clock)

    yield connect
    for client in clients:
        client.close()


def _send(client: httpx.Client, op: Operation, url: str, body: Any) -> httpx.Response:
    media = next(iter(op.raw.get("requestBody", {}).get("content", {"application/json": None})))
    content = None if body is None else httpx.Request("POST", "/", json=body).content
    headers = {"Content-Type": media} if content is not None else {}
    return client.request(
        op.method, url, params=QUERIES.get(op.id), content=content, headers=headers
    )


@pytest.mark.parametrize("op", all_operations(), ids=lambda op: f"{op.version}-{op.id}")
def test_every_operation_answers_as_the_spec_says(
    op: Operation, conformant: Callable[[str], tuple[httpx.Client, World]]
) -> None:
    client, world = conformant(op.version)
    body = (
        BODIES.get(op.id, spec(op.version).request_example(op)) if "requestBody" in op.raw else None
    )
    if body is not None:
        media = next(iter(op.raw["requestBody"]["content"]))
        spec(op.version).check_request(op, body, media)
    response = _send(client, op, op.url(**world.params), body)
    expected = STATUS.get(op.id, EXPECTED_STATUS.get(op.method, 200))
    assert response.status_code == expected, response.text
    spec(op.version).check_response(
        op, response.status_code, response.headers["content-type"], _body(response)
    )


def _body(response: httpx.Response) -> Any:
    return (
        response.json()
        if response.headers["content-type"].startswith("application/json")
        else response.content
    )


# -- error paths: every operation, every version -----

UNKNOWN = "00000000-0000-4000-8000-000000000000"
ERROR_CASES = {
    "no-token": 401,
    "bad-token": 401,
    "expired-token": 401,
    "no-experimental-header": 400,
    "unknown-ids": 404,
    "malformed-ids": 400,
    "rate-limited": 429,
}


def _applies(op: Operation, case: str) -> bool:
    if case == "no-experimental-header":
        return op.version != "beta"
    if case in ("unknown-ids", "malformed-ids"):
        return "{" in op.path
    return True


def _ids(case: str) -> dict[str, str]:
    if case == "unknown-ids":
        return dict.fromkeys(("sessionId", "potentialRoleId", "exportId", "sourceId"), UNKNOWN)
    if case == "malformed-ids":
        return dict.fromkeys(("sessionId", "potentialRoleId", "exportId", "sourceId"), "not-a-uuid")
    return {
        "sessionId": FINANCE,
        "potentialRoleId": ACCOUNTING,
        "exportId": UNKNOWN,
        "sourceId": "x",
    }


def _break(client: httpx.Client, case: str, clock: FakeClock, url: str) -> None:
    """Make the next request from `client` fail the way `case` names."""
    if case == "no-token":
        del client.headers["Authorization"]
    elif case == "bad-token":
        client.headers["Authorization"] = "Bearer forged"
    elif case == "expired-token":
        clock.advance(31)
    elif case == "no-experimental-header":
        del client.headers["X-SailPoint-Experimental"]
    elif case == "rate-limited":
        client.get(url)


@pytest.mark.parametrize(
    ("op", "case"),
    [(op, case) for op in all_operations() for case in ERROR_CASES if _applies(op, case)],
    ids=lambda v: v if isinstance(v, str) else f"{v.version}-{v.id}",
)
def test_every_error_answer_conforms(
    op: Operation, case: str, make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    limit = Limit(1, 10.0) if case == "rate-limited" else None
    sandbox = make_sandbox(token_lifetime=30, rate_limit=limit)
    url = op.url(**_ids(case))
    with api_client(sandbox.base_url, op.version) as client:
        _break(client, case, clock, url)
        patch = "application/json-patch+json" in op.raw.get("requestBody", {}).get("content", {})
        body: Any = None if op.method == "GET" else ([] if patch else {})
        response = _send(client, op, url, body)
    assert response.status_code == ERROR_CASES[case], response.text
    if case == "rate-limited":
        assert int(response.headers["Retry-After"]) >= 1
    content_type = response.headers["content-type"]
    spec(op.version).check_response(op, response.status_code, content_type, response.json())


# -- the query parameters each collection documents -----

_DOCUMENTED = re.compile(r"\*\*([\w.]+)\*\*: \*([\w, ]+)\*")
_SORTABLE = re.compile(r"Sorting is supported for the following fields: \*\*([\w, ]+)\*\*")
_SAMPLE = {"saved": "true", "freshness": "50", "quality": "50", "type": '"SPECIALIZED"'}
_DATES = ("startDate", "endDate")


def documented_queries() -> list[tuple[Operation, str, str]]:
    """(operation, parameter, value) for every filter field/operator and sorter the spec lists."""
    cases = []
    for op in all_operations():
        for param in op.raw.get("parameters", []):
            text = param.get("description", "")
            if param.get("name") == "filters":
                for field, ops in _DOCUMENTED.findall(text):
                    value = (
                        '"2026-01-01T00:00:00Z"' if field in _DATES else _SAMPLE.get(field, '"A"')
                    )
                    cases += [
                        (op, "filters", f"{field} {o.strip()} {value}") for o in ops.split(",")
                    ]
            if param.get("name") == "sorters":
                for fields in _SORTABLE.findall(text):
                    cases += [(op, "sorters", f"-{f.strip()}") for f in fields.split(",")]
    return cases


@pytest.mark.parametrize(
    ("op", "name", "value"),
    documented_queries(),
    ids=lambda v: v if isinstance(v, str) else f"{v.version}-{v.id}",
)
def test_every_documented_filter_and_sorter_is_accepted(
    op: Operation, name: str, value: str, conformant: Callable[[str], tuple[httpx.Client, World]]
) -> None:
    client, world = conformant(op.version)
    response = client.request(op.method, op.url(**world.params), params={name: value})
    assert response.status_code == 200, response.text
    spec(op.version).check_response(op, 200, response.headers["content-type"], response.json())
