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
import yaml

from rmsync.api import Client
from rmsync.models import Credentials
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from rmsync.sandbox.seed import load_seed
from tests import builders
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import TLS, token
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
    shutil.copy(ROOT / "examples" / "rmsync.yaml", tmp_path / "rmsync.yaml")
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


def test_a_saved_plan_records_the_access_it_was_reviewed_with(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    env = builders.tenant_env(sandbox.base_url)
    shutil.copy(ROOT / "examples" / "rmsync.yaml", tmp_path / "rmsync.yaml")
    assert (
        rmsync("plan", "--out", "plan.json", "--target", "payroll", cwd=tmp_path, env=env).code == 0
    )
    shown = rmsync("show", "plan.json", cwd=tmp_path, env=env)
    assert "      access: 3 members; the export carries 7 of 7 entitlements\n" in shown.out
    assert rmsync("apply", "plan.json", cwd=tmp_path, env=env).code == 0
    lock = yaml.safe_load((tmp_path / "rmsync.lock.yaml").read_text(encoding="utf-8"))
    access = lock["exports"]["payroll"]["access"]
    assert access["members"] == 3 and len(access["entitlements"]) == 7
