"""`rmsync demo`: plan, apply and plan again on the examples against an in-process sandbox."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click


@click.command()
def command() -> None:
    """Run plan, apply and plan again on examples/ against an in-process sandbox tenant."""
    from rmsync import bundled, config, output, workflow
    from rmsync.models import Credentials, Target
    from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule

    with (
        tempfile.TemporaryDirectory(prefix="rmsync-demo-") as tmp,
        Sandbox(schedule=Schedule(0, 0)) as sb,
    ):
        folder = Path(tmp)
        for example in bundled.folder("examples").glob("*.yaml"):
            (folder / example.name).write_bytes(example.read_bytes())
        inputs = config.Inputs(folder / "rmsync.yaml")
        where = Target(sb.base_url, Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
        click.echo(f"rmsync demo: sandbox tenant at {sb.base_url}; manifest copied to {folder}\n")
        manifest = inputs.manifest()
        with workflow.connect(where, manifest) as client:
            click.echo("$ rmsync plan")
            job = workflow.make_job(client, inputs, manifest, workflow.options())
            output.plan_text(job.plan)
            click.echo("\n$ rmsync apply --auto-approve")
            job = workflow.make_job(client, inputs, manifest, workflow.options())
            output.conclude("Apply", workflow.apply(client, job, output.ui(False), None))
            click.echo("\n$ rmsync plan")
            job = workflow.make_job(client, inputs, manifest, workflow.options())
            output.plan_text(job.plan)
        click.echo(f"\n$ cat {config.LOCKFILE_NAME}")
        click.echo(inputs.lock_path.read_text(encoding="utf-8"), nl=False)
