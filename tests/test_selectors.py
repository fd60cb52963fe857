"""Roles by name, not UUID (issue 11): a manifest names a session and a role; the plan finds
them in the tenant, the lockfile pins what it found, and a re-run session (new ids) is
followed by name, shown as a reviewed change, and converges with nothing started twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from rmsync.sandbox import Sandbox, Schedule, load_seed
from tests import builders
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import FakeClock
from tests.run import rmsync

SALES = "c7affc9a-ec78-55b6-8a8e-d584dceea31d"

SEED = Path(__file__).resolve().parents[1] / "rmsync" / "sandbox" / "default_seed.yaml"
MANIFEST = """\
version: 1
tenant:
  api_version: v2025
exports:
  accounting-core:
    potential_role:
      session: {name: Finance Q3 2026}
      name: Accounting core
    min_entitlement_popularity: 10
  payroll:
    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71
    potential_role_id: bdc9548b-639e-509d-9d12-29fb77b8beb9
"""


@pytest.fixture
def tenant(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(schedule=Schedule(0, 0, 0))


def project(tmp_path: Path, text: str = MANIFEST) -> Path:
    (tmp_path / "rmsync.yaml").write_text(text)
    return tmp_path


def test_a_role_named_by_session_and_name_is_found_and_pinned(
    tenant: Sandbox, tmp_path: Path
) -> None:
    repo, env = project(tmp_path), builders.tenant_env(tenant.base_url)
    planned = rmsync("plan", cwd=repo, env=env)
    assert planned.code == 0, planned.err
    assert (
        '        potential_role_by          = session "Finance Q3 2026", role "Accounting core" '
        "(by name)\n"
        f'        potential_role             = {ACCOUNTING} "Accounting core"'
    ) in planned.out
    assert rmsync("apply", "--auto-approve", "--wait", cwd=repo, env=env).code == 0
    lock = yaml.safe_load((repo / "rmsync.lock.yaml").read_text())
    record = lock["exports"]["accounting-core"]
    assert (record["session_id"], record["potential_role_id"]) == (FINANCE, ACCOUNTING)
    assert record["resolved"] == {
        "session": "Finance Q3 2026",
        "role": "Accounting core",
        "how": "by name",
    }
    assert rmsync("plan", "--detailed-exitcode", cwd=repo, env=env).code == 0


def test_a_re_run_session_is_followed_by_name_and_converges(
    tenant: Sandbox, tmp_path: Path
) -> None:
    repo, env = project(tmp_path), builders.tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", "--wait", cwd=repo, env=env).code == 0
    new_ids = tenant.rerun_session(FINANCE)  # new ids for every role of the session
    renewed = new_ids[ACCOUNTING]
    planned = rmsync("plan", cwd=repo, env=env)
    assert planned.code == 1  # payroll, named by id, is gone: its problem alone
    assert "-/+ re-export accounting-core" in planned.out
    assert (
        f'session "Finance Q3 2026", role "Accounting core" now finds another role than the '
        f'lockfile\'s: {renewed} "Accounting core" (a re-run session mints new ids)'
    ) in planned.out
    assert (
        f'      ~ potential_role             = {ACCOUNTING} → {renewed} "Accounting core" '
        "(6 identities, 9 entitlements)\n"
    ) in planned.out
    assert "the export parameters changed" not in planned.out.split("# payroll")[0]
    assert "exports.payroll.potential_role_id: the tenant has no potential role" in planned.out
    excluded = ("--exclude", "payroll")
    assert rmsync("apply", "--auto-approve", "--wait", *excluded, cwd=repo, env=env).code == 0
    quiet = rmsync("plan", "--detailed-exitcode", *excluded, cwd=repo, env=env)
    assert quiet.code == 0, quiet.out  # converged
    started = Counter(e.role_id for e in tenant.created_exports())
    assert started[ACCOUNTING] == 1 and started[renewed] == 1  # nothing started twice


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (
            "{session: {name: Finance Q3 2026}, name: Nobody}",
            "session Finance Q3 2026 (9f36f5e5-1e81-4eca-b087-548959d91c71) has no potential "
            'role named "Nobody"',
        ),
        (
            "{session: {name: No such session}, name: Accounting core}",
            'no role-mining session is named "No such session"',
        ),
        (
            "{session: {id: 9f36f5e5-1e81-4eca-b087-548959d91c71}, id: "
            "00000000-0000-4000-8000-000000000000}",
            "has no potential role 00000000-0000-4000-8000-000000000000 (a re-run session "
            "mints new ids: name the role instead)",
        ),
        (
            "{session: {id: c7affc9a-ec78-55b6-8a8e-d584dceea31d}, id: "
            "1c776213-1173-567a-bcce-4113a36bacb6}",
            "potential role 1c776213-1173-567a-bcce-4113a36bacb6 (SRE on-call) belongs to "
            "session 7d2982cd-8d83-5012-ab71-85cb5f463b45, not Sales and support 2026 "
            "(c7affc9a-ec78-55b6-8a8e-d584dceea31d)",
        ),
    ],
)
def test_a_selector_that_finds_nothing_is_a_problem_of_its_export_alone(
    tenant: Sandbox, tmp_path: Path, selector: str, message: str
) -> None:
    text = MANIFEST.replace(
        "    potential_role:\n      session: {name: Finance Q3 2026}\n      name: Accounting core\n",
        f"    potential_role: {selector}\n",
    )
    repo, env = project(tmp_path, text), builders.tenant_env(tenant.base_url)
    planned = rmsync("plan", cwd=repo, env=env)
    assert planned.code == 1
    assert "+ export payroll" in planned.out  # the other export is planned
    assert "rmsync.yaml:5: exports.accounting-core.potential_role: " in planned.out
    assert message in planned.out


def test_a_name_that_differs_only_in_case_still_finds_the_role(
    tenant: Sandbox, tmp_path: Path
) -> None:
    doc = yaml.safe_load(MANIFEST)
    doc["exports"]["accounting-core"]["potential_role"]["name"] = "accounting CORE"
    repo = project(tmp_path, yaml.safe_dump(doc))
    planned = rmsync("plan", cwd=repo, env=builders.tenant_env(tenant.base_url))
    assert planned.code == 0, planned.out
    assert f'potential_role             = {ACCOUNTING} "Accounting core"' in planned.out


def test_an_ambiguous_name_lists_the_candidates(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    seed = SEED.read_text(encoding="utf-8").replace(
        "name: Treasury analysts", "name: Accounting core"
    )
    (tmp_path / "seed.yaml").write_text(seed, encoding="utf-8")
    sandbox = make_sandbox(seed=load_seed(tmp_path / "seed.yaml"))
    (tmp_path / "repo").mkdir()
    repo = project(tmp_path / "repo")
    planned = rmsync("plan", cwd=repo, env=builders.tenant_env(sandbox.base_url))
    assert planned.code == 1
    assert (
        "exports.accounting-core.potential_role: 2 potential roles of session Finance Q3 2026 "
        '(9f36f5e5-1e81-4eca-b087-548959d91c71) are named "Accounting core"; give the one you '
        "mean by its id (potential_role: {session: ..., id: ...}):\n"
        "    Accounting core (7e36a110-6fb1-5dbd-8d76-60f17a5fac6e, 3 identities)\n"
        f"    Accounting core ({ACCOUNTING}, 6 identities)\n"
    ) in planned.out


def test_two_exports_that_find_the_same_role_start_it_once(tenant: Sandbox, tmp_path: Path) -> None:
    twice = MANIFEST + (
        "  again:\n    potential_role: {session: {name: Finance Q3 2026}, name: ACCOUNTING CORE}\n"
        "    min_entitlement_popularity: 10\n"
    )
    repo, env = project(tmp_path, twice), builders.tenant_env(tenant.base_url)
    planned = rmsync("plan", cwd=repo, env=env)
    assert planned.code == 1
    assert (
        "exports.again.potential_role: asks for the same export as 'accounting-core' "
        "(rmsync.yaml:5): the same role and parameters; keep one"
    ) in planned.out
    assert planned.out.count("+ export") == 2  # accounting-core and payroll, not again


def test_report_of_an_export_named_by_its_role(tenant: Sandbox, tmp_path: Path) -> None:
    repo, env = project(tmp_path), builders.tenant_env(tenant.base_url)
    ran = rmsync("report", "accounting-core", cwd=repo, env=env)
    assert ran.code == 0, ran.err
    assert f"potential_role_id           {ACCOUNTING}\n" in ran.out


def test_a_saved_plan_made_before_a_re_run_is_stale_by_name(
    tenant: Sandbox, tmp_path: Path
) -> None:
    repo, env = project(tmp_path), builders.tenant_env(tenant.base_url)
    assert rmsync("plan", "--out", "plan.json", "--exclude", "payroll", cwd=repo, env=env).code == 0
    renewed = tenant.rerun_session(FINANCE)[ACCOUNTING]
    ran = rmsync("apply", "plan.json", cwd=repo, env=env)
    assert ran.code == 1
    assert (
        "plan.json is stale: the tenant changed since it was made (a session re-run?):\n"
        f'  accounting-core: session "Finance Q3 2026", role "Accounting core" now finds '
        f"{renewed}, not {ACCOUNTING}\nrun plan again"
    ) in ran.err
    assert tenant.created_exports() == []


@pytest.mark.parametrize("leave_out", [("--exclude", "broken"), ("--target", "accounting-core")])
def test_a_saved_plan_that_leaves_a_broken_export_out_applies(
    tenant: Sandbox, tmp_path: Path, leave_out: tuple[str, str]
) -> None:
    """A broken export the saved plan leaves out is not the plan's concern: not stale."""
    broken = MANIFEST + (
        "  broken:\n    potential_role:\n      session: {name: Finance Q3 2026}\n"
        "      name: No such role\n"
    )
    repo, env = project(tmp_path, broken), builders.tenant_env(tenant.base_url)
    saved = rmsync("plan", *leave_out, "--out", "plan.json", cwd=repo, env=env)
    assert saved.code == 0, saved.err
    ran = rmsync("apply", "plan.json", cwd=repo, env=env)
    assert ran.code == 0, ran.err
    assert "accounting-core: export started" in ran.out


