"""The sandbox as a fault injector, over real HTTP: every fault kind, counts and rates that
fire on the same requests every run, the sandbox's own record of the exports it created, the
storage origin downloads are redirected to, and faults files that are wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rmsync.errors import DocumentError
from rmsync.sandbox import DEFAULT_CLIENT_ID, FaultPlan, Sandbox, load_faults
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import TLS, FakeClock, api_client, token
from tests.expect import check_reported
from tests.run import RMSYNC, rmsync

Make = Callable[..., Sandbox]
ROLE = f"/beta/role-mining-sessions/{FINANCE}/potential-roles/{ACCOUNTING}"
EXPORTS = f"{ROLE}/export-async"
SESSIONS = "/beta/role-mining-sessions"
README = Path(__file__).resolve().parents[1] / "README.md"


def _faults(*rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"faults": list(rules), **top}


def _start(api: httpx.Client) -> httpx.Response:
    return api.post(EXPORTS, json={"minEntitlementPopularity": 10, "includeCommonAccess": False})


def _statuses(api: httpx.Client, times: int, path: str = SESSIONS) -> list[int]:
    return [api.get(path).status_code for _ in range(times)]


# -- the sandbox's own record -----


def test_the_sandbox_records_every_export_it_creates(make_sandbox: Make, clock: FakeClock) -> None:
    sandbox = make_sandbox()
    assert sandbox.faults == FaultPlan()
    with api_client(sandbox.base_url) as api:
        first = _start(api).json()["exportId"]
        clock.advance(7)
        second = api.post(EXPORTS, json={}).json()["exportId"]
    made = sandbox.created_exports()
    assert [e.id for e in made] == [first, second]
    assert (made[0].session_id, made[0].role_id) == (FINANCE, ACCOUNTING)
    assert (made[0].min_entitlement_popularity, made[0].include_common_access) == (10, False)
    assert (made[1].min_entitlement_popularity, made[1].include_common_access) == (0, True)
    assert made[1].created - made[0].created == 7
    assert made[0].created_at.endswith("Z")


# -- which requests: counts and rates -----


@pytest.mark.parametrize(
    ("which", "failed"),
    [
        ({}, [1, 2, 3, 4, 5, 6, 7, 8]),
        ({"first": 2}, [1, 2]),
        ({"every": 3}, [3, 6]),
        ({"after": 5}, [6, 7, 8]),
        ({"after": 2, "first": 1}, [3]),
        ({"after": 1, "every": 2}, [3, 5, 7]),
        ({"every": 2, "times": 2}, [2, 4]),
    ],
    ids=["always", "first", "every", "after", "after-first", "after-every", "every-times"],
)
def test_counts_pick_the_same_requests_every_time(
    make_sandbox: Make, which: dict[str, int], failed: list[int]
) -> None:
    sandbox = make_sandbox(faults=_faults({"path": SESSIONS, "status": 503, **which}))
    with api_client(sandbox.base_url) as api:
        statuses = _statuses(api, 8)
    assert [n for n, status in enumerate(statuses, 1) if status == 503] == failed
    assert set(statuses) <= {200, 503}


def test_a_rate_is_drawn_from_a_seeded_generator(make_sandbox: Make) -> None:
    def pattern(sandbox: Sandbox) -> list[int]:
        with api_client(sandbox.base_url) as api:
            return _statuses(api, 30)

    rule = {"path": SESSIONS, "rate": 0.5, "status": 500}
    first = pattern(make_sandbox(faults=_faults(rule, seed=7)))
    assert {200, 500} == set(first)
    assert pattern(make_sandbox(faults=_faults(rule, seed=7))) == first
    assert pattern(make_sandbox(faults=_faults(rule, seed=8))) != first
    # No `seed:`: the sandbox's id seed, else 0.
    assert pattern(make_sandbox(id_seed=7, faults=_faults(rule))) == first
    again = make_sandbox(faults=_faults(rule, seed=7))
    assert pattern(again) == first
    again.set_faults(_faults(rule, seed=7))  # a new plan counts and draws afresh
    assert pattern(again) == first


def test_the_first_rule_that_fires_answers_and_every_matching_rule_counts(
    make_sandbox: Make,
) -> None:
    sandbox = make_sandbox(
        faults=_faults(
            {"path": SESSIONS, "first": 1, "status": 503},
            {"path": SESSIONS, "every": 2, "status": 502},
        )
    )
    with api_client(sandbox.base_url) as api:
        assert _statuses(api, 4) == [503, 502, 200, 502]


def test_paths_match_by_glob_and_method(make_sandbox: Make) -> None:
    sandbox = make_sandbox(
        faults=_faults(
            {"path": "/beta/role-mining-sessions/*", "status": 500},  # one segment
            {"path": "**/status", "method": "GET", "status": 502},  # any depth
            {"path": "**/export-async", "method": "POST", "status": 503},
        )
    )
    with api_client(sandbox.base_url) as api:
        assert api.get(SESSIONS).status_code == 200
        assert api.get(f"{SESSIONS}/{FINANCE}").status_code == 500
        assert api.get(f"{SESSIONS}/{FINANCE}/status").status_code == 502
        assert api.get(f"{SESSIONS}/{FINANCE}/potential-role-summaries").status_code == 200
        assert _start(api).status_code == 503
        assert api.get(f"{EXPORTS}/{FINANCE}").status_code == 404  # GET: not that rule's


def test_faults_change_on_a_running_sandbox(make_sandbox: Make) -> None:
    sandbox = make_sandbox()
    with api_client(sandbox.base_url) as api:
        assert _statuses(api, 1) == [200]
        sandbox.set_faults(_faults({"path": SESSIONS, "status": 504}))
        assert _statuses(api, 2) == [504, 504]
        sandbox.set_faults(None)
        assert _statuses(api, 1) == [200]
    assert sandbox.faults == FaultPlan()


# -- answers instead of the tenant's -----


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (3600, "3600"),
        (10**12, "1000000000000"),
        (-5, "-5"),
        (1.5, "1.5"),
        ("soon", "soon"),
        ("Wed, 21 Oct 2026 07:28:00 GMT", "Wed, 21 Oct 2026 07:28:00 GMT"),
    ],
)
def test_429_sends_any_retry_after_as_given(make_sandbox: Make, given: object, sent: str) -> None:
    sandbox = make_sandbox(faults=_faults({"path": SESSIONS, "status": 429, "retry_after": given}))
    with api_client(sandbox.base_url) as api:
        response = api.get(SESSIONS)
    assert (response.status_code, response.headers["Retry-After"]) == (429, sent)
    assert response.json() == {"message": " Rate Limit Exceeded "}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_with_isc_json_html_or_empty_bodies(make_sandbox: Make, status: int) -> None:
    sandbox = make_sandbox(
        faults=_faults(
            {"path": SESSIONS, "first": 1, "status": status},
            {"path": SESSIONS, "after": 1, "first": 1, "status": status, "body": "html"},
            {
                "path": SESSIONS,
                "after": 2,
                "first": 1,
                "status": status,
                "body": "empty",
                "headers": {"X-A": "b"},
            },
        )
    )
    with api_client(sandbox.base_url) as api:
        as_json, as_html, empty = (api.get(SESSIONS) for _ in range(3))
    assert as_json.status_code == status
    assert set(as_json.json()) == {"detailCode", "trackingId", "messages", "causes"}
    assert as_html.status_code == status
    assert as_html.headers["content-type"] == "text/html"
    assert f"<title>{status} " in as_html.text
    assert (empty.status_code, empty.content, empty.headers["X-A"]) == (status, b"", "b")


def test_latency_waits_on_the_sandbox_s_sleep(make_sandbox: Make, clock: FakeClock) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    sandbox = make_sandbox(
        sleep=sleep, faults=_faults({"path": "**/export-async", "latency": 30, "first": 1})
    )
    before = clock.now
    with api_client(sandbox.base_url) as api:
        assert _start(api).status_code == 202  # latency alone: the tenant still answers
        assert _start(api).status_code == 202
    assert waits == [30.0]
    assert [e.created - before for e in sandbox.created_exports()] == [30.0, 30.0]


# -- dropped connections, before and after the tenant acts -----


def test_a_connection_dropped_before_the_tenant_acts_creates_nothing(make_sandbox: Make) -> None:
    sandbox = make_sandbox(faults=_faults({"path": "**/export-async", "first": 1, "drop": "close"}))
    with api_client(sandbox.base_url) as api:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            _start(api)
        assert sandbox.created_exports() == []
        assert _start(api).status_code == 202
    assert len(sandbox.created_exports()) == 1


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_connection_dropped_after_the_tenant_acts_leaves_the_export(
    make_sandbox: Make, how: str
) -> None:
    rule = {"path": "**/export-async", "first": 1, "drop": how, "tenant_acts": True}
    sandbox = make_sandbox(faults=_faults(rule))
    with api_client(sandbox.base_url) as api:
        error = httpx.ReadError if how == "reset" else httpx.RemoteProtocolError
        with pytest.raises(error):
            _start(api)
        made = sandbox.created_exports()
        assert len(made) == 1
        assert api.get(f"{EXPORTS}/{made[0].id}").json()["status"] == "QUEUED"


def test_a_502_after_the_tenant_acts_leaves_the_export(make_sandbox: Make) -> None:
    rule = {"path": "**/export-async", "status": 502, "body": "html", "tenant_acts": True}
    sandbox = make_sandbox(faults=_faults(rule))
    with api_client(sandbox.base_url) as api:
        assert _start(api).status_code == 502
    assert len(sandbox.created_exports()) == 1


# -- broken bodies -----


def test_a_truncated_body_promises_more_than_it_sends(make_sandbox: Make, clock: FakeClock) -> None:
    sandbox = make_sandbox(faults=_faults({"path": "**/download", "truncate": 100}))
    with api_client(sandbox.base_url) as api:
        export_id = _start(api).json()["exportId"]
        clock.advance(2)
        with api.stream("GET", f"{EXPORTS}/{export_id}/download") as response:
            whole = int(response.headers["Content-Length"])
            with pytest.raises(
                httpx.RemoteProtocolError, match=f"received 100 bytes, expected {whole}"
            ):
                response.read()
        sandbox.set_faults(None)
        assert len(api.get(f"{EXPORTS}/{export_id}/download").content) == whole


def test_invalid_json_bodies(make_sandbox: Make) -> None:
    sandbox = make_sandbox(faults=_faults({"path": SESSIONS, "invalid_json": True}))
    with api_client(sandbox.base_url) as api:
        response = api.get(SESSIONS)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"set": {"status": "CANCELLED"}}, lambda b: b["status"] == "CANCELLED"),
        ({"remove": ["exportId"]}, lambda b: "exportId" not in b and b["status"] == "QUEUED"),
        (
            {"set": {"minEntitlementPopularity": "ten"}},
            lambda b: b["minEntitlementPopularity"] == "ten",
        ),
        (
            {"set": {"exportId": 42}, "remove": ["status"]},
            lambda b: (
                b == {"exportId": 42, "minEntitlementPopularity": 10, "includeCommonAccess": False}
            ),
        ),
    ],
    ids=["unknown-status", "missing-export-id", "wrong-type", "both"],
)
def test_answers_that_break_the_schema(
    make_sandbox: Make, change: dict[str, Any], check: Callable[[dict[str, Any]], bool]
) -> None:
    sandbox = make_sandbox(faults=_faults({"path": "**/export-async", "method": "POST", **change}))
    with api_client(sandbox.base_url) as api:
        response = _start(api)
    assert response.status_code == 202
    assert check(response.json()), response.json()
    assert len(sandbox.created_exports()) == 1


def test_schema_breaks_apply_to_each_item_of_a_list(make_sandbox: Make) -> None:
    rule = {"path": "**/potential-role-summaries", "set": {"identityCount": "many"}}
    sandbox = make_sandbox(faults=_faults(rule))
    with api_client(sandbox.base_url) as api:
        roles = api.get(f"{SESSIONS}/{FINANCE}/potential-role-summaries").json()
    assert roles
    assert {r["identityCount"] for r in roles} == {"many"}


# -- tokens and scopes -----


def test_a_token_that_expires_before_its_expires_in(make_sandbox: Make, clock: FakeClock) -> None:
    sandbox = make_sandbox(faults=_faults({"path": "/oauth/token", "token_expires_in": 5}))
    response = httpx.post(
        f"{sandbox.base_url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": "sandbox-secret-not-for-production",
        },
        verify=TLS,
    )
    assert response.json()["expires_in"] == 749
    with api_client(sandbox.base_url, bearer=response.json()["access_token"]) as api:
        clock.advance(4.9)
        assert api.get(SESSIONS).status_code == 200
        clock.advance(0.1)
        refused = api.get(SESSIONS)
    assert (refused.status_code, refused.json()) == (
        401,
        {"error": "JWT validation failed: JWT is expired"},
    )


def test_a_revoked_token_is_refused_from_the_next_call(make_sandbox: Make) -> None:
    sandbox = make_sandbox(faults=_faults({"path": SESSIONS, "first": 1, "revoke_token": True}))
    with api_client(sandbox.base_url) as api:
        assert api.get(SESSIONS).status_code == 200  # the call that revokes it is answered
        refused = api.get(SESSIONS)
    assert refused.status_code == 401
    assert refused.json() == {"error": "JWT validation failed: JWT has been revoked"}
    with api_client(sandbox.base_url) as api:  # a new token works, until revoked from Python
        assert api.get(SESSIONS).status_code == 200
        sandbox.revoke_tokens()
        assert api.get(SESSIONS).status_code == 401


def test_a_read_only_client_cannot_write(make_sandbox: Make) -> None:
    sandbox = make_sandbox(faults=_faults(read_only_clients=[DEFAULT_CLIENT_ID]))
    with api_client(sandbox.base_url) as api:
        assert api.get(SESSIONS).status_code == 200
        started = _start(api)
        patched = api.patch(
            f"{SESSIONS}/{FINANCE}", json=[{"op": "replace", "path": "/name", "value": "x"}]
        )
    assert (started.status_code, patched.status_code) == (403, 403)
    assert started.json()["detailCode"] == "403 Forbidden"
    assert "reads only" in started.json()["messages"][0]["text"]
    assert sandbox.created_exports() == []


# -- exports that go wrong -----


@pytest.mark.parametrize("state", ["QUEUED", "IN_PROGRESS"])
def test_a_stuck_export_never_finishes(make_sandbox: Make, clock: FakeClock, state: str) -> None:
    rule = {"path": "**/export-async", "method": "POST", "export": {"stuck": state}}
    sandbox = make_sandbox(faults=_faults(rule), token_lifetime=10**7)
    with api_client(sandbox.base_url) as api:
        export_id = _start(api).json()["exportId"]
        clock.advance(10**6)
        assert api.get(f"{EXPORTS}/{export_id}").json()["status"] == state
        assert api.get(f"{EXPORTS}/{export_id}/download").status_code == 400


def test_an_export_that_ends_in_error_says_why(make_sandbox: Make, clock: FakeClock) -> None:
    rule = {"path": "**/export-async", "method": "POST", "export": {"error": "Out of disk"}}
    sandbox = make_sandbox(faults=_faults(rule))
    with api_client(sandbox.base_url) as api:
        export_id = _start(api).json()["exportId"]
        assert "errorMessage" not in api.get(f"{EXPORTS}/{export_id}").json()
        clock.advance(2)
        body = api.get(f"{EXPORTS}/{export_id}").json()
        assert (body["status"], body["errorMessage"]) == ("ERROR", "Out of disk")
        assert api.get(f"{EXPORTS}/{export_id}/download").status_code == 400


def test_a_forgotten_export_is_404_afterwards(make_sandbox: Make, clock: FakeClock) -> None:
    rule = {"path": "**/export-async", "method": "POST", "export": {"forget_after": 60}}
    sandbox = make_sandbox(faults=_faults(rule))
    with api_client(sandbox.base_url) as api:
        export_id = _start(api).json()["exportId"]
        clock.advance(59.5)
        assert api.get(f"{EXPORTS}/{export_id}").json()["status"] == "SUCCESS"
        assert api.get(f"{EXPORTS}/{export_id}/download").status_code == 200
        clock.advance(0.5)
        assert api.get(f"{EXPORTS}/{export_id}").status_code == 404
        assert api.get(f"{EXPORTS}/{export_id}/download").status_code == 404
    assert [e.id for e in sandbox.created_exports()] == [export_id]


# -- downloads redirected to a second origin -----


@pytest.mark.parametrize("code", [302, 307])
def test_a_download_redirected_to_storage_records_authorization(
    make_sandbox: Make, clock: FakeClock, code: int
) -> None:
    sandbox = make_sandbox(faults=_faults({"path": "**/download", "redirect": code}))
    assert sandbox.storage_requests() == []
    with api_client(sandbox.base_url) as api:
        export_id = _start(api).json()["exportId"]
        clock.advance(2)
        url = f"{EXPORTS}/{export_id}/download"
        redirect = api.get(url)
        assert redirect.status_code == code
        location = redirect.headers["Location"]
        assert location.startswith(sandbox.storage_url + "/archives/")
        assert sandbox.storage_url != sandbox.base_url
        followed = api.get(url, follow_redirects=True)  # httpx drops it for another origin
        leaked = httpx.get(location, headers={"Authorization": "Bearer leaked"}, verify=TLS)
        sandbox.set_faults(None)
        direct = api.get(url).content
    assert followed.status_code == 200
    assert followed.content == leaked.content == direct
    seen = sandbox.storage_requests()
    assert [(r.method, r.authorization) for r in seen] == [("GET", None), ("GET", "Bearer leaked")]
    assert httpx.get(sandbox.storage_url + "/archives/nope", verify=TLS).status_code == 404


# -- the faults file -----

BROKEN = {
    "types": """\
