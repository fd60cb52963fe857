"""`rmsync demo`: the whole loop on the examples against an in-process sandbox tenant."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rmsync.sandbox import Sandbox

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


LEGACY = (
    "  legacy-mainframe-operators:   # the sandbox makes this role's exports fail, on purpose\n"
    "    potential_role:\n"
    "      session: {name: Finance Q3 2026}\n"
    "      name: Legacy mainframe operators\n"
)


def _with_legacy(manifest: Path, present: bool) -> None:
    """Add (or take out) the export that ends in ERROR, to show how a failure is reported."""
    text = manifest.read_text(encoding="utf-8")
    edited = (
        text.replace("exports:\n", "exports:\n" + LEGACY, 1)
        if present
        else text.replace(LEGACY, "")
    )
    manifest.write_text(edited, "utf-8")


@click.command()
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the demo's folder (manifest, lockfile, archives) to explore; it is removed "
    "otherwise.",
)
def command(keep: bool) -> None:
    """Run the loop on examples/ against an in-process sandbox tenant: plan; apply, waiting
    for the exports (one fails on purpose) and saving accounting-core's archive; an
    entitlement excluded in the tenant; plan (what changed, by name); apply; `diff` and
    `report` of that export; and a last plan with no changes."""
    from rmsync import bundled
    from rmsync.sandbox import Sandbox, Schedule

    made, here = Path(tempfile.mkdtemp(prefix="rmsync-demo-")), Path.cwd()
    try:
        # exports take a second or two, so that --wait has something to follow
        with Sandbox(schedule=Schedule(queued=0.5, running=1.0)) as sb:
            for example in bundled.folder("examples").glob("*.yaml"):
                (made / example.name).write_bytes(example.read_bytes())
            os.chdir(made)  # as a user would: every path said is relative to the manifest
            _run(Path(), sb.base_url, sb, keep)
    finally:
        os.chdir(here)
        if not keep:
            shutil.rmtree(made, ignore_errors=True)
    if keep:
        click.echo(
            f"\nThe demo's folder is kept: {made} (the sandbox tenant has stopped; "
            f"`rmsync show --manifest {made}` reads its lockfile)."
        )


def _run(folder: Path, base_url: str, sb: Sandbox, keep: bool) -> None:
    from rmsync import archive, archivediff, config, lockfile, output, report, workflow
    from rmsync.errors import RmsyncError
    from rmsync.models import Credentials, Target
    from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    manifest_path = Path("rmsync.yaml")
    _with_download(manifest_path)
    _with_legacy(manifest_path, True)
    inputs = config.Inputs(manifest_path)
    where = Target(base_url, Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
    kept = "kept when the demo ends" if keep else "removed when the demo ends; --keep keeps it"
    click.echo(
        f"rmsync demo: the sandbox tenant serves at {base_url}; the example manifest, with one "
        f"export that fails on purpose, is in a temporary folder ({kept}).\n"
    )
    with workflow.connect(where, inputs.manifest()) as client:

        def plan() -> None:
            click.echo("$ rmsync plan")
            job = workflow.make_job(client, inputs, inputs.manifest(), workflow.options())
            output.plan_text(job.plan)

        def apply() -> None:
            click.echo("\n$ rmsync apply --auto-approve --wait")
            job = workflow.make_job(client, inputs, inputs.manifest(), workflow.options())
            result = workflow.apply(client, job, output.ui(False), 60.0)
            try:
                output.conclude("Apply", result)
            except RmsyncError as failed:  # as rmsync says it, and exits 1; the demo goes on
                click.echo(f"Error: {failed}")

        plan()
        apply()
        saved = lockfile.read(inputs.lock_path).records[NAME].download
        assert saved is not None, "accounting-core's archive was saved"
        click.echo(
            "\n# legacy-mainframe-operators ended in ERROR: apply named it (with the tenant's "
            "reason, when it gives one) and exited 1; the lockfile records it, so the next plan "
            "re-exports it."
            f"\n# accounting-core's archive is {saved.path}: {saved.size:,} bytes, sha256 "
            f"{saved.sha256} (recorded in the lockfile: whoever holds the file can check it)."
            "\n# Now the demo takes legacy-mainframe-operators out of the manifest, and an admin "
            "excludes CN=Finance Share RW from Accounting core in the tenant.\n"
        )
        _with_legacy(manifest_path, False)
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
        click.echo("")
        plan()
    lines = inputs.lock_path.read_text(encoding="utf-8").count("\n")
    click.echo(
        f"\n{config.LOCKFILE_NAME} ({lines} lines) records each export, the access it "
        "started with and its archive's sha256 and content counts: commit it; keep "
        "exports/ (the archives: they list people) out of Git."
    )
