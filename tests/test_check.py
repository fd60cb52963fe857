"""`rmsync check` (issue 12): manifest, lockfile and tenant compared, nothing started; exit 0
clean, 2 changes only the manifest asks for, 3 drift (the tenant's doing), 1 an error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from rmsync.sandbox import Sandbox, Schedule
from tests.builders import ACCOUNTING, FINANCE, tenant_env
from tests.conftest import TLS, FakeClock, patch_summary, token
from tests.run import rmsync

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schemas" / "check.schema.json").read_text())
LEGACY = "36a4b6b0-e37a-52e2-b5e5-9dfe5448d056"  # its exports end in ERROR on purpose
EXCLUDED = "2440e21409b1ccb19f270b4ca4ddae8f"  # CN=Finance Share RW, in Accounting core
MANIFEST = """\
version: 1
tenant:
  api_version: v2025
exports:
  accounting-core:
    potential_role:
      session: {name: Finance Q3 2026}
      name: Accounting core
    download: exports/accounting-core.zip
  payroll:
    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71
    potential_role_id: bdc9548b-639e-509d-9d12-29fb77b8beb9
"""


@pytest.fixture
def tenant(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(schedule=Schedule(0, 0, 0))


class Project:
    """A manifest applied to the sandbox; each run in a new rate-limit window, as in CI."""

    def __init__(self, tenant: Sandbox, clock: FakeClock, folder: Path, text: str) -> None:
        self.tenant, self.clock, self.folder = tenant, clock, folder
        self.env = tenant_env(tenant.base_url)
        (folder / "rmsync.yaml").write_text(text)

    def run(self, *args: str) -> tuple[int, str, str]:
        self.clock.advance(10)
        ran = rmsync(*args, cwd=self.folder, env=self.env)
        return ran.code, ran.out, ran.err

    def check(self, *args: str) -> tuple[int, dict[str, Any]]:
        """`check --json`, its document held to the schema; nothing is started."""
        before = len(self.tenant.created_exports())
        code, out, err = self.run("check", "--json", *args)
        doc = json.loads(out)
        assert err == doc["summary"] + "\n"  # the verdict for a job's log, on stderr
        jsonschema.validate(doc, SCHEMA)
        assert (doc["exit_code"], len(self.tenant.created_exports())) == (code, before)
        return code, doc


@pytest.fixture
def project(tenant: Sandbox, clock: FakeClock, tmp_path: Path) -> Project:
    made = Project(tenant, clock, tmp_path, MANIFEST)
    assert made.run("apply", "--auto-approve", "--wait")[0] == 0
    return made


def test_a_new_manifest_is_changes_and_an_applied_one_is_clean(
    tenant: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    fresh = Project(tenant, clock, tmp_path, MANIFEST)
    code, doc = fresh.check()
    assert (code, doc["result"], doc["drift"]) == (2, "changes", [])
    assert doc["changes"] == [
        {"name": "accounting-core", "action": "export", "reasons": ["not in the lockfile"]},
        {"name": "payroll", "action": "export", "reasons": ["not in the lockfile"]},
    ]
    assert fresh.run("apply", "--auto-approve", "--wait")[0] == 0
    code, doc = fresh.check()
    assert (code, doc["result"], doc["checked"]) == (0, "clean", 2)
    assert doc["summary"] == "No drift and no changes: 2 exports as recorded."


def test_an_entitlement_excluded_in_the_tenant_is_drift(project: Project) -> None:
    project.tenant.exclude_entitlements(ACCOUNTING, [EXCLUDED])
    code, doc = project.check()
    assert (code, doc["result"], doc["changes"]) == (3, "drift", [])
    assert doc["drift"] == [
        {
            "name": "accounting-core",
            "action": "re-export",
            "reasons": [
                "the role changed since it was exported",
                "what changed: entitlements 9 → 8, excluded in the tenant +1 -0 (rmsync plan "
                "names the entitlements)",
            ],
        }
    ]
    text = project.run("check")
    assert text[0] == 3
    assert (
        "  ! accounting-core (re-export)\n      the role changed since it was exported\n"
        in (text[1])
    )


def test_a_re_run_session_is_drift_with_the_new_role_and_the_lost_export(
    project: Project,
) -> None:
    moved = project.tenant.rerun_session(FINANCE)
    code, doc = project.check()
    assert code == 3
    (core,) = [f for f in doc["drift"] if f["name"] == "accounting-core"]
    assert core["action"] == "re-export"
    assert core["reasons"][0].startswith(
        'session "Finance Q3 2026", role "Accounting core" now finds another role than the '
        f"lockfile's: {moved[ACCOUNTING]}"
    )
    assert any("(it answered 404; its role went when" in r for r in core["reasons"])
    # payroll, named by id, is gone with the re-run: it cannot be compared, a problem
    assert [p["name"] for p in doc["problems"]] == ["payroll"]


def test_an_export_that_ended_in_error_is_drift(
    tenant: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    legacy = MANIFEST + (f"  legacy:\n    session_id: {FINANCE}\n    potential_role_id: {LEGACY}\n")
    made = Project(tenant, clock, tmp_path, legacy)
    assert made.run("apply", "--auto-approve", "--wait")[0] == 1  # legacy ended in ERROR
    code, doc = made.check()
    assert code == 3
    assert [(f["name"], f["action"]) for f in doc["drift"]] == [("legacy", "re-export")]


def test_a_provisioned_role_is_drift(project: Project) -> None:
    path = (
        f"/v2025/role-mining-sessions/{FINANCE}/potential-roles/"
        "bdc9548b-639e-509d-9d12-29fb77b8beb9/provision"
    )
    answer = httpx.post(
        project.tenant.base_url + path,
        json={},
        headers={
            "Authorization": f"Bearer {token(project.tenant.base_url)}",
            "X-SailPoint-Experimental": "true",
        },
        verify=TLS,
    )
    assert answer.status_code == 202, answer.text
    code, doc = project.check()
    assert code == 3
    (payroll,) = doc["drift"]
    assert payroll["name"] == "payroll"
    assert payroll["reasons"][0].startswith(
        "the potential role bdc9548b-639e-509d-9d12-29fb77b8beb9 is provisioned in the tenant "
        "(provisionState PENDING): it is a role now"
    )
    assert len([r for r in payroll["reasons"] if "is provisioned" in r]) == 1  # said once
    # a summary moves no count: the plan sees it when it reads roles whole (check always does)
    assert "No changes." in project.run("plan")[1]
    planned = project.run("plan", "--refresh", "full")[1]  # there, where it is reviewed
    assert "# payroll will be re-exported: the role changed since it was exported; the " in planned
    assert "is provisioned in the tenant (provisionState PENDING)" in planned


def test_an_altered_archive_is_drift_and_a_missing_one_is_not(project: Project) -> None:
    archive = project.folder / "exports" / "accounting-core.zip"
    archive.unlink()
    assert project.check()[0] == 0  # archives stay out of Git: a fresh checkout has none
    archive.write_bytes(b"not the archive")
    code, doc = project.check()
    assert code == 3
    assert doc["drift"] == [
        {
            "name": "accounting-core",
            "action": "download",
            "reasons": [
                "exports/accounting-core.zip was altered (its sha256 differs from the recorded one)"
            ],
        }
    ]


def test_a_manifest_change_with_drift_elsewhere_is_drift_and_lists_both(
    project: Project,
) -> None:
    text = (project.folder / "rmsync.yaml").read_text()
    (project.folder / "rmsync.yaml").write_text(
        text.replace(
            "    potential_role_id: bdc9548b",
            "    min_entitlement_popularity: 20\n    potential_role_id: bdc9548b",
        )
    )
    assert project.check()[0] == 2
    project.tenant.exclude_entitlements(ACCOUNTING, [EXCLUDED])
    code, doc = project.check()
    assert code == 3
    assert [f["name"] for f in doc["drift"]] == ["accounting-core"]
    assert [f["name"] for f in doc["changes"]] == ["payroll"]


def test_markdown_starts_with_the_marker_a_job_finds_its_issue_by(project: Project) -> None:
    project.tenant.exclude_entitlements(ACCOUNTING, [EXCLUDED])
    code, out, _ = project.run("check", "--format", "markdown")
    assert code == 3
    assert out.splitlines()[:4] == [
        "<!-- rmsync: check -->",
        "### rmsync check: `rmsync.yaml`",
        "",
        "**Drift: 1 export no longer as recorded (the tenant changed, or an archive on disk); "
        "0 other changes the manifest asks for.**",
    ]
    assert "- **accounting-core** (re-export): the role changed since it was exported" in out


def test_an_error_is_exit_1_not_drift(project: Project) -> None:
    env = project.env | {"SAIL_CLIENT_SECRET": "wrong"}
    ran = rmsync("check", cwd=project.folder, env=env)
    assert ran.code == 1 and ran.out == ""
    assert ran.err.startswith("Error: ")
    assert "wrong" not in ran.err


SET = """\
version: 1
tenant:
  api_version: v2025
