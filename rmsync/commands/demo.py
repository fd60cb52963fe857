"""`rmsync demo`: the whole loop on the examples against an in-process sandbox tenant."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

# What the demo's tenant admin excludes from Accounting core between the two applies.
ROLE = "e0cc5d7d-bf7f-4f81-b2af-8885b09d9923"
EXCLUDED = "2440e21409b1ccb19f270b4ca4ddae8f"  # CN=Finance Share RW (Active Directory)
NAME = "accounting-core"
DOWNLOAD = "exports/accounting-core.zip"


def _with_download(manifest: Path) -> None:
    """The demo's copy of the example saves accounting-core's archive."""
    line = "      name: Accounting core\n"
    text = manifest.read_text(encoding="utf-8")
    assert text.count(line) == 1, "the example names accounting-core's role by name"
    manifest.write_text(text.replace(line, f"{line}    download: {DOWNLOAD}\n"), "utf-8")


@click.command()
def command() -> None:
    """Run the loop on examples/ against an in-process sandbox tenant: plan, apply (waiting
    for the exports and saving accounting-core's archive), an entitlement excluded in the
    tenant, plan (what changed, by name), apply, then `diff` and `report` of that export."""
    from rmsync import archive, archivediff, bundled, config, lockfile, output, report, workflow
    from rmsync.models import Credentials, Target
    from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule

    with (
        tempfile.TemporaryDirectory(prefix="rmsync-demo-") as tmp,
        Sandbox(schedule=Schedule(0, 0)) as sb,
    ):
        folder = Path(tmp)
        for example in bundled.folder("examples").glob("*.yaml"):
            (folder / example.name).write_bytes(example.read_bytes())
        _with_download(folder / "rmsync.yaml")
        inputs = config.Inputs(folder / "rmsync.yaml")
        where = Target(sb.base_url, Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
        click.echo(
            f"rmsync demo: sandbox tenant at {sb.base_url}; manifest copied to {folder} "
            "(removed when the demo ends)\n"
        )
        manifest = inputs.manifest()
        with workflow.connect(where, manifest) as client:

            def plan() -> None:
                click.echo("$ rmsync plan")
                job = workflow.make_job(client, inputs, manifest, workflow.options())
                output.plan_text(job.plan)

            def apply() -> None:
                click.echo("\n$ rmsync apply --auto-approve --wait")
                job = workflow.make_job(client, inputs, manifest, workflow.options())
                output.conclude("Apply", workflow.apply(client, job, output.ui(False), 60.0))

            plan()
            apply()
            click.echo(
                "\n# Meanwhile, an admin excludes CN=Finance Share RW from Accounting core in "
                "the tenant.\n"
            )
            sb.exclude_entitlements(ROLE, [EXCLUDED])
            plan()
            apply()
        click.echo(f"\n$ rmsync diff {NAME}")
        current = folder / DOWNLOAD
        previous, now = archive.read(archive.previous_path(current)), archive.read(current)
        paths = (archive.previous_path(Path(DOWNLOAD)).as_posix(), DOWNLOAD)
        changes = archive.compare(previous, now)
        click.echo(archivediff.text(NAME, paths, previous, now, changes, False), nl=False)
        click.echo(f"\n$ rmsync report {NAME} --recorded")
        subject = workflow.subject(inputs, lambda _: where, NAME, recorded=True)
        click.echo(report.text(subject), nl=False)
        click.echo("\n$ rmsync show")
        output.table(lockfile.read(inputs.lock_path))
        lines = inputs.lock_path.read_text(encoding="utf-8").count("\n")
        click.echo(
            f"\n{config.LOCKFILE_NAME} ({lines} lines) records each export, the access it "
            "started with and its archive's sha256 and content counts: commit it; keep "
            "exports/ (the archives: they list people) out of Git."
        )
