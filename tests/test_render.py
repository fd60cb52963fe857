"""Rendering plans: text, JSON and Markdown against golden files, colour, the no-change
message, and the pull-request comment's colours, names, escaping, marker and size limit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

from rmsync import planfile, render
from rmsync.models import Action, ExportJob, ExportParams, Live, Lock, Plan, Provenance, Status
from rmsync.plan import make_plan
from tests.builders import R, export, manifest, record, role


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
    doc = planfile.dumps(every_action())
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
    assert planfile.dumps(every_action()) == doc


def test_colour_only_when_asked() -> None:
    coloured = render.text(every_action(), color=True)
    assert "\x1b[32m  +\x1b[0m export accounting-core" in coloured
    assert "\x1b[31m  -\x1b[0m forget treasury" in coloured


def test_no_changes() -> None:
    empty = make_plan(manifest(), Lock(), Live())
    assert render.text(empty) == "No changes. The lockfile matches the manifest and the tenant.\n"
    assert json.loads(planfile.dumps(empty))["summary"]["changed"] is False


def made_from(path: str) -> Provenance:
    return Provenance(path, "0" * 64, "rmsync.lock.yaml", None, "beta")


def test_markdown_matches_golden(golden: Callable[[str, str], None]) -> None:
    comment = render.markdown(replace(every_action(), provenance=made_from("rmsync.yaml")))
    golden("plan/plan.md", comment)
    assert "> Applying this plan will start 3 exports and forget 1 record." in comment
    assert "<details><summary>Details</summary>" in comment


def diff_lines(comment: str) -> list[str]:
    """The lines inside the comment's ```diff block."""
    start = comment.index("```diff\n") + len("```diff\n")
    return comment[start : comment.index("\n```\n", start)].split("\n")


def test_markdown_diff_symbols_are_in_column_0_and_colour_honestly() -> None:
    plan = every_action()
    fetch = replace(plan.steps[0], action=Action.DOWNLOAD, name="zz-archive", download="a.zip")
    lines = diff_lines(render.markdown(replace(plan, steps=(*plan.steps, fetch))))
    heads = [line for line in lines if line and not line.startswith("  ")]
    assert heads == [
        "+ export accounting-core",
        "! re-export payroll",
        "~ update sales-reps",
        "! re-export sre-on-call",
        "- forget treasury",
        "<= download zz-archive",
    ]
    rest = [line for line in lines if line not in heads]
    assert {line[:4] for line in rest} == {"", "  # ", "    "}
    assert len([line for line in rest if line.startswith("  # ")]) == len(heads)


def test_markdown_legend_explains_symbols_that_differ_from_the_text_plan() -> None:
    comment = render.markdown(every_action())
    legend = "In this diff, `!` marks each re-export (`-/+` in the text plan)."
    assert comment.index("<details>") < comment.index(legend) < comment.index("```diff")
    only_exports = make_plan(manifest(export("a", 0)), Lock(), Live({R[0]: role(0)}))
    assert "In this diff" not in render.markdown(only_exports)


def test_markdown_names_every_change_above_the_fold() -> None:
    comment = render.markdown(every_action())
    above = comment[: comment.index("<details>")]
    assert [line for line in above.splitlines() if line.startswith("- ")] == [
        "- `+` **accounting-core** will be exported: not in the lockfile",
        "- `!` **payroll** will be re-exported: the export parameters changed",
        "- `~` **sales-reps** will be updated in the lockfile: the export moved on: "
        "QUEUED → SUCCESS",
        "- `!` **sre-on-call** will be re-exported: the role changed since it was exported",
        "- `-` **treasury** will be forgotten: no longer in the manifest "
        "(nothing is deleted on the tenant)",
    ]


def test_markdown_free_text_renders_literally_and_cannot_break_the_comment() -> None:
    odd = replace(
        every_action().steps[0],
        name="odd|name_<x>",
        reasons=("role `<script>` is *bold* _it_ a|b [x](y) &amp; ~~s~~ $1$\n# no heading",),
        role=role(0, name="Ops\n```\n- admins"),
    )
    comment = render.markdown(Plan((odd,), ()))
    items = [line for line in comment.splitlines() if line.startswith("- `")]
    assert items == [
        r"- `+` **odd\|name\_\<x\>** will be exported: role \`\<script\>\` is \*bold\* "
        r"\_it\_ a\|b \[x\](y) \&amp; \~\~s\~\~ \$1\$ # no heading"
    ]
    assert "<script>" not in comment[: comment.index("```diff")]
    lines = diff_lines(comment)
    assert [line for line in lines if not line.startswith("  ")] == ["+ export odd|name_<x>"]
    assert "        # no heading" in lines
    assert "        ```" in lines


