"""`rmsync check`: compare the manifest, the lockfile and the tenant; start nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rmsync import options


@click.command()
@options.manifest
@options.lockfile
@options.base_url
@options.rate_limit
@options.target
@options.exclude
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for people, json for programs, markdown for an issue (its first line is the "
    "marker <!-- rmsync: check -->).",
)
@options.json_format
def command(
    manifest_path: Path,
    lockfile_path: Path | None,
    base_url: str | None,
    rate_limit: str | None,
    targets: tuple[str, ...],
    excluded: tuple[str, ...],
    fmt: str,
    as_json: bool,
) -> None:
    """Compare the manifest, the lockfile and the tenant, and start nothing. Exit 0: clean;
    2: changes only the manifest asks for (apply makes them); 3: drift, the tenant changed (a
    role changed, vanished, was re-mined or provisioned; an export expired or ended in ERROR;
    an archive was altered); 1: an error. Every recorded export's status is read."""
    fmt = options.one_format(fmt, as_json)
    from rmsync import check, config, planfile, workflow

    inputs = config.Inputs(manifest_path, lockfile_path)
    found, job = workflow.check(
        inputs,
        config.where(base_url, options.environ(rate_limit)),
        workflow.options(targets, (), False, excluded),
    )
    if fmt == "json":
        source = job.plan.provenance
        made_from = planfile.provenance_json(source) if source else None
        click.echo(check.dumps(found, made_from), nl=False)
    elif fmt == "markdown":
        click.echo(check.markdown(found, str(inputs.manifest_path)), nl=False)
    else:
        click.echo(check.text(found), nl=False)
    if fmt != "text":  # the verdict for a person reading the job's log: stderr
        click.echo(check.summary(found), err=True)
    sys.exit(found.code)
