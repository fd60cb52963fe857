"""Sets (issue 11): the roles of a session that meet the tenant's own metrics, each an export
named from a template; new matches are exported, vanished ones forgotten, names stay stable
when a session is re-run, and a set whose session is gone keeps its members' records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from rmsync.sandbox import Sandbox, Schedule
from tests import builders
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import patch_summary
from tests.run import rmsync

MANIFEST = """\
version: 1
tenant:
  api_version: v2025
sets:
  finance:
    session: {name: Finance Q3 2026}
    where: {quality: [">= 75", "< 85"]}
    name: "fin-{slug}"
    min_entitlement_popularity: 10
"""


@pytest.fixture
def tenant(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(schedule=Schedule(0, 0, 0))


def write(repo: Path, text: str) -> None:
    (repo / "rmsync.yaml").write_text(text)


def test_a_set_exports_each_role_that_meets_its_conditions(tenant: Sandbox, tmp_path: Path) -> None:
    write(tmp_path, MANIFEST)
    env = builders.tenant_env(tenant.base_url)
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert planned.code == 0, planned.err
    assert "+ export fin-accounting-core\n" in planned.out
    assert "+ export fin-payroll-specialists\n" in planned.out
    assert planned.out.endswith("Plan: 2 to export, 0 to re-export, 0 to update, 0 to forget.\n")
    assert "min_entitlement_popularity = 10" in planned.out
    assert (
        '        potential_role_by          = set finance: session "Finance Q3 2026", role '
        '"Accounting core"\n'
    ) in planned.out
    assert rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=env).code == 0
    lock = yaml.safe_load((tmp_path / "rmsync.lock.yaml").read_text())
    assert lock["exports"]["fin-payroll-specialists"]["resolved"] == {
        "session": "Finance Q3 2026",
        "role": "Payroll specialists",
        "how": "set finance",
    }
    assert rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env).code == 0

    write(tmp_path, MANIFEST.replace('">= 75"', '">= 80"'))  # Accounting core (78) leaves
    narrower = rmsync("plan", cwd=tmp_path, env=env)
    assert "- forget fin-accounting-core" in narrower.out
    assert (
        "# fin-accounting-core will be forgotten: set finance no longer selects its role (the "
        "role is gone with a re-run, or no longer meets the set's conditions; nothing is "
        "deleted on the tenant)"
    ) in narrower.out
    assert narrower.out.endswith("Plan: 0 to export, 0 to re-export, 0 to update, 1 to forget.\n")


def test_members_keep_their_names_when_the_session_is_re_run(
    tenant: Sandbox, tmp_path: Path
) -> None:
    write(tmp_path, MANIFEST)
    env = builders.tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=env).code == 0
    tenant.rerun_session(FINANCE)
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert planned.code == 0, planned.err
    assert "-/+ re-export fin-accounting-core" in planned.out
    assert "-/+ re-export fin-payroll-specialists" in planned.out
    assert "set finance now finds another role than the lockfile's: " in planned.out
    assert planned.out.endswith("Plan: 0 to export, 2 to re-export, 0 to update, 0 to forget.\n")
    assert rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=env).code == 0
    assert rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env).code == 0


def test_a_set_whose_session_is_gone_keeps_its_members(tenant: Sandbox, tmp_path: Path) -> None:
    write(tmp_path, MANIFEST)
    env = builders.tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    write(tmp_path, MANIFEST.replace("Finance Q3 2026", "Finance Q4 2026"))
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert planned.code == 1
    assert "- forget" not in planned.out
    assert 'sets.finance.session: no role-mining session is named "Finance Q4 2026"' in planned.out
    assert "rmsync could not plan 2 exports" in planned.out


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("{colour: red}", "sets.finance.where"),
        ('{quality: "~ 80"}', "sets.finance.where"),
    ],
)
def test_a_wrong_condition_is_reported_at_its_line(
    tmp_path: Path, where: str, message: str
) -> None:
    write(tmp_path, MANIFEST.replace('{quality: [">= 75", "< 85"]}', where))
    ran = rmsync("validate", cwd=tmp_path, env={})
    assert ran.code == 1
    assert "rmsync.yaml:" in ran.err and message in ran.err


def test_every_wrong_condition_is_said_at_its_own_line(tmp_path: Path) -> None:
    where = "\n      typ: COMMON\n      freshness: 500\n      quality: []"
    write(tmp_path, MANIFEST.replace(' {quality: [">= 75", "< 85"]}', where))
    ran = rmsync("validate", cwd=tmp_path, env={})
    assert ran.code == 1
    assert ran.err.splitlines() == [
        "Error: rmsync.yaml:8: sets.finance.where.typ: potential roles cannot be chosen by "
        "'typ'; the fields are createdById, createdByName, description, endDate, freshness, "
        "name, quality, saved, startDate, type",
        "rmsync.yaml:9: sets.finance.where.freshness: freshness takes a whole number from 0 to "
        "100, not 500",
        "rmsync.yaml:10: sets.finance.where.quality: an empty list is no condition (it would "
        'select every role): give one, such as ">= 80", or a list of them, or leave the field '
        "out",
    ]


def test_a_set_whose_session_is_still_mining_keeps_every_member(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    tenant = make_sandbox(schedule=Schedule(0, 0, 60))  # a re-run takes a (fake) minute
    write(tmp_path, MANIFEST)
    env = builders.tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    tenant.rerun_session(FINANCE, at_once=False)  # mining: its roles are not there yet
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert planned.code == 1
    assert "- forget" not in planned.out
    assert "is still mining (UPDATED): its potential roles are not all there yet" in planned.out
    assert "(fin-accounting-core, fin-payroll-specialists)" in planned.out  # said once
    assert planned.err.endswith(
        "listed above): wait until the session's mining is done, or leave them out with "
        "--exclude NAME (a set and its members: --exclude sets.finance)\n"
    )
    left_out = rmsync(
        "plan", "--detailed-exitcode", "--exclude", "sets.finance", cwd=tmp_path, env=env
    )
    assert left_out.code == 0, left_out.out + left_out.err  # members kept, none a problem
    assert "could not plan" not in left_out.out and "forget" not in left_out.out
    for command, again in (("roles", "list its roles"), ("import", "import")):
        ran = rmsync(command, "--session", "Finance Q3 2026", cwd=tmp_path, env=env)
        assert (ran.code, ran.out) == (1, ""), command
        assert ran.err == (
            f"Error: session Finance Q3 2026 ({FINANCE}) is still mining (UPDATED): its "
            f"potential roles are not all there yet; {again} again once it is done\n"
        )
    assert (tmp_path / "rmsync.yaml").read_text() == MANIFEST  # import wrote nothing


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("fin-{slug}-{x}", "may hold only {slug}, {set} (plain, no format)"),
        ("fin-{slug}-{0}", "may hold only {slug}, {set} (plain, no format)"),
        ("{slug}-{slug.upper}", "may hold only {slug}, {set} (plain, no format)"),
        ("{slug}-{slug:>9}", "may hold only {slug}, {set} (plain, no format)"),
        ("fin-{slug}-{", "is not a template"),
        ("Fin {slug}", "does not make an export name"),
        ("-{slug}", "does not make an export name"),
    ],
)
def test_a_name_template_that_could_make_a_wrong_name_is_refused(
    tmp_path: Path, template: str, message: str
) -> None:
    write(tmp_path, MANIFEST.replace('name: "fin-{slug}"', f'name: "{template}"'))
    ran = rmsync("validate", cwd=tmp_path, env={})
    assert ran.code == 1
    assert "rmsync.yaml:8: sets.finance.name: " in ran.err and message in ran.err


def test_a_broken_set_is_left_out_with_exclude_and_ignored_with_target(
    tenant: Sandbox, tmp_path: Path
) -> None:
    text = MANIFEST.replace("Finance Q3 2026", "Gone 2030") + (
        "exports:\n  payroll:\n    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71\n"
        "    potential_role_id: bdc9548b-639e-509d-9d12-29fb77b8beb9\n"
    )
    write(tmp_path, text)
    env = builders.tenant_env(tenant.base_url)
    refused = rmsync("apply", "--auto-approve", cwd=tmp_path, env=env)
    assert refused.code == 1 and "(sets.finance; listed above); nothing was started" in refused.err
    assert refused.err.endswith(
        "out with --exclude NAME (a set and its members: --exclude sets.finance)\n"
    )
    by_name = rmsync("plan", "--exclude", "finance", cwd=tmp_path, env=env)
    assert (
        "--exclude: 'finance' is not an export in the manifest or the lockfile (a set is "
        "named sets.finance)"
    ) in by_name.err
    for args in (("--exclude", "sets.finance"), ("--target", "payroll")):
        planned = rmsync("plan", "--detailed-exitcode", *args, cwd=tmp_path, env=env)
        assert planned.code == 2, planned.err
        assert "+ export payroll" in planned.out and "could not plan" not in planned.out


def test_a_rename_never_takes_the_record_of_a_live_member(tenant: Sandbox, tmp_path: Path) -> None:
    write(tmp_path, MANIFEST)
    env = builders.tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    moved = MANIFEST + (
        "exports:\n  acc:\n    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71\n"
        "    potential_role_id: 7e36a110-6fb1-5dbd-8d76-60f17a5fac6e\n"
        "moved:\n  - {from: fin-accounting-core, to: acc}\n"
    )
    write(tmp_path, moved)
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert "+ export acc\n" in planned.out  # a new export, not the member's record
    assert "fin-accounting-core" not in planned.out.split("Plan:")[0]  # the member is as it was


def test_a_target_outside_every_set_reads_no_session_or_role_list(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    from tests.test_api import Recorder

    log = Recorder()
    tenant = make_sandbox(schedule=Schedule(0, 0, 0), log=log)
    text = MANIFEST + (
        "exports:\n  payroll:\n    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71\n"
        "    potential_role_id: bdc9548b-639e-509d-9d12-29fb77b8beb9\n"
    )
    write(tmp_path, text)
    env = builders.tenant_env(tenant.base_url)
    planned = rmsync("plan", "--target", "payroll", cwd=tmp_path, env=env)
    assert planned.code == 0, planned.err
    assert log.count("/role-mining-sessions ") == 0 and log.count("potential-role-summaries") == 0
    assert rmsync("plan", cwd=tmp_path, env=env).code == 0
    assert log.count("potential-role-summaries") > 0  # the whole plan reads the set


def test_an_export_may_not_take_over_a_member_s_record(tenant: Sandbox, tmp_path: Path) -> None:
    write(tmp_path, MANIFEST)
    env = builders.tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    write(
        tmp_path,
        MANIFEST
        + (
            "exports:\n  fin-accounting-core:\n"
            "    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71\n"
            "    potential_role_id: 7e36a110-6fb1-5dbd-8d76-60f17a5fac6e\n"
        ),
    )
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert planned.code == 1
    assert (
        "exports.fin-accounting-core: the lockfile records 'fin-accounting-core' as a member of "
        'set finance (role "Accounting core"); give this export another name'
    ) in planned.out
    assert "-/+ re-export" not in planned.out and "- forget" not in planned.out
    assert "fin-accounting-core-2" not in planned.out  # the member is not exported again


def test_an_export_moves_into_a_set_without_a_new_export(tenant: Sandbox, tmp_path: Path) -> None:
    payroll = (
        "exports:\n  payroll:\n    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71\n"
        "    potential_role_id: bdc9548b-639e-509d-9d12-29fb77b8beb9\n"
        "    min_entitlement_popularity: 10\n"
    )
    write(tmp_path, "version: 1\ntenant:\n  api_version: v2025\n" + payroll)
    env = builders.tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    started = len(tenant.created_exports())
    write(tmp_path, MANIFEST + "moved:\n  - {from: payroll, to: fin-payroll-specialists}\n")
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert "~ name                       = payroll → fin-payroll-specialists" in planned.out
    assert "- forget payroll" not in planned.out
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    assert len(tenant.created_exports()) == started + 1  # accounting-core only
    write(tmp_path, MANIFEST + "moved:\n  - {from: gone, to: fin-nobody}\n")
    assert rmsync("validate", cwd=tmp_path, env={}).code == 0  # a member: the plan checks


def test_a_move_to_no_member_keeps_the_record_and_says_so(tenant: Sandbox, tmp_path: Path) -> None:
    payroll = (
        "exports:\n  payroll:\n    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71\n"
        "    potential_role_id: bdc9548b-639e-509d-9d12-29fb77b8beb9\n"
    )
    write(tmp_path, "version: 1\ntenant:\n  api_version: v2025\n" + payroll)
    env = builders.tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    write(tmp_path, MANIFEST + "moved:\n  - {from: payroll, to: fin-typo}\n")
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert planned.code == 1
    assert (
        "moved: moves 'payroll' to 'fin-typo', which is no export (nor a set's member)"
        in planned.out
    )
    assert "- forget payroll" not in planned.out


def test_a_set_that_matches_no_role_says_so(tenant: Sandbox, tmp_path: Path) -> None:
    write(tmp_path, MANIFEST.replace('[">= 75", "< 85"]', '">= 99"'))
    env = builders.tenant_env(tenant.base_url)
    planned = rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert planned.code == 0
    assert planned.out == (
        "No changes. The lockfile matches the manifest and the tenant.\n"
        "Note: set finance: no potential role of its session meets its conditions.\n"
    )
    comment = rmsync("plan", "--format", "markdown", cwd=tmp_path, env=env).out
    assert "_Note: set finance: no potential role of its session meets its conditions._" in comment
    doc = rmsync("plan", "--json", cwd=tmp_path, env=env).out
    assert (
        '"notes": [\n    "set finance: no potential role of its session meets its conditions"\n  ]'
        in doc
    )


def test_a_changed_template_keeps_member_names_and_says_so(tenant: Sandbox, tmp_path: Path) -> None:
    write(tmp_path, MANIFEST)
    env = builders.tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    write(tmp_path, MANIFEST.replace('name: "fin-{slug}"', 'name: "finance-{slug}"'))
    planned = rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert planned.code == 0
    assert (
        "Note: set finance: 2 recorded member(s) keep their names (fin-accounting-core, "
        "fin-payroll-specialists), which its name template no longer makes; rename them with "
        "moved: if you want the new names.\n"
    ) in planned.out


MEMBERS = "fin-accounting-core", "fin-payroll-specialists"  # what MANIFEST's set selects
PAYROLL = "bdc9548b-639e-509d-9d12-29fb77b8beb9"


def test_a_member_moved_to_an_export_of_its_own_is_that_export_s_for_good(
    tenant: Sandbox, tmp_path: Path
) -> None:
    env = builders.tenant_env(tenant.base_url)
    write(tmp_path, MANIFEST)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    started = len(tenant.created_exports())
    own = (
        "exports:\n  payroll-team:\n    potential_role:\n      session: {name: Finance Q3 2026}\n"
        "      name: Payroll specialists\n    min_entitlement_popularity: 10\n"
        "moved:\n  - {from: fin-payroll-specialists, to: payroll-team}\n"
    )
    write(tmp_path, MANIFEST + own)
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert "~ name                       = fin-payroll-specialists → payroll-team" in planned.out
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    again = rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert again.code == 0, again.out + again.err  # no longer claimed by the set
    record = yaml.safe_load((tmp_path / "rmsync.lock.yaml").read_text())["exports"]["payroll-team"]
    assert record["resolved"]["how"] == "by name"
    assert len(tenant.created_exports()) == started  # the rename started nothing


def test_a_member_renamed_with_moved_takes_the_new_name(tenant: Sandbox, tmp_path: Path) -> None:
    env = builders.tenant_env(tenant.base_url)
    write(tmp_path, MANIFEST)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    started = len(tenant.created_exports())
    renamed = MANIFEST.replace('"fin-{slug}"', '"f-{slug}"')
    write(tmp_path, renamed + "moved:\n  - {from: fin-payroll-specialists, to: f-payroll}\n")
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert "~ name                       = fin-payroll-specialists → f-payroll" in planned.out
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    assert rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env).code == 0
    lock = yaml.safe_load((tmp_path / "rmsync.lock.yaml").read_text())["exports"]
    assert sorted(lock) == ["f-payroll", "fin-accounting-core"]
    assert lock["f-payroll"]["resolved"]["how"] == "set finance"
    assert len(tenant.created_exports()) == started


def test_members_that_a_re_run_leaves_alike_by_name_are_a_problem_not_a_swap(
    tenant: Sandbox, tmp_path: Path
) -> None:
    """Two members whose roles carry the same name cannot be told apart once a re-run mints
    new ids: each is a problem of its own; no role is silently dropped or re-pointed."""
    env = builders.tenant_env(tenant.base_url)
    write(tmp_path, MANIFEST)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    lock = tmp_path / "rmsync.lock.yaml"
    text = lock.read_text().replace("role: Payroll specialists", "role: Accounting core")
    lock.write_text(text)  # as if both members' roles had been named alike when recorded
    rename = [{"op": "replace", "path": "/name", "value": "Accounting core"}]
    patch_summary(tenant.base_url, FINANCE, PAYROLL, rename)
    started = len(tenant.created_exports())
    moved = tenant.rerun_session(FINANCE)
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert planned.code == 1, planned.out
    ids = ", ".join(sorted(moved[r] for r in (ACCOUNTING, PAYROLL)))
    assert (
        "sets.finance: 2 of the lockfile's members of set finance (fin-accounting-core, "
        'fin-payroll-specialists) were for roles named "Accounting core", and session Finance '
        f"Q3 2026 now has 2 role(s) of that name ({ids}): which member follows which role "
        "cannot be told by name after a re-run."
    ) in planned.out
    assert "(fin-accounting-core, fin-payroll-specialists)\n" in planned.out  # said once
    assert "+ export" not in planned.out and "forget" not in planned.out
    assert "Note: set finance: no potential role" not in planned.out  # two roles meet it
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 1
    assert len(tenant.created_exports()) == started
    # As the message says: one role gets an export of its own, its member moved there
    own = (
        f"exports:\n  payroll-team:\n    session_id: {FINANCE}\n"
        f"    potential_role_id: {moved[PAYROLL]}\n    min_entitlement_popularity: 10\n"
        "moved:\n  - {from: fin-payroll-specialists, to: payroll-team}\n"
    )
    write(tmp_path, MANIFEST + own)
    settled = rmsync("plan", cwd=tmp_path, env=env)
    assert settled.code == 0, settled.out + settled.err
    assert "~ name                       = fin-payroll-specialists → payroll-team" in settled.out
    assert "-/+ re-export fin-accounting-core" in settled.out  # followed by name, re-run
    assert "could not plan" not in settled.out


def test_a_member_s_role_named_by_an_export_of_its_own_says_how_to_keep_the_record(
    tenant: Sandbox, tmp_path: Path
) -> None:
    env = builders.tenant_env(tenant.base_url)
    write(tmp_path, MANIFEST)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    own = (
        "exports:\n  payroll-team:\n    potential_role:\n      session: {name: Finance Q3 2026}\n"
        "      name: Payroll specialists\n    min_entitlement_popularity: 10\n"
    )
    write(tmp_path, MANIFEST + own)
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert (
        "# fin-payroll-specialists will be forgotten: its role is now export payroll-team's "
        "own, which starts an export of it; to keep this record instead, add moved: {from: "
        "fin-payroll-specialists, to: payroll-team}"
    ) in planned.out