def test_markdown_marker_and_heading_name_the_manifest() -> None:
    plan = replace(every_action(), provenance=made_from("teams/finance/rmsync.yaml"))
    assert render.markdown(plan).splitlines()[:2] == [
        "<!-- rmsync: teams/finance/rmsync.yaml -->",
        "### rmsync plan: `teams/finance/rmsync.yaml` (beta)",
    ]
    tricky = render.markdown(replace(plan, provenance=made_from("a-->b\n`c`.yaml")))
    assert tricky.splitlines()[:2] == [
        "<!-- rmsync: a--&gt;b&#10;`c`.yaml -->",
        "### rmsync plan: ``a-->b `c`.yaml`` (beta)",
    ]


def test_markdown_marker_without_provenance_and_with_no_changes() -> None:
    assert render.markdown(every_action()).startswith("<!-- rmsync -->\n### rmsync plan\n\n")
    empty = make_plan(manifest(), Lock(), Live())
    assert render.markdown(empty) == (
        "<!-- rmsync -->\n### rmsync plan\n\n"
        "No changes. The lockfile matches the manifest and the tenant.\n"
    )
    assert render.markdown(replace(empty, provenance=made_from("x.yaml"))).startswith(
        "<!-- rmsync: x.yaml -->\n### rmsync plan: `x.yaml` (beta)\n\nNo changes."
    )


def many(count: int) -> Plan:
    names = [f"export-{n:04d}" for n in range(count)]
    m = manifest(*(export(name, n % 8) for n, name in enumerate(names)))
    return make_plan(m, Lock(), Live({R[n]: role(n) for n in range(8)}))


def listed(comment: str) -> list[str]:
    """The export names in the list above the fold."""
    return re.findall(r"^- `[^`]+` \*\*(.+?)\*\*", comment, re.MULTILINE)


def test_markdown_cuts_the_details_first_and_says_so_inside_the_fold() -> None:
    plan = many(400)
    comment = render.markdown(plan)
    assert len(comment) <= 60_000
    assert listed(comment) == [step.name for step in plan.steps]
    assert "- … and" not in comment
    shown = len([line for line in diff_lines(comment) if line.startswith("+ export ")])
    note = f"_{400 - shown} more actions are not shown (this comment stays under 60,000 characters)"
    assert 0 < shown < 400
    assert comment.index("```diff") < comment.index(note) < comment.index("</details>")
    small = render.markdown(many(8))
    assert len(diff_lines(small)) == 8 * 6 + 7
    assert "not shown" not in small


def test_markdown_cuts_the_list_of_a_huge_plan_and_counts_the_rest() -> None:
    plan = many(3_000)
    comment = render.markdown(plan)
    assert len(comment) <= render.MARKDOWN_LIMIT
    names = listed(comment)
    assert 100 < len(names) < 3_000
    assert names == [step.name for step in plan.steps[: len(names)]]
    assert f"\n- … and {3_000 - len(names):,} more\n" in comment
    assert "<details>" not in comment
    assert "_The details are not shown (this comment stays under 60,000 characters)" in comment


def test_markdown_never_exceeds_its_limit() -> None:
    plan = many(600)
    for limit in range(1_500, 120_000, 1_777):
        comment = render.markdown(plan, limit=limit)
        assert len(comment) <= limit, limit
        names = listed(comment)
        assert names == [step.name for step in plan.steps[: len(names)]]
        assert len(names) == 600 or f"- … and {600 - len(names):,} more\n" in comment


def test_json_plan_conforms_to_its_schema() -> None:
    from jsonschema import Draft202012Validator

    from rmsync import planfile

    errors = list(
        Draft202012Validator(planfile.schema()).iter_errors(
            json.loads(planfile.dumps(every_action()))
        )
    )
    assert errors == []


def test_a_changed_role_id_is_marked_as_a_change_in_the_text() -> None:
    # The name now points at role 2; the lockfile recorded role 1.
    recorded = replace(record("payroll", 1), role=role(2).fingerprint)
    plan = make_plan(
        manifest(export("payroll", 2)), Lock({"payroll": recorded}), Live({R[2]: role(2)})
    )
    lines = render.text(plan).splitlines()
    assert (
        f'      ~ potential_role             = {R[1]} → {R[2]} "Role 2" (5 identities, 7 entitlements)'
        in lines
    )
