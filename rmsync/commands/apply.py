"""`rmsync apply`: start the missing exports (or carry out a saved plan) and record them."""

from __future__ import annotations

from pathlib import Path

import click

from rmsync import options


@click.command()
@options.planning
@click.option(
    "--auto-approve", is_flag=True, help="Apply without asking (needed without a terminal)."
)
@options.wait
@options.timeout
@options.lock_timeout
@options.as_json
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
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
    auto_approve: bool,
    wait: bool,
    timeout: float,
    lock_timeout: float,
    as_json: bool,
    plan_file: Path | None,
) -> None:
    """Start the missing exports and record every result in the lockfile.

    With PLAN_FILE (from `plan --out`), apply exactly that plan, without asking: it was reviewed.
    """
    from rmsync import config, output, workflow
    from rmsync.errors import RmsyncError

    where = config.where(base_url, options.environ(rate_limit))
    colored = output.color(no_color) and not as_json
    ui = output.ui(colored, confirm=not auto_approve and plan_file is None)
    waiting = timeout if wait else None
    if plan_file is not None and (targets or excluded or replace or download_missing):
        raise RmsyncError(
            "a saved plan is applied as it is: give --target, --exclude, --replace and "
            "--download-missing to `plan --out`"
        )
    with output.chatter(as_json):  # with --json, stdout carries only the result document
        if plan_file is not None:
            result = workflow.execute_saved(plan_file, where, ui, waiting, lock_timeout)
        else:
            inputs = config.Inputs(manifest_path, lockfile_path)
            chosen = workflow.options(targets, replace, download_missing, excluded, refresh)
            result = workflow.execute(inputs, where, chosen, ui, waiting, lock_timeout)
    output.finish("Apply", result, as_json)