version: 2
seed: x
faults:
  - path: export-async
    method: post
    status: 200
    rate: 2
    colour: red
    headers: {"Bad Name": "x", X-Ok: "a\\nb"}
# expect: types.yaml:1: version: must be 1 (the only faults format this rmsync reads)
# expect: types.yaml:2: seed: 'x' is not of type 'integer'
# expect: types.yaml:4: faults[0].path: must be a path glob starting with / or *
# expect: types.yaml:5: faults[0].method: must be an upper-case HTTP method such as POST
# expect: types.yaml:6: faults[0].status: must be an error status from 400 to 599
# expect: types.yaml:7: faults[0].rate: 2 is greater than the maximum of 1
# expect: types.yaml:8: faults[0].colour: unknown field
# expect: types.yaml:9: faults[0].headers.Bad Name: must be an HTTP header name
# expect: types.yaml:9: faults[0].headers.X-Ok: must be one line of text
""",
    "combinations": """\
version: 1
faults:
  - path: /a
    status: 502
    drop: reset
  - path: /b
    body: html
  - path: /c
    first: 1
  - path: /d
    truncate: 10
    tenant_acts: true
  - path: /e
    export: {stuck: QUEUED, error: boom}
  - path: /f
    set: {status: X}
    remove: [exportId]
    redirect: 302
