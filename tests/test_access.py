"""The access review against the real sandbox (issue 10): the client reads what a role's
members hold by name, only for exports that will start; apply records it; the next plan names
what changed in the tenant; and no person's name or e-mail reaches a plan, a plan file, the
lockfile or a PR comment."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from rmsync.api import ApiError, Client
from rmsync.models import Credentials
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from rmsync.sandbox.seed import Seed, load_seed
from tests import builders
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import TLS, api_client, token
from tests.proxy import Answer, Proxy, running
from tests.run import rmsync
from tests.test_api import Recorder

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "rmsync" / "sandbox" / "default_seed.yaml"
CREDS = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


def people() -> list[str]:
    """Every name and e-mail address the default seed gives a person."""
    seed = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    return [i[k] for i in seed["identities"] for k in ("name", "email")]


def test_the_client_reads_a_role_s_access_by_name_with_common_access_marked(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox()
    seed = load_seed(SEED)
    with Client(sandbox.base_url, CREDS) as client:
        live = client.role(ACCOUNTING)
        assert live is not None and live.members_by  # identityDistribution, counts only
        access = client.access(FINANCE, live)
    seeded = next(r for s in seed.sessions for r in s.roles if r.id == ACCOUNTING)
    expected = {e.entitlement.id: e for e in seeded.entitlements}
    assert access.members == len(seeded.identities) == 6
    assert {e.id for e in access.entitlements} == set(expected)
    for e in access.entitlements:
        assert e.name == expected[e.id].entitlement.name
        assert e.source == expected[e.id].entitlement.source.name
        assert e.common is expected[e.id].entitlement.common_access
        assert e.holders == len(expected[e.id].holders)
        assert e.popularity == round(100 * e.holders / access.members, 1)
    names = [e.name.casefold() for e in access.entitlements]
    assert names == sorted(names) and access.excluded == ()


def _exclude(sandbox: Sandbox, entitlement: str) -> None:
    path = f"/beta/role-mining-sessions/{FINANCE}/potential-roles/{ACCOUNTING}/edit-entitlements"
    answer = httpx.post(
        sandbox.base_url + path,
        json={"ids": [entitlement], "exclude": True},
        headers={"Authorization": f"Bearer {token(sandbox.base_url)}"},
        verify=TLS,
    )
    assert answer.status_code < 300, answer.text


def test_plan_names_what_an_export_carries_and_what_changed_in_the_tenant(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    log = Recorder()
    sandbox = make_sandbox(schedule=Schedule(0, 0), log=log)
    env = builders.tenant_env(sandbox.base_url)
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", tmp_path / "rmsync.yaml")
    first = rmsync("plan", cwd=tmp_path, env=env)
    assert first.code == 0, first.err
    assert "      access: 6 members; the export carries 5 of 9 entitlements\n" in first.out
    assert (
        "        + CN=Finance Share RW,OU=Groups,DC=acme,DC=com (Active Directory): held by 6 of 6 (100%)"
        in first.out
    )
    assert log.count("/entitlement-popularities") == 2 * 5  # with and without common access
    assert rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=env).code == 0
    lock = (tmp_path / "rmsync.lock.yaml").read_text(encoding="utf-8")
    assert "    access:\n      members: 6\n" in lock
    assert "name: CN=Finance Share RW,OU=Groups,DC=acme,DC=com" in lock

    before = log.count("/entitlement-popularities")
    quiet = rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert quiet.code == 0, quiet.out
    assert log.count("/entitlement-popularities") == before  # nothing extra when nothing changes

    share = "2440e21409b1ccb19f270b4ca4ddae8f"  # CN=Finance Share RW in the default seed
    _exclude(sandbox, share)
    changed = rmsync("plan", cwd=tmp_path, env=env)
    assert "-/+ re-export accounting-core" in changed.out
    assert (
        "        excluded in the tenant: CN=Finance Share RW,OU=Groups,DC=acme,DC=com (Active Directory)\n"
        in changed.out
    )
    assert (
        "        x CN=Finance Share RW,OU=Groups,DC=acme,DC=com (Active Directory): excluded in the tenant:"
        in changed.out
    )
    assert share not in changed.out  # by name, never a bare id
    doc = json.loads(rmsync("plan", "--json", cwd=tmp_path, env=env).out)
    (action,) = doc["actions"]
    excluded = action["review"]["since_last_export"]["excluded"]
    assert [e["name"] for e in excluded] == ["CN=Finance Share RW,OU=Groups,DC=acme,DC=com"]
    comment = rmsync("plan", "--format", "markdown", cwd=tmp_path, env=env).out
    assert "excluded in the tenant: CN=Finance Share RW" in comment

    saved = rmsync("plan", "--out", "plan.json", cwd=tmp_path, env=env)
    assert saved.code == 0
    outputs = [first.out, changed.out, comment, lock, (tmp_path / "plan.json").read_text()]
    outputs.append((tmp_path / "rmsync.lock.yaml").read_text(encoding="utf-8"))
    for person in people():
        assert all(person not in out for out in outputs), person


def saved_payroll_plan(sandbox: Sandbox, folder: Path) -> dict[str, str]:
    """`plan --out plan.json --target payroll` in `folder`; the environment it ran with."""
    env = builders.tenant_env(sandbox.base_url)
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", folder / "rmsync.yaml")
    made = rmsync("plan", "--out", "plan.json", "--target", "payroll", cwd=folder, env=env)
    assert made.code == 0, made.err
    return env


def test_a_saved_plan_records_the_access_it_was_reviewed_with(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    env = saved_payroll_plan(sandbox, tmp_path)
    shown = rmsync("show", "plan.json", cwd=tmp_path, env=env)
    assert "      access: 3 members; the export carries 7 of 7 entitlements\n" in shown.out
    assert rmsync("apply", "plan.json", cwd=tmp_path, env=env).code == 0
    lock = yaml.safe_load((tmp_path / "rmsync.lock.yaml").read_text(encoding="utf-8"))
    access = lock["exports"]["payroll"]["access"]
    assert access["members"] == 3 and len(access["entitlements"]) == 7


def test_an_edited_access_in_a_saved_plan_is_refused_and_nothing_is_recorded(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    env = saved_payroll_plan(sandbox, tmp_path)
    doc = json.loads((tmp_path / "plan.json").read_text())
    doc["actions"][0]["access"]["entitlements"][0]["name"] = "Ada Lovelace <ada@acme.example>"
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    ran = rmsync("apply", "plan.json", cwd=tmp_path, env=env)
    assert ran.code == 1
    assert (
        "plan.json is stale:\n  payroll: what its role holds changed since the plan was made "
        "(or the plan file was edited)\nrun plan again"
    ) in ran.err
    assert not (tmp_path / "rmsync.lock.yaml").exists()
    assert sandbox.created_exports() == []
    doc["actions"][0]["access"]["members"] = -5
    (tmp_path / "plan.json").write_text(json.dumps(doc, indent=2))
    shown = rmsync("show", "plan.json", cwd=tmp_path, env=env)
    assert shown.code == 1
    assert (
        "not a valid plan file: actions/0/access/members: -5 is less than the minimum of 0;"
        in shown.err
    )


def large_role(folder: Path) -> Seed:
    """The default seed with 300 more entitlements on Accounting core (every third common)."""
    doc = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    source = doc["sources"][0]["id"]
    extra = [
        {
            "id": f"{n:032x}",
            "name": f"Group {n:03d}",
            "attribute": "memberOf",
            "source": source,
            "popularity_in_org": 10.0,
            "common_access": n % 3 == 0,
        }
        for n in range(1, 301)
    ]
    doc["entitlements"] += extra
    role = next(r for s in doc["sessions"] for r in s["potential_roles"] if r["id"] == ACCOUNTING)
    role["entitlements"] += [{"id": e["id"], "popularity": 50.0} for e in extra]
    (folder / "seed.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_seed(folder / "seed.yaml")


def test_every_page_of_a_large_role_is_read_and_common_access_is_marked(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    log = Recorder()
    sandbox = make_sandbox(seed=large_role(tmp_path), log=log)
    with Client(sandbox.base_url, CREDS) as client:
        live = client.role(ACCOUNTING)
        assert live is not None
        access = client.access(FINANCE, live)
    ours = {e.id: e for e in access.entitlements if e.name.startswith("Group ")}
    assert len(ours) == 300  # beyond one page of 250
    assert all(e.common is (int(e.id, 16) % 3 == 0) for e in ours.values())
    assert all(e.holders == 3 and e.popularity == 50.0 for e in ours.values())
    # all 309: a page of 250, then a short one ends it; without the 100 common: one page
    assert log.count("/entitlement-popularities") == 3
    assert log.count("/excluded-entitlements") == 0  # the role, read whole, excludes none


def test_exclusions_are_read_unless_the_role_says_there_are_none(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    log = Recorder()
    sandbox = make_sandbox(log=log)
    excluded = "2440e21409b1ccb19f270b4ca4ddae8f"

    def without_the_list(method: str, path: str, answer: Answer) -> Answer:
        status, body, headers = answer
        if path.endswith(f"/role-mining-potential-roles/{ACCOUNTING}"):  # a terser tenant
            doc = json.loads(body)
            del doc["excludedEntitlements"]
            body = json.dumps(doc).encode()
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        return status, body, headers

    with Client(sandbox.base_url, CREDS) as client:
        live = client.role(ACCOUNTING)
        assert live is not None and live.exclusions_said and not live.excluded_entitlements
        client.access(FINANCE, live)
        assert log.count("/excluded-entitlements") == 0  # it says it excludes none
        sandbox.exclude_entitlements(ACCOUNTING, [excluded])
        live = client.role(ACCOUNTING)
        assert live is not None
        assert [e.id for e in client.access(FINANCE, live).excluded] == [excluded]
        assert log.count("/excluded-entitlements") == 1
    with (
        running(Proxy(sandbox.base_url, reply=without_the_list)) as proxy,
        Client(proxy.base_url, CREDS) as client,
    ):
        live = client.role(ACCOUNTING)
        assert live is not None and not live.exclusions_said
        assert [e.id for e in client.access(FINANCE, live).excluded] == [excluded]
        assert log.count("/excluded-entitlements") == 2  # unsaid: asked


def test_a_tenant_that_ignores_offset_is_an_error_not_a_loop(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = make_sandbox(seed=large_role(tmp_path))
    first: dict[str, Answer] = {}

    def same_page(method: str, path: str, answer: Answer) -> Answer:
        kind = path.split("?")[0]
        if "offset=0&" in path:
            first[kind] = answer
        return first.get(kind, answer)  # every later page is the first again

    with (
        running(Proxy(sandbox.base_url, reply=same_page)) as proxy,
        Client(proxy.base_url, CREDS) as client,
    ):
        live = client.role(ACCOUNTING)
        assert live is not None
        with pytest.raises(
            ApiError, match="answered page 2 with the entitlements of earlier pages"
        ):
            client.access(FINANCE, live)
    assert len(proxy.requests("GET", "entitlement-popularities")) == 2


def test_attributes_that_name_a_person_never_leave_the_tenant(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    doc = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    for person in doc["identities"]:
        person["attributes"]["manager"] = "Ada Lovelace"  # a person's name as a value
        person["attributes"]["reportsTo"] = "Ada Lovelace"  # under a name no list foresees
        person["attributes"]["cn"] = person["name"]
        person["attributes"]["workEmail"] = person["email"]
        person["attributes"]["upn"] = person["email"].replace("@", "\uff20")  # full-width @
        person["attributes"]["team"] = "finance-ops@acme.example"  # an address, not a name
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    sandbox = make_sandbox(seed=load_seed(tmp_path / "seed.yaml"), schedule=Schedule(0, 0))
    env = builders.tenant_env(sandbox.base_url)
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", project / "rmsync.yaml")
    outputs = [
        rmsync("plan", "--json", cwd=project, env=env).out,
        rmsync("plan", "--format", "markdown", cwd=project, env=env).out,
    ]
    assert rmsync("apply", "--auto-approve", cwd=project, env=env).code == 0
    outputs.append((project / "rmsync.lock.yaml").read_text(encoding="utf-8"))
    outputs.append(rmsync("report", "accounting-core", cwd=project, env=env).out)
    assert "department:" in outputs[2]  # the attributes that name no one are kept
    names = [i["name"] for i in doc["identities"]]
    for out in outputs:
        assert "Ada Lovelace" not in out and "acme.example" not in out
        assert not [n for n in names if n in out]
        for attribute in ("manager", "reportsTo", "cn:", "workEmail", "upn"):
            assert attribute not in out


def test_an_identity_distribution_of_the_wrong_shape_is_read_leniently(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    odd = [{"attributeName": "d", "distribution": 5}, 7, {"attributeName": 3}, None]
    rule = {"path": "**/role-mining-potential-roles/*", "set": {"identityDistribution": odd}}
    sandbox = make_sandbox(faults={"version": 1, "faults": [rule]}, schedule=Schedule(0, 0))
    env = builders.tenant_env(sandbox.base_url)
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", tmp_path / "rmsync.yaml")
    ran = rmsync("plan", "--target", "payroll", cwd=tmp_path, env=env)
    assert ran.code == 0, ran.err
    assert "access: 3 members" in ran.out


def test_an_entitlement_listed_as_popular_and_excluded_counts_as_excluded(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox()
    sandbox.exclude_entitlements(ACCOUNTING, ["2440e21409b1ccb19f270b4ca4ddae8f"])
    listed = (
        f"/beta/role-mining-sessions/{FINANCE}/potential-roles/{ACCOUNTING}/excluded-entitlements"
    )
    with api_client(sandbox.base_url) as api:  # what the tenant excludes, to list it twice
        excluded = json.loads(api.get(listed).content)

    def both_lists(method: str, path: str, answer: Answer) -> Answer:
        status, body, headers = answer
        if "/entitlement-popularities" in path:  # a tenant listing an excluded one there too
            body = json.dumps(json.loads(body) + excluded).encode()
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        return status, body, headers

    with (
        running(Proxy(sandbox.base_url, reply=both_lists)) as proxy,
        Client(proxy.base_url, CREDS) as client,
    ):
        live = client.role(ACCOUNTING)
        assert live is not None
        access = client.access(FINANCE, live)
    ids = [e.id for e in access.entitlements]
    assert "2440e21409b1ccb19f270b4ca4ddae8f" not in ids
    assert [e.id for e in access.excluded] == ["2440e21409b1ccb19f270b4ca4ddae8f"]
    assert len(ids) == 8
