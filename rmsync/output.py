"""What rmsync prints for more than one command: plans, the question, progress, outcomes,
summaries, tables and annotations.

Owns: the terminal code commands share (a command prints only its own closing line itself),
GitHub's step summary, colour detection, and the `Ui` callbacks a run is given. Must not:
decide anything a run does (workflow.py does), read manifests or the lockfile, or talk to the
tenant.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rmsync import safetext
from rmsync.errors import Problem, RmsyncError
from rmsync.interrupts import Interrupted
from rmsync.models import Action, Lock, Outcome, Plan, Progress, Ui

if TYPE_CHECKING:
    from rmsync.workflow import Result


_v = safetext.visible  # every string a tenant or a file gave: one line, no control characters


def color(no_color: bool) -> bool:
    """Colour only on a terminal, and never with --no-color or NO_COLOR set."""
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def plan_text(plan: Plan, colored: bool = False) -> None:
    from rmsync import render  # only for a plan: validate starts faster without it

    click.echo(render.text(plan, colored), nl=False)


def ui(colored: bool, confirm: bool = False) -> Ui:
    """Show the plan, ask before changing anything (when `confirm`), report as work lands."""

    def ask(plan: Plan) -> None:
        if confirm:
            _confirm()
        click.echo("")

    return Ui(lambda plan: plan_text(plan, colored), ask, report, progress())


def _confirm() -> None:
    if not sys.stdin.isatty():
        raise RmsyncError(
            "apply asks for confirmation: run it in a terminal, or pass --auto-approve"
        )
    try:
        answer = _answer("\nDo you want to perform these actions? Only 'yes' will be accepted: ")
    except Interrupted as exc:
        exc.note = "nothing was changed"
        raise
    if answer.strip() != "yes":
        raise RmsyncError("apply cancelled: nothing was changed")


def _answer(question: str) -> str:
    """One line typed at the terminal, read so that Ctrl-C always stops the wait.

    A signal handler runs only between Python instructions: one that lands after the question
    is printed but before a plain blocking read begins is noticed only after Enter (`input()`
    and click.prompt have that gap). So the wait is a select() that wakes up now and then."""
    click.echo(question, nl=False)
    if sys.platform == "win32":  # no select() on a console there
        return click.prompt("", prompt_suffix="", default="", show_default=False)
    while not select.select([sys.stdin], [], [], 0.2)[0]:
        pass  # back in Python for a moment: a pending signal's handler runs here
    line = sys.stdin.readline()
    if not line:  # end of input (Ctrl-D): no answer
        raise click.Abort
    return line


def progress() -> Callable[[Progress], None]:
    """On a terminal, one line rewritten in place; elsewhere (CI), one line per state change."""
    terminal = sys.stdout.isatty()

    def show(p: Progress) -> None:
        name, old = _v(p.name), _v(p.old.value)
        new = _v(p.new.value) if p.new else "gone (the tenant answered 404)"
        if terminal:
            done = p.total - p.running
            bar = "#" * round(20 * done / p.total)
            end = "\n" if p.running == 0 else ""
            line = f"Waiting: [{bar:<20}] {done}/{p.total} finished ({name}: {new})"
            click.echo(f"\r{line}\x1b[K{end}", nl=False)
        else:
            click.echo(f"{name}: {old} → {new} ({p.running} of {p.total} still running)")

    return show


def report(outcome: Outcome) -> None:
    """One line per step carried out; a failure goes to stderr."""
    step, name = outcome.step, _v(outcome.step.name)
    if not outcome.ok:
        click.echo(f"{name}: {step.action.verb} FAILED: {_v(outcome.error or '')}", err=True)
    elif step.action is Action.UPDATE and step.record is not None:
        new = _v(step.status.value) if step.status else "gone (the tenant answered 404)"
        moved = step.status != step.record.status
        renamed = f"renamed from {_v(step.moved_from)}" if step.moved_from else ""
        status = f"{_v(step.record.status.value)} → {new}" if moved or not renamed else ""
        click.echo(f"{name}: {'; '.join(filter(None, (renamed, status)))}")
    else:  # an export is started here; --wait, refresh or the next plan sees it finish
        done = "started" if step.action in (Action.EXPORT, Action.REEXPORT) else "done"
        detail = f" (export {_v(outcome.export_id)})" if outcome.export_id else ""
        click.echo(f"{name}: {step.action.verb} {done}{detail}{_content(outcome)}")


def _content(outcome: Outcome) -> str:
    """`: 6 identities, 7 entitlements; since the previous archive: …`, counts only."""
    content, change = outcome.content, outcome.change
    if content is None:
        return ""
    from rmsync import render

    said = (
        f": {render.counted(content.identities, 'identity', 'identities')}, "
        f"{render.counted(content.entitlements, 'entitlement')}"
    )
    if change is None:
        return said
    if change.empty:
        return said + "; the same as the archive it replaced"
    moved = f", {change.holders_moved} holder counts moved" if change.holders_moved else ""
    return (
        f"{said}; since the archive it replaced: identities +{change.identities_in} "
        f"-{change.identities_out}, entitlements +{change.entitlements_in} "
        f"-{change.entitlements_out}{moved} (`rmsync diff {_v(outcome.step.name)}` lists them)"
    )


@contextmanager
def chatter(as_json: bool) -> Iterator[None]:
    """With `as_json`, everything printed meanwhile (the plan, progress, each result) goes to
    stderr: stdout carries only the document printed after."""
    if not as_json:
        yield
        return
    with redirect_stdout(sys.stderr):
        yield


def finish(verb: str, result: Result, as_json: bool) -> None:
    """`conclude`, and with `as_json` the result document on stdout (failed or not) after the
    summary on stderr; a failure is still exit 1."""
    if not as_json:
        conclude(verb, result)
        return
    try:
        with chatter(True):
            conclude(verb, result)
    finally:
        click.echo(result_json(verb, result), nl=False)


def conclude(verb: str, result: Result) -> None:
    """The closing summary, after any waiting, from what was recorded; an error on a failure."""
    failures = result.failures()
    click.echo(f"\n{verb} {'failed' if failures else 'complete'}: {_counts(verb, result)}.")
    for name, what in failures.items():
        click.echo(f"  {_v(name)}: {_v(what)}")
    if failures:
        n = len(failures)
        raise RmsyncError(
            f"{n} export{'s' if n != 1 else ''} failed (listed above); every result is recorded "
            f"in {result.lock_path}"
        )


RESULT_FORMAT = 1


def result_json(verb: str, result: Result) -> str:
    """What apply or refresh did, as a versioned JSON document (schemas/result.schema.json):
    the summary line, counts, each step's outcome, each failure, and the record of every
    export the run changed, as the lockfile now holds it. Keys sorted, final newline."""
    import json

    from rmsync import lockfile

    failures = result.failures()
    changed = {
        name: lockfile.record_json(record)
        for name, record in sorted(result.after.records.items())
        if record != result.before.records.get(name)
    }
    done = result.counts()
    doc = {
        "format_version": RESULT_FORMAT,
        "command": verb.lower(),
        "result": "failed" if failures else "complete",
        "exit_code": 1 if failures else 0,
        "summary": f"{verb} {'failed' if failures else 'complete'}: {_counts(verb, result)}.",
        "counts": {a.verb: done[a] for a in Action} | {"failed": len(failures)},
        "outcomes": [
            {
                "name": o.step.name,
                "action": o.step.action.verb,
                "ok": o.ok,
                "export_id": o.export_id,
                "error": o.error,
            }
            for o in result.outcomes
        ],
        "failures": [{"name": n, "reason": why} for n, why in failures.items()],
        "forgotten": sorted(set(result.before.records) - set(result.after.records)),
        "records": changed,
        "lockfile": str(result.lock_path),
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _counts(verb: str, result: Result) -> str:
    done = result.counts()
    failed = len(result.failures())
    downloaded = f"{done[Action.DOWNLOAD]} downloaded, " if done[Action.DOWNLOAD] else ""
    if verb == "Refresh":
        still = len(result.timed_out) if result.wait is not None else result.still_running()
        return f"{done[Action.UPDATE]} updated, {downloaded}{still} still running, {failed} failed"
    return (
        f"{done[Action.EXPORT]} exported, {done[Action.REEXPORT]} re-exported, "
        f"{done[Action.UPDATE]} updated, {downloaded}{done[Action.FORGET]} forgotten, "
        f"{failed} failed"
    )


def table(lock: Lock) -> None:
    """The lockfile as columns: name, status, export id, role, when started and finished."""
    rows: list[tuple[str, ...]] = [("NAME", "STATUS", "EXPORT ID", "ROLE", "STARTED", "FINISHED")]
    for name in sorted(lock.records):
        r = lock.records[name]
        status = "GONE" if r.gone_at else r.status.value
        cells = (name, status, r.export_id or "-", r.role.name, r.started_at, r.finished_at or "-")
        rows.append(tuple(_v(cell) for cell in cells))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def validate_json(problems: Sequence[Problem], counts: dict[str, int]) -> str:
    """`validate --json`: valid or not, the counts, and every problem at its file and line
    (schemas/validate.schema.json). Keys sorted, final newline."""
    import json

    doc = {
        "format_version": 1,
        "valid": not problems,
        "exit_code": 1 if problems else 0,
        "counts": counts,
        "problems": [
            {"file": p.file, "line": p.line, "field": p.field, "message": p.message}
            for p in sorted(problems)
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def github_annotations(problems: Sequence[Problem]) -> None:
    """Each problem as a GitHub Actions workflow command: `::error file=F,line=L,title=T::m`."""

    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    for problem in sorted(problems):
        message = f"{problem.field}: {problem.message}" if problem.field else problem.message
        file, said = prop(_v(problem.file)), data(_v(message))
        click.echo(f"::error file={file},line={problem.line},title=rmsync::{said}")


def step_summary(markdown: str) -> None:
    """On GitHub Actions, add the comment to the job's summary page too."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    except OSError as exc:
        raise RmsyncError(
            f"GITHUB_STEP_SUMMARY ({target}): cannot append: {exc.strerror}"
        ) from None
