"""Rendering plans: text and JSON against golden files, colour, and the no-change message."""

from __future__ import annotations

import json
from collections.abc import Callable

from rmsync import render
from rmsync.lockfile import Lock, Status
from rmsync.manifest import ExportParams
from rmsync.models import ExportJob, Live
from rmsync.plan import Plan, make_plan
from tests.test_plan import R, export, manifest, record, role


def every_action() -> Plan:
    m = manifest(
        export("accounting-core", 0, params=ExportParams(10, False)),
        export("payroll", 1, params=ExportParams(20, True)),
        export("sales-reps", 2),
        export("sre-on-call", 3),
    )
    lock = Lock(
        {
            "payroll": record("payroll", 1),
            "sales-reps": record("sales-reps", 2, Status.QUEUED),
            "sre-on-call": record("sre-on-call", 3),
            "treasury": record("treasury", 4),
        }
    )
    roles = {R[n]: role(n) for n in range(4)}
    roles[R[3]] = role(3, identity_count=6, modified="2026-11-02T00:00:00.000Z")
    jobs = {"exp-sales-reps": ExportJob("exp-sales-reps", Status.SUCCESS, ExportParams())}
    return make_plan(m, lock, Live(roles, jobs))


def test_plan_text_matches_golden(golden: Callable[[str, str], None]) -> None:
    text = render.text(every_action())
    golden("plan/plan.txt", text)
    assert text.endswith("Plan: 1 to export, 2 to re-export, 1 to update, 1 to forget.\n")
    assert "\x1b[" not in text


def test_plan_json_matches_golden_and_is_stable(golden: Callable[[str, str], None]) -> None:
    doc = render.as_json(every_action())
    golden("plan/plan.json", doc)
    parsed = json.loads(doc)
    assert parsed["format_version"] == 1
    assert [a["action"] for a in parsed["actions"]] == [
        "export",
        "re-export",
        "update",
        "re-export",
        "forget",
    ]
    assert render.as_json(every_action()) == doc


def test_colour_only_when_asked() -> None:
    coloured = render.text(every_action(), color=True)
    assert "\x1b[32m  +\x1b[0m export accounting-core" in coloured
    assert "\x1b[31m  -\x1b[0m forget treasury" in coloured


def test_no_changes() -> None:
    empty = make_plan(manifest(), Lock(), Live())
    assert render.text(empty) == "No changes. The lockfile matches the manifest and the tenant.\n"
    assert json.loads(render.as_json(empty))["summary"]["changed"] is False


def test_markdown_matches_golden(golden: Callable[[str, str], None]) -> None:
    comment = render.markdown(every_action())
    golden("plan/plan.md", comment)
    assert "> Applying this plan will start 3 exports and forget 1 record." in comment
    assert "<details><summary>Details</summary>" in comment


def test_markdown_stays_under_the_limit_and_says_so() -> None:
    names = [f"export-{n:04d}" for n in range(400)]
    m = manifest(*(export(name, n % 8) for n, name in enumerate(names)))
    big = make_plan(m, Lock(), Live({R[n]: role(n) for n in range(8)}))
    comment = render.markdown(big, limit=20_000)
    assert len(comment) <= 20_000
    assert "more actions are not shown (this comment stays under 20,000 characters)" in comment
    full = render.markdown(big)
    assert len(full) <= 60_000
    shown = full.count("+ export export-")
    assert (
        f"_{400 - shown} more actions are not shown (this comment stays under 60,000 characters)"
        in full
    )
    small = make_plan(
        manifest(*(export(name, n) for n, name in enumerate(names[:8]))),
        Lock(),
        Live({R[n]: role(n) for n in range(8)}),
    )
    assert render.markdown(small).count("+ export export-") == 8
    assert "not shown" not in render.markdown(small)


def test_json_plan_conforms_to_its_schema() -> None:
    from jsonschema import Draft202012Validator

    from rmsync import planfile

    errors = list(
        Draft202012Validator(planfile.schema()).iter_errors(
            json.loads(render.as_json(every_action()))
        )
    )
    assert errors == []
