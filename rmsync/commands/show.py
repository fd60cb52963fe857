"""`rmsync show`: a saved plan as text, or a lockfile as a table."""

from __future__ import annotations

from pathlib import Path

import click

from rmsync import options


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path),
    help="Show the lockfile of this manifest (file or folder) [default: rmsync.yaml].",
)
@options.lockfile
@options.color
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The saved plan as its JSON document (schemas/plan.schema.json), or the lockfile as "
    "JSON with the lockfile's own schema (schemas/lockfile.schema.json).",
)
def command(
    path: Path | None,
    manifest_path: Path | None,
    lockfile_path: Path | None,
    no_color: bool,
    as_json: bool,
) -> None:
    """Print a saved plan (PATH.json) as text, or a lockfile as a table.

    PATH may be a saved plan, a lockfile, or a manifest file or folder (its lockfile is shown).
    """
    from dataclasses import replace

    from rmsync import lockfile, output, planfile
    from rmsync.errors import RmsyncError

    if path is not None and path.suffix == ".json":
        doc = planfile.read(path)
        source = planfile.checked_provenance(path, doc)  # it reads no file outside this folder
        saved = planfile.rebuild(doc, lockfile.read(Path(source.lockfile)))
        if as_json:
            click.echo(planfile.dumps(replace(saved, provenance=source)), nl=False)
            return
        output.plan_text(saved, output.color(no_color))
        return
    where = _lockfile_to_show(path, manifest_path, lockfile_path)
    if not where.exists():
        raise RmsyncError(f"{where}: no lockfile yet (run `rmsync apply` to make one)")
    if as_json:
        click.echo(lockfile.dumps_json(lockfile.read(where)), nl=False)
        return
    output.table(lockfile.read(where))


def _lockfile_to_show(path: Path | None, manifest: Path | None, flag: Path | None) -> Path:
    from rmsync import lockfile
    from rmsync.config import Inputs
    from rmsync.errors import DocumentError
    from rmsync.manifest import load_manifest

    if path is None:
        return Inputs(manifest or Path("rmsync.yaml"), flag).lock_path
    if path.is_dir():
        return Inputs(path, flag).lock_path
    try:
        lockfile.read(path)
    except lockfile.LockfileError as exc:
        try:  # a manifest given where a lockfile was expected: show the manifest's lockfile
            load_manifest(path)
        except DocumentError:
            raise exc from None
        return Inputs(path, flag).lock_path
    return path
