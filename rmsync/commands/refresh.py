"""`rmsync refresh`: update the recorded exports still running; start nothing."""

from __future__ import annotations

from pathlib import Path

import click

from rmsync import options


@click.command()
@options.manifest
@options.lockfile
@options.base_url
@options.rate_limit
@options.target
@options.wait
@options.timeout
@options.lock_timeout
@options.as_json
def command(
    manifest_path: Path,
    lockfile_path: Path | None,
    base_url: str | None,
    rate_limit: str | None,
    targets: tuple[str, ...],
    wait: bool,
    timeout: float,
    lock_timeout: float,
    as_json: bool,
) -> None:
    """Update the recorded exports still running from the tenant; start nothing."""
    from rmsync import config, output, workflow

    inputs = config.Inputs(manifest_path, lockfile_path)
    waiting = timeout if wait else None
    with output.chatter(as_json):  # with --json, stdout carries only the result document
        result = workflow.refresh_recorded(
            inputs,
            config.where(base_url, options.environ(rate_limit)),
            targets,
            output.ui(False),
            waiting,
            lock_timeout,
        )
    if result.running == 0 and as_json:
        output.finish("Refresh", result, as_json)
        return
    if result.running == 0:
        unsure = sum(r.unconfirmed for r in result.after.records.values())
        note = (
            f" {unsure} recorded as STARTING cannot be asked about (the tenant never confirmed "
            "them): the next apply re-exports them."
            if unsure
            else ""
        )
        click.echo(f"Nothing to refresh: no recorded export is still running.{note}")
        return
    output.finish("Refresh", result, as_json)