sets:
  fin:
    session: {name: Finance Q3 2026}
    where: {saved: true}
    name: "fin-{slug}"
"""


def test_a_set_s_members_coming_and_going_in_the_tenant_is_drift(
    tenant: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    """The scheduled job applies exit 2 unattended: a set losing or gaining a member is the
    tenant's doing, for a person to review (3), never a forget or an export done unseen."""
    made = Project(tenant, clock, tmp_path, SET)
    assert made.run("apply", "--auto-approve", "--wait")[0] == 0
    for role, saved in ((ACCOUNTING, False), (LEGACY, True)):
        ops = [{"op": "replace", "path": "/saved", "value": saved}]
        patch_summary(tenant.base_url, FINANCE, role, ops)
    code, doc = made.check()
    assert (code, doc["changes"]) == (3, [])
    assert [(f["name"], f["action"]) for f in doc["drift"]] == [
        ("fin-accounting-core", "forget"),
        ("fin-legacy-mainframe-operators", "export"),
    ]
    assert doc["drift"][0]["reasons"][0].startswith("set fin no longer selects its role")
    assert doc["drift"][1]["reasons"] == ["set fin newly selects its role (not in the lockfile)"]


def test_a_typo_in_a_new_set_is_an_error_not_drift(
    tenant: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    made = Project(tenant, clock, tmp_path, SET.replace("Finance Q3 2026", "No such session"))
    code, doc = made.check()
    assert (code, doc["result"], doc["drift"], doc["problems"]) == (1, "error", [], [])
    assert [e["name"] for e in doc["errors"]] == ["sets.fin"]
    text = made.run("check")
    assert (
        text[0] == 1
        and "The manifest's own mistakes:\n  rmsync.yaml:5: sets.fin.session" in text[1]
    )


def test_sets_name_as_a_target_or_left_out_covers_its_members(
    tenant: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    made = Project(tenant, clock, tmp_path, SET)
    assert made.run("apply", "--auto-approve", "--wait")[0] == 0
    assert made.check("--target", "sets.fin")[0] == 0
    assert made.run("plan", "--detailed-exitcode", "--target", "sets.fin")[0] == 0
    tenant.exclude_entitlements(ACCOUNTING, [EXCLUDED])
    code, doc = made.check("--target", "sets.fin")
    assert (code, [f["name"] for f in doc["drift"]]) == (3, ["fin-accounting-core"])
    code, doc = made.check("--exclude", "sets.fin")  # nothing else: nothing to compare
    assert (code, doc["drift"], doc["checked"]) == (0, [], 0)


def test_an_edited_selector_is_a_change_not_drift(project: Project) -> None:
    manifest = project.folder / "rmsync.yaml"
    manifest.write_text(
        manifest.read_text().replace("name: Accounting core", "name: Treasury analysts")
    )
    code, doc = project.check()
    assert (code, doc["drift"]) == (2, [])
    assert [(f["name"], f["action"]) for f in doc["changes"]] == [("accounting-core", "re-export")]


def test_members_of_a_set_with_none_on_record_are_drift(
    tenant: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    """The scheduled check reads the main branch, where a set was applied when it merged: a
    member not on record is for a person to see before any apply exports it."""
    made = Project(tenant, clock, tmp_path, SET.replace("saved: true", "quality: '>= 99'"))
    assert made.run("apply", "--auto-approve")[0] == 0  # matches nothing: none on record
    manifest = tmp_path / "rmsync.yaml"
    manifest.write_text(SET)
    code, doc = made.check()
    assert code == 3 and doc["changes"] == []
    assert doc["drift"][0]["reasons"][0] == (
        "set fin selects a role not in the lockfile (a new member, or the set is not applied)"
    )


def test_the_drift_issue_fits_the_size_github_takes() -> None:
    from rmsync.check import Check, Finding, Kind, markdown

    many = tuple(
        Finding(f"export-{n:04}", Kind.DRIFT, "re-export", ("the role changed " * 20,))
        for n in range(400)
    )
    body = markdown(Check(many, (), 400), "rmsync.yaml")
    assert len(body) <= 60_000 < len(markdown(Check(many, (), 400), "rmsync.yaml", 10**9))
    assert body.startswith("<!-- rmsync: check -->\n")
    shown = body.count("\n- **export-")
    assert body.endswith(f"_… and {400 - shown:,} more: `rmsync check` lists them all._\n")
