"""`rmsync report NAME`: a reviewer's report of one export, as text, Markdown or CSV."""

from __future__ import annotations

import os
from pathlib import Path

import click

from rmsync import options


@click.command()
@click.argument("name")
@options.manifest
@options.lockfile
@options.base_url
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md", "csv"]),
    default="text",
    show_default=True,
    help="md: a Markdown report for a ticket or pull request; csv: the entitlement table.",
)
@click.option(
    "--recorded",
    is_flag=True,
    help="Report the access the lockfile recorded when the export started; ask no tenant.",
)
def command(
    name: str,
    manifest_path: Path,
    lockfile_path: Path | None,
    base_url: str | None,
    fmt: str,
    recorded: bool,
) -> None:
    """Report on one export: its parameters and record, the role's metrics, its members by
    attribute, and every entitlement by name with its holders and whether the export carries
    it (counts and entitlement names only: never a person)."""
    from rmsync import config, report, workflow

    inputs = config.Inputs(manifest_path, lockfile_path)
    subject = workflow.subject(inputs, config.where(base_url, os.environ), name, recorded)
    render = {"text": report.text, "md": report.markdown, "csv": report.csv_text}[fmt]
    click.echo(render(subject), nl=False)
