"""`rmsync plan`: show what apply would do, as text, JSON or a pull-request comment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from rmsync import options


@click.command()
@options.planning
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for people, json for programs, markdown for a pull-request comment.",
)
@options.json_format
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the plan here, for `rmsync apply FILE`.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 for no changes, 2 for changes.")
@click.option(
    "--offline",
    is_flag=True,
    help="Plan from the manifest and the lockfile only; ask the tenant nothing (a fork's pull "
    "request has no credentials). Also chosen, with a banner, when no credentials are set.",
)
def command(
    manifest_path: Path,
    lockfile_path: Path | None,
    base_url: str | None,
    rate_limit: str | None,
    no_color: bool,
    targets: tuple[str, ...],
    excluded: tuple[str, ...],
    replace: tuple[str, ...],
    download_missing: bool,
    refresh: str,
    fmt: str,
    as_json: bool,
    out: Path | None,
    detailed_exitcode: bool,
    offline: bool,
) -> None:
    """Show what apply would do: compare the manifest and lockfile with the tenant."""
    fmt = options.one_format(fmt, as_json)
    if out is not None and str(out) == "-":
        raise click.UsageError(
            "--out - names no file: the plan is printed already (--json prints the document)"
        )
    from rmsync import config, output, planfile, render, workflow

    inputs = config.Inputs(manifest_path, lockfile_path)
    chosen = workflow.options(targets, replace, download_missing, excluded, refresh)
    why = "--offline" if offline else "no credentials are set (SAIL_CLIENT_ID, ...)"
    offline = offline or not config.has_credentials(os.environ)
    if offline and out is not None:
        raise click.UsageError(
            f"--out saves a plan for apply, but {why}: an offline plan did not ask the "
            "tenant, so apply could not trust it; plan with credentials to save one"
        )
    if offline and why != "--offline":  # said on stderr: a CI job missing its secrets sees why
        click.echo(
            "rmsync: no credentials are set (SAIL_CLIENT_ID and SAIL_CLIENT_SECRET, or "
            "SAIL_ACCESS_TOKEN), so this plan is offline: the tenant is not asked",
            err=True,
        )
    if offline:
        job = workflow.prepare_offline(inputs, chosen)
    else:
        env = options.environ(rate_limit)
        job = workflow.prepare(inputs, config.where(base_url, env), chosen)
    if fmt == "json":
        click.echo(planfile.dumps(job.plan), nl=False)
    elif fmt == "markdown":
        comment = render.markdown(job.plan)
        click.echo(comment, nl=False)
        output.step_summary(comment)
    else:
        output.plan_text(job.plan, output.color(no_color))
    if out is not None:
        planfile.save(out, job.plan)
        click.echo(
            f"\nSaved this plan to {out}; `rmsync apply {out}` applies exactly it.",
            err=fmt != "text",
        )
    if job.plan.broken:
        raise workflow.Unplannable(job.plan.broken)
    if detailed_exitcode and job.plan.changed:
        sys.exit(2)
