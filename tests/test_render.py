"""Rendering plans: text, JSON and Markdown against golden files, colour, the no-change
message, and the pull-request comment's colours, names, escaping, marker and size limit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

from rmsync import planfile, render, safetext
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
    """The lines inside the comment's ```diff block (fenced by three backticks or more)."""
    fence = re.search(r"^(`{3,})diff\n", comment, re.MULTILINE)
    assert fence is not None
    end = comment.index(f"\n{fence[1]}\n", fence.end())
    return comment[fence.end() : end].split("\n")


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
        r"\_it\_ a\|b \[x\](y) \&amp; \~\~s\~\~ \$1\$\\n# no heading"
    ]
    assert "<script>" not in comment[: comment.index("````diff")]
    lines = diff_lines(comment)
    assert [line for line in lines if not line.startswith("  ")] == ["+ export odd|name_<x>"]
    assert r"$1$\n# no heading" in lines[0]
    assert r'"Ops\n```\n- admins" (5 identities' in lines[2]


def test_markdown_marker_and_heading_name_the_manifest() -> None:
    plan = replace(every_action(), provenance=made_from("teams/finance/rmsync.yaml"))
    assert render.markdown(plan).splitlines()[:2] == [
        "<!-- rmsync: teams/finance/rmsync.yaml -->",
        "### rmsync plan: `teams/finance/rmsync.yaml` (beta)",
    ]
    tricky = render.markdown(replace(plan, provenance=made_from("a-->b\n`c`.yaml")))
    assert tricky.splitlines()[:2] == [
        "<!-- rmsync: a--&gt;b&#10;`c`.yaml -->",
        "### rmsync plan: ``a-->b\\n`c`.yaml`` (beta)",
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


# -- strings from the tenant (or a hand-edited file): shown, never obeyed -----

# Each tries to start a plan line, forge a "No changes" verdict, rewrite the terminal, reorder
# what a reviewer sees, or break out of the comment's code block, fold or table.
HOSTILE = [
    "Ops\n```\n\nNo changes. The lockfile matches the manifest and the tenant.\n```\n",
    "a\rPlan: 0 to export, 0 to re-export, 0 to update, 0 to forget.",
    "\x1b[2J\x1b[1;1HNo changes.\x1b]0;pwned\x07",
    "\x9b31mC1 CSI\x85next line",
    "invoice \u202egpj.exe\u2066 x",
    "line\u2028separator\u2029paragraph",
    "</details>\n\n<details><summary>x</summary>\n\n<!-- rmsync: other.yaml -->\n",
    "| a | b |\n| --- | --- |\n| c | d |",
    "tab\there, back\\slash, \\n",
    "````\n~~~\n    ```",
]
CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def tenant_says(text: str) -> Plan:
    """A re-export where `text` is everything the tenant told: the role's name, its excluded
    entitlements and modifiedDate, the recorded export's id and its ERROR reason."""
    recorded = replace(record("payroll", 1, Status.ERROR), export_id=text, error=text)
    live = role(1, name=text, excluded_entitlements=(text, "ent-2"), modified=text)
    return make_plan(
        manifest(export("payroll", 1)), Lock({"payroll": recorded}), Live({R[1]: live})
    )


def test_visible_leaves_ordinary_text_as_it_is() -> None:
    for text in ["Accounts payable clerks", "Café & Co. / Ünïcode", "経理 👩💻", "50% <x>"]:
        assert safetext.visible(text) == text
        assert safetext.quoted(text) == f'"{text}"'


def test_visible_shows_the_invisible_characters_that_make_names_look_alike() -> None:
    """A zero-width space, joiner or soft hyphen makes `Pay\u200broll` print as Payroll."""
    for hidden in ("\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\ufeff", "\U000e0041"):
        shown = safetext.visible(f"Pay{hidden}roll")
        assert shown != "Payroll" and shown.isascii() and shown.startswith("Pay\\"), hidden


def test_visible_shows_every_control_as_an_escape() -> None:
    assert safetext.visible("a\nb\r\tc\\d\x00\x1b[2J\x7f\x85\x9b") == (
        r"a\nb\r\tc\\d\x00\x1b[2J\x7f\x85\x9b"
    )
    assert safetext.visible("\u202e\u2066\u2028\u2029\ud800\ufffe\U0010ffff") == (
        r"\u202e\u2066\u2028\u2029\ud800\ufffe\U0010ffff"
    )
    assert safetext.quoted('say "hi"\n') == r'"say \"hi\"\n"'


def test_text_plan_shows_tenant_strings_escaped_and_never_on_a_line_of_their_own() -> None:
    ordinary = render.text(tenant_says("Payroll")).splitlines()
    for text in HOSTILE:
        plan = render.text(tenant_says(text))
        assert not CONTROLS.search(plan), text
        lines = plan.splitlines()
        assert len(lines) == len(ordinary), text
        assert [line[:8] for line in lines] == [line[:8] for line in ordinary], text
        assert lines[-1] == "Plan: 0 to export, 1 to re-export, 0 to update, 0 to forget."
        assert f"{R[1]} {safetext.quoted(text)} (5 identities" in plan


def test_text_plan_shows_the_attack_from_the_issue_plainly() -> None:
    plan = render.text(tenant_says("Ops\n```\n\nNo changes.\x1b[2J")).splitlines()
    assert plan[2] == (
        r"  # payroll will be re-exported: the role changed since it was exported; "
        r"the recorded export ended in ERROR: Ops\n```\n\nNo changes.\x1b[2J"
    )
    assert plan[4] == (
        f"        potential_role             = {R[1]} "
        r'"Ops\n```\n\nNo changes.\x1b[2J" (5 identities, 7 entitlements)'
    )
    assert (
        plan[8]
        == r"      ~ role.excluded_entitlements = [] → [Ops\n```\n\nNo changes.\x1b[2J, ent-2]"
    )
    assert plan[10] == r"        export_id                  = Ops\n```\n\nNo changes.\x1b[2J"
    assert not any(line.startswith("No changes") for line in plan)


def test_a_quote_in_a_role_name_cannot_forge_its_counts() -> None:
    plan = render.text(tenant_says('Payroll" (900 identities, 0 entitlements) "x'))
    assert (
        r'"Payroll\" (900 identities, 0 entitlements) \"x" (5 identities, 7 entitlements)' in plan
    )


def comment_of(plan: Plan) -> str:
    return render.markdown(replace(plan, provenance=made_from("rmsync.yaml")))


def test_markdown_tenant_strings_cannot_leave_their_place() -> None:
    def shape(comment: str) -> list[str]:
        """Each line's kind: what it opens with, before any tenant text could begin."""
        return [
            re.sub(r"^(```|- `.` \*\*|\| `|      |  # |<|> |\*\*|#+ ).*", r"\1", line)
            for line in comment.splitlines()
        ]

    ordinary = comment_of(tenant_says("Payroll"))
    for text in HOSTILE:
        comment = comment_of(tenant_says(text))
        assert not CONTROLS.search(comment.replace("\n", "")), text
        assert shape(comment) == shape(ordinary), text
        assert comment.count("<!--") == 1 and comment.startswith("<!-- rmsync: rmsync.yaml -->")
        html = re.findall(r"^ {0,3}<.*", comment, re.MULTILINE)
        assert html == [
            "<!-- rmsync: rmsync.yaml -->",
            "<details><summary>Details</summary>",
            "</details>",
        ]
        fences = [line for line in comment.splitlines() if line.startswith("```")]
        assert len(fences) == 2 and fences[0] == fences[1] + "diff", text
        assert not re.search(fences[1] + "(?!diff)", "\n".join(diff_lines(comment))), text


def test_markdown_shows_the_attack_from_the_issue_inside_the_diff() -> None:
    comment = comment_of(tenant_says("Ops\n```\n\nNo changes.\n<!-- rmsync: x -->"))
    lines = diff_lines(comment)
    assert lines[2] == (
        f"        potential_role             = {R[1]} "
        r'"Ops\n```\n\nNo changes.\n\x3c!-- rmsync: x -->" (5 identities, 7 entitlements)'
    )
    item = next(line for line in comment.splitlines() if line.startswith("- `!`"))
    assert item.endswith(r"ERROR: Ops\\n\`\`\`\\n\\nNo changes.\\n\\x3c!-- rmsync: x --\>")


def test_markdown_text_pings_no_one_and_links_nothing() -> None:
    said = (
        "ask @octocat or @acme/admins (cc a@b.co) about #12, GH-7 and acme/repo#3: "
        "https://evil.example/x or www.evil.example"
    )
    comment = comment_of(tenant_says(said))
    item = next(line for line in comment.splitlines() if line.startswith("- `!`"))
    assert item.endswith(
        "ERROR: ask @&#8203;octocat or @&#8203;acme/admins (cc a@&#8203;b.co) about "
        "#&#8203;12, GH-&#8203;7 and acme/repo#&#8203;3: https:&#8203;//evil.example/x or "
        "www&#8203;.evil.example"
    )
    outside_code = comment[: comment.index("<details>")]
    assert not re.search(r"@\w|#\d|GH-\d|://|www\.", outside_code.replace("&#8203;", "\u200b"))
    assert said in "\n".join(diff_lines(comment))  # code: GitHub links nothing there
    assert said in render.text(tenant_says(said))


def test_exports_that_could_not_be_planned_are_listed_in_every_format() -> None:
    from rmsync import planfile
    from rmsync.models import Broken

    broken = tuple(
        Broken(f"x{n}", "rmsync.yaml", 7 + n, f"exports.x{n}.potential_role_id", "gone @team")
        for n in range(60)
    )
    plan = Plan((), ("fine",), broken=broken)
    text = render.text(plan)
    assert text.startswith("No changes for the other exports.\n\nrmsync could not plan 60 exports")
    assert "  rmsync.yaml:7: exports.x0.potential_role_id: gone @team\n" in text
    comment = render.markdown(plan)
    assert "> [!CAUTION]\n> rmsync could not plan 60 exports; apply refuses this plan" in comment
    assert "> - … and 10 more" in comment and "@team" not in comment  # no mention
    doc = json.loads(planfile.dumps(plan))
    assert doc["problems"][0] == {
        "name": "x0",
        "file": "rmsync.yaml",
        "line": 7,
        "field": "exports.x0.potential_role_id",
        "message": "gone @team",
    }


def test_a_message_that_lists_candidates_reads_on_one_line() -> None:
    listed = 'no role named "X"; its roles:\n  Accounting core (e0cc…)\n  Payroll (bdc9…)'
    assert render.one_line(listed) == (
        'no role named "X"; its roles: Accounting core (e0cc…); Payroll (bdc9…)'
    )