def test_the_shipped_example_follows_re_runs_by_name_and_converges(
    tenant: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    """The example manifest, as shipped: every role it names by session and name (exports and
    a set's members) is found again after both its sessions are re-run, each shown as a
    reviewed re-export; apply converges and starts no role's export twice."""
    example = Path(__file__).resolve().parents[1] / "examples" / "rmsync.yaml"
    repo, env = project(tmp_path, example.read_text()), builders.tenant_env(tenant.base_url)
    first = rmsync("apply", "--auto-approve", "--wait", cwd=repo, env=env)
    assert first.code == 0, first.err
    assert "Apply complete: 7 exported" in first.out
    recorded = yaml.safe_load((repo / "rmsync.lock.yaml").read_text())["exports"]
    by_name = {n for n, r in recorded.items() if r.get("resolved")}
    assert by_name == set(recorded) - {"sre-on-call"}  # every one but the export by ids
    clock.advance(10)  # each run below starts in a new rate-limit window, as in CI
    moved = tenant.rerun_session(FINANCE) | tenant.rerun_session(SALES)
    planned = rmsync("plan", "--detailed-exitcode", cwd=repo, env=env)
    assert planned.code == 2, planned.err
    assert "Plan: 0 to export, 6 to re-export, 0 to update, 0 to forget." in planned.out
    for name in sorted(by_name):
        old = recorded[name]["potential_role_id"]
        assert f"-/+ re-export {name}\n" in planned.out
        assert f"      ~ potential_role             = {old} → {moved[old]} " in planned.out
    assert "# sre-on-call" not in planned.out  # its session was not re-run
    clock.advance(10)
    again = rmsync("apply", "--auto-approve", "--wait", cwd=repo, env=env)
    assert again.code == 0, again.err
    clock.advance(10)
    assert rmsync("plan", "--detailed-exitcode", cwd=repo, env=env).code == 0  # converged
    started = Counter(e.role_id for e in tenant.created_exports())
    assert set(started.values()) == {1} and len(started) == 13  # 7, then 6 new roles, once each
