"""The access review (issue 10): what an export will carry, what its parameters leave out and
why, what a changed parameter does, and what changed in the role since the last export, by
name; pure, so tested on values, then rendered as text, JSON and Markdown."""

from __future__ import annotations

import json
from dataclasses import replace

from rmsync import planfile, render, review
from rmsync.models import (
    Access,
    Action,
    Entitlement,
    ExportParams,
    Plan,
    Step,
)
from tests.builders import record, role

SHARE = Entitlement("e-share", "CN=Finance Share RW", "Active Directory", 6, 100.0, 12.0)
GL = Entitlement("e-gl", "FI_GL_ACCOUNTANT", "SAP ERP", 5, 83.3, 6.1)
REPORTS = Entitlement("e-rep", "Report Builder", "Salesforce", 1, 16.7, 7.5)
STAFF = Entitlement("e-staff", "CN=All Staff", "Active Directory", 6, 100.0, 98.0, common=True)
PAYROLL = Entitlement("e-pay", "Payroll Admin", "Workday", 6, 100.0, 0.5)
OLD = Entitlement("e-old", "Legacy Ledger", "Mainframe", 2, 33.3, 1.0)

NOW = Access(
    members=6,
    entitlements=(STAFF, SHARE, GL, REPORTS),
    excluded=(PAYROLL,),
    members_by=(("department", (("Finance", 5), ("HR", 1))),),
)
THEN = Access(
    members=5,
    entitlements=(STAFF, replace(SHARE, holders=5), GL, PAYROLL, OLD),
    members_by=(("department", (("Finance", 5),)),),
)


def step(params: ExportParams, then: Access | None = None, recorded: bool = True) -> Step:
    rec = replace(record("acme", 0), access=then) if recorded else None
    return Step(
        action=Action.REEXPORT if recorded else Action.EXPORT,
        name="acme",
        reasons=("the role changed since it was exported",),
        request=replace((rec or record("acme", 0)).request, params=params),
        role=role(0, identity_count=6),
        record=rec,
        access=NOW,
    )


def test_the_parameters_decide_what_is_carried_and_why_the_rest_is_left_out() -> None:
    found = review.review(step(ExportParams(20, False), recorded=False))
    assert found is not None
    assert found.carried == (SHARE, GL)
    assert found.below_popularity == (REPORTS,)  # 16.7% of the members, under 20
    assert found.common == (STAFF,)
    assert found.excluded == (PAYROLL,)
    assert (found.effects, found.since) == ((), None)


def test_a_parameter_change_names_the_entitlements_it_drops_and_adds() -> None:
    rec = record("acme", 0)
    old = ExportParams(0, True)
    s = replace(
        step(ExportParams(20, False), THEN),
        record=replace(rec, request=replace(rec.request, params=old), access=THEN),
    )
    found = review.review(s)
    assert found is not None
    by_field = {e.field: e for e in found.effects}
    assert by_field["min_entitlement_popularity"].dropped == (REPORTS,)
    assert by_field["include_common_access"].dropped == (STAFF,)
    assert all(not e.added for e in found.effects)
    newer = replace(rec, request=replace(rec.request, params=ExportParams(20, False)))
    back = review.review(replace(s, request=replace(s.request, params=old), record=newer))
    assert back is not None
    assert {e.field: e.added for e in back.effects}["min_entitlement_popularity"] == (REPORTS,)


def test_what_changed_in_the_role_since_the_last_export_is_named() -> None:
    found = review.review(step(ExportParams(), THEN))
    assert found is not None and found.since is not None
    since = found.since
    assert since.excluded == (PAYROLL,)  # carried then, excluded in the tenant now
    assert since.added == (REPORTS,)  # new to the role
    assert since.removed == (OLD,)  # no longer in the role
    assert since.included_again == ()
    assert since.holders == ((SHARE, 5),)  # the entitlement now, and its holders then
    assert since.members == (5, 6)
    assert since.members_by == (("department", "HR", 0, 1),)
    again = review.changes(
        NOW, replace(NOW, entitlements=(*NOW.entitlements, PAYROLL), excluded=())
    )
    assert again.included_again == (PAYROLL,) and again.excluded == ()
    assert review.changes(NOW, NOW).empty


def test_no_access_read_means_no_review() -> None:
    assert review.review(replace(step(ExportParams()), access=None)) is None


def test_the_text_plan_names_every_entitlement_with_its_holders_and_why() -> None:
    text = render.text(Plan((step(ExportParams(20, False), THEN),), ()))
    assert (
        "      access: 6 members; the export carries 2 of 4 entitlements (1 more excluded in the tenant)\n"
        in text
    )
    assert (
        "        + CN=Finance Share RW (Active Directory): held by 6 of 6 (100%), 12% of the org\n"
        in text
    )
    assert (
        "        - Report Builder (Salesforce): below min_entitlement_popularity 20%: held by 1 of 6 (16.7%), 7.5% of the org\n"
        in text
    )
    assert (
        "        - CN=All Staff (Active Directory): common access, left out by include_common_access false:"
        in text
    )
    assert (
        "        x Payroll Admin (Workday): excluded in the tenant: held by 6 of 6 (100%), 0.5% of the org\n"
        in text
    )
    assert "      since the last export:\n" in text
    assert "        excluded in the tenant: Payroll Admin (Workday)\n" in text
    assert "        no longer in the role: Legacy Ledger (Mainframe)\n" in text
    assert "        holders moved: CN=Finance Share RW (Active Directory) 5 → 6\n" in text
    assert "        members 5 → 6; department=HR 0 → 1\n" in text


def test_json_carries_the_access_and_the_review_by_name_and_reads_back() -> None:
    plan = Plan((step(ExportParams(20, False), THEN),), ())
    doc = json.loads(planfile.dumps(plan))
    action = doc["actions"][0]
    assert [e["name"] for e in action["review"]["carries"]] == [
        "CN=Finance Share RW",
        "FI_GL_ACCOUNTANT",
    ]
    assert action["review"]["left_out"]["min_entitlement_popularity"][0]["name"] == "Report Builder"
    assert action["review"]["since_last_export"]["excluded"][0]["name"] == "Payroll Admin"
    assert action["access"]["members_by"] == {"department": {"Finance": 5, "HR": 1}}


def test_markdown_folds_each_export_s_table_and_cuts_the_details_before_them() -> None:
    steps = tuple(replace(step(ExportParams(), THEN), name=f"export-{n:03d}") for n in range(40))
    plan = Plan(steps, ())
    whole = render.markdown(plan, limit=1_000_000)
    assert whole.count("<details><summary><b>export-") == 40
    assert "| carried | CN=Finance Share RW | Active Directory | 6 of 6 (100%) | 12% |" in whole
    assert "<details><summary>Details</summary>" in whole
    sizes = []
    for limit in range(4_000, len(whole) + 2_000, 2_000):
        comment = render.markdown(plan, limit=limit)
        assert len(comment) <= limit
        assert comment.count("- `!` **export-") == 40  # the list of actions stays whole
        folds = comment.count("<details><summary><b>export-")
        if folds < 40:  # access tables cut only once the details are gone
            assert "<details><summary>Details</summary>" not in comment
            assert "The details are not shown" in comment
        sizes.append(folds)
    assert sizes == sorted(sizes) and sizes[0] < 40 == sizes[-1]
