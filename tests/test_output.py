"""What rmsync prints besides plans: outcomes, progress, summaries, the lockfile table and
GitHub annotations. Every string a tenant (or a file) gave is shown on its line, as escapes
where it holds control characters, and never obeyed: the unit tests below build the values,
the last test runs import, plan, apply and show against a sandbox whose role names attack."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from rmsync import output, safetext
from rmsync.errors import Problem, RmsyncError
from rmsync.models import Action, Lock, Outcome, Progress, Request, Status, Step
from rmsync.sandbox import Sandbox, load_seed
from rmsync.workflow import Result
from tests.builders import S1, R, record, tenant_env
from tests.run import rmsync

EVIL = "Ops\n```\nNo changes.\r\x1b[2J\x1b]0;pwned\x07 \u202eevil %0A::warning::x"
SHOWN = safetext.visible(EVIL)
# What must never reach a terminal or a CI log from a tenant: only "\n" ends a line.
CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def step(action: Action = Action.EXPORT, name: str = "payroll") -> Step:
    return Step(action=action, name=name, reasons=(), request=Request(S1, R[0]))


def test_shown_is_one_line_of_escapes() -> None:
    assert SHOWN == r"Ops\n```\nNo changes.\r\x1b[2J\x1b]0;pwned\x07 \u202eevil %0A::warning::x"


def test_outcomes_show_a_tenants_error_and_export_id_on_their_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.report(Outcome(step(), error=EVIL))
    output.report(Outcome(step(), export_id=EVIL))
    out, err = capsys.readouterr()
    assert err == f"payroll: export FAILED: {SHOWN}\n"
    assert out == f"payroll: export started (export {SHOWN})\n"


def test_progress_shows_names_on_their_line_in_ci_and_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    output.progress()(Progress(EVIL, Status.QUEUED, Status.SUCCESS, 1, 2))
    assert capsys.readouterr().out == f"{SHOWN}: QUEUED → SUCCESS (1 of 2 still running)\n"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    output.progress()(Progress(EVIL, Status.QUEUED, None, 0, 2))
    line = capsys.readouterr().out
    assert line == (
        f"\rWaiting: [####################] 2/2 finished ({SHOWN}: "
        "gone (the tenant answered 404))\x1b[K\n"
    )


def test_the_summary_lists_failures_on_their_lines(capsys: pytest.CaptureFixture[str]) -> None:
    result = Result(Path("rmsync.lock.yaml"), Lock(), Lock(), (Outcome(step(), error=EVIL),))
    with pytest.raises(RmsyncError, match="1 export failed"):
        output.conclude("Apply", result)
    assert capsys.readouterr().out.splitlines()[1:] == [
        "Apply failed: 0 exported, 0 re-exported, 0 updated, 0 forgotten, 1 failed.",
        f"  payroll: export failed: {SHOWN}",
    ]


def test_the_lockfile_table_keeps_one_row_per_record(capsys: pytest.CaptureFixture[str]) -> None:
    odd = record("payroll", 0)
    odd = replace(odd, export_id=EVIL, role=replace(odd.role, name=EVIL))
    output.table(Lock({"payroll": odd, "sales": record("sales", 1)}))
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 3
    assert rows[1].split("  ")[:2] == ["payroll", "SUCCESS"]
    assert f"  {SHOWN}  {SHOWN}  2026-11-01T00:00:00Z" in rows[1]
    assert not CONTROLS.search("".join(rows))


def test_github_annotations_are_one_workflow_command_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    problems = [
        Problem("rmsync.yaml", 3, "exports.payroll", f"potential role ({EVIL}) is elsewhere"),
        Problem(f"odd,\n{EVIL}.yaml", 1, "", EVIL),
    ]
    output.github_annotations(problems)
    lines = capsys.readouterr().out.splitlines()
    escaped = SHOWN.replace("%", "%25")
    assert lines == [
        f"::error file=odd%2C\\n{escaped.replace(':', '%3A').replace(',', '%2C')}.yaml,line=1,"
        f"title=rmsync::{escaped}",
        f"::error file=rmsync.yaml,line=3,title=rmsync::exports.payroll: potential role "
        f"({escaped}) is elsewhere",
    ]


SEED = Path(__file__).parent / "data" / "seeds" / "tenant-strings.yaml"
HOSTILE_SESSION = "11111111-2222-4333-8444-555555555555"


def test_the_golden_case_serves_this_seed() -> None:
    golden = Path(__file__).parent / "golden" / "plan-tenant-strings" / "seed.yaml"
    assert golden.read_text(encoding="utf-8") == SEED.read_text(encoding="utf-8")


def test_hostile_role_names_through_import_plan_apply_and_show(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    seed = load_seed(SEED)
    names = [r.name for s in seed.sessions for r in s.roles]
    env = tenant_env(make_sandbox(seed=seed).base_url)

    def run(*args: str) -> str:
        ran = rmsync(*args, cwd=tmp_path, env=env)
        assert ran.code == 0, ran.err
        assert not CONTROLS.search(ran.out + ran.err), args
        return ran.out

    assert rmsync("import", "--session", HOSTILE_SESSION, cwd=tmp_path, env=env).code == 0
    plan = run("plan").splitlines()
    # 8 rows (import names each role by session and name: potential_role_by too), access and
    # its one entitlement
    assert len(plan) == 2 + 10 * len(names) + 1
    assert sum("potential_role_by " in line for line in plan) == len(names)
    heads = [line for line in plan if line.startswith(("No changes", "Plan:", "```"))]
    assert heads == ["Plan: 6 to export, 0 to re-export, 0 to update, 0 to forget."]
    roles = sorted(line.split(" = ", 1)[1] for line in plan if "potential_role " in line)
    assert roles == sorted(
        f"{r.id} {safetext.quoted(r.name)} (1 identity, 1 entitlement)"
        for s in seed.sessions
        for r in s.roles
    )
    comment = run("plan", "--format", "markdown")
    html = re.findall(r"^ {0,3}<.*", comment, re.MULTILINE)
    folds = [line for line in html if line.startswith("<details><summary><b>")]
    assert len(folds) == len(names)  # one access table per export, its name escaped
    for line in folds:
        inner = line.removeprefix("<details><summary><b>").replace("</b>", "", 1)
        assert "<" not in inner.removesuffix("</summary>"), line
    assert [line for line in html if line not in folds] == [
        "<!-- rmsync: rmsync.yaml -->",
        *["</details>"] * len(names),
        "<details><summary>Details</summary>",
        "</details>",
    ]
    fences = [line for line in comment.splitlines() if line.startswith("```")]
    assert fences == ["````diff", "````"]
    assert "@octocat" not in comment[: comment.index("<details>")]
    applied = run("apply", "--auto-approve")
    assert f"Apply complete: {len(names)} exported" in applied
    table = run("show").splitlines()
    assert len(table) == 1 + len(names)
    role = slice(table[0].index("ROLE"), table[0].index("STARTED"))
    assert sorted(row[role].rstrip() for row in table[1:]) == sorted(map(safetext.visible, names))


def test_import_prints_hostile_role_names_on_their_lines(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    env = tenant_env(make_sandbox(seed=load_seed(SEED)).base_url)
    ran = rmsync("import", "--session", HOSTILE_SESSION, cwd=tmp_path, env=env)
    assert ran.code == 0, ran.err
    assert not CONTROLS.search(ran.out)
    assert len(ran.out.splitlines()) == 6 + 1
