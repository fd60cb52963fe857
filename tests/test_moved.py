"""Renames without a new export (issue 11): the manifest's `moved:` list, as Terraform's
moved blocks. The plan shows OLD → NEW and apply starts nothing for the rename."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from rmsync.sandbox import Sandbox, Schedule
from tests import builders
from tests.run import rmsync

ROOT = Path(__file__).resolve().parents[1]


def rename(project: Path, old: str, new: str, moved: bool = True, **changes: object) -> None:
    doc = yaml.safe_load((project / "rmsync.yaml").read_text())
    doc["exports"][new] = {**doc["exports"].pop(old), **changes}
    if moved:
        doc["moved"] = [{"from": old, "to": new}]
    (project / "rmsync.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture
def applied(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> tuple[Path, dict[str, str], Sandbox]:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    env = builders.tenant_env(sandbox.base_url)
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", tmp_path / "rmsync.yaml")
    assert rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=env).code == 0
    return tmp_path, env, sandbox


def test_a_rename_is_shown_and_applied_without_starting_anything(
    applied: tuple[Path, dict[str, str], Sandbox],
) -> None:
    project, env, sandbox = applied
    before = json.loads(json.dumps(yaml.safe_load((project / "rmsync.lock.yaml").read_text())))
    started = len(sandbox.created_exports())
    rename(project, "payroll", "payroll-team")
    planned = rmsync("plan", "--detailed-exitcode", cwd=project, env=env)
    assert planned.code == 2, planned.err
    assert (
        "  # payroll-team will be updated in the lockfile: renamed from payroll (moved: in "
        in planned.out
    )
    assert (
        "  ~ update payroll-team\n      ~ name                       = payroll → payroll-team\n"
        in planned.out
    )
    assert "payroll will be forgotten" not in planned.out and "+ export" not in planned.out
    assert planned.out.endswith("Plan: 0 to export, 0 to re-export, 1 to update, 0 to forget.\n")
    doc = json.loads(rmsync("plan", "--json", cwd=project, env=env).out)
    assert [(a["name"], a["moved_from"]) for a in doc["actions"]] == [("payroll-team", "payroll")]
    done = rmsync("apply", "--auto-approve", cwd=project, env=env)
    assert done.code == 0, done.err
    assert "\npayroll-team: renamed from payroll\n" in done.out
    assert len(sandbox.created_exports()) == started  # nothing started
    after = yaml.safe_load((project / "rmsync.lock.yaml").read_text())
    assert "payroll" not in after["exports"]
    assert after["exports"]["payroll-team"] == before["exports"]["payroll"]
    again = rmsync("plan", "--detailed-exitcode", cwd=project, env=env)
    assert again.code == 0, again.out  # the moved: entry stays, and does nothing now


def test_a_rename_with_new_parameters_re_exports_under_the_new_name_only(
    applied: tuple[Path, dict[str, str], Sandbox],
) -> None:
    project, env, _sandbox = applied
    rename(project, "payroll", "payroll-team", min_entitlement_popularity=50)
    planned = rmsync("plan", cwd=project, env=env)
    assert (
        "-/+ re-export payroll-team\n      ~ name                       = payroll → payroll-team\n"
        in planned.out
    )
    assert "renamed from payroll (moved: in " in planned.out
    assert rmsync("apply", "--auto-approve", cwd=project, env=env).code == 0
    after = yaml.safe_load((project / "rmsync.lock.yaml").read_text())
    assert "payroll" not in after["exports"]
    assert after["exports"]["payroll-team"]["min_entitlement_popularity"] == 50


def test_a_saved_plan_with_a_rename_applies(applied: tuple[Path, dict[str, str], Sandbox]) -> None:
    project, env, _sandbox = applied
    rename(project, "payroll", "payroll-team")
    assert rmsync("plan", "--out", "plan.json", cwd=project, env=env).code == 0
    shown = rmsync("show", "plan.json", cwd=project, env=env)
    assert "~ name                       = payroll → payroll-team" in shown.out
    done = rmsync("apply", "plan.json", cwd=project, env=env)
    assert done.code == 0, done.err
    after = yaml.safe_load((project / "rmsync.lock.yaml").read_text())
    assert "payroll-team" in after["exports"] and "payroll" not in after["exports"]


def test_without_moved_a_rename_forgets_and_exports(
    applied: tuple[Path, dict[str, str], Sandbox],
) -> None:
    project, env, _ = applied
    rename(project, "payroll", "payroll-team", moved=False)
    planned = rmsync("plan", cwd=project, env=env)
    assert "+ export payroll-team" in planned.out and "- forget payroll" in planned.out


@pytest.mark.parametrize(
    ("moved", "message"),
    [
        ([{"from": "x", "to": "x"}], "moved[0]: 'x' is moved to itself; remove the entry"),
        ([{"from": "old", "to": "nope"}], "moved[0]: there is no export 'nope' in the manifest"),
        ([{"from": "payroll", "to": "sre-on-call"}], "moved[0]: 'payroll' is still an export"),
        (
            [{"from": "a", "to": "payroll"}, {"from": "b", "to": "payroll"}],
            "moved[1]: two names are moved to 'payroll'; keep one entry",
        ),
        ([{"from": "A!", "to": "payroll"}], "moved[0].from: must be an export name"),
        ([{"from": "a"}], "moved[0].to: required field is missing"),
    ],
)
def test_wrong_moves_are_reported_at_their_lines(
    tmp_path: Path, moved: list[dict[str, str]], message: str
) -> None:
    doc = yaml.safe_load((ROOT / "tests" / "data" / "manifests" / "by-ids.yaml").read_text())
    doc["moved"] = moved
    (tmp_path / "rmsync.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    ran = rmsync("validate", cwd=tmp_path, env={})
    assert ran.code == 1
    assert message in ran.err and "rmsync.yaml:" in ran.err


def test_renames_can_chain_as_they_pile_up(applied: tuple[Path, dict[str, str], Sandbox]) -> None:
    project, env, sandbox = applied
    started = len(sandbox.created_exports())
    doc = yaml.safe_load((project / "rmsync.yaml").read_text())
    doc["exports"]["payroll-team-2"] = doc["exports"].pop("payroll")
    doc["moved"] = [
        {"from": "payroll", "to": "payroll-team"},
        {"from": "payroll-team", "to": "payroll-team-2"},
    ]
    (project / "rmsync.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    planned = rmsync("plan", cwd=project, env=env)
    assert "~ name                       = payroll → payroll-team-2" in planned.out
    assert rmsync("apply", "--auto-approve", cwd=project, env=env).code == 0
    assert len(sandbox.created_exports()) == started
    lock = yaml.safe_load((project / "rmsync.lock.yaml").read_text())
    assert "payroll-team-2" in lock["exports"] and "payroll" not in lock["exports"]


def test_moves_that_come_round_again_are_refused(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "tests" / "data" / "manifests" / "by-ids.yaml").read_text())
    doc["moved"] = [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]
    (tmp_path / "rmsync.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    ran = rmsync("validate", cwd=tmp_path, env={})
    assert (
        ran.code == 1 and "the moves from 'a' come round to it again; break the circle" in ran.err
    )


def test_the_old_name_on_the_command_line_means_the_new_one(
    applied: tuple[Path, dict[str, str], Sandbox],
) -> None:
    project, env, _ = applied
    rename(project, "payroll", "payroll-team")
    planned = rmsync("plan", "--target", "payroll", cwd=project, env=env)
    assert planned.code == 0, planned.err
    assert "~ name                       = payroll → payroll-team" in planned.out
    assert planned.out.endswith("Plan: 0 to export, 0 to re-export, 1 to update, 0 to forget.\n")