# expect: combinations.yaml:5: faults[0].drop: cannot be combined with status: a rule gives one answer (write two rules)
# expect: combinations.yaml:7: faults[1].body: goes only with status
# expect: combinations.yaml:8: faults[2]: the rule does nothing: give it one of status, drop
# expect: combinations.yaml:12: faults[3].tenant_acts: goes only with status or drop
# expect: combinations.yaml:14: faults[4].export.error: cannot be combined with stuck
# expect: combinations.yaml:18: faults[5].redirect: cannot be combined with set
""",
    "duplicate": """\
version: 1
faults: []
faults: []
# expect: duplicate.yaml:3: faults: duplicate key (first defined on line 2); keep one
""",
    "not-yaml": """\
version: 1
faults: [
# expect: not-yaml.yaml:4: not valid YAML
""",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_faults_file_reports_every_problem_at_its_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(BROKEN[name])
    with pytest.raises(DocumentError) as caught:
        load_faults(path)
    check_reported(path, caught.value)


def test_a_broken_plan_from_python_is_refused_too() -> None:
    with pytest.raises(DocumentError, match=r"<faults>:1: faults\[0\].drop: 'later'"):
        Sandbox(faults={"faults": [{"path": "/x", "drop": "later"}]})


def test_the_readme_example_is_a_valid_faults_file(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Faults") :]
    example = section[
        section.index("```yaml\n") + 8 : section.index("```\n", section.index("```yaml"))
    ]
    path = tmp_path / "faults.yaml"
    path.write_text(example)
    plan = load_faults(path)
    assert len(plan.rules) == 6
    assert plan.read_only_clients == {"reporting-bot"}


def test_rmsync_sandbox_refuses_a_broken_faults_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfaults:\n  - path: /x\n    status: 700\n")
    result = rmsync("sandbox", "--faults", str(bad), cwd=tmp_path, env=dict(os.environ))
    assert result.code == 1
    assert (
        result.err == f"Error: {bad}:4: faults[0].status: must be an error status from 400 to 599\n"
    )
    missing = rmsync("sandbox", "--faults", "nope.yaml", cwd=tmp_path, env=dict(os.environ))
    assert missing.code == 1
    assert "nope.yaml:1: cannot read file" in missing.err


def test_rmsync_sandbox_serves_its_faults(tmp_path: Path) -> None:
    plan = tmp_path / "faults.yaml"
    plan.write_text(f"version: 1\nfaults:\n  - path: {SESSIONS}\n    first: 1\n    status: 503\n")
    # A process: it serves until the test stops it (SIGINT).
    proc = subprocess.Popen(
        [*RMSYNC, "sandbox", "--port", "0", "--faults", str(plan)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
        assert lines[4] == f"Faults from {plan}: 1 rule.\n"
        base_url = lines[1].strip().removeprefix("export SAIL_BASE_URL=")
        with api_client(base_url, bearer=token(base_url)) as api:
            assert _statuses(api, 2) == [503, 200]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert f"GET {SESSIONS}: fault from {plan}:3\nGET {SESSIONS} 503\n" in err
