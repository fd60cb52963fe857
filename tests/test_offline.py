"""`plan --offline` (issue 12): the manifest against the lockfile alone, for pull requests
whose pipelines get no secrets (forks); chosen with a banner when no credentials are set."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from rmsync.sandbox import Sandbox, Schedule
from tests.builders import tenant_env
from tests.conftest import FakeClock
from tests.run import rmsync

ROOT = Path(__file__).resolve().parents[1]
BANNER = "Offline: planned from the manifest and the lockfile only; the tenant was not asked.\n"
DEAD = "http://127.0.0.1:9"  # nothing listens: a request would fail the run


@pytest.fixture
def applied(make_sandbox: Callable[..., Sandbox], clock: FakeClock, tmp_path: Path) -> Path:
    """The shipped example (selectors, a set, one export by ids), applied."""
    tenant = make_sandbox(schedule=Schedule(0, 0, 0))
    (tmp_path / "rmsync.yaml").write_text((ROOT / "examples" / "rmsync.yaml").read_text())
    ran = rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=tenant_env(tenant.base_url))
    assert ran.code == 0, ran.err
    return tmp_path


def no_credentials() -> dict[str, str]:
    env = tenant_env(DEAD)
    return {k: v for k, v in env.items() if k not in ("SAIL_CLIENT_ID", "SAIL_CLIENT_SECRET")}


def edit(folder: Path, old: str, new: str) -> None:
    text = (folder / "rmsync.yaml").read_text()
    assert old in text
    (folder / "rmsync.yaml").write_text(text.replace(old, new, 1))


def test_no_credentials_plans_offline_with_a_banner_and_asks_nothing(applied: Path) -> None:
    ran = rmsync("plan", "--detailed-exitcode", cwd=applied, env=no_credentials())
    assert (ran.code, ran.err) == (
        0,
        "rmsync: no credentials are set (SAIL_CLIENT_ID and SAIL_CLIENT_SECRET, or "
        "SAIL_ACCESS_TOKEN), so this plan is offline: the tenant is not asked\n",
    )
    assert ran.out.startswith(BANNER + "Not checked: whether roles changed")
    assert ran.out.endswith(
        "\n\nNo changes. The lockfile matches the manifest (the tenant was not asked).\n"
    )


def test_offline_with_credentials_asks_nothing_either(applied: Path) -> None:
    ran = rmsync("plan", "--offline", cwd=applied, env=tenant_env(DEAD))
    assert ran.code == 0, ran.err
    assert ran.out.startswith(BANNER)


def test_what_the_manifest_changes_is_planned_from_the_pins(applied: Path) -> None:
    edit(applied, "min_entitlement_popularity: 25", "min_entitlement_popularity: 30")
    edit(applied, "min_entitlement_popularity: 20", "min_entitlement_popularity: 40")
    edit(
        applied,
        "exports:\n",
        "exports:\n  treasury:\n    potential_role: {session: {name: Finance Q3 2026}, "
        "name: Treasury analysts}\n",
    )
    ran = rmsync("plan", "--detailed-exitcode", cwd=applied, env=no_credentials())
    assert ran.code == 2, ran.err
    out = ran.out
    assert "Plan: 1 to export, 3 to re-export, 0 to update, 0 to forget.\n" in out
    assert "-/+ re-export account-executives\n" in out  # a selector, from its pin
    assert "      ~ min_entitlement_popularity = 25 → 30\n" in out
    for member in ("support-customer-support-agents", "support-sales-managers"):
        assert f"-/+ re-export {member}\n" in out  # a set's recorded members, new parameters
    assert "  + export treasury\n" in out
    unknown = "(not known offline: the tenant finds it at apply)"
    assert f"        potential_role             = {unknown}\n" in out
    assert "forget" not in out.split("Plan:")[0]  # no member is forgotten for want of a list


def test_a_selector_that_names_another_role_is_not_taken_from_the_pin(applied: Path) -> None:
    edit(applied, "name: Payroll specialists", "name: Treasury analysts")
    ran = rmsync("plan", cwd=applied, env=no_credentials())
    assert ran.code == 0, ran.err
    assert "-/+ re-export payroll\n" in ran.out
    assert (
        "      ~ potential_role             = bdc9548b-639e-509d-9d12-29fb77b8beb9 → (not known "
        "offline: the tenant finds it at apply)\n"
    ) in ran.out


def test_offline_json_and_markdown_say_so(applied: Path) -> None:
    ran = rmsync("plan", "--json", cwd=applied, env=no_credentials())
    doc = json.loads(ran.out)
    jsonschema.validate(doc, json.loads((ROOT / "schemas" / "plan.schema.json").read_text()))
    assert doc["offline"] is True and doc["summary"]["changed"] is False
    comment = rmsync("plan", "--format", "markdown", cwd=applied, env=no_credentials()).out
    assert comment.splitlines()[:5] == [
        "<!-- rmsync: rmsync.yaml -->",
        "### rmsync plan: `rmsync.yaml` (v2025)",
        "",
        "> [!NOTE]",
        "> " + BANNER.rstrip("\n") + " Not checked: whether roles changed, vanished or were "
        "re-mined, how recorded exports are doing, what a new export will carry, which role a "
        "new name finds, and which roles newly meet a set's conditions. apply plans afresh "
        "against the tenant.",
    ]


@pytest.mark.parametrize(
    ("flag", "why"),
    [(("--offline",), "--offline"), ((), "no credentials are set (SAIL_CLIENT_ID, ...)")],
)
def test_an_offline_plan_is_not_saved_for_apply(
    applied: Path, flag: tuple[str, ...], why: str
) -> None:
    env = tenant_env(DEAD) if flag else no_credentials()
    ran = rmsync("plan", *flag, "--out", "plan.json", cwd=applied, env=env)
    assert ran.code == 1
    assert f"Error: --out saves a plan for apply, but {why}: an offline plan" in ran.err
    assert not (applied / "plan.json").exists()


def test_apply_without_credentials_is_still_an_error(applied: Path) -> None:
    ran = rmsync("apply", "--auto-approve", cwd=applied, env=no_credentials())
    assert ran.code == 1 and "no credentials" in ran.err
